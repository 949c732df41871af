"""Watches and breakpoints (docs/debugger.md) as the TUI shows them: each expression's value at the
cursor's step with a sparkline over the steps, each breakpoint with where it holds.

An expression without `@place` is bound to the place where the user wrote it (the TUI appends that
place when it is added), so a value never silently changes meaning when the cursor moves elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.numfmt import fmt
from rnntui.render.pertrace import PerTrace
from rnntui.render.segments import Cells
from rnntui.render.cursor import length
from rnntui.render.strips import log_sparkline, window

BOLD = Style(bold=True)
DIM = Style(dim=True)
ERROR = Style(color="red")
HOLDS = Style(color="magenta", bold=True)


@dataclass(frozen=True)
class Breakpoint:
    text: str
    enabled: bool = True


@dataclass(frozen=True)
class DebugState:
    """What the user watches and where the debugger stops; replaced, never changed."""

    watches: tuple[str, ...] = ()
    breakpoints: tuple[Breakpoint, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.watches and not self.breakpoints


_bound = PerTrace(256)  # (trace, text, place) -> Bound or ExprError: bound once, its values kept


def bound(trace, text: str, place):
    """The expression bound at *place* (its own @place wins), or the ExprError saying why it cannot be."""
    from rnntui.expr import ExprError, bind

    def make():
        try:
            return bind(text, trace, place)
        except ExprError as exc:
            return exc

    return _bound.get(trace, (text, place), make)


def with_place(text: str, place) -> str:
    """*text* pinned to *place* unless it names its own."""
    return text if "@" in text else f"{text} @{place.prefix}"


def _value_words(v) -> str:
    a = np.asarray(v)
    if a.dtype == bool:
        return "true" if (a.all() if a.ndim else bool(a)) else "false"
    if a.ndim == 0:
        return fmt(float(a), 0)
    flat = a.reshape(-1)
    shown = ", ".join(fmt(float(x), 0) for x in flat[:4])
    return f"[{shown}{', …' if flat.size > 4 else ''}] {a.shape}"


COMPUTING = "computing (the header says how far; Esc cancels)"


def waiting(trace, text: str, place) -> list[str]:
    """The costly keys (`Bound.waiting`) the expression *text* at *place* needs before its values can be shown
    at once; none for one that does not bind."""
    b = bound(trace, text, place)
    return [] if isinstance(b, Exception) else b.waiting()


def watch_panel(trace, c, state: DebugState, width: int, defer: str | None = None) -> Group:
    """*defer*: an expression whose values need a costly key not yet computed shows these words (the TUI
    computes the key off its own thread: COMPUTING) instead of computing it here."""
    out = [Text("watches (w adds, L lists)", BOLD)] if state.watches else []
    for text in state.watches:
        b = bound(trace, text, c.place(trace.info))
        line = Text(f"{text[:40]:<40} ", Style())
        if isinstance(b, Exception):
            out.append(line.append(str(getattr(b, "message", b)), ERROR))
            continue
        if defer and b.waiting():
            out.append(line.append(defer, DIM))
            continue
        t = min(c.t, b.T - 1)
        try:
            v = b.value_at(t)
        except Exception as exc:  # noqa: BLE001 - a value that cannot be computed is shown, never raised
            out.append(line.append(f"cannot be computed: {exc}", ERROR))
            continue
        out.append(line.append(f"= {_value_words(v)} at t={t}"))
        vals = np.asarray(b.values, dtype=float)
        if vals.ndim == 1 and vals.size > 1:
            strip = Cells().add("  ", None)
            lo, hi = window(vals.size, t, max(width - 4, 8))
            log_sparkline(np.abs(vals[lo:hi]), t - lo, into=strip)
            out.append(strip)
    if state.breakpoints:
        out.append(Text("breakpoints (a adds, c / C continue, L lists)", BOLD))
    for bp in state.breakpoints:
        b = bound(trace, bp.text, c.place(trace.info))
        line = Text(("● " if bp.enabled else "○ ") + f"{bp.text[:60]} ", Style() if bp.enabled else DIM)
        if isinstance(b, Exception):
            out.append(line.append(str(getattr(b, "message", b)), ERROR))
            continue
        if defer and b.waiting():
            out.append(line.append(defer, DIM))
            continue
        try:
            holds = b.holds
        except Exception as exc:  # noqa: BLE001
            out.append(line.append(str(getattr(exc, "message", exc)), ERROR))
            continue
        n = int(holds.sum())
        here = c.place(trace.info) == b.place
        line.append(f"holds at {n} of {b.T} steps" + ("" if here else f" of {b.place.prefix}"), DIM)
        if here and c.t < holds.size and holds[c.t]:
            line.append("  ← here", HOLDS)
        out.append(line)
    return Group(*out)


def _enabled_holds(trace, place, state: DebugState, defer: bool = False):
    """(text, holds) of each enabled breakpoint of *place* that binds; one that fails is shown as an error in
    the panel and skipped here, and so (*defer*) is one still waiting for a costly key."""
    for bp in state.breakpoints:
        if not bp.enabled:
            continue
        b = bound(trace, bp.text, place)
        if isinstance(b, Exception) or b.place != place or (defer and b.waiting()):
            continue
        try:
            holds = np.asarray(b.holds)
        except Exception:  # noqa: BLE001 - shown as an error in the panel
            continue
        yield bp.text, holds


def breakpoint_marks(trace, place, state: DebugState, defer: bool = False) -> set[int]:
    """The steps of *place* where an enabled breakpoint holds (what the timeline marks); *defer*: without
    those still waiting for a costly key."""
    return {int(t) for _, holds in _enabled_holds(trace, place, state, defer) for t in np.flatnonzero(holds)}


def pending(trace, place, state: DebugState) -> list[str]:
    """The enabled breakpoints of *place* still waiting for a costly key (what `c` cannot stop at yet)."""
    return [bp.text for bp in state.breakpoints if bp.enabled and waiting(trace, bp.text, place)
            and bound(trace, bp.text, place).place == place]


def holding(trace, place, state: DebugState, t: int) -> list[str]:
    """The enabled breakpoints of *place* that hold at step *t* (what continue stopped for), as written; not
    those still waiting for a costly key (`pending`: continue did not search them)."""
    return [text for text, holds in _enabled_holds(trace, place, state, defer=True) if t < holds.size and holds[t]]


def not_searched(trace, place, state: DebugState) -> str:
    """What continue says of the breakpoints of *place* it could not search (`pending`: their costly keys are not
    computed: Esc cancelled them), or ""."""
    waits = pending(trace, place, state)
    return (f"not searched: {', '.join(waits)} (what it reads is not computed; L and Enter on it computes it)"
            if waits else "")


FROM_THE_START = object()


def next_break(trace, c, state: DebugState, backwards: bool, events=(), after=FROM_THE_START,
               defer: bool = False) -> int | None:
    """The next step (in the cursor's pass order) after the cursor where an enabled breakpoint of this
    place holds, or a built-in event begins (*events*: their steps); the previous one with *backwards*.
    *after*: None searches the whole pass (another iteration of a training run)."""
    from rnntui.expr import next_step, step_order

    info = trace.info
    place = c.place(info)
    T = length(info, place)
    holds = np.zeros(T, dtype=bool)
    for t in breakpoint_marks(trace, place, state, defer):
        if t < T:
            holds[t] = True
    for t in events:
        if 0 <= t < T:
            holds[t] = True
    order = step_order(info, place, c.phase, T)
    return next_step(holds, order, c.t if after is FROM_THE_START else after, backwards)


def pinned_elsewhere(trace, place, state: DebugState) -> list[tuple[str, object]]:
    """(text, place) of each enabled breakpoint pinned to a place other than *place*."""
    out = []
    for bp in state.breakpoints:
        if not bp.enabled:
            continue
        b = bound(trace, bp.text, place)
        if not isinstance(b, Exception) and b.place != place:
            out.append((bp.text, b.place))
    return out


def next_break_elsewhere(trace, c, state: DebugState, backwards: bool) -> tuple[int, int] | None:
    """Where continue goes when nothing holds at the cursor's place any more: (place index, step) of the
    nearest step, in the order the current pass computes the places, where an enabled breakpoint pinned
    to another place holds. The forward pass computes the places in their order (entry by entry, each
    sub-layer and direction over all its steps), BPTT the other way round; within a place, its steps in
    the pass's order. *backwards*: the nearest such step before the cursor (reverse-continue)."""
    from rnntui.expr import next_step, step_order

    info = trace.info
    places = info.places
    pinned = {p for _, p in pinned_elsewhere(trace, c.place(info), state)}
    if not pinned:
        return None
    ahead = (c.phase == "forward") != backwards           # later places in the index order
    order = range(c.place_index + 1, len(places)) if ahead else range(c.place_index - 1, -1, -1)
    for k in order:
        if places[k] not in pinned:
            continue
        T = length(info, places[k], c.sample)   # never a padded step of a shorter sample
        holds = np.zeros(T, dtype=bool)
        for t in breakpoint_marks(trace, places[k], state):
            if t < T:
                holds[t] = True
        t = next_step(holds, step_order(info, places[k], c.phase, T), None, backwards)
        if t is not None:
            return k, t
    return None
