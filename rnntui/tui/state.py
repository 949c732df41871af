"""What is open in the debugger, as one frozen object.

`OpenRun` is everything the views read that does not move: the trace (as the TUI shows it), its
places, its events and their marks. The app holds it in one reactive and the cursor in another
(beside its watches and breakpoints, and whether it plays). Opening another run (a what-if, its
undo, another iteration of a training run) is a swap of this object, which every view redraws from.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from rnntui.engine import keys
from rnntui.engine.trace import TraceWrapper
from rnntui.errors import printable
from rnntui.render import cursor as cur
from rnntui.render.analysis import Event, EventRun, Place, event_marks, event_runs
from rnntui.render.analysis import events as find_events
from rnntui.render.cursor import Cursor
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

    @property
    def info(self):
        return self.trace.info

    def start(self) -> Cursor:
        """Where a cursor starts: the forward pass's first step at the first place."""
        p0 = self.places[0]
        return Cursor(t=cur.first_step(self.info, "forward", p0.direction, p0))


def open_run(trace, other=None, labels: tuple[str, str] = ("A", "B"), muted=frozenset()) -> OpenRun:
    """Everything the views need from *trace* that does not depend on the cursor, computed once
    (*other*: a run to compare with, shown beside it; *muted*: kinds of event left out)."""
    shown = ShownTrace(trace)
    with np.errstate(all="ignore"):
        every = tuple(find_events(shown))
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
                   kinds=MappingProxyType(kinds), muted=frozenset(muted))


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
