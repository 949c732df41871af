"""Losses and their gradients (PyTorch's reductions: mean over every element / sample)."""
from __future__ import annotations

import numpy as np

from rnntui.engine.activations import log_softmax


def loss_and_grad(kind: str, out: np.ndarray, logits: np.ndarray | None, target, steps_first: bool = False,
                  real: np.ndarray | None = None, n: int | None = None):
    """Return (loss, dL/dout, dL/dlogits or None, per-step shares or None).

    sum            L = sum(out)
    mse            L = mean((out - target)^2)
    cross_entropy  L = mean over steps and batch of -log softmax(logits)[target];
                   logits are `out`, or the pre-activation of a final softmax entry.
    nll            L = mean over steps and batch of -out[target] (F.nll_loss: `out` holds
                   log-probabilities, e.g. a log_softmax op's)

    With *steps_first* (an output with a step axis first), each step's share of L is returned too:
    the terms of the sum that belong to step t (they add up to L). *real* (T, B) bool, for a batch of
    different lengths: only real steps count (sum over them, mean over their elements or steps, as a
    loss over PyTorch's packed data); padded steps get a zero gradient whatever they hold.
    *n*: the number the mean divides by, where *out* is one segment of a longer run (engine/checkpoint.py):
    the whole run's count, so the segment's gradient and shares are the run's; its loss is then the
    segment's share of L.
    """
    def per_step(terms):
        return terms.reshape(terms.shape[0], -1).sum(axis=1) if steps_first else None

    if real is not None:
        return _packed(kind, out, logits, target, real[..., None], per_step, n)
    if kind == "sum":
        return out.sum(), np.ones_like(out), None, per_step(out)
    if kind == "mse":
        diff = out - target
        sq = diff * diff
        if n is None:
            return np.mean(sq), diff * (2.0 / diff.size), None, per_step(sq / diff.size)
        return sq.sum() / n, diff * (2.0 / n), None, per_step(sq / n)
    if kind == "nll":
        return _nll(out, target, None, per_step, n)
    z = out if logits is None else logits
    lsm = log_softmax(z)
    idx = np.asarray(target)[..., None]
    n = idx.size if n is None else n
    picked = np.take_along_axis(lsm, idx, axis=-1)
    loss = -picked.sum() / n
    onehot = np.zeros_like(z)
    np.put_along_axis(onehot, idx, 1.0, axis=-1)
    dz = (np.exp(lsm) - onehot) / n
    return _through_softmax(loss, out, logits, onehot, dz, n, per_step(-picked / n))


def _packed(kind: str, out, logits, target, keep, per_step, count=None):
    """The losses over the real steps of a padded batch (*keep*: (T, B, 1) True where real)."""
    if kind == "sum":
        terms = np.where(keep, out, 0)
        return terms.sum(), np.broadcast_to(keep, out.shape).astype(out.dtype), None, per_step(terms)
    if kind == "mse":
        diff = np.where(keep, out - target, 0)
        sq = diff * diff
        n = int(keep.sum()) * out.shape[-1] if count is None else count
        return sq.sum() / n, diff * (2.0 / n), None, per_step(sq / n)
    if kind == "nll":
        return _nll(out, target, keep, per_step, count)
    z = out if logits is None else logits
    lsm = log_softmax(z)
    idx = np.where(keep[..., 0], np.asarray(target), 0)[..., None]  # a padded step's target is ignored
    n = int(keep.sum()) if count is None else count
    picked = np.where(keep, np.take_along_axis(lsm, idx, axis=-1), 0)
    onehot = np.zeros_like(z)
    np.put_along_axis(onehot, idx, 1.0, axis=-1)
    onehot *= keep
    dz = (np.exp(lsm) * keep - onehot) / n
    return _through_softmax(-picked.sum() / n, out, logits, onehot, dz, n, per_step(-picked / n))


def _nll(out, target, keep, per_step, count=None):
    """F.nll_loss over log-probabilities *out* (mean over the real steps and samples; *keep*: (T, B, 1)
    True where real, or None): dL/dout is -1/n at each target class, 0 elsewhere."""
    idx = np.asarray(target) if keep is None else np.where(keep[..., 0], np.asarray(target), 0)
    idx = idx[..., None]
    n = (idx.size if keep is None else int(keep.sum())) if count is None else count
    picked = np.take_along_axis(out, idx, axis=-1)
    if keep is not None:
        picked = np.where(keep, picked, 0)
    g = np.zeros_like(out)
    np.put_along_axis(g, idx, -1.0 / n, axis=-1)
    if keep is not None:
        g *= keep
    return -picked.sum() / n, g, None, per_step(-picked / n)


def _through_softmax(loss, out, logits, onehot, dz, n, steps):
    if logits is None:
        return loss, dz, None, steps
    # the final entry's output is softmax(logits): dL/dp = -onehot / (n p)
    with np.errstate(divide="ignore", invalid="ignore"):
        dout = -onehot / (n * out)
    dout[onehot == 0] = 0.0
    return loss, dout, dz, steps


def sample_step_losses(kind: str, out: np.ndarray, logits: np.ndarray | None, target,
                       real: np.ndarray | None = None, steps: np.ndarray | None = None) -> np.ndarray:
    """(T, B): each sample's own loss, step by step, for an output with a step axis first (T, B, F).

    Sample b's row is the loss the run would have with sample b alone (the same reduction over its
    own elements: PyTorch's loss of out[:, b] against target[:, b]), split into its steps, so the row
    adds up to that loss. sum: the step's outputs summed; mse: its squared errors over the sample's
    elements (its real steps times F); cross_entropy (nll): its -log p over the sample's (real) steps.
    *real* (T, B) bool: a padded step's entry is 0. For the mean losses over a batch of equal lengths,
    the batch's `loss.step` is the mean of these rows over the samples; for `sum`, their sum.
    """
    T, B = out.shape[:2]
    keep = np.ones((T, B), dtype=bool) if real is None else np.asarray(real, dtype=bool)
    steps = keep.sum(axis=0) if steps is None else steps  # each sample's real steps
    if kind == "sum":
        return np.where(keep, out.reshape(T, B, -1).sum(axis=-1), 0)
    if kind == "mse":
        diff = (out - target).reshape(T, B, -1)
        sq = np.where(keep, (diff * diff).sum(axis=-1), 0)
        return sq / np.maximum(steps * diff.shape[-1], 1)
    z = out if logits is None else logits
    lsm = out if kind == "nll" else log_softmax(z)
    idx = np.where(keep, np.asarray(target), 0)[..., None]  # a padded step's target is ignored
    picked = np.where(keep, np.take_along_axis(lsm, idx, axis=-1)[..., 0], 0)
    return -picked / np.maximum(steps, 1)
