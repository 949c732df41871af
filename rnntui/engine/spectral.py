"""Spectral norms of many step Jacobians J = diag(a) + sum_k diag(D_k) W_k, without forming any J.

Every step (and sample) runs its own Lanczos process on A = JᵀJ, all of them at once: each
iteration is two GEMMs over every active row, (N, H) @ (H, kH) and (N, kH) @ (kH, H), since
J v = a*v + sum_k D_k*(W_k v) and Jᵀu = a*u + sum_k W_kᵀ(D_k*u). A step leaves the batch as soon
as its largest Ritz value theta (of the Lanczos tridiagonal) is certified; sigma = sqrt(theta).
Above SINGLE_BELOW units this runs twice: in float32 (its GEMMs 2.5x as fast) to find each step's
top Ritz vector, then in float64 from that vector, which certifies theta in a few iterations (mostly
one: the float32 phase runs to SINGLE_RTOL); every value returned is the float64 phase's, with the
certificate below. The float32 phase starts each row from the top eigenvector of the rows' mean JᵀJ
(`_shared_start`: the steps share W, so their top right singular vectors lean the same way; 2 fewer
iterations of 25 for an LSTM) plus a random vector of half its length. A certificate check needs the
top two eigenvalues of the m x m tridiagonal and the last component of the top one's eigenvector:
eigvalsh costs ~50 us a row at m = 35 (eight rows' worth of both GEMMs), so a check of many rows at once
(LAGUERRE_WORK) runs Laguerre's iteration on all their tridiagonals together instead (`_laguerre_top`,
`_laguerre_second`: a few passes of an m-step recurrence, each step a few NumPy calls over the rows,
started from the row's previous check), and after two checks a row is checked again when its residual's
rate of decrease says it will pass. The Lanczos vectors the float32 phase keeps for the Ritz vector are
the arrays each iteration makes (`_combine`), not a (rows, iterations, H) block: a fresh 40 MB block costs
~0.25 s of page faults on a VM.

Where the time goes (GRU and LSTM, H = 256, T = 5,000, B = 1, one thread, benchmarks/export.py): both
GEMMs of ~36 float32 iterations (GRU; ~25 for an LSTM) are ~1.2 s of a GRU's ~2.3 s, the certificate
checks and Ritz vectors ~0.5 s, the iterations' elementwise work ~0.3 s, the float64 phase ~0.15 s.
Tried and measured, not kept: Davidson and LOBPCG (block 1-3) preconditioned by (diag(JᵀJ) - theta)^-1,
on a real GRU's and LSTM's steps: JᵀJ is far from diagonal (off-diagonal norm 0.36 of the diagonal's
for a GRU, 1.1 for an LSTM), 40 matrix products against Lanczos's 33 (GRU; LSTM 28 against 26); start
vectors from a shared subspace (the mean JᵀJ's or the steps' top vectors' leading 1-64 directions) or
from the previous step (cosine 0.02-0.4 to the next step's top vector on noise input) saved at most 6
of 27 iterations even at cosine 0.96, since the cluster below the top still has to be resolved; checking
every row together at fixed iterations saved nothing over each row's own schedule.

Certificate, with r the residual of theta's Ritz vector (|r| = beta_m |s_m|, free from the
tridiagonal) and gap the distance from theta to the next Ritz value:
    |r| <= rtol * theta                          (Bauer-Fike: an eigenvalue lies within |r|), or
    |r|^2 / gap <= rtol * theta  with |r| < gap  (the gap theorem, Parlett 11.7),
so |lambda_max - theta| <= rtol * lambda_max and sigma has relative error <= rtol / 2 (plus
rounding, ~1e-15). Ritz values never exceed lambda_max. In the float64 phase the gap is taken to the
larger of its own second Ritz value and the float32 phase's (raised by its rounding, SINGLE_SLACK):
both bound lambda_2 from below, and the float64 phase's, started next to the top vector, alone would
be a poor one. Where a check runs batched (Laguerre), the second Ritz value is taken from above, to about
SECOND_RTOL of its distance to theta: the gap it gives is at most the tridiagonal's own, never more (the
first Laguerre iterate below theta confirmed by the pivots' count of eigenvalues above it, exactly one).
Like every Krylov method this assumes the start vector is not (numerically) orthogonal
to the top singular vector (its random part makes that as unlikely as for a random start), and that a pair
of top singular values closer than about sqrt(rtol) apart is resolved; steps not certified within
MAX_ITERATIONS fall back to eigvalsh of the explicitly formed J Jᵀ. tests/engine/test_spectral.py
checks the result against numpy's dense SVD, including clustered and repeated top values.
"""
from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterable, Iterator

import numpy as np

