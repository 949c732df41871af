"""What is open in the debugger, as frozen objects.

`OpenRun` is everything the views read that does not move: the trace (as the TUI shows it), its
places, its events and their marks. `DebuggerState` is all the app holds of what the user sees: the
open run, the cursor, the watches and breakpoints, where each outer axis is (tui/axes/: a training run's
iteration, a data set's sample), and the what-ifs. The app keeps one in its `state` reactive; every
widget binds to it (tui/widgets/base.py) and redraws from it. Its transitions are pure methods that return
another state (opening a run, moving the cursor, moving along an axis, a what-if), so what a key does to
the state is tested without a terminal (tests/tui/test_state.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from rnntui.engine import keys
from rnntui.engine.checkpoint import SweepProgress, sweeping
from rnntui.engine.trace import TraceWrapper
from rnntui.errors import printable
from rnntui.render import cursor as cur
from rnntui.render.analysis import Event, EventRun, Place, event_marks, event_runs
from rnntui.render.analysis import events as find_events
from rnntui.render.cursor import Cursor
from rnntui.render.watches import DebugState
from rnntui.tui.usertext import DESCRIPTION_CHARS, KEY_CHARS, NAME_CHARS, TOKEN_CHARS, cut, one_line


class ShownTrace(TraceWrapper):
    """A trace as the TUI draws it: the same arrays, read through, with the text that came from the
    user's files (name, description, tokens, the keys events name) cut to what a screen can show."""

    def __init__(self, trace):
        info = trace.info
        # never a raw control character on the terminal (a scenario can hold ESC: escape injection)
        description = "\n".join(printable(line) for line in cut(info.description, DESCRIPTION_CHARS).split("\n"))
        super().__init__(trace, replace(info, name=printable(one_line(info.name, NAME_CHARS)), description=description))
        self._cut: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        limit = _TEXT_ARRAYS.get(key)
        if limit is None:
            if key in getattr(self.whole, "big", ()):   # checkpointed: a view reads steps, recomputed per segment
                from rnntui.engine.checkpoint import StepRows

                return StepRows(self.whole, key)
            return self.whole[key]
        known = self._cut.get(key)
        if known is None:
            whole = np.asarray(self.whole[key])  # (T,) or, for a batch of token sequences, (T, B)
            known = np.array([cut(str(s), limit) for s in whole.reshape(-1)], dtype=str).reshape(whole.shape)
            known.flags.writeable = False
            self._cut[key] = known
        return known


_TEXT_ARRAYS = {"tokens": TOKEN_CHARS, keys.META_VOCAB: TOKEN_CHARS, keys.NONFINITE_KEYS: KEY_CHARS}


@dataclass(frozen=True, eq=False)  # compared by identity: a new OpenRun is a new run to draw
class OpenRun:
    """The run the debugger shows, read by every view; never changed, only replaced."""

    trace: ShownTrace
    places: tuple[Place, ...]
    events: tuple[Event, ...]
    marks: Mapping[Place, Mapping[int, str]]
    """The first event's kind at each step of each place (what the timeline marks)."""
    runs: Mapping[Place, tuple[EventRun, ...]]
    """The runs of consecutive events, per place, by their first step (what n / N jump between)."""
    other: ShownTrace | None = None
    """`--compare`: the run B that every view shows beside this one (A), stepped in lockstep."""
    labels: tuple[str, str] = ("A", "B")
    """What the compare panel calls the two: ("what-if", "original") for a what-if."""
    kinds: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Every kind of built-in event the run has, muted or not, with how many steps it marks."""
    muted: frozenset[str] = frozenset()
    """The kinds of built-in event the user muted (`m`): not in `events`, `marks` or `runs`."""
    sweeping: SweepProgress | None = None
    """A long run still sweeping (engine/checkpoint.py `SweepingTrace`): how far its sweep was when this was
    opened; its events are not found yet (they need the backward pass), `events` is empty until the finished run
    is opened. None for any other run."""

    @property
    def info(self):
        return self.trace.info

    def start(self) -> Cursor:
        """Where a cursor starts: the forward pass's first step at the first place."""
        p0 = self.places[0]
        return Cursor(t=cur.first_step(self.info, "forward", p0.direction, p0))


