"""Editing a weight of a recorded run, and the debugger's stack of changes (weight edits, interventions)
and the quantity its gradients are of, applied to the original run in one place.

    from rnntui.engine.edits import WeightEdit, reweighted, apply_changes
    new = reweighted(trace, [WeightEdit("0.weight_hh_l0", None, "=", 1.5)])   # the run recomputed

A weight edit sets, scales or shifts some elements of one parameter (`index`: NumPy-style whole numbers and
slices such as "0:4, 2", or None for every element). The run is recomputed in full from the recorded input
with the edited parameters and the run's own interventions (engine/whatif.py, `resume=False`): every value
and gradient is the one `rnntui.run` gives for the scenario with the edited parameter under `weights.set`
(`set_values` says what to write there). The edits are recorded as `meta.weight_edits`.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass

import numpy as np

from rnntui.engine import keys
from rnntui.errors import RnntuiError

META = keys.META_WEIGHT_EDITS
OPS = ("=", "*=", "+=")


class EditError(RnntuiError):
    """A weight edit that cannot be applied (the message says why)."""

    title = "weight edit error"


@dataclass(frozen=True)
class WeightEdit:
    param: str                 # PyTorch-style name with the entry index, as under `weights.set`: 0.weight_hh_l0
    index: str | None          # "0, 0", "0:4, :", ... or None: every element
    op: str                    # = *= +=
    value: float

    def words(self) -> str:
        where = f"[{self.index}]" if self.index else ""
        return f"{self.param}{where} {self.op} {self.value:g}"


_PART = re.compile(r"\s*(-?[0-9]{1,9})?\s*(:)?\s*(-?[0-9]{1,9})?\s*")


def parse_index(text: str, shape: tuple[int, ...]) -> tuple:
    """NumPy-style index of whole numbers and slices (no step), checked against *shape*; ValueError says why."""
    parts = text.split(",")
    if len(parts) > len(shape):
        raise ValueError(f"found {len(parts)} indices; the parameter has {len(shape)} axes (shape {shape})")
    out = []
    for axis, part in enumerate(parts):
        m = _PART.fullmatch(part)
        if not m or (not m.group(2) and m.group(1) is None):
            raise ValueError(f"found {part.strip()!r} on axis {axis}; expected a whole number or START:STOP")
        n = shape[axis]
        if m.group(2):
            start = int(m.group(1)) if m.group(1) is not None else 0
            stop = int(m.group(3)) if m.group(3) is not None else n
            sl = slice(start, stop)
            if not range(n)[sl]:
                raise ValueError(f"found {part.strip()} on axis {axis}: no element of 0..{n - 1}")
            out.append(sl)
        else:
            k = int(m.group(1))
            if not -n <= k < n:
                raise ValueError(f"found index {k} on axis {axis} of size {n}; expected {-n}..{n - 1}")
            out.append(k)
    return tuple(out)


def check(edit: WeightEdit, params: dict) -> None:
    if edit.param not in params:
        raise EditError(f"found {edit.param!r}; this model's parameters are {', '.join(params)}")
    if edit.op not in OPS:
        raise EditError(f"found {edit.op!r}; expected one of {' '.join(OPS)}")
    if isinstance(edit.value, bool) or not math.isfinite(edit.value):
        raise EditError(f"found {edit.value!r}; expected a finite number")
    if edit.index:
        try:
            parse_index(edit.index, params[edit.param].shape)
        except ValueError as exc:
            raise EditError(f"{edit.param}[{edit.index}]: {exc}") from None


def edited(params: dict, edits) -> dict:
    """*params* with *edits* applied in order (copies of the parameters they touch)."""
    out = dict(params)
    for e in edits:
        check(e, out)
        a = np.array(out[e.param], copy=True)
        at = parse_index(e.index, a.shape) if e.index else ...
        v = a.dtype.type(e.value)
        if e.op == "=":
            a[at] = v
        elif e.op == "*=":
            a[at] *= v
        else:
            a[at] += v
        out[e.param] = a
    return out


def recorded_edits(trace) -> tuple[WeightEdit, ...]:
    return tuple(WeightEdit(**d) for d in json.loads(str(trace[META]))) if META in trace else ()


def reweighted(trace, edits):
    """A new Trace: *trace*'s run recomputed with its parameters edited (its interventions kept)."""
    from rnntui.engine.interventions import recorded
    from rnntui.engine.trace import Trace
    from rnntui.engine.whatif import refuse_over_the_limit, what_if

    base = trace.whole if hasattr(trace, "whole") else trace
    refuse_over_the_limit(base)
    if any(e.part for e in base.info.entries) or base.info.feed == "output":
        raise EditError("editing a weight recomputes whole-sequence runs; this one is an encoder-decoder or a "
                        "generator: edit the scenario's weights.set instead")
    names = [n for e in base.info.entries for n in e.params]
    params = {n: np.asarray(base[keys.param(n)]) for n in names}
    new = edited(params, edits)
    arrays = {k: base[k] for k in base if base.is_computed(k)}
    arrays.update({keys.param(n): v for n, v in new.items()})
    arrays[META] = np.asarray(json.dumps([asdict(e) for e in recorded_edits(base) + tuple(edits)]))
    return what_if(Trace(arrays, base.info), [i.to_dict() for i in recorded(base)], resume=False)


def set_values(trace, original) -> dict:
    """What `weights.set` needs for *trace* (a run with weight edits) to be run from *original*'s scenario:
    each edited parameter in full, as nested lists (one number when every element is the same)."""
    out = {}
    for name in dict.fromkeys(e.param for e in recorded_edits(trace)):
        a = np.asarray(trace[keys.param(name)])
        if np.array_equal(a, np.asarray(original[keys.param(name)])):
            continue
        flat = a.reshape(-1)
        out[name] = float(flat[0]) if flat.size and np.all(flat == flat[0]) else a.tolist()
    return out


@dataclass(frozen=True)
class Change:
    """One step of the debugger's what-if stack: an intervention (scenario form) or a weight edit."""

    kind: str            # "intervention" | "weight"
    value: object        # the intervention's dict, or a WeightEdit

    def words(self) -> str:
        if self.kind == "weight":
            return self.value.words()
        d = self.value
        steps = f"t={d['t']}" if "t" in d else f"steps {d['steps']}"
        units = "every unit" if d.get("units") is None else f"units {d['units']}"
        return f"{d['set']} = {d['value']:g} at {d['at']}, {steps}, {units}"


def apply_changes(original, changes, seed=None):
    """(run, other): *original* with the *changes* (in order: the weight edits first change the model,
    the interventions then act on its run) and, with *seed*, its gradients those of the seed
    (engine/attribution.py). *other* is the original (with the same seed) when anything changed, else None."""
    from rnntui.engine.interventions import recorded
    from rnntui.engine.whatif import what_if

    weights = [c.value for c in changes if c.kind == "weight"]
    base_items = [i.to_dict() for i in recorded(original)]
    items = base_items + [c.value for c in changes if c.kind == "intervention"]
    run = reweighted(original, weights) if weights else original
    if items != base_items:
        run = what_if(run, items)
    other = original if changes else None
    if seed is not None:
        from rnntui.engine.attribution import backprop

        run = backprop(run, seed)
        other = None if other is None else backprop(other, seed)
    return run, other


__all__ = ["Change", "EditError", "WeightEdit", "apply_changes", "edited", "parse_index", "recorded_edits",
           "reweighted", "set_values"]
