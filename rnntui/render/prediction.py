"""What the model predicts, beside what it should: per step (or per sample) the target, the predicted
class or value, and the top classes with their probabilities and labels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    if "meta.vocab" in trace and len(trace["meta.vocab"]) == n:
        return [visible(v) for v in trace["meta.vocab"]]
    return [str(k) for k in range(n)]


def classifies(trace) -> bool:
    return trace.info.loss == "cross_entropy"


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
    at = (t, b) if has_steps(trace) else (b,)
    target = np.asarray(trace["meta.target"])[at] if "meta.target" in trace else None
    if classifies(trace):
        p = probabilities(trace, at)
        names = labels(trace, p.shape[-1])
        order = np.argsort(-p, kind="stable")[:k]
        top = tuple((names[i], float(p[i])) for i in order)
        if target is None:
            return Prediction(top)
        return Prediction(top, target=names[int(target)], correct=int(order[0]) == int(target))
    values = tuple(float(v) for v in np.asarray(trace["output"])[at].reshape(-1))
    shown = None if target is None else ", ".join(fmt(float(v), 0) for v in np.asarray(target).reshape(-1)[:4])
    return Prediction((), values, shown)


def predicted_labels(trace, b: int) -> list[str] | None:
    """The arg-max label at every step, for a classifier with a step axis."""
    if not (classifies(trace) and has_steps(trace)):
        return None

    def make():
        out = np.asarray(trace["output"][:, b])  # softmax keeps the arg-max: no need to normalise
        names = labels(trace, out.shape[-1])
        return [names[i] for i in out.argmax(axis=-1)]

    return _rows.get(trace, ("labels", b), make)


def saliency(trace, b: int) -> np.ndarray | None:
    """‖dLoss/dx_t‖ per step for sample b: how much each input step moves the loss."""
    if not trace.info.seq or "grad.input" not in trace:
        return None

    def make():
        g = np.asarray(trace["grad.input"][:, b], dtype=float)
        return np.sqrt((g.reshape(g.shape[0], -1) ** 2).sum(axis=1))

    return _rows.get(trace, ("saliency", b), make)
