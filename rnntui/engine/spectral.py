"""Spectral norms of many step Jacobians J = diag(a) + sum_k diag(D_k) W_k, without forming any J.

Every step (and sample) runs its own Lanczos process on A = JᵀJ, all of them at once: each
iteration is two GEMMs over every active row, (N, H) @ (H, kH) and (N, kH) @ (kH, H), since
J v = a*v + sum_k D_k*(W_k v) and Jᵀu = a*u + sum_k W_kᵀ(D_k*u). A step leaves the batch as soon
as its largest Ritz value theta (of the Lanczos tridiagonal) is certified; sigma = sqrt(theta).

Certificate, with r the residual of theta's Ritz vector (|r| = beta_m |s_m|, free from the
tridiagonal) and gap the distance from theta to the next Ritz value:
    |r| <= rtol * theta                          (Bauer-Fike: an eigenvalue lies within |r|), or
    |r|^2 / gap <= rtol * theta  with |r| < gap  (the gap theorem, Parlett 11.7),
so |lambda_max - theta| <= rtol * lambda_max and sigma has relative error <= rtol / 2 (plus
rounding, ~1e-15). Ritz values never exceed lambda_max. Like every Krylov method this assumes the
random start vector is not (numerically) orthogonal to the top singular vector, and that a pair
of top singular values closer than about sqrt(rtol) apart is resolved; steps not certified within
MAX_ITERATIONS fall back to eigvalsh of the explicitly formed J Jᵀ. tests/engine/test_spectral.py
checks the result against numpy's dense SVD, including clustered and repeated top values.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEFAULT_RTOL = 1e-10  # on lambda = sigma^2: sigma is within DEFAULT_RTOL / 2
ROW_BUDGET = 1 << 21  # rows * k * H per chunk: bounds memory (about 6 such float64 arrays live at once)
MAX_ITERATIONS = 120
FIRST_CHECK = 8       # first certificate check (few steps converge sooner; each check costs an eigvalsh)
CHECK_EVERY = 3


TYPICAL_ITERATIONS = 12  # Lanczos steps before most rows are certified (each check forms m x m tridiagonals)


def working_floats(rows: int, k: int, H: int) -> int:
    """Float64 numbers step_spectral_norms holds at once for *rows* (step, sample) rows of D: each chunk's
    scaled D, its gathered copy and J v's products (3 of rows x kH), about 12 vectors of H per row
    (Lanczos vectors, their products and the copies `keep` makes), the Lanczos coefficients and the
    tridiagonals a certificate check forms (typically; up to MAX_ITERATIONS^2 per row for rows that
    converge slowly); and W, Wᵀ and the blocks in float64."""
    n = min(rows, max(1, ROW_BUDGET // (k * H)))
    m = min(TYPICAL_ITERATIONS, H)
    return n * (3 * k * H + 12 * H + 2 * min(MAX_ITERATIONS, H) + m * m) + 3 * k * H * H


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
    """Largest eigenvalue of JᵀJ for each row (after scaling); (theta, certified) per row."""
    n, k, H = D.shape
    theta = np.zeros(n)
    done = np.zeros(n, dtype=bool)
    active = np.arange(n)
    q = rng.standard_normal((n, H))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q_prev = np.zeros_like(q)
    beta_prev = np.zeros(n)
    alphas = np.zeros((n, min(MAX_ITERATIONS, H)))
    betas = np.zeros_like(alphas)
    for m in range(1, alphas.shape[1] + 1):
        Dm = D[active]
        u = (q @ Wt).reshape(-1, k, H)
        u *= Dm
        Jv = u.sum(axis=1)
        if a is not None:
            Jv += a[active] * q
        Dm *= Jv[:, None, :]                       # Dm is a copy (fancy indexing): reuse it
        w = Dm.reshape(-1, k * H) @ W
        if a is not None:
            w += a[active] * Jv
        alpha = np.einsum("ij,ij->i", w, q)
        w -= alpha[:, None] * q
        w -= beta_prev[:, None] * q_prev
        beta = np.linalg.norm(w, axis=1)
        alphas[active, m - 1] = alpha
        betas[active, m - 1] = beta
        if (m >= FIRST_CHECK and (m - FIRST_CHECK) % CHECK_EVERY == 0) or m == alphas.shape[1] \
                or (beta <= 1e-14 * np.abs(alpha)).any():
            th, ok = _certify(alphas[active, :m], betas[active, :m], rtol)
            theta[active] = th
            done[active[ok]] = True
            keep = ~ok
        else:
            keep = np.ones(len(active), dtype=bool)
        if not keep.any():
            break
        active = active[keep]
        beta = beta[keep]
        q_prev = q[keep]
        q = w[keep] / np.where(beta > 0, beta, 1.0)[:, None]
        beta_prev = beta
    return theta, done


def _certify(alphas, betas, rtol):
    """Top Ritz value of each Lanczos tridiagonal and whether it is certified (module docstring)."""
    n, m = alphas.shape
    T = np.zeros((n, m, m))
    i = np.arange(m)
    T[:, i, i] = alphas
    T[:, i[:-1], i[1:]] = betas[:, :-1]
    T[:, i[1:], i[:-1]] = betas[:, :-1]
    vals = np.linalg.eigvalsh(T)
    theta = vals[:, -1]
    res = np.abs(betas[:, -1]) * _last_component(alphas, betas, theta)
    tol = rtol * np.abs(theta)
    ok = res <= tol
    if m > 1:
        gap = theta - vals[:, -2]
        ok |= (res < gap) & (res * res <= tol * gap)
    return theta, ok


def _last_component(alphas, betas, theta):
    """|s_m|: last component of the unit eigenvector of the tridiagonal for its top eigenvalue theta.

    Row i of (T - theta) s = 0 gives s_{i+1}/s_i = d_i/beta_i with d_i the pivots of theta*I - T_i
    (d_1 = theta - alpha_1, d_i = theta - alpha_i - beta_{i-1}^2/d_{i-1}), all >= 0 because theta
    is at least every leading block's top eigenvalue: no cancellation. Summed in logs: no overflow.
    """
    n, m = alphas.shape
    if m == 1:
        return np.ones(n)
    tiny = np.finfo(np.float64).tiny
    logs = np.zeros((n, m))
    d = theta - alphas[:, 0]
    for j in range(1, m):
        logs[:, j] = logs[:, j - 1] + np.log(np.maximum(np.abs(d), tiny)) - np.log(np.maximum(betas[:, j - 1], tiny))
        if j < m - 1:
            d = theta - alphas[:, j] - betas[:, j - 1] ** 2 / np.where(d == 0, tiny, d)
    rel = logs - logs[:, -1:]
    return 1.0 / np.sqrt(np.exp(2 * np.minimum(rel, 700)).sum(axis=1))


def _dense_top(a, D, blocks):
    """Exact fallback: eigvalsh of explicitly formed J Jᵀ (rare: steps Lanczos could not certify)."""
    J = np.einsum("nkh,khj->nhj", D, blocks)
    if a is not None:
        H = J.shape[-1]
        J[:, np.arange(H), np.arange(H)] += a
    return np.linalg.eigvalsh(J @ J.transpose(0, 2, 1))[:, -1]
