"""What-if: interventions that overwrite a state or gate inside a recurrent loop, and the compiled form the
families read while they run (docs/scenario-format.md, section "interventions").

An intervention replaces the value a place computed (`h`, `c`, a gate `gates.f`, the RNN's `pre`) at some
steps and units with a number, for every sample. What follows reads the new value; no gradient flows back
through it into what computed the old one (as when a tensor is overwritten in PyTorch), while the
gradient *of* the new value (dL/dh_t ...) is still recorded. The families apply the overwrite in their
forward loop (`Overrides.put`) and cut the gradient in their backward loop (`Overrides.cut`), just as
they apply the `pad` mask of packed sequences.

Recomputing from a step (`whatif.py`) compares two lists compiled here to find the first step where they
differ (`first_difference`).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np

from rnntui.engine import keys
from rnntui.engine.handlers import handler


META = keys.META_INTERVENTIONS          # JSON: the list applied, in scenario form (`Intervention.to_dict`)
MASK = "intervened"                  # {place}.intervened.{name}: (T, B, H) bool, True where overwritten


@dataclass(frozen=True)
class Intervention:
    """Set *name* at place *at* (`model.0.l0.fwd`) to *value* at steps [start, stop) and *units* (None: all)."""

    at: str
    set: str
    start: int
    stop: int
    value: float
    units: tuple[int, ...] | None = None

    def to_dict(self) -> dict:
        """The scenario form: `t:` for one step, `steps: "START:STOP"` for more; `units` only when given."""
        d: dict = {"at": self.at}
        if self.stop == self.start + 1:
            d["t"] = self.start
        else:
            d["steps"] = f"{self.start}:{self.stop}"
        d["set"] = self.set
        if self.units is not None:
            d["units"] = list(self.units)
        d["value"] = self.value
        return d


class InterventionProblem(Exception):
    """One intervention that cannot be applied; *key* names the scenario key at fault (`at`, `set`, ...)."""

    def __init__(self, index: int, key: str, message: str):
        self.index, self.key, self.message = index, key, message
        super().__init__(f"interventions[{index}].{key}: {message}")


STEPS = re.compile(r"\s*([0-9]{0,18})\s*:\s*([0-9]{0,18})\s*")
PLACE = re.compile(r"model\.([0-9]{1,9})\.l([0-9]{1,9})\.(fwd|bwd)")
NODE = re.compile(r"model\.([0-9]{1,9})")   # a graph model's recurrence node: its step graph's values


def steps_node(entry) -> bool:
    """Whether *entry* is a node whose step graph's values an intervention may set (a recurrence: its
    handler names them, `settable_values`)."""
    return hasattr(handler(entry.type), "settable_values")


def parse_steps(text: str, T: int) -> tuple[int, int]:
    """START:STOP as `--steps` reads it (STOP excluded; an empty START is 0, an empty STOP is T)."""
    m = STEPS.fullmatch(text)
    if not m:
        raise ValueError(f"found {text[:40]!r}; expected START:STOP such as 3:10 (STOP excluded)")
    start = int(m.group(1) or 0)
    stop = int(m.group(2)) if m.group(2) else T
    if stop <= start:
        raise ValueError(f"found {text.strip()!r}; expected START below STOP, such as 3:10")
    return start, stop


def settable(entry) -> tuple[str, ...]:
    """What an intervention may set at a place of *entry*: the family's states and gates (and `pre`)."""
    return entry.family.settable(entry)


def from_dict(index: int, d: dict, entries, T: int) -> Intervention:
    """One intervention in scenario form (already type-checked) -> an Intervention checked against the
    model: the place exists, the family has the name, steps and units are in range, the value is finite."""
    at = d["at"]
    m = PLACE.fullmatch(at)
    recurrent = [e for e in entries if e.recurrent]
    places = [keys.place_prefix(e.index, j, dr) for e in recurrent[:2] for j in range(e.num_layers)
              for dr in e.directions]
    places += [keys.entry_prefix(e.index) for e in entries if steps_node(e)][:2]
    where = ", ".join(places) or "none: the model has no recurrent entry"
    n = NODE.fullmatch(at)
    if n and int(n.group(1)) < len(entries) and steps_node(entries[int(n.group(1))]):
        e = entries[int(n.group(1))]
        names = handler(e.type).settable_values(e)
        sizes = {name: handler(e.type).value_size(e, name) for name in names}
        return _checked(index, d, at, e, f"{keys.entry_prefix(e.index)} ({e.id or e.type})", names, sizes)
    if not m:
        raise InterventionProblem(index, "at", f"found {at[:60]!r}; expected a recurrent place such as "
                                  f"model.0.l0.fwd or a recurrence node such as model.0 (this model has {where})")
    i, j, direction = int(m.group(1)), int(m.group(2)), m.group(3)
    if i >= len(entries) or not entries[i].recurrent:
        raise InterventionProblem(index, "at", f"found {at!r}, but {keys.entry_prefix(i)} is "
                                  f"{'not a recurrent entry' if i < len(entries) else 'not in the model'}; "
                                  f"this model's recurrent places: {where}")
    e = entries[i]
    if j >= e.num_layers or direction not in e.directions:
        raise InterventionProblem(index, "at", f"found {at!r}; {keys.entry_prefix(i)} ({e.type}) has "
                                  f"{e.num_layers} sub-layer(s) and directions {', '.join(e.directions)}")
    names = settable(e)
    return _checked(index, d, at, e, f"{keys.entry_prefix(i)} ({e.type})", names, {name: e.hidden_size for name in names})


