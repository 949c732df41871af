"""`rnntui check`: assertions evaluated at every step of the places they name.

An assertion without `@place` is checked at every recurrent place. Each (assertion, place) is
reported in the step order of the pass it reads: the backward pass (BPTT) when it reads a gradient
(dh, dc), the forward pass otherwise; "first failing step" is the first in that order.

A training run is checked at one iteration: the last, or the one asked for (`--iteration k`), and
the result says which (checking every iteration would rerun most of them from their checkpoints).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from rnntui.engine import keys
from rnntui.errors import RnntuiError
from rnntui.expr import nodes
from rnntui.expr.bound import TrainingBound, bind, reads_training, require_condition
from rnntui.expr.errors import ExprError
from rnntui.expr.grammar import parse

SCHEMA_VERSION = 1


class CheckError(RnntuiError):
    """An iteration that cannot be checked (out of range, a run without training, not kept in a file)."""

    title = "check error"


@dataclass(frozen=True)
class PlaceResult:
    place: str                 # model.0.l1.bwd
    phase: str                 # "forward" or "backward": the pass whose step order is used
    steps: int                 # steps checked (T at the place)
    failing: int               # how many of them the assertion fails at
    first_failing: int | None  # t of the first failing step in that pass's order (None: none fails)
    order: str                 # "ascending" (t = 0 .. T-1) or "descending"
    axis: str = "step"         # "iteration": an assertion over a training run's iterations (train.* names)

    @property
    def ok(self) -> bool:
        return self.failing == 0

    def to_dict(self) -> dict:
        if self.axis == "iteration":
            return {"place": self.place, "iterations": self.steps, "failing_iterations": self.failing,
                    "first_failing_iteration": self.first_failing, "ok": self.ok}
        return {"place": self.place, "pass": self.phase, "order": self.order, "steps": self.steps,
                "failing_steps": self.failing, "first_failing_step": self.first_failing, "ok": self.ok}


@dataclass(frozen=True)
class AssertionResult:
    expression: str
    places: tuple[PlaceResult, ...]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.places)

    @property
    def failures(self) -> tuple[PlaceResult, ...]:
        return tuple(p for p in self.places if not p.ok)

    def to_dict(self) -> dict:
        return {"expression": self.expression, "ok": self.ok, "places": [p.to_dict() for p in self.places]}


@dataclass(frozen=True)
class CheckResult:
    """What `rnntui check` prints and `rnntui.check` returns; `exit_code` is 0 when every assertion holds."""

    scenario: str
    file: str                       # what was checked: the scenario file, or the saved trace (.npz)
    assertions: tuple[AssertionResult, ...]
    iteration: int | None = None    # a training run: the iteration checked (None: a run without train:)
    iterations: int | None = None   # and how many it has
    made_from: str | None = None    # a saved trace: the scenario file it was made from, as recorded then

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.assertions)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict:
        out = {"version": SCHEMA_VERSION, "scenario": self.scenario, "file": self.file, "ok": self.ok}
        if self.made_from is not None:  # recorded when the trace was saved: it need not exist here
            out["made_from"] = self.made_from
        if self.iteration is not None:  # a training run: the iteration checked
            out["iteration"], out["iterations"] = self.iteration, self.iterations
        return {**out, "assertions": [a.to_dict() for a in self.assertions]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def lines(self) -> list[str]:
        """The text report: one line per assertion, and one per place where it fails."""
        out = []
        if self.iteration is not None:
            last = self.iteration == self.iterations - 1
            out.append(f"training run: checked at iteration {self.iteration} of 0..{self.iterations - 1}"
                       + (" (the last; --iteration k checks another)" if last else ""))
        for a in self.assertions:
            if a.ok:
                steps = sum(p.steps for p in a.places)
                if a.places and a.places[0].axis == "iteration":
                    out.append(f"ok    {a.expression}  (every one of {steps} iterations)")
                    continue
                out.append(f"ok    {a.expression}  ({len(a.places)} place{'s' * (len(a.places) != 1)}, {steps} steps)")
                continue
            out.append(f"FAIL  {a.expression}")
            for p in a.failures:
                if p.axis == "iteration":
                    out.append(f"      over the training run's iterations: first fails at iteration {p.first_failing}; "
                               f"fails at {p.failing} of {p.steps} iterations")
                    continue
                out.append(f"      at {p.place}, {p.phase} pass: first fails at t={p.first_failing} "
                           f"({'t = 0 .. T-1' if p.order == 'ascending' else 't = T-1 .. 0'} order); "
                           f"fails at {p.failing} of {p.steps} steps")
        return out


def _where(k: int, text) -> str:
    text = str(text)
    return f"--assert {k} ({text!r})" if len(text) <= 60 else f"--assert {k}"


def parse_asserts(asserts) -> list:
    """Parse every assertion (before a scenario is run: a typo costs nothing); ExprError naming the one."""
    if isinstance(asserts, (str, nodes.Expr)):
        asserts = [asserts]
    out = []
    for k, a in enumerate(asserts, 1):
        try:
            out.append(a if isinstance(a, nodes.Expr) else parse(a))
        except ExprError as exc:
            raise exc.at(_where(k, a)) from None
    if not out:
        raise ExprError("", 1, "found no assertion; expected at least one --assert EXPR")
    return out


def at_iteration(trace, iteration: int | None):
    """(the record to check, its iteration, how many there are): a training run's iteration whose record it
    holds (the last; a file from `export --iteration k`: k) or *iteration*; a run without training as it is (iteration None). CheckError for one that cannot be."""
    from rnntui.engine.trace import IterationNotKept

    if keys.TRAIN_LOSS not in trace or not hasattr(trace, "iteration"):
        if iteration is not None:
            raise CheckError(f"--iteration: found {iteration}; this run has no train: section (one iteration)")
        return trace, None, None
    N = int(trace.iterations)
    kept = int(getattr(trace, "record_iteration", N - 1))  # whose record the trace's own keys are: the last,
    k = kept if iteration is None else int(iteration)       # or the one a saved trace was exported at
    if not 0 <= k < N:
        raise CheckError(f"--iteration: found {k}; expected 0..{N - 1} (the run's iterations)")
    if k == kept:
        return trace, k, N
    try:
        return trace.iteration(k), k, N
    except IterationNotKept as exc:
        raise CheckError(f"--iteration: {exc}") from None


def _real_steps(info, b) -> "np.ndarray":
    """(T,) bool: the steps an assertion is checked at. In a packed batch, a step past every sample's own
    length is padding (its states and gradients are zeros no sample computed): it is not checked."""
    import numpy as np

    keep = np.ones(b.T, dtype=bool)
    entry = getattr(b.place, "entry", None)
    if entry is None or info.lengths is None or not info.packs(info.entries[entry]):
        return keep
    if b.T != info.entries[entry].steps:
        return keep
    keep[max(info.lengths):] = False
    return keep


def _streamed(b, trace):
    """A bound expression of a checkpointed trace, evaluated through its segments (bound.StreamedBound)."""
    from rnntui.engine.progress import report
    from rnntui.expr.bound import StreamedBound

    if isinstance(b, TrainingBound):
        return b
    if not trace.segments.covers(trace.info.entries[b.place.entry].index):
        from rnntui.expr.bound import Bound   # a part run whole (an encoder-decoder's decoder): its arrays are held

        return Bound(b.expr, trace, b.place)
    return StreamedBound(b.expr, trace, b.place, lambda done, total: report(f"checking {b.text}", done, total))


def check_trace(trace, asserts, iteration: int | None = None) -> CheckResult:
    """Evaluate every assertion (text or parsed); raise ExprError (its `where` naming the assertion) for one
    that cannot be used. Every assertion is bound before any is evaluated, so a mistake costs no computation.
    A training run is checked at *iteration* (default: the last); CheckError if that cannot be. An
    assertion reading train.* names is checked over every iteration instead."""
    saved = getattr(trace, "path", None)  # a saved trace: the file checked is the .npz, not the scenario
    whole = trace
    trace, checked, N = at_iteration(trace, iteration)
    info = trace.info
    from rnntui.engine.graph_diag import carries

    # checked without @place: every recurrent place, and a graph's recurrence nodes
    recurrent = [p for p in info.places if p.recurrent or carries(info.entries[p.entry])]
    on = trace
    if getattr(trace, "segments", None) is not None:   # checkpointed: bound (names, shapes) on its first segment
        from rnntui.expr.bound import StepWindow

        on = StepWindow(trace, *trace.segments.bounds[0])
    bound = []
    for k, e in enumerate(parse_asserts(asserts), 1):
        text = e.text
        try:
            if reads_training(e):
                if keys.TRAIN_LOSS not in whole:
                    col = next(n.col for n in e.names if n.name in nodes.TRAINING_NAMES)
                    raise ExprError(text, col, "found a train.* name; this run has no train: section (one iteration)")
                b = TrainingBound(e, whole)
                require_condition(b)
                bound.append((text, [b]))
                continue
            if e.place is None and not recurrent:
                raise ExprError(text, len(text) + 1, "found no @place, and this model has no recurrent place to "
                                f"check by default; expected @place, one of {', '.join(p.prefix for p in info.places)}")
            targets = [bind(e, on)] if e.place is not None else [bind(e, on, p) for p in recurrent]
            for b in targets:
                require_condition(b)
        except ExprError as exc:
            raise exc.at(_where(k, text)) from None
        bound.append((text, targets))
    if getattr(trace, "segments", None) is not None:   # checkpointed: evaluated segment by segment
        bound = [(text, [_streamed(b, trace) for b in targets]) for text, targets in bound]
    results = []
    for text, targets in bound:
        places = []
        for b in targets:
            real = _real_steps(info, b)
            order = b.order()
            order = order[real[order]]
            failing = ~b.holds & real
            in_order = failing[order]
            first = int(order[in_order.argmax()]) if in_order.any() else None
            places.append(PlaceResult(b.place.prefix, b.phase, int(real.sum()), int(failing.sum()), first,
                                      "ascending" if b.T < 2 or order[0] < order[-1] else "descending",
                                      "iteration" if isinstance(b, TrainingBound) else "step"))
        results.append(AssertionResult(text, tuple(places)))
    if saved is not None:
        return CheckResult(info.name, str(saved), tuple(results), checked, N, made_from=info.file)
    return CheckResult(info.name, info.file, tuple(results), checked, N)
