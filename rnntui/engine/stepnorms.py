"""Per-step parameter-gradient norms without forming any step's gradient matrix.

Step t's contribution to a weight gradient is A_t^T X_t (A_t: (B, m), X_t: (B, n)).
Its Frobenius norm is sqrt(sum((A_t A_t^T) * (X_t X_t^T))): two B x B Gram matrices.
"""
from __future__ import annotations

import numpy as np


def step_outer_norms(A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """||A_t^T X_t||_F for every t; A (T, B, m), X (T, B, n) -> (T,)."""
    if A.shape[1] == 1:
        return np.linalg.norm(A[:, 0], axis=-1) * np.linalg.norm(X[:, 0], axis=-1)
    ga = A @ A.transpose(0, 2, 1)
    gx = X @ X.transpose(0, 2, 1)
    ga *= gx
    return np.sqrt(np.maximum(ga.sum(axis=(1, 2)), 0))


def step_bias_norms(A: np.ndarray) -> np.ndarray:
    """||sum_b A_t||: step t's contribution to a bias gradient."""
    return np.linalg.norm(A.sum(axis=1), axis=-1)
