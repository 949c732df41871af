"""Per-step parameter-gradient norms in bounded memory, whatever the batch size.

Step t's contribution to a weight gradient is A_t^T X_t (A_t: (B, m), X_t: (B, n)). Its Frobenius norm is
computed one of two ways, whichever takes fewer operations, a block of steps (or of rows) at a time so that
no temporary holds more than about CHUNK numbers:

- the product itself, ||A_t^T X_t||_F, an m x n matrix a block of rows at a time (a large batch, a small layer);
- two B x B Gram matrices, sqrt(sum((A_t A_t^T) * (X_t X_t^T))) (a small batch, a large layer).

Sums run in float64 (a float32 run's norms are rounded once, at the end).
"""
from __future__ import annotations

import numpy as np

CHUNK = 1 << 21   # numbers in the largest temporary block (16 MiB of float64)


def _f64(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.float64 else a.astype(np.float64)


def _plan(T: int, B: int, m: int, n: int) -> tuple[bool, int, int]:
    """(Gram matrices or the product, steps per block, rows of the product per block)."""
    gram = B * (m + n) < m * n and B * B <= CHUNK
    steps = max(1, min(T, CHUNK // max(B * (m + n), 2 * B * B if gram else n)))
    rows = max(1, min(m, CHUNK // max(steps * n, 1)))
    return gram, steps, rows


def temp_floats(T: int, B: int, m: int, n: int) -> int:
    """The most numbers step_outer_norms holds at once beside its arguments (a float32 run's float64 copies
    of a block of A and X aside: at most CHUNK more)."""
    if B <= 1:
        return 0
    gram, steps, rows = _plan(T, B, m, n)
    return 2 * steps * B * B if gram else 2 * steps * rows * n


def step_outer_norms(A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """||A_t^T X_t||_F for every t; A (T, B, m), X (T, B, n) -> (T,) in their dtype."""
    T, B, m = A.shape
    n = X.shape[2]
    dtype = np.result_type(A.dtype, X.dtype)
    out = np.empty(T, dtype=np.float64)
    if B == 1:
        out[:] = np.linalg.norm(_f64(A[:, 0]), axis=-1) * np.linalg.norm(_f64(X[:, 0]), axis=-1)
        return out.astype(dtype)
    gram, steps, rows = _plan(T, B, m, n)
    for s in range(0, T, steps):
        a, x = _f64(A[s:s + steps]), _f64(X[s:s + steps])
        if gram:
            ga = a @ a.transpose(0, 2, 1)
            ga *= x @ x.transpose(0, 2, 1)
            out[s:s + steps] = np.sqrt(np.maximum(ga.sum(axis=(1, 2)), 0))
            continue
        total = np.zeros(len(a))
        at = a.transpose(0, 2, 1)
        for r in range(0, m, rows):
            block = at[:, r:r + rows] @ x   # rows r.. of each step's A_t^T X_t: (steps, rows, n)
            total += np.einsum("sij,sij->s", block, block)
        out[s:s + steps] = np.sqrt(total)
    return out.astype(dtype)


def step_bias_norms(A: np.ndarray) -> np.ndarray:
    """||sum_b A_t||: step t's contribution to a bias gradient (summed in float64)."""
    return np.linalg.norm(A.sum(axis=1, dtype=np.float64), axis=-1).astype(A.dtype)