def more_of_the_sweep(old: OpenRun, new: OpenRun) -> bool:
    """Whether *new* is a later snapshot of the same long run's sweep as *old* (both `SweepingTrace`s of one
    sweep, engine/checkpoint.py): it holds what *old* held, and more."""
    if old.sweeping is None or new.sweeping is None or old.muted != new.muted or old.labels != new.labels:
        return False
    if (old.other is None) != (new.other is None) or (old.other is not None and old.other.whole is not new.other.whole):
        return False
    return old.trace.whole.segments is new.trace.whole.segments


def open_run(trace, other=None, labels: tuple[str, str] = ("A", "B"), muted=frozenset()) -> OpenRun:
    """Everything the views need from *trace* that does not depend on the cursor, computed once
    (*other*: a run to compare with, shown beside it; *muted*: kinds of event left out)."""
    shown = ShownTrace(trace)
    progress = sweeping(trace)
    with np.errstate(all="ignore"):
        every = () if progress is not None else tuple(find_events(shown))
    kinds: dict[str, int] = {}
    for ev in every:
        kinds[ev.kind] = kinds.get(ev.kind, 0) + 1
    found = tuple(ev for ev in every if ev.kind not in muted)
    by_place: dict[Place, list[EventRun]] = {}
    for run in event_runs(shown.info, list(found)):
        by_place.setdefault(run.place, []).append(run)
    runs = {p: tuple(sorted(rs, key=lambda r: r.start)) for p, rs in by_place.items()}
    return OpenRun(trace=shown, places=shown.info.places, events=found,
                   marks=MappingProxyType(event_marks(list(found))), runs=MappingProxyType(runs),
                   other=None if other is None else ShownTrace(other), labels=labels,
                   kinds=MappingProxyType(kinds), muted=frozenset(muted), sweeping=progress)


def kept_cursor(c: Cursor, run: OpenRun, sample: int | None = None) -> Cursor:
    """*c* in *run*, another run of the same model (another iteration, another sample of a data set): the same
    place, pass, step, unit and sample of the batch, each clamped to what *run* has (a shorter run: its own
    last step). *sample*: clamp the step to that batch sample's own steps (a data set's sample: 0), else to
    the place's."""
    info = run.info
    k = min(c.place_index, len(run.places) - 1)
    place = run.places[k]
    b = min(c.sample, info.B - 1)
    ends = (cur.first_step(info, c.phase, place.direction, place, sample),
            cur.last_step(info, c.phase, place.direction, place, sample))
    t = min(max(c.t, min(ends)), max(ends))
    handover = c.handover and cur.handover_ends(info) is not None and sample is None
    return replace(c, place_index=k, t=t, sample=b, handover=handover)