DEFAULT_RTOL = 1e-10  # on lambda = sigma^2: sigma is within DEFAULT_RTOL / 2
ROW_BUDGET = 1 << 19  # rows * k * H per chunk: bounds memory, and keeps a chunk's arrays near the cache
MAX_ITERATIONS = 120
FIRST_CHECK = 8       # first certificate check (few steps converge sooner; each check costs an eigvalsh)
CHECK_EVERY = 3       # until a row's residual has been seen falling, then when its rate says it passes:
LOOKAHEAD = 1.0       #   that many iterations (times this) after its last check,
CHECK_LATEST = 8      #   at most this many
CHECK_BATCH = 80      # fewer rows due than this wait for others, up to CHECK_WAIT iterations
CHECK_WAIT = 3
START_MIX = 0.5       # the float32 phase starts from the rows' mean JᵀJ's top eigenvector plus this much random
START_POWER = 30      # power steps on that mean (H x H)
SINGLE_BELOW = 32          # below this H the float64 Lanczos alone is as fast
SINGLE_RTOL = 1e-10        # the float32 phase stops once its own certificate holds to this (or its budget is
                           # spent); from its vector the float64 phase then certifies in one iteration, mostly
SINGLE_ITERATIONS = 60
SINGLE_FIRST_CHECK = 14     # few steps are certified in float32 sooner
SINGLE_SLACK = 1e-5        # float32 rounding of its Ritz values, relative to theta: lambda_2's bound is raised by it


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# Chunks of steps computed at once, each on its own thread: the chunks are independent and every GEMM releases
# the GIL, so two free cores take about half the wall time (the same CPU time). Each thread's BLAS stays on the
# one thread rnntui/blas.py allows, so at most WORKERS cores are used, and only cores the machine has free
# (`spare_workers`): on a busy one a second thread bought no time (measured at load 4 on 2 cores: the wall time
# up to 1.4x one thread's, the threads waiting for each other's GIL while the scheduler runs other processes).
# 1 computes everything on the calling thread.
WORKERS = min(2, usable_cores())


