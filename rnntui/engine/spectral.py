"""Spectral norms of many step Jacobians J = diag(a) + sum_k diag(D_k) W_k, without forming any J.

Every step (and sample) runs its own Lanczos process on A = JᵀJ, all of them at once: each
iteration is two GEMMs over every active row, (N, H) @ (H, kH) and (N, kH) @ (kH, H), since
J v = a*v + sum_k D_k*(W_k v) and Jᵀu = a*u + sum_k W_kᵀ(D_k*u). A step leaves the batch as soon
as its largest Ritz value theta (of the Lanczos tridiagonal) is certified; sigma = sqrt(theta).
Above SINGLE_BELOW units this runs twice: in float32 (its GEMMs 2.5x as fast) to find each step's
top Ritz vector, then in float64 from that vector, which certifies theta in a few iterations; every
value returned is the float64 phase's, with the certificate below.

Certificate, with r the residual of theta's Ritz vector (|r| = beta_m |s_m|, free from the
tridiagonal) and gap the distance from theta to the next Ritz value:
    |r| <= rtol * theta                          (Bauer-Fike: an eigenvalue lies within |r|), or
    |r|^2 / gap <= rtol * theta  with |r| < gap  (the gap theorem, Parlett 11.7),
so |lambda_max - theta| <= rtol * lambda_max and sigma has relative error <= rtol / 2 (plus
rounding, ~1e-15). Ritz values never exceed lambda_max. In the float64 phase the gap is taken to the
larger of its own second Ritz value and the float32 phase's (raised by its rounding, SINGLE_SLACK):
both bound lambda_2 from below, and the float64 phase's, started next to the top vector, alone would
be a poor one. Like every Krylov method this assumes the
random start vector is not (numerically) orthogonal to the top singular vector, and that a pair
of top singular values closer than about sqrt(rtol) apart is resolved; steps not certified within
MAX_ITERATIONS fall back to eigvalsh of the explicitly formed J Jᵀ. tests/engine/test_spectral.py
checks the result against numpy's dense SVD, including clustered and repeated top values.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEFAULT_RTOL = 1e-10  # on lambda = sigma^2: sigma is within DEFAULT_RTOL / 2
ROW_BUDGET = 1 << 19  # rows * k * H per chunk: bounds memory, and keeps a chunk's arrays near the cache
MAX_ITERATIONS = 120
FIRST_CHECK = 8       # first certificate check (few steps converge sooner; each check costs an eigvalsh)
CHECK_EVERY = 3
SINGLE_BELOW = 32          # below this H the float64 Lanczos alone is as fast
SINGLE_RTOL = 1e-9         # the float32 phase stops once its own certificate holds to this (or its budget is spent)
SINGLE_ITERATIONS = 60
SINGLE_FIRST_CHECK = 14     # few steps are certified in float32 sooner; then every CHECK_EVERY (a check costs a GEMM pass)
SINGLE_SLACK = 1e-5        # float32 rounding of its Ritz values, relative to theta: lambda_2's bound is raised by it


TYPICAL_ITERATIONS = 12  # Lanczos steps before most rows are certified (each check forms m x m tridiagonals)


def working_floats(rows: int, k: int, H: int) -> int:
    """Float64 numbers step_spectral_norms holds at once for *rows* (step, sample) rows of D: each chunk's
    scaled D, its gathered copy and J v's products (3 of rows x kH), about 12 vectors of H per row
    (Lanczos vectors, their products and the copies `keep` makes), the Lanczos coefficients and the
    tridiagonals a certificate check forms (typically; up to MAX_ITERATIONS^2 per row for rows that
    converge slowly); and W, Wᵀ and the blocks in float64."""
    n = min(rows, max(1, ROW_BUDGET // (k * H)))
    m = min(TYPICAL_ITERATIONS, H)
    # the float32 phase: its copies of D and W, its vectors, and its Lanczos basis (kept for the Ritz vector)
    single = (2 * k * H + 8 * H + min(SINGLE_ITERATIONS, H) * H) // 2 + 2 * min(SINGLE_ITERATIONS, H)
    return n * (3 * k * H + 12 * H + 2 * min(MAX_ITERATIONS, H) + m * m + single) + 4 * k * H * H


def step_spectral_norms(a: np.ndarray | None, D: np.ndarray, blocks: np.ndarray, *, rtol: float = DEFAULT_RTOL,
                        progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Largest singular value of J[s, b] = diag(a[s, b]) + sum_k diag(D[s, b, k*H:(k+1)*H]) blocks[k].

    a: (S, B, H) or None; D: (S, B, k*H); blocks: (k, H, H). Returns float64 (S, B), each value within
    relative error rtol/2 of the exact spectral norm (see the module docstring); NaN where a factor of
    that step and sample, or any of *blocks*, is not finite. Computed in float64 whatever the inputs.
    *progress*, if given, is called with the number of (step, sample) rows finished after each chunk.
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
    for r0 in range(0, N, rows):
        Dc = np.asarray(Dflat[r0: r0 + rows], dtype=np.float64)
        ac = None if aflat is None else np.asarray(aflat[r0: r0 + rows], dtype=np.float64)
        with np.errstate(over="ignore"):  # a norm beyond the largest float is inf
            out[r0: r0 + len(Dc)] = _chunk_norms(ac, Dc, W, Wt, k, H, rtol, seed=r0) * w
        if progress:
            progress(len(Dc))
    return out.reshape(S, B)


def _chunk_norms(a, D, W, Wt, k, H, rtol, seed):
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
    theta, done = _lanczos_top(ar, Dr, W, Wt, rtol, np.random.default_rng(seed))
    if not done.all():
        rest = np.flatnonzero(~done)
        theta[rest] = _dense_top(None if ar is None else ar[rest], Dr[rest], W.reshape(k, H, H))
    out[rows] = np.sqrt(np.maximum(theta, 0.0)) * s
    return out


def _lanczos_top(a, D, W, Wt, rtol, rng):
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
    floor = None
    wmax = np.abs(W).max(initial=0.0)
    if H > SINGLE_BELOW and 1e-12 < wmax < 1e12:
        f32 = np.float32
        y, th, th2 = _lanczos(None if a is None else a.astype(f32), D.astype(f32), W.astype(f32), Wt.astype(f32),
                              q.astype(f32), SINGLE_RTOL, SINGLE_ITERATIONS, SINGLE_FIRST_CHECK, CHECK_EVERY, ritz=True)
        good = np.isfinite(y).all(axis=1) & (np.linalg.norm(y, axis=1) > 0.5)
        q[good] = y[good] / np.linalg.norm(y[good], axis=1, keepdims=True)
        floor = np.where(good & np.isfinite(th2), th2 + SINGLE_SLACK * np.abs(th), -np.inf)
    theta, done, _ = _lanczos(a, D, W, Wt, q, rtol, min(MAX_ITERATIONS, H), 1 if floor is not None else FIRST_CHECK,
                              1 if floor is not None else CHECK_EVERY, floor=floor)
    return theta, done


def _lanczos(a, D, W, Wt, q, rtol, iterations, first_check, check_every, floor=None, ritz=False):
    """Lanczos on JᵀJ for every row at once, from the unit rows of *q*, in the dtype of *D*.

    Returns (theta, certified, second): with *ritz*, instead (the top Ritz vector per row in float64, theta,
    the second Ritz value), for a next phase to start from. The rows still running are kept packed (D, a and
    the Lanczos vectors gathered again only when some row is certified) and each iteration writes into
    buffers made once: the two GEMMs are most of it."""
    n, k, H = D.shape
    dt = D.dtype
    theta = np.zeros(n)
    second = np.full(n, np.nan)
    done = np.zeros(n, dtype=bool)
    active = np.arange(n)
    q_prev = np.zeros_like(q)
    beta_prev = np.zeros(n, dtype=dt)
    m_max = min(iterations, H)
    alphas = np.zeros((n, m_max))
    betas = np.zeros_like(alphas)
    basis = np.empty((m_max, n, H), dtype=dt) if ritz else None
    vectors = np.zeros((n, H)) if ritz else None
    Da, aa = D, a                          # the active rows' factors, packed
    fl = floor
    buf = np.empty((n, k, H), dtype=dt)    # W q, then D * (J q)
    Jv = np.empty((n, H), dtype=dt)
    for m in range(1, m_max + 1):
        r = len(active)
        if ritz:
            basis[m - 1, active] = q
        u = np.matmul(q, Wt, out=buf[:r].reshape(r, k * H)).reshape(r, k, H)
        u *= Da
        if k > 1:
            np.add(u[:, 0], u[:, 1], out=Jv[:r])
        else:
            np.copyto(Jv[:r], u[:, 0])
        for j in range(2, k):
            Jv[:r] += u[:, j]
        if aa is not None:
            Jv[:r] += aa * q
        np.multiply(Da, Jv[:r, None, :], out=buf[:r])
        w = buf[:r].reshape(r, k * H) @ W
        if aa is not None:
            w += aa * Jv[:r]
        alpha = np.einsum("ij,ij->i", w, q)
        w -= alpha[:, None] * q
        w -= beta_prev[:, None] * q_prev
        beta = np.sqrt(np.einsum("ij,ij->i", w, w))
        alphas[active, m - 1] = alpha
        betas[active, m - 1] = beta
        last = m == m_max
        if (m >= first_check and (m - first_check) % check_every == 0) or last \
                or (beta <= 1e-14 * np.abs(alpha)).any():
            th, ok, th2 = _certify(alphas[active, :m], betas[active, :m], rtol, fl)
            theta[active] = th
            second[active] = th2
            done[active[ok]] = True
            if ritz:
                finished = ok | last
                if finished.any():   # the top Ritz vector: the basis combined by the tridiagonal's eigenvector
                    rows = active[finished]
                    s = _top_vector(alphas[rows, :m], betas[rows, :m], theta[rows])
                    vectors[rows] = np.einsum("nm,mnh->nh", s, basis[:m, rows], dtype=np.float64)
        else:
            ok = None
        if ok is not None and ok.any():
            keep = ~ok
            if not keep.any():
                break
            active, beta, w, q = active[keep], beta[keep], w[keep], q[keep]
            Da = Da[keep]
            aa = None if aa is None else aa[keep]
            fl = None if fl is None else fl[keep]
        q_prev = q
        q = w / np.where(beta > 0, beta, 1.0)[:, None]
        beta_prev = beta
    if ritz:
        return vectors, theta, second
    return theta, done, second


def _tridiagonal(alphas, betas):
    """The Lanczos tridiagonals (n, m, m) of the coefficients (n, m) (the last beta is the residual's)."""
    n, m = alphas.shape
    T = np.zeros((n, m, m))
    i = np.arange(m)
    T[:, i, i] = alphas
    T[:, i[:-1], i[1:]] = betas[:, :-1]
    T[:, i[1:], i[:-1]] = betas[:, :-1]
    return T


def _certify(alphas, betas, rtol, floor=None):
    """Top Ritz value of each Lanczos tridiagonal, whether it is certified (module docstring), and the second
    Ritz value (NaN for one iteration). *floor*: per row, a value lambda_2 is known to be at least (the float32
    phase's second Ritz value): the gap is measured to the larger of it and this tridiagonal's second."""
    n, m = alphas.shape
    vals = np.linalg.eigvalsh(_tridiagonal(alphas, betas))
    theta = vals[:, -1]
    res = np.abs(betas[:, -1]) * _last_component(alphas, betas, theta)
    tol = rtol * np.abs(theta)
    ok = res <= tol
    second = vals[:, -2] if m > 1 else np.full(n, -np.inf)
    if m > 1 or floor is not None:
        below = second if floor is None else np.maximum(second, floor)
        gap = theta - below
        ok |= np.isfinite(gap) & (res < gap) & (res * res <= tol * gap)
    return theta, ok, (vals[:, -2] if m > 1 else np.full(n, np.nan))


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
    `_last_component`): log s_{j} = log s_{j-1} + log d_{j-1} - log beta_{j-1}, summed in logs."""
    n, m = alphas.shape
    tiny = np.finfo(np.float64).tiny
    logs = np.zeros((n, m))
    d = theta - alphas[:, 0]
    for j in range(1, m):
        logs[:, j] = logs[:, j - 1] + np.log(np.maximum(np.abs(d), tiny)) - np.log(np.maximum(betas[:, j - 1], tiny))
        if j < m - 1:
            d = theta - alphas[:, j] - betas[:, j - 1] ** 2 / np.where(d == 0, tiny, d)
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