def _checked(index: int, d: dict, at: str, e, what: str, names, sizes: dict) -> Intervention:
    """The rest of one intervention checked against entry *e* (*what* names it): the name it sets, the steps,
    the units (of that value's *sizes*) and the value."""
    i = e.index
    name = d["set"]
    if name not in names:
        raise InterventionProblem(index, "set", f"found {name[:40]!r}; {what} has {', '.join(names)}")
    steps = e.steps
    if d.get("t") is not None:
        start, stop = d["t"], d["t"] + 1
    else:
        try:
            start, stop = parse_steps(d["steps"], steps)
        except ValueError as exc:
            raise InterventionProblem(index, "steps", str(exc)) from None
    if start >= steps or stop > steps:
        key = "t" if d.get("t") is not None else "steps"
        shown = start if key == "t" else f"{start}:{stop}"
        raise InterventionProblem(index, key, f"found {shown}; {keys.entry_prefix(i)} runs steps 0..{steps - 1}")
    units = d.get("units")
    if units is not None:
        units = tuple(int(u) for u in units)
        if not units:
            raise InterventionProblem(index, "units", "found an empty list; expected unit numbers (or no `units`: all)")
        H = sizes[name]
        whose = f"{name} of {keys.entry_prefix(i)}" if steps_node(e) else keys.entry_prefix(i)
        bad = [u for u in units if not 0 <= u < H]
        if bad:
            raise InterventionProblem(index, "units", f"found unit {bad[0]}; {whose} has units "
                                      f"0..{H - 1}")
    value = d["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InterventionProblem(index, "value", f"found {value!r}; expected a finite number")
    problem = getattr(handler(e.type), "value_problem", None)
    if problem is not None and problem(e, name, value) is not None:   # an id a recurrence's step chose
        raise InterventionProblem(index, "value", problem(e, name, value))
    return Intervention(at, name, int(start), int(stop), float(value), units)


def coerce(items, entries, T: int) -> tuple[Intervention, ...]:
    """Interventions given as Intervention objects or scenario-form dicts, each checked against the model."""
    out = []
    for n, it in enumerate(items):
        d = it.to_dict() if isinstance(it, Intervention) else dict(it)
        unknown = sorted(set(d) - {"at", "t", "steps", "set", "units", "value"})
        if unknown:
            raise InterventionProblem(n, unknown[0], "unknown key; expected at, t or steps, set, units, value")
        missing = [k for k in ("at", "set", "value") if k not in d]
        if missing:
            raise InterventionProblem(n, missing[0], "is required but missing")
        if (d.get("t") is None) == (d.get("steps") is None):
            raise InterventionProblem(n, "t", "expected exactly one of `t` (one step) or `steps` (START:STOP)")
        t = d.get("t")
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0):
            raise InterventionProblem(n, "t", f"found {t!r}; expected a step number from 0")
        if not isinstance(d["at"], str) or not isinstance(d["set"], str) or \
                (d.get("steps") is not None and not isinstance(d["steps"], str)):
            raise InterventionProblem(n, "at", "expected text for `at`, `set` and `steps`")
        out.append(from_dict(n, d, entries, T))
    return tuple(out)


def dumps(items) -> str:
    return json.dumps([it.to_dict() for it in items])


def recorded(trace) -> tuple[Intervention, ...]:
    """The interventions a trace was run with (none for a trace without `meta.interventions`)."""
    if META not in trace:
        return ()
    return coerce(json.loads(str(trace[META])), trace.info.entries, trace.info.T)