def spare_workers(cap: int) -> int:
    """How many threads to compute on: up to *cap*, one plus the cores the last minute's load average leaves
    free besides the caller's own (load minus one); 1 where the platform has no load average."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 1
    return max(1, min(cap, int(usable_cores() - max(0.0, load - 1.0) + 0.5)))


def map_chunks(fn: Callable, items: Iterable, workers: int | None = None, narrow=None) -> Iterator:
    """fn(item) for each item, in order, computed on up to *workers* threads (default: WORKERS, as many as the
    machine has free, `spare_workers`), at most that many
    ahead of the caller: a caller that stops (an exception, or a progress callback that cancels) leaves at most the
    running ones to finish. Each call runs in a copy of the caller's context (numpy's errstate, the progress
    listener). With one worker, or one item, everything runs on the calling thread. *narrow*: a threading.Event
    while set, one item is computed at a time (another thread of the process has the other core: the norms
    computed beside a run, norms_stream); once it is cleared, up to *workers* again."""
    items = list(items)
    workers = spare_workers(WORKERS) if workers is None else workers
    if workers <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    from concurrent.futures import ThreadPoolExecutor, wait

    def room() -> int:
        return 1 if narrow is not None and narrow.is_set() else workers

    with ThreadPoolExecutor(workers, thread_name_prefix="rnntui-jacnorm") as pool:
        pending = []
        try:
            for item in items:
                while len(pending) >= room():
                    if room() == 1 and len(pending) == 1:   # narrowed: until the item is done or the run is
                        wait(pending, timeout=NARROW_POLL)
                        if not pending[0].done():
                            continue
                    yield pending.pop(0).result()
                pending.append(pool.submit(contextvars.copy_context().run, fn, item))
            while pending:
                yield pending.pop(0).result()
        finally:
            for f in pending:
                f.cancel()


NARROW_POLL = 0.02   # seconds: how soon a narrowed map_chunks notices it may widen


TYPICAL_SINGLE_ITERATIONS = 30   # float32 Lanczos steps before a row is certified (its basis is kept until then)
TYPICAL_ITERATIONS = 12  # Lanczos steps before most rows are certified (each check forms m x m tridiagonals)


def working_floats(rows: int, k: int, H: int) -> int:
    """Float64 numbers step_spectral_norms holds at once for *rows* (step, sample) rows of D: each chunk's
    scaled D, its gathered copy and J v's products (3 of rows x kH); then the larger of the two phases' own
    arrays, one phase running after the other: the float32 phase's (its copies, vectors and Lanczos basis) or
    the float64 phase's (about 12 vectors of H per row: Lanczos vectors, their products and the copies `keep`
    makes; the Lanczos coefficients and the tridiagonals a certificate check forms, typically; up to
    MAX_ITERATIONS^2 per row for rows that converge slowly); and W, Wᵀ and the blocks in float64.
    tests/engine/test_memory_estimate.py holds whole runs' peaks to it."""
    n = min(rows, max(1, ROW_BUDGET // (k * H)))
    m = min(TYPICAL_ITERATIONS, H)
    # the float32 phase: its copies of D and W, its vectors, and its Lanczos basis (kept for the Ritz vector, as made:
    # a row's vectors until it is certified, typically)
    single = (2 * k * H + 8 * H + min(TYPICAL_SINGLE_ITERATIONS, H) * H) // 2 + 2 * min(SINGLE_ITERATIONS, H)
    double = 12 * H + 2 * min(MAX_ITERATIONS, H) + m * m
    return n * (3 * k * H + max(single, double)) + 4 * k * H * H   # one phase after the other: the larger's peak


def step_spectral_norms(a: np.ndarray | None, D: np.ndarray, blocks: np.ndarray, *, rtol: float = DEFAULT_RTOL,
                        progress: Callable[[int], None] | None = None, scratch: dict | None = None) -> np.ndarray:
    """Largest singular value of J[s, b] = diag(a[s, b]) + sum_k diag(D[s, b, k*H:(k+1)*H]) blocks[k].

    a: (S, B, H) or None; D: (S, B, k*H); blocks: (k, H, H). Returns float64 (S, B), each value within
    relative error rtol/2 of the exact spectral norm (see the module docstring); NaN where a factor of
    that step and sample, or any of *blocks*, is not finite. Computed in float64 whatever the inputs.
    *progress*, if given, is called with the number of (step, sample) rows finished after each chunk.
    *scratch*: a dict the working arrays are kept in between calls (one per thread): a caller that computes many
    chunks makes them once (`_buffer`), rather than having every chunk's pages faulted in again.
    """
    S, B, kH = D.shape
    k, H, _ = blocks.shape
    if kH != k * H or (a is not None and a.shape != (S, B, H)):
        raise ValueError(f"shapes do not fit: a {None if a is None else a.shape}, D {D.shape}, blocks {blocks.shape}")
    N = S * B
    out = np.full(N, np.nan)
    W = np.asarray(blocks, dtype=np.float64).reshape(kH, H)
    if not np.isfinite(W).all():
        if progress:
            progress(N)
        return out.reshape(S, B)
    # J = w * (diag(a / w) + sum_k diag(D_k) W_k / w): with huge weights (a recurrent gain of 1e306)
    # JᵀJ would overflow inside Lanczos; w is a power of two, so the scaling itself rounds nothing
    wmax = np.abs(W).max(initial=0.0)
    w = 2.0 ** np.frexp(wmax)[1] if wmax > 1e100 else 1.0
    W = W / w
    Wt = np.ascontiguousarray(W.T)
    Dflat = D.reshape(N, kH)
    aflat = None if a is None else a.reshape(N, H) / w
    rows = max(1, ROW_BUDGET // kH)
    scratch = {} if scratch is None else scratch
    for r0 in range(0, N, rows):
        Dc = np.asarray(Dflat[r0: r0 + rows], dtype=np.float64)
        ac = None if aflat is None else np.asarray(aflat[r0: r0 + rows], dtype=np.float64)
        with np.errstate(over="ignore"):  # a norm beyond the largest float is inf
            out[r0: r0 + len(Dc)] = _chunk_norms(ac, Dc, W, Wt, k, H, rtol, seed=r0, scratch=scratch) * w
        if progress:
            progress(len(Dc))
    return out.reshape(S, B)


def _chunk_norms(a, D, W, Wt, k, H, rtol, seed, scratch):
    n = D.shape[0]
    out = np.full(n, np.nan)
    with np.errstate(all="ignore"):
        finite = np.isfinite(D).all(axis=1)
        if a is not None:
            finite &= np.isfinite(a).all(axis=1)
        # scale each J by the size of its factors so JᵀJ can neither overflow nor underflow
        scale = np.abs(D).max(axis=1, initial=0.0)
        if a is not None:
            scale = scale + np.abs(a).max(axis=1, initial=0.0)
    rows = np.flatnonzero(finite & (scale > 0))
    out[finite & (scale == 0)] = 0.0
    if rows.size == 0:
        return out
    s = scale[rows]
    Dr = (D[rows] / s[:, None]).reshape(-1, k, H)
    ar = None if a is None else a[rows] / s[:, None]
    theta, done = _lanczos_top(ar, Dr, W, Wt, rtol, np.random.default_rng(seed), scratch)
    if not done.all():
        rest = np.flatnonzero(~done)
        theta[rest] = _dense_top(None if ar is None else ar[rest], Dr[rest], W.reshape(k, H, H))
    out[rows] = np.sqrt(np.maximum(theta, 0.0)) * s
    return out


def _lanczos_top(a, D, W, Wt, rtol, rng, scratch):
    """Largest eigenvalue of JᵀJ for each row (after scaling); (theta, certified) per row.

    Two phases. A float32 Lanczos (GEMMs 2.5x as fast) from a random start finds each row's top Ritz vector to
    about SINGLE_RTOL; a float64 Lanczos started from it then certifies theta to *rtol* in a few iterations,
    with the certificate of `_certify` and a gap no wider than the float32 phase's: its second Ritz value
    (a lower bound of lambda_2, as every Ritz value is; rounded up by SINGLE_SLACK) bounds lambda_2 from
    below as well as the float64 phase's own. Every value is the float64 phase's: the float32 one only
    chooses where it starts."""
    n, k, H = D.shape
    q = rng.standard_normal((n, H))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    if n > 1 and H > SINGLE_BELOW and START_MIX:
        f = _shared_start(a, D, W, rng)
        if f is not None:
            q = q * START_MIX + f
            q /= np.linalg.norm(q, axis=1, keepdims=True)
    floor = None
    wmax = np.abs(W).max(initial=0.0)
    if H > SINGLE_BELOW and 1e-12 < wmax < 1e12:
        f32 = np.float32
        D32 = _buffer(scratch, "D32", D.shape, f32)
        np.copyto(D32, D, casting="same_kind")
        y, th, th2 = _lanczos(None if a is None else a.astype(f32), D32, W.astype(f32), Wt.astype(f32),
                              q.astype(f32), SINGLE_RTOL, SINGLE_ITERATIONS, SINGLE_FIRST_CHECK, CHECK_EVERY, ritz=True,
                              scratch=scratch)
        good = np.isfinite(y).all(axis=1) & (np.linalg.norm(y, axis=1) > 0.5)
        q[good] = y[good] / np.linalg.norm(y[good], axis=1, keepdims=True)
        floor = np.where(good & np.isfinite(th2), th2 + SINGLE_SLACK * np.abs(th), -np.inf)
    theta, done, _ = _lanczos(a, D, W, Wt, q, rtol, min(MAX_ITERATIONS, H), 1 if floor is not None else FIRST_CHECK,
                              1 if floor is not None else CHECK_EVERY, floor=floor, scratch=scratch)
    return theta, done


def _shared_start(a, D, W, rng):
    """The top eigenvector of the rows' mean JᵀJ (unit, float64), or None: where the top right singular vectors of
    the steps' Jacobians lean on average (they share W). Formed from W and the factors' mean products, k GEMMs of
    H x H, then a few Lanczos-free power steps: no row's own Jacobian is applied."""
    n, k, H = D.shape
    Wk = W.reshape(k, H, H)
    E = np.einsum("nkh,nlh->klh", D, D) / n               # mean of D_k * D_l
    M = np.zeros((H, H))
    for i in range(k):
        M += Wk[i].T @ np.einsum("lh,lhj->hj", E[i], Wk)
    if a is not None:                                     # diag(a) + sum_k D_k W_k: the cross terms and a^2
        C = np.einsum("nh,nkh->kh", a, D) / n
        X = np.einsum("kh,khj->hj", C, Wk)
        M += X + X.T
        M[np.diag_indices(H)] += np.einsum("nh,nh->h", a, a) / n
    if not np.isfinite(M).all():
        return None
    x = rng.standard_normal(H)
    for _ in range(START_POWER):
        x = M @ x
        nx = np.linalg.norm(x)
        if not (np.isfinite(nx) and nx > 0):
            return None
        x /= nx
    return x


def _lanczos(a, D, W, Wt, q, rtol, iterations, first_check, check_every, floor=None, ritz=False, scratch=None):
    """Lanczos on JᵀJ for every row at once, from the unit rows of *q*, in the dtype of *D*.

    Returns (theta, certified, second): with *ritz*, instead (the top Ritz vector per row in float64, theta,
    the second Ritz value), for a next phase to start from. Each row is checked (`_certify`) first at
    *first_check*, then *check_every* iterations later, then when the rate its residual fell at between its
    last two checks says it will pass (LOOKAHEAD, CHECK_LATEST): a check costs an eigvalsh of the row's m x m
    tridiagonal (20-50 us at m = 30-35), an iteration past the row's convergence a row of both GEMMs. Certified
    rows leave the batch at once (the rows still running are kept packed: D, a and the Lanczos vectors gathered
    again); each iteration writes into buffers made once (`_buffer`): the two GEMMs are most of it."""
    n, k, H = D.shape
    dt = D.dtype
    theta = np.full(n, np.nan)                # each row's top Ritz value at its last check
    second = np.full(n, np.nan)
    done = np.zeros(n, dtype=bool)
    m_max = min(iterations, H)
    alphas = np.zeros((n, m_max))
    betas = np.zeros_like(alphas)
    scratch = {} if scratch is None else scratch
    basis = [] if ritz else None   # each iteration's Lanczos vectors (packed as `active` was then), for the Ritz vector
    coefficients = np.zeros((n, m_max)) if ritz else None   # each finished row's Ritz vector in the basis
    due = np.full(n, first_check)            # each row's next check
    guess_top = np.full(n, np.nan)           # from its last check: a point above the top Ritz value, and the second
    guess_second = np.full(n, np.nan)
    seen_m = np.zeros(n)                     # its last check's iteration, and how far it was from passing then
    seen_gap = np.full(n, np.nan)
    active = np.arange(n)                    # the rows in the batch, packed
    live = np.ones(n, dtype=bool)            # per place in the batch: not certified at this iteration
    q_prev = np.zeros_like(q)
    beta_prev = np.zeros(n, dtype=dt)
    Da, aa, fl = D, a, floor
    buf = _buffer(scratch, f"buf{dt.itemsize}", (n, k, H), dt)      # W q, then D * (J q)
    Jv = _buffer(scratch, f"Jv{dt.itemsize}", (n, H), dt)
    tmp = _buffer(scratch, f"tmp{dt.itemsize}", (n, H), dt)
    for m in range(1, m_max + 1):
        r = len(active)
        if ritz:
            basis.append((active, q))
        u = np.matmul(q, Wt, out=buf[:r].reshape(r, k * H)).reshape(r, k, H)
        J = np.einsum("rkh,rkh->rh", Da, u, out=Jv[:r])   # sum_k D_k * (W_k q): one pass
        t = tmp[:r]
        if aa is not None:
            J += np.multiply(aa, q, out=t)
        np.multiply(Da, J[:, None, :], out=u)
        w = u.reshape(r, k * H) @ W
        if aa is not None:
            w += np.multiply(aa, J, out=t)
        alpha = np.einsum("ij,ij->i", w, q)
        w -= np.multiply(alpha[:, None], q, out=t)
        w -= np.multiply(beta_prev[:, None], q_prev, out=t)
        beta = np.sqrt(np.einsum("ij,ij->i", w, w))
        alphas[active, m - 1] = alpha
        betas[active, m - 1] = beta
        last = m == m_max
        check = live & ((due[active] <= m) | (beta <= 1e-14 * np.abs(alpha)) | last)
        if CHECK_BATCH and not last and 0 < check.sum() < CHECK_BATCH and (due[active[check]] > m - CHECK_WAIT).all():
            check[:] = False   # a few rows due: they wait (a row's iteration costs a tenth of its check) for others
        if check.any():
            at = np.flatnonzero(check)
            rows = active[at]
            th, ok, th2, far, res = _certify(alphas[rows, :m], betas[rows, :m], rtol, None if fl is None else fl[at],
                                             guess_top[rows], guess_second[rows])
            guess_top[rows] = th + 1.01 * res   # where the next check's iteration starts: T's top moves up by about
            guess_second[rows] = th2            # the residual, its second rises
            theta[rows] = th
            second[rows] = th2
            done[rows[ok]] = True
            finished = ok | last
            live[at[finished]] = False
            if ritz and finished.any():   # the top Ritz vector: the basis combined by the tridiagonal's eigenvector
                fin = rows[finished]
                s = _top_vector(alphas[fin, :m], betas[fin, :m], th[finished])
                coefficients[fin, :m] = s
            wait = rows[~finished]
            if wait.size:   # far: log of how many times too large the residual is; the rate it fell at since the last check
                f = far[~finished]
                rate = (seen_gap[wait] - f) / (m - seen_m[wait])
                ahead = np.where((rate > 0) & np.isfinite(f), LOOKAHEAD * f / np.where(rate > 0, rate, 1), check_every)
                due[wait] = m + np.clip(ahead, 1, CHECK_LATEST).astype(int)
                seen_m[wait], seen_gap[wait] = m, f
        if not live.any():
            break
        if not live.all():   # some rows are certified: gather the rest
            keep = live
            active, beta, w, q = active[keep], beta[keep], w[keep], q[keep]
            Da = Da[keep]
            aa = None if aa is None else aa[keep]
            fl = None if fl is None else fl[keep]
            live = np.ones(len(active), dtype=bool)
        q_prev = q
        q = w / np.where(beta > 0, beta, 1.0)[:, None]
        beta_prev = beta
    if ritz:
        return _combine(basis, coefficients), theta, second
    return theta, done, second


def _combine(basis, coefficients):
    """Each row's sum_j coefficients[row, j] q_j[row] (float64), q_j the Lanczos vectors `_lanczos` kept per iteration,
    each packed in the order of that iteration's active rows (a sorted subset of the previous iteration's): once for
    all rows at the end, a few NumPy calls an iteration (a row's coefficients are zero past its last iteration).

    A list of the vectors as they were made, rather than one (rows, iterations, H) array filled in: no copy, and no
    block of memory larger than an iteration's (a fresh 40 MB block costs ~0.25 s of page faults on a VM)."""
    n = coefficients.shape[0]
    out = np.zeros((n, basis[0][1].shape[1]))
    for j, (active, q) in enumerate(basis):
        if len(active) == n:
            out += coefficients[:, j, None] * q
        else:
            out[active] += coefficients[active, j, None] * q
    return out


def _buffer(scratch: dict, name: str, shape: tuple, dtype) -> np.ndarray:
    """An uninitialised array of *shape*, kept in *scratch* under *name* and handed out again (a view of it) to a
    later call that asks for no more: made once per thread of a computation, not once per chunk."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    flat = scratch.get(name)
    if flat is None or flat.dtype != dtype or flat.size < size:
        flat = scratch[name] = np.empty(size, dtype=dtype)
    return flat[:size].reshape(shape)


def _tridiagonal(alphas, betas):
    """The Lanczos tridiagonals (n, m, m) of the coefficients (n, m) (the last beta is the residual's)."""
    n, m = alphas.shape
    T = np.zeros((n, m, m))
    i = np.arange(m)
    T[:, i, i] = alphas
    T[:, i[:-1], i[1:]] = betas[:, :-1]
    T[:, i[1:], i[:-1]] = betas[:, :-1]
    return T


def _certify(alphas, betas, rtol, floor=None, above=None, below=None):
    """Top Ritz value of each Lanczos tridiagonal, whether it is certified (module docstring), the second Ritz
    value (NaN for one iteration), how far from certified: the log of how many times too large its residual
    is (0 when certified), from which `_lanczos` predicts the row's next check, and the residual. *floor*: per row,
    a value lambda_2 is known to be at least (the float32 phase's second Ritz value): the gap is measured to the
    larger of it and this tridiagonal's second. *above*, *below*: per row, a previous check's top (plus its
    residual) and second, where the batched iteration starts (`_laguerre_top`, `_laguerre_second`)."""
    n, m = alphas.shape
    if m < 4 or n * m < LAGUERRE_WORK:
        vals = np.linalg.eigvalsh(_tridiagonal(alphas, betas))
        theta, second = vals[:, -1], (vals[:, -2] if m > 1 else np.full(n, np.nan))
        res = np.abs(betas[:, -1]) * _last_component(alphas, betas, theta)
    else:
        theta, second, res = _batched_top_two(alphas, betas, above, below)
    tol = rtol * np.abs(theta)
    ok = res <= tol
    need = tol
    if m > 1 or floor is not None:
        lower = np.where(np.isnan(second), -np.inf, second)   # m = 1: no second Ritz value
        lower = lower if floor is None else np.maximum(lower, floor)
        gap = theta - lower
        ok |= np.isfinite(gap) & (res < gap) & (res * res <= tol * gap)
        with np.errstate(invalid="ignore"):   # the residual either certificate asks for: the larger
            need = np.where(np.isfinite(gap) & (gap > 0), np.maximum(tol, np.minimum(np.sqrt(tol * gap), gap)), tol)
    with np.errstate(divide="ignore", invalid="ignore"):
        far = np.log(res / need)
    far = np.where(ok, 0.0, np.nan_to_num(far, nan=np.inf, posinf=np.inf))
    return theta, ok, second, far, res


def _batched_top_two(alphas, betas, above, below):
    """theta, second and the residual (`_certify`), by the Laguerre iterations; the rows they are not sure of by
    eigvalsh."""
    n, m = alphas.shape
    prepared = _laguerre_prepared(alphas, betas)
    theta, sure = _laguerre_top(alphas, betas, prepared, above)
    second = np.full(n, np.nan)
    if not sure.all():
        rest = np.flatnonzero(~sure)
        vals = np.linalg.eigvalsh(_tridiagonal(alphas[rest], betas[rest]))
        theta[rest], second[rest] = vals[:, -1], vals[:, -2]
    res = np.abs(betas[:, -1]) * _last_component(alphas, betas, theta)
    rows = np.flatnonzero(np.isnan(second))
    if rows.size:
        got, fine = _laguerre_second(tuple(p[:, rows] for p in prepared), theta[rows],
                                     None if below is None else below[rows])
        second[rows] = got
        rest = rows[~fine]
        if rest.size:
            second[rest] = np.linalg.eigvalsh(_tridiagonal(alphas[rest], betas[rest]))[:, -2]
    return theta, second, res


LAGUERRE_WORK = 1500   # rows * m of a check from which the Laguerre iteration is cheaper than eigvalsh (its cost is
                       # the m-step recurrence's NumPy calls, eigvalsh's grows with rows * m^2)
LAGUERRE_ITERATIONS = 12
LAGUERRE_LEFT = 500    # rows * m below which the rows still iterating go to eigvalsh instead (a pass costs ~17 m NumPy
                       # calls whatever the rows, eigvalsh ~0.04 m^2 us a row)
SECOND_RTOL = 1e-3     # the second Ritz value from above, to this share of its gap to the top


def _pivot_sums(aT, b2T, x):
    """For each column (row of the batch) of the tridiagonal T (diagonal aT (m, n), squared off-diagonal b2T (m-1, n))
    at the point x (n,): sum_j 1/(x - l_j), sum_j 1/(x - l_j)^2 over T's eigenvalues l_j, and how many of them
    exceed x. From the LDLᵀ pivots d_i of x I - T (d_1 = x - a_1, d_i = x - a_i - b_{i-1}^2 / d_{i-1}; their
    product is det(x I - T), their count of negatives Sylvester's count of eigenvalues above x) and the pivots'
    first two derivatives in x: sum_i d_i'/d_i = (log det)' and sum_i (d_i'/d_i)^2 - d_i''/d_i = -(log det)''."""
    m = aT.shape[0]
    d = x - aT[0]
    g = 1.0 / d                  # d_i' / d_i
    h = np.zeros_like(x)         # d_i'' / d_i
    G, Hs = g.copy(), g * g
    neg = (d < 0).astype(np.int64)
    for i in range(1, m):
        t = b2T[i - 1] / d
        d = x - aT[i] - t
        gg = g * g
        h = t * (h - 2.0 * gg) / d
        g = (1.0 + t * g) / d
        G += g
        Hs += g * g - h
        neg += d < 0
    return G, Hs, neg


def _laguerre_prepared(alphas, betas):
    """The diagonals `_laguerre_top` and `_laguerre_second` iterate on: (a (m, n), b^2 (m-1, n)), contiguous."""
    m = alphas.shape[1]
    return np.ascontiguousarray(alphas.T), np.ascontiguousarray(betas[:, : m - 1].T) ** 2


def _laguerre_top(alphas, betas, prepared, above=None):
    """(theta, sure) per row: the tridiagonal's top eigenvalue, and whether it was found as the iteration promises.
    Laguerre's iteration for a polynomial whose roots are all real converges to the largest root monotonically from
    any point above it, cubically at a simple root: here det(x I - T) from Gershgorin's bound (every iterate above the
    top: no pivot of x I - T negative, until the step is a rounding's). Each iteration is one pass of `_pivot_sums`
    over the rows still iterating. *above*: per row, a guess above the top (a previous check's, from which few
    iterations remain), used where the pivots' count confirms it (no eigenvalue above it), else Gershgorin's bound."""
    n, m = alphas.shape
    aT, b2T = prepared
    eps = np.finfo(np.float64).eps
    b = np.abs(betas[:, : m - 1])
    radius = np.zeros((n, m))
    radius[:, :-1] += b
    radius[:, 1:] += b
    top = (alphas + radius).max(axis=1)
    top += 4 * eps * np.abs(top)
    theta = np.full(n, np.nan)
    sure = np.zeros(n, dtype=bool)
    run, x = np.arange(n), top
    was_above = np.zeros(n, dtype=bool)   # per row iterating: an earlier iterate was above the top (none below it)
    if above is not None:
        x = np.where(np.isfinite(above) & (above < top), above, top)
    with np.errstate(all="ignore"):
        for _ in range(LAGUERRE_ITERATIONS):
            G, Hs, neg = _pivot_sums(aT[:, run], b2T[:, run], x)
            step = m / (G + np.sqrt(np.maximum((m - 1) * (m * Hs - G * G), 0.0)))
            # at the top, to rounding: at or above it, or a rounding below it when come from above (not at another
            # root a guess happened to hit)
            done = ((neg == 0) | ((neg == 1) & was_above)) & (np.abs(step) <= 8 * eps * np.abs(x))
            theta[run[done]] = (x - step)[done]
            sure[run[done]] = True
            retry = ~done & (neg > 0) & (x < top[run])     # the guess was below the top: from Gershgorin's bound
            going = ~done & (((neg == 0) & np.isfinite(step)) | retry)
            was_above = ((neg == 0) & ~retry)[going]
            x = np.where(retry, top[run], x - step)[going]
            run = run[going]
            if run.size * m < LAGUERRE_LEFT:   # the few rows left (near-double tops converge slowly): eigvalsh
                break
    return theta, sure


def _laguerre_second(prepared, theta, below=None):
    """(second, sure) per row: the tridiagonal's second eigenvalue from above, to SECOND_RTOL of its gap to the top
    *theta*, by Laguerre's iteration on det(x I - T) / (x - theta) from just above theta (every iterate with exactly
    one eigenvalue above it; the point before the last step is returned: above the second, within that step of it).
    *below*: per row, a previous check's second (the second only rises with m), from which a start between the two
    is tried (confirmed by the pivots' count, exactly one eigenvalue above it)."""
    aT, b2T = prepared
    m, n = aT.shape
    second = np.full(n, np.nan)
    sure = np.zeros(n, dtype=bool)
    run, top = np.arange(n), theta
    above_top = top + 1e-4 * np.abs(top)   # far enough above theta that 1/(x - theta) leaves the rest's sums exact
    x = above_top
    if below is not None:
        x = np.where(np.isfinite(below) & (below < top), below + 0.5 * (top - below), above_top)
    k = m - 1                              # the deflated polynomial's degree
    with np.errstate(all="ignore"):
        for _ in range(LAGUERRE_ITERATIONS):
            G, Hs, neg = _pivot_sums(aT[:, run], b2T[:, run], x)
            e = 1.0 / (x - top)
            G -= e
            Hs -= e * e
            step = k / (G + np.sqrt(np.maximum((k - 1) * (k * Hs - G * G), 0.0)))
            fine = (neg <= 1) & np.isfinite(step) & (step >= 0)
            done = fine & (step <= SECOND_RTOL * (top - x + step))
            second[run[done]] = x[done]
            sure[run[done]] = True
            retry = ~fine & (x < top)      # the guess was below the second: from above the top
            going = (fine & ~done) | (retry & (x < above_top))
            x = np.where(retry, above_top, x - step)[going]
            run, top, above_top = run[going], top[going], above_top[going]
            if run.size * m < LAGUERRE_LEFT:
                break
    return second, sure


def _last_component(alphas, betas, theta):
    """|s_m|: last component of the unit eigenvector of the tridiagonal for its top eigenvalue theta.

    Row i of (T - theta) s = 0 gives s_{i+1}/s_i = d_i/beta_i with d_i the pivots of theta*I - T_i
    (d_1 = theta - alpha_1, d_i = theta - alpha_i - beta_{i-1}^2/d_{i-1}), all >= 0 because theta
    is at least every leading block's top eigenvalue: no cancellation. Summed in logs: no overflow.
    """
    n, m = alphas.shape
    if m == 1:
        return np.ones(n)
    logs = _pivot_logs(alphas, betas, theta)
    rel = logs - logs[:, -1:]
    return 1.0 / np.sqrt(np.exp(2 * np.minimum(rel, 700)).sum(axis=1))


def _pivot_logs(alphas, betas, theta) -> np.ndarray:
    """(n, m): log s_j - log s_0 of the top eigenvector's components, from the pivots d_i (see
    `_last_component`): log s_{j} = log s_{j-1} + log d_{j-1} - log beta_{j-1}, summed in logs. The pivots' recurrence
    runs column by column (three NumPy calls a step); the logs and their sums over the whole array at once."""
    n, m = alphas.shape
    tiny = np.finfo(np.float64).tiny
    logs = np.zeros((n, m))
    if m == 1:
        return logs
    aT = np.ascontiguousarray(alphas[:, : m - 1].T)
    b2T = np.ascontiguousarray(betas[:, : m - 2].T) ** 2
    d = np.empty((m - 1, n))
    d[0] = theta - aT[0]
    for j in range(1, m - 1):
        np.subtract(theta - aT[j], b2T[j - 1] / np.where(d[j - 1] == 0, tiny, d[j - 1]), out=d[j])
    with np.errstate(divide="ignore"):
        steps = np.log(np.maximum(np.abs(d), tiny)) - np.log(np.maximum(betas[:, : m - 1].T, tiny))
    np.cumsum(steps, axis=0, out=logs[:, 1:].T)
    return logs


def _top_vector(alphas, betas, theta):
    """The tridiagonal's unit eigenvector for its top eigenvalue theta, from the pivots `_last_component`
    reads (s_{i+1}/s_i = d_i/beta_i >= 0: every component has the same sign), O(m) per row."""
    n, m = alphas.shape
    logs = _pivot_logs(alphas, betas, theta)
    s = np.exp(np.maximum(logs - logs.max(axis=1, keepdims=True), -700))
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def _dense_top(a, D, blocks):
    """Exact fallback: eigvalsh of explicitly formed J Jᵀ (rare: steps Lanczos could not certify)."""
    J = np.einsum("nkh,khj->nhj", D, blocks)
    if a is not None:
        H = J.shape[-1]
        J[:, np.arange(H), np.arange(H)] += a
    return np.linalg.eigvalsh(J @ J.transpose(0, 2, 1))[:, -1]
