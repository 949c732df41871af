"""What the model predicts, beside what it should: per step (or per sample) the target, the predicted
class or value, and the top classes with their probabilities and labels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnntui.engine.checkpoint import kept_row

from rnntui.engine import keys
from rnntui.numfmt import fmt
from rnntui.render.pertrace import PerTrace
from rnntui.render.tokens import visible


@dataclass(frozen=True)
class Prediction:
    top: tuple[tuple[str, float], ...]     # classification: (label, probability), most likely first
    values: tuple[float, ...] = ()         # regression: the output's values
    target: str | None = None              # the target's label (classification) or values (regression)
    correct: bool | None = None            # the top class is the target (classification with a target)

    def words(self) -> str:
        if self.top:
            text = " · ".join(f"{label} {p:.0%}" for label, p in self.top)
            if self.target is not None:
                text += f"   target {self.target} " + ("✓" if self.correct else "✗")
            return text
        text = ", ".join(fmt(v, 0) for v in self.values[:4]) + (" …" if len(self.values) > 4 else "")
        return text + (f"   target {self.target}" if self.target is not None else "")


def labels(trace, n: int) -> list[str]:
    """Class labels: the scenario's class_names, else the vocabulary when it has as many entries, else ids."""
    names = trace.info.class_names
    if names and len(names) == n:
        return [visible(v) for v in names]  # the scenario's words: control characters escaped, a space seen
    if keys.META_VOCAB in trace and len(trace[keys.META_VOCAB]) == n:
        return [visible(v) for v in trace[keys.META_VOCAB]]
    return [str(k) for k in range(n)]


def classifies(trace) -> bool:
    """A classifier: cross_entropy over logits, or nll over log-probabilities (softmax of log-probabilities
    gives the probabilities back, so `probabilities` serves both)."""
    return trace.info.loss in ("cross_entropy", "nll")


def has_steps(trace) -> bool:
    return trace.info.seq and trace["output"].ndim == 3


_rows = PerTrace(64)  # the timeline's per-step rows: the same at every step of a sample


def probabilities(trace, at=()) -> np.ndarray:
    """The output (at index *at*) as probabilities over the last axis: a final softmax's output, else
    softmax(logits)."""
    out = np.asarray(trace["output"][at], dtype=float)
    if trace.info.entries[-1].activation == "softmax":
        return out
    z = out - out.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def predict(trace, t: int, b: int, k: int = 3) -> Prediction:
    """The prediction at step t (ignored without a step axis) for sample b."""
    return predictions(trace, [(t, b)], k)[0]


def predictions(trace, rows, k: int = 3) -> list[Prediction]:
    """`predict` of each (t, b) of *rows*, computed together: one softmax and one sort over all of them (a
    report lists every step)."""
    steps = has_steps(trace)
    ts = np.asarray([t for t, _ in rows], dtype=np.intp)
    bs = np.asarray([b for _, b in rows], dtype=np.intp)
    at = (ts, bs) if steps else (bs,)
    targets = np.asarray(trace[keys.META_TARGET])[at] if keys.META_TARGET in trace else None
    if classifies(trace):
        p = probabilities(trace, at)
        names = labels(trace, p.shape[-1])
        order = np.argsort(-p, axis=-1, kind="stable")[:, :k]
        top_p = np.take_along_axis(p, order, axis=-1).tolist()
        out = []
        for i, idx in enumerate(order.tolist()):
            top = tuple((names[j], pj) for j, pj in zip(idx, top_p[i]))
            if targets is None:
                out.append(Prediction(top))
            else:
                target = int(targets[i])
                out.append(Prediction(top, target=names[target], correct=idx[0] == target))
        return out
    values = np.asarray(trace["output"][at]).reshape(len(rows), -1).tolist()
    shown = [None] * len(rows) if targets is None else [
        ", ".join(fmt(float(v), 0) for v in row[:4]) for row in np.asarray(targets).reshape(len(rows), -1).tolist()]
    return [Prediction((), tuple(v), s) for v, s in zip(values, shown)]


def predicted_labels(trace, b: int) -> list[str] | None:
    """The arg-max label at every step, for a classifier with a step axis."""
    if not (classifies(trace) and has_steps(trace)):
        return None

    def make():
        kept = kept_row(trace, "argmax")   # a checkpointed run: from its sweep, the output not kept
        if kept is not None:
            names = labels(trace, trace["output"].shape[-1])
            return [names[i] for i in kept[:, b]]
        out = np.asarray(trace["output"][:, b])  # softmax keeps the arg-max: no need to normalise
        names = labels(trace, out.shape[-1])
        return [names[i] for i in out.argmax(axis=-1)]

    return _rows.get(trace, ("labels", b), make)


def saliency(trace, b: int) -> np.ndarray | None:
    """‖dLoss/dx_t‖ per step for sample b: how much each input step moves the loss."""
    if not trace.info.seq or keys.GRAD_INPUT not in trace:
        return None
    if "token_ids" in trace and trace[keys.GRAD_INPUT].shape[-1] == 1:
        return None   # ids read as ids (a recurrence's own embedding step): no gradient reaches an id, 0 says nothing

    def make():
        kept = kept_row(trace, "saliency")   # a checkpointed run: from its sweep, dL/dx not kept
        if kept is not None:
            return kept[:, b]
        g = np.asarray(trace[keys.GRAD_INPUT][:, b], dtype=float)
        return np.sqrt((g.reshape(g.shape[0], -1) ** 2).sum(axis=1))

    return _rows.get(trace, ("saliency", b), make)