class Overrides:
    """The interventions at one place, compiled: per name a (T, H) mask and the values there (later wins).

    `put` overwrites a computed (B, H) array at step t; `cut` zeroes a gradient at step t where the value
    was overwritten (the gradient into what computed it)."""

    def __init__(self, T: int, H: int, sizes: dict | None = None):
        self.T, self.H = T, H
        self.sizes = sizes or {}                 # name -> units, where names differ in size (a step graph's values)
        self.mask: dict[str, np.ndarray] = {}
        self.values: dict[str, np.ndarray] = {}
        self.any: dict[str, np.ndarray] = {}     # (T,) whether anything is overwritten at each step

    def add(self, it: Intervention) -> None:
        if it.set not in self.mask:
            H = self.sizes.get(it.set, self.H)
            self.mask[it.set] = np.zeros((self.T, H), dtype=bool)
            self.values[it.set] = np.zeros((self.T, H))
        units = slice(None) if it.units is None else list(it.units)
        self.mask[it.set][it.start:it.stop, units] = True
        self.values[it.set][it.start:it.stop, units] = it.value
        self.any[it.set] = self.mask[it.set].any(axis=1)

    def __contains__(self, name: str) -> bool:
        return name in self.mask

    def hits(self, name: str, t: int) -> bool:
        return name in self.any and bool(self.any[name][t])

    def put(self, name: str, t: int, a: np.ndarray) -> None:
        """Overwrite *a* (B, H), the value of *name* computed at step t, where the interventions say."""
        if self.hits(name, t):
            np.copyto(a, self.values[name][t].astype(a.dtype), where=self.mask[name][t])

    def cut(self, name: str, t: int, g: np.ndarray) -> None:
        """Zero *g* (B, H), a gradient flowing into the computation of *name* at step t, where it was
        overwritten (NaN and inf too: not a product)."""
        if self.hits(name, t):
            np.copyto(g, 0, where=self.mask[name][t])

    def cut_copy(self, name: str, t: int, g: np.ndarray) -> np.ndarray:
        """*g* with the overwritten units zeroed (a copy only when something is cut): the recorded gradient
        of the new value stays whole, what flows into the old value's computation is cut."""
        if not self.hits(name, t):
            return g
        g = g.copy()
        np.copyto(g, 0, where=self.mask[name][t])
        return g

    def first(self, reverse: bool) -> int | None:
        """The first step the loop meets with an overwrite (the largest for a reverse direction)."""
        steps = np.flatnonzero(np.logical_or.reduce([a for a in self.any.values()]))
        if not len(steps):
            return None
        return int(steps[-1] if reverse else steps[0])


def compile_all(items, entries) -> dict[str, Overrides]:
    """Place prefix -> its Overrides, for the places that have interventions."""
    out: dict[str, Overrides] = {}
    for it in items:
        m = PLACE.fullmatch(it.at) or NODE.fullmatch(it.at)
        e = entries[int(m.group(1))]
        if it.at not in out:
            sizes = {n: handler(e.type).value_size(e, n) for n in handler(e.type).settable_values(e)} if steps_node(e) else None
            out[it.at] = Overrides(e.steps, 0 if sizes else e.hidden_size, sizes)
        out[it.at].add(it)
    return out


def first_difference(a: Overrides | None, b: Overrides | None, reverse: bool) -> int | None:
    """The first step (in the loop's order) where two compiled lists of one place differ, or None."""
    names = set(a.mask if a else ()) | set(b.mask if b else ())
    T = (a or b).T if (a or b) else 0
    differ = np.zeros(T, dtype=bool)
    for name in names:
        ma = a.mask[name] if a and name in a else np.zeros((T, (a or b).H), dtype=bool)
        mb = b.mask[name] if b and name in b else np.zeros_like(ma)
        va = a.values[name] if a and name in a else np.zeros(ma.shape)
        vb = b.values[name] if b and name in b else np.zeros(ma.shape)
        # bit patterns, not ==: -0.0 and 0.0 may lead to different results
        same_value = va.view(np.uint64) == vb.view(np.uint64)
        differ |= ((ma != mb) | (ma & ~same_value)).any(axis=1)
    steps = np.flatnonzero(differ)
    if not len(steps):
        return None
    return int(steps[-1] if reverse else steps[0])


def record_masks(rec: dict, items, entries, B: int, lengths=None) -> None:
    """`meta.interventions` and a (T, B, H) bool mask per intervened place and name. With *lengths* (a packed
    batch) a sample's padded steps are never marked: the padding wins there, nothing was overwritten."""
    rec[META] = np.asarray(dumps(items))
    for prefix, ov in compile_all(items, entries).items():
        for name, mask in ov.mask.items():
            marked = np.repeat(mask[:, None, :], B, axis=1)
            if lengths is not None:
                real = np.arange(marked.shape[0])[:, None] < np.asarray(lengths)[None, :]
                marked &= real[:, :, None]
            rec[f"{prefix}.{MASK}.{name}"] = marked

