"""What `rnntui scan` records of one sample: a row of numbers read from that sample's own run.

Each sample runs alone (a batch of one, exactly as `rnntui run --sample k` with `batch_size: 1` runs it), so
its numbers are those of its own run bit for bit, whatever the other samples are. The gradient measures
are taken at the model's first recurrent place (sub-layer 0, forward direction: the one BPTT carries the
gradient furthest through), with the verdict's own definitions (render/analysis.py): `rate` is the
per-step factor of the sample's one-term gradient from its own last real step, `ratio` its end-to-end
ratio.
"""
from __future__ import annotations

import math

import numpy as np

from rnntui.engine import keys

# the columns every row has, in order (saturation.{gate} columns follow, one per gate of the place)
COLUMNS = ("sample", "length", "loss", "prediction", "target", "correct", "verdict", "rate", "ratio",
           "min_gradnorm", "min_gradnorm_step", "max_gradnorm", "max_gradnorm_step", "first_nonfinite_step",
           "param_gradnorm")


def first_recurrent_place(info):
    """The place whose gradient measures a row carries: the first recurrent entry's l0 fwd (None: no recurrent)."""
    return next((p for p in info.places if p.recurrent and p.layer == 0 and p.direction == "fwd"), None)


def _classes(trace):
    """(prediction, target, correct) of a classification run's sample 0: many-to-one one class; many-to-many
    the share of real steps predicted right (prediction and target then those of the last real step)."""
    info = trace.info
    if info.loss not in ("cross_entropy", "nll") or keys.META_TARGET not in trace:
        return math.nan, math.nan, math.nan
    out = np.asarray(trace["output"], dtype=float)
    target = np.asarray(trace[keys.META_TARGET])
    if out.ndim == 2:            # (B, C): one class per sample
        pred, tgt = int(np.argmax(out[0])), int(target.reshape(-1)[0])
        return pred, tgt, float(pred == tgt)
    n = int(trace[keys.META_LENGTHS][0]) if keys.META_LENGTHS in trace else out.shape[0]
    n = min(n, out.shape[0])
    preds = np.argmax(out[:n, 0], axis=-1)
    tgts = target[:n, 0] if target.ndim >= 2 else target[:n]
    return int(preds[-1]), int(tgts[-1]), float(np.mean(preds == tgts))


def measure(trace, sample: int) -> dict:
    """One row: the numbers of *trace*, the run of one sample (its index in the data set: *sample*)."""
    from rnntui.engine.diagnostics import row_norms
    from rnntui.render.analysis import verdicts

    info = trace.info
    length = int(trace[keys.META_LENGTHS][0]) if keys.META_LENGTHS in trace else info.T
    pred, tgt, correct = _classes(trace)
    grads = [np.asarray(trace[k], dtype=np.float64).ravel() for k in trace if k.startswith(keys.GRAD_PARAM_PREFIX)]
    row = {"sample": sample, "length": length, "loss": float(trace["loss"]), "prediction": pred, "target": tgt,
           "correct": correct,
           # summed without BLAS (a dot product would wake its threads once a parameter, in every sample)
           "param_gradnorm": float(np.sqrt(sum(float(np.sum(g * g)) for g in grads))) if grads else math.nan,
           "first_nonfinite_step": int(trace[keys.NONFINITE_FIRST_STEP]) if keys.NONFINITE_FIRST_STEP in trace
           else -1}
    place = first_recurrent_place(info)
    row.update(verdict="", rate=math.nan, ratio=math.nan, min_gradnorm=math.nan, min_gradnorm_step=-1,
               max_gradnorm=math.nan, max_gradnorm_step=-1)
    if place is None:
        return row
    v = verdicts(trace, place, jacobian=False)
    if v is not None:
        s = v.of(0)
        row.update(verdict=s.kind, rate=float(s.factor), ratio=float(s.ratio))
    own = min(length, trace[place.grad_key("h")].shape[0])
    g = row_norms(np.asarray(trace[place.grad_key("h")])[:own, 0]).astype(float)
    finite = np.flatnonzero(np.isfinite(g))
    if finite.size:
        lo, hi = finite[np.argmin(g[finite])], finite[np.argmax(g[finite])]
        row.update(min_gradnorm=float(g[lo]), min_gradnorm_step=int(lo), max_gradnorm=float(g[hi]),
                   max_gradnorm_step=int(hi))
    entry = info.entries[place.entry]
    for name in entry.family.saturation(entry):
        key = place.diag_key(f"sat.{name}")
        if key in trace:
            row[f"saturation.{name}"] = float(np.mean(np.asarray(trace[key], dtype=float)[:own]))
    return row


def badness(row: dict) -> tuple:
    """How far from healthy a row is, for the ranking (worst first): not finite, then the per-step rate
    furthest from 1 (vanishing or exploding alike), then the loss."""
    nonfinite = row["first_nonfinite_step"] >= 0 or row["verdict"] == "non-finite"
    rate = row["rate"]
    far = abs(math.log(rate)) if isinstance(rate, float) and rate > 0 and math.isfinite(rate) else \
        (math.inf if rate == 0 else 0.0)
    loss = row["loss"] if math.isfinite(row["loss"]) else math.inf
    return (nonfinite, far, loss)


__all__ = ["COLUMNS", "badness", "first_recurrent_place", "measure"]