@dataclass(frozen=True, eq=False)  # compared by identity: a new state is a new thing to draw
class DebuggerState:
    """Everything the debugger shows, replaced whole by each transition (the app's `state` reactive)."""

    run: OpenRun
    """The run the views draw (with B beside it under --compare or a what-if)."""
    cursor: Cursor
    """Where the user is in it: pass, place, step, unit, sample of the batch."""
    debugging: DebugState = field(default_factory=DebugState)
    """The watches and breakpoints."""
    axes: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    """The outer axes the run has, by name (tui/axes/: a training run's iterations, a data set's samples)."""
    positions: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Each outer axis's position, by the axis's name: the iteration, the data-set sample."""
    original: object = None
    """The run a what-if changes and undo returns to (the trace, whole): the axis position's own run."""
    changes: tuple = ()
    """The what-ifs shown, in order (engine/edits.Change)."""
    seed: object = None
    """What BPTT traces back (engine/attribution.Seed); None: the loss."""
    muted: frozenset[str] = frozenset()
    """The kinds of built-in event the user muted (m)."""

    @classmethod
    def first(cls, run: OpenRun, debugging: DebugState | None = None, axes=()) -> DebuggerState:
        """The state a session opens in: *run* at its first step, each of *axes* (tui/axes/ `Axis`) at its start."""
        return cls(run=run, cursor=run.start(), debugging=debugging or DebugState(),
                   axes=MappingProxyType({a.name: a for a in axes}),
                   positions=MappingProxyType({a.name: a.start for a in axes}), original=run.trace.whole,
                   muted=run.muted)

    @property
    def info(self):
        return self.run.info

    def at(self, axis: str, default: int = 0) -> int:
        """The position along *axis* (its name)."""
        return self.positions.get(axis, default)

    # --- transitions: each returns a new state, this one unchanged ----------------------------------

    def to(self, cursor: Cursor) -> DebuggerState:
        """The cursor moved (a step, a place, a pass, a unit, a batch sample)."""
        return replace(self, cursor=cursor)

    def watching(self, debugging: DebugState) -> DebuggerState:
        """Other watches or breakpoints."""
        return replace(self, debugging=debugging)

    def opened(self, run: OpenRun, keep_cursor: bool = False) -> DebuggerState:
        """Another run shown (a trace opened over this one): the cursor starts again at its first step, or stays
        where it is (*keep_cursor*: the same run recomputed, a what-if, events muted)."""
        return replace(self, run=run, cursor=self.cursor if keep_cursor else run.start())

    def swept(self, run: OpenRun) -> DebuggerState:
        """More of a long run's sweep done, or all of it (*run*: the same run as far as its sweep is now, or the
        finished run): shown in place of the one before, the cursor, watches and axes kept; what a what-if would
        change is this run."""
        return replace(self, run=run, original=run.trace.whole)

    def recomputed(self, run: OpenRun, changes: tuple, seed) -> DebuggerState:
        """The original with the what-ifs *changes* (and BPTT of *seed*) shown: the cursor stays."""
        return replace(self, run=run, changes=tuple(changes), seed=seed)

    def muting(self, muted: frozenset[str], run: OpenRun) -> DebuggerState:
        """The kinds of event *muted* left out: *run* is the same run opened without them; the cursor stays."""
        return replace(self, run=run, muted=frozenset(muted))

    def moved(self, axis: str, k: int, run: OpenRun) -> DebuggerState:
        """Position *k* along *axis* (its name), whose record is *run* (with B beside it when B moves too): the
        cursor keeps its place, pass and step (as the axis keeps them: `Axis.keep`); what a what-if changes is now
        this position's run, and the what-ifs of the position left behind are dropped."""
        if axis not in self.axes:
            raise KeyError(f"the run has no {axis} axis (it has: {', '.join(self.axes) or 'none'})")
        positions = MappingProxyType({**self.positions, axis: int(k)})
        return replace(self, run=run, cursor=self.axes[axis].keep(self.cursor, run), positions=positions,
                       original=run.trace.whole, changes=(), seed=None)


def warmed(run: OpenRun) -> OpenRun:
    """*run*, with the lazily derived diagnostics its views read on their first draw (gradient norms,
    saturation, the verdict's one-term gradient) computed now: in a worker, before the run is shown, rather
    than on the UI thread as the views first draw it. The step Jacobian norms are left to whoever asks
    (seconds on a long run; a view reads one step at a time)."""
    for trace in (run.trace, run.other):
        if trace is None:
            continue
        big = getattr(trace.whole, "big", {})   # a checkpointed trace's recomputed arrays: read by steps, never whole
        with np.errstate(all="ignore"):
            for key in list(trace):
                if not key.endswith(".jacnorm") and key not in big and not trace.is_computed(key):
                    trace[key]
    return run
