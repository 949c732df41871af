"""An expression bound to a trace and a place: its value at every step, computed once, and where it holds.

    b = bind("norm(dh) < 1e-3", trace, place)   # ExprError (with its column) if it cannot be used there
    b.value_at(t)        # a watch's value at step t
    b.holds              # (T,) bool: where a condition is true
    b.next_true(t, "forward")          # a breakpoint's "continue" in a pass's step order
    b.next_true(t, "forward", backwards=True)   # ... and "reverse-continue"

Binding checks names, indices and shapes on zero-sized stand-ins, so a mistake is reported before any
array is read (and a lazily computed diagnostic such as jacnorm is computed only when the value is
first asked for).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from rnntui.engine import keys
from rnntui.engine.keys import BUFFER_PREFIX, GRAD_PARAM_PREFIX, LOSS, META_PREFIX, PARAM_PREFIX, Place
from rnntui.expr import nodes
from rnntui.expr.errors import ExprError
from rnntui.expr.evaluate import Evaluator, is_condition
from rnntui.expr.grammar import parse
from rnntui.expr.names import find_place, place_steps, sources, unknown_name


def step_order(info, place: Place, phase: str, T: int) -> np.ndarray:
    """The steps of *place* in the order *phase* ("forward" or "backward") computes them: the forward pass
    runs a fwd direction t = 0 .. T-1 and a bwd direction T-1 .. 0, BPTT the other way round (as the
    TUI's cursor; a feature map's positions always run forwards)."""
    if phase not in ("forward", "backward"):
        raise ValueError(f"phase: found {phase!r}; expected 'forward' or 'backward'")
    if info.entries[place.entry].view == "map":
        return np.arange(T)
    reverse = (phase == "backward") != (place.direction == "bwd")
    return np.arange(T)[::-1] if reverse else np.arange(T)


def next_step(holds: np.ndarray, order: np.ndarray, after: int | None, backwards: bool = False) -> int | None:
    """The first step after *after* (None: from the start) in *order* where *holds* is true; with *backwards*,
    the last one before it. Breakpoints OR their `holds` and call this once."""
    seq = np.asarray(holds)[order]
    if after is None:
        k = len(order) if backwards else -1
    else:
        k = int(np.flatnonzero(order == after)[0])
    if backwards:
        hits = np.flatnonzero(seq[:k])
        return int(order[hits[-1]]) if len(hits) else None
    hits = np.flatnonzero(seq[k + 1:])
    return int(order[k + 1 + hits[0]]) if len(hits) else None


def bind(expr: str | nodes.Expr, trace, place: Place | None = None) -> "Bound":
    """*expr* (text or parsed) at *place*, or at its own `@place` (which wins); ExprError if it cannot be used."""
    e = parse(expr) if isinstance(expr, str) else expr
    if e.place is not None:
        place = find_place(trace.info, e.place, e.text, e.place_col + 1)
    if place is None:
        raise ExprError(e.text, len(e.text) + 1, "found no place; expected @place after the expression, "
                        "e.g. @model.0.l0.fwd")
    return Bound(e, trace, place)


class Bound:
    """One expression at one place of one trace. Values are computed on first use and kept."""

    def __init__(self, expr: nodes.Expr, trace, place: Place):
        self.expr, self.trace, self.place = expr, trace, place
        self.info = trace.info
        self.names = sources(trace, place)
        for n in expr.names:
            if n.name not in self.names:
                raise unknown_name(expr.text, n.name, n.col, place, self.names, self.info)
        self.T = place_steps(trace, place)
        # the shape check: the same evaluation on one step of zeros, laid out as the real arrays are
        probe = Evaluator(expr.text, lambda n: _zeros_like_step(self.names[n.name].shape()))(expr.root)
        self.step_shape: tuple = probe.shape[1:] if probe.ndim else ()
        self.condition: bool = is_condition(expr.root)
        ck = _checkpointed(trace)
        self.checkpointed = ck if ck is not None and ck.segments.covers(place.entry) else None
        """The checkpointed trace read through (engine/checkpoint.py), or None: values are then evaluated a
        segment at a time (`StepWindow`), with progress, and never held whole beyond one number per step. None
        too at a place run whole beside the segments (an encoder-decoder's decoder: its arrays are held)."""

    def _by_segment(self, what, a: int = 0, b: int | None = None) -> np.ndarray:
        """*what* (a bound expression -> its array) over steps a .. b-1 of a checkpointed trace, a segment at a
        time: each segment's window bound on its own, `t` the run's step, `T` the run's length."""
        from rnntui.engine.progress import report
        from rnntui.expr.names import Source

        ck = self.checkpointed
        segs = ck.segments
        T = segs.T
        b = T if b is None else b
        ks = list(segs.segments_for(a, b))
        parts = []
        for n, k in enumerate(ks):
            lo, hi = max(a, segs.bounds[k][0]), min(b, segs.bounds[k][1])
            w = Bound(self.expr, StepWindow(ck, lo, hi), self.place)
            w.names["t"] = Source("t", lambda lo=lo, hi=hi: np.arange(lo, hi), lambda lo=lo, hi=hi: (hi - lo,))
            w.names["T"] = Source("T", lambda: np.asarray(T), lambda: ())
            parts.append(what(w))
            if len(ks) > 1:
                report(f"evaluating {self.text}", n + 1, len(ks))
        return np.concatenate(parts)

    @property
    def text(self) -> str:
        return self.expr.text

    @property
    def phase(self) -> str:
        """The pass whose order a check reports in: "backward" when the expression reads a gradient."""
        return "backward" if any(self.names[n.name].gradient for n in self.expr.names) else "forward"

    @cached_property
    def values(self) -> np.ndarray:
        """(T, *step_shape): the value at every step (a constant repeated). On a checkpointed trace, evaluated a
        segment at a time, and only where a step's value is one number (else empty: not held whole)."""
        if self.checkpointed is not None:
            if self.step_shape:
                return np.zeros((0,) + self.step_shape)
            return self._by_segment(lambda w: np.broadcast_to(w.values, (w.T,)))
        v = Evaluator(self.text, lambda n: self.names[n.name].read())(self.expr.root)
        if v.ndim == 0:
            v = np.broadcast_to(v, (self.T,))
        return v

    def waiting(self) -> list[str]:
        """The lazily derived trace keys (a step Jacobian norm: seconds on a long run) the values need and the
        trace has not computed yet: what a UI computes off its own thread before it asks for `values`."""
        if "values" in self.__dict__ or "holds" in self.__dict__:
            return []
        keys = {self.names[n.name].key for n in self.expr.names}
        return sorted(k for k in keys if k is not None and k in self.trace and not self.trace.is_computed(k))

    def value_at(self, t: int):
        """The value at step *t*: a number, True/False, or an array of the step's shape."""
        # on a checkpointed trace `values` holds nothing where a step's value is more than one number
        if self.checkpointed is not None and ("values" not in self.__dict__ or self.step_shape):
            return self._by_segment(lambda w: np.broadcast_to(w.values, (w.T,) + self.step_shape), t, t + 1)[0]
        return self.values[t]

    @cached_property
    def holds(self) -> np.ndarray:
        """(T,) bool: where the condition is true (every element at the step, unless any(...) says otherwise)."""
        require_condition(self)
        if self.checkpointed is not None:
            return self._by_segment(lambda w: w.holds)
        v = self.values
        return v.reshape(self.T, -1).all(axis=1) if v.ndim > 1 else np.asarray(v, dtype=bool)

    def order(self, phase: str | None = None) -> np.ndarray:
        """The place's steps in *phase*'s order (default: the pass the expression reads)."""
        return step_order(self.info, self.place, phase or self.phase, self.T)

    def next_true(self, after: int | None, phase: str | None = None, backwards: bool = False) -> int | None:
        """The next step after *after* (in *phase*'s order) where the condition holds; None if there is none."""
        return next_step(self.holds, self.order(phase), after, backwards)


class TrainingPlace:
    """Where an assertion over a training run's iterations is checked: its steps are the iterations."""

    prefix = "training"
    entry = None


class TrainingBound(Bound):
    """An expression over a training run's iterations (it reads train.* names): checked at every one."""

    def __init__(self, expr: nodes.Expr, trace):
        from rnntui.expr.names import training_sources

        self.expr, self.trace, self.place = expr, trace, TrainingPlace()
        self.info = trace.info
        self.checkpointed = None   # iterations are whole arrays (one number each), never read by segment
        self.names = training_sources(trace)
        for n in expr.names:
            if n.name not in self.names:
                have = ", ".join(self.names)
                raise ExprError(expr.text, n.col, f"found {n.name!r} beside a training run's names; an assertion "
                                f"over iterations reads only {have} (per-step names are checked at one iteration)")
        if expr.place is not None:
            raise ExprError(expr.text, expr.place_col + 1, "found @place on an assertion over a training run's "
                            "iterations; expected none (train.* names belong to no place)")
        self.T = int(trace[keys.TRAIN_LOSS].shape[0])
        probe = Evaluator(expr.text, lambda n: _zeros_like_step(self.names[n.name].shape()))(expr.root)
        self.step_shape = probe.shape[1:] if probe.ndim else ()
        self.condition = is_condition(expr.root)

    @property
    def phase(self) -> str:
        return "iterations"

    def order(self, phase: str | None = None) -> np.ndarray:
        return np.arange(self.T)


def _checkpointed(trace):
    """The checkpointed trace *trace* is or reads through (its `whole`), or None."""
    while trace is not None and not hasattr(trace, "segments"):
        trace = getattr(trace, "whole", None)
    return trace


def reads_training(expr: nodes.Expr) -> bool:
    """Whether an expression reads a training run's numbers over iterations (train.*)."""
    return any(n.name in nodes.TRAINING_NAMES for n in expr.names)


def _zeros_like_step(shape: tuple) -> np.ndarray:
    return np.zeros((1,) + tuple(shape[1:])) if shape else np.zeros(())


def require_condition(b: Bound) -> None:
    """What a breakpoint and an assertion need: an expression that is true or false at each step."""
    if not b.condition:
        raise ExprError(b.text, 1, "found a value, not a condition; expected a comparison (e.g. norm(dh) < 1e-3), "
                        "or any(...), all(...), isnan(...), isfinite(...)")


class StepWindow:
    """Steps a .. b-1 of a checkpointed trace (engine/checkpoint.py) as a trace of b - a steps: each per-step
    array read with `trace.steps`, the rest whole. An expression is per step (no name reads another step),
    so evaluating it window by window gives its values over the run without the run's arrays whole."""

    def __init__(self, trace, a: int, b: int):
        self.trace, self.a, self.b = trace, a, b
        self.info = trace.info
        self.T = trace.segments.T    # the segments' steps (an encoder-decoder's: its encoder's, not the decoder's)

    def _per_step(self, key: str) -> bool:
        if key in getattr(self.trace, "big", {}):
            return True
        if key.startswith((META_PREFIX, PARAM_PREFIX, GRAD_PARAM_PREFIX, BUFFER_PREFIX)) or key == LOSS:
            return False
        if not (key in self.trace and self.trace.is_computed(key)) and not key.endswith(".jacnorm"):
            return False
        return np.ndim(self.trace[key]) >= 1 and np.shape(self.trace[key])[0] == self.T

    def __getitem__(self, key: str):
        if self._per_step(key):
            return self.trace.steps(key, self.a, self.b)
        return self.trace[key]

    def __contains__(self, key) -> bool:
        return key in self.trace

    def __iter__(self):
        return iter(self.trace)

    def is_computed(self, key: str) -> bool:
        return self.trace.is_computed(key)


class StreamedBound:
    """An expression at a place of a checkpointed trace, evaluated segment by segment (`StepWindow`): `holds`
    over every step, while only a segment's arrays (and the trace's LRU) are in memory at once."""

    def __init__(self, expr: nodes.Expr, trace, place: Place, progress=None):
        from rnntui.expr.names import Source

        segs = trace.segments
        self.expr, self.trace, self.place, self.info = expr, trace, place, trace.info
        T = self.T = segs.T
        parts = []
        first = None
        for k, (a, b) in enumerate(segs.bounds):
            bound = Bound(expr, StepWindow(trace, a, b), place)
            bound.names["t"] = Source("t", lambda a=a, b=b: np.arange(a, b), lambda a=a, b=b: (b - a,))
            bound.names["T"] = Source("T", lambda: np.asarray(T), lambda: ())
            first = first or bound
            parts.append(bound.holds)
            if progress is not None:
                progress(k + 1, len(segs.bounds))
        self.first = first
        self.holds = np.concatenate(parts)

    @property
    def text(self) -> str:
        return self.expr.text

    @property
    def phase(self) -> str:
        return self.first.phase

    def order(self, phase: str | None = None) -> np.ndarray:
        return step_order(self.info, self.place, phase or self.phase, self.T)
