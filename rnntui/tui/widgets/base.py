"""A view over the open run: binds to the app's state (tui/state.py `DebuggerState`), renders one concept."""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
from textual.cache import LRUCache
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from rnntui.engine.checkpoint import NotReady
from rnntui.render.cursor import Cursor
from rnntui.render.sweeping import computing_words
from rnntui.tui.state import OpenRun, more_of_the_sweep
from rnntui.tui.strips import to_strips


class TraceView(Widget):
    """Subclasses implement `render_view(cursor, width)` with a function from rnntui.render.

    Drawn through Textual's line API from strips made once per cursor and size. A panel keeps the
    height of the taller of its two passes (and grows if a step needs more), so stepping or
    switching pass repaints in place: the screen is laid out again only when a panel must grow
    or a new entry is chosen.
    """

    run: reactive[OpenRun | None] = reactive(None, repaint=False)
    """What is open: the state's run, taken when it changes (`follow`). None until the view is mounted."""

    cursor: reactive[Cursor] = reactive(Cursor, repaint=False)
    """Where the user is in the run: the state's cursor, taken after its run."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # this step, the other pass, and what the layout measured
        self._drawn: LRUCache[tuple, list[Strip]] = LRUCache(4)
        # the tallest each place has been at each size; a one-item list, raised in place (an
        # LRUCache keeps the first value set for a key)
        self._floor: LRUCache[tuple, list[int]] = LRUCache(256)
        self._frame: list[Strip] | None = None
        self._height: int | None = None
        self._computing: set[tuple] = set()   # the keys of `_drawn` that said "computing" (a sweep not done)

    redraws_with_sweep = False
    """Whether the view draws again at every snapshot of a long run's sweep (it shows the sweep's progress
    itself); the others draw again only what said "computing" (`follow`)."""

    def on_mount(self) -> None:
        # bound to the app's one state: every change of it reaches the view, nothing is pushed by hand
        if isinstance(getattr(type(self.app), "state", None), reactive):
            self._state = None
            self.watch(self.app, "state", self.follow, init=True)

    def follow(self, state) -> None:
        """The app's state changed: the view's own inputs first (`take`), then the run, then the cursor (a view
        draws a cursor in the run it holds)."""
        old, self._state = self._state, state
        if state is None:
            return
        self.take(old, state)
        if old is None or state.run is not old.run:
            if not self.redraws_with_sweep and old is not None and more_of_the_sweep(old.run, state.run):
                self._swept_on(state.run)
            else:
                self.run = state.run
        self.cursor = state.cursor

    def _swept_on(self, run) -> None:
        """*run*: a later snapshot of the same sweep as the run drawn. What was drawn whole reads the same there
        (a snapshot only holds more): kept; what said "computing" is drawn again."""
        self.set_reactive(TraceView.run, run)
        current = self._frame is not None and any(key in self._computing for key in self._drawn.keys()
                                                  if self._drawn.get(key) is self._frame)
        for key in self._computing:
            self._drawn.discard(key)
        self._computing.clear()
        if current or self._frame is None:
            self._frame = None
            self.refresh(layout=True)

    def take(self, old, state) -> None:
        """What else of the state the view reads (watches, an axis's position), taken before the run and the
        cursor; *old*: the state before (None the first time)."""

    @property
    def trace(self):
        """The open run's trace, as the TUI shows it (user text cut to a screenful)."""
        return self.run.trace

    def watch_run(self) -> None:
        # nothing drawn for the old run holds for the new one: measure and draw again
        self._drawn.clear()
        self._computing.clear()
        self._floor.clear()
        self._frame = None
        self._height = None
        self.refresh(layout=True)

    def watch_cursor(self, old: Cursor, new: Cursor) -> None:
        if self.run is None:
            return
        width = self.size.width
        height = self.styles.height
        sized_by_content = height is None or height.is_auto
        if sized_by_content and (not width or self._height is None or self._lines(width, new) != self._height):
            self.refresh(layout=True)
            return
        if not width or self._frame is None:
            self.refresh()
            return
        # repaint only the lines that differ from what is on screen (a step changes the step
        # number but not the scenario's name, a unit leaves the timeline and gradients alone)
        before, after = self._frame, self._strips(width, new)
        changed = [y for y in range(self.size.height)
                   if (before[y] if y < len(before) else None) != (after[y] if y < len(after) else None)]
        runs: list[list[int]] = []
        for y in changed:
            if runs and runs[-1][1] == y:
                runs[-1][1] = y + 1
            else:
                runs.append([y, y + 1])
        if runs:
            self.refresh(*(Region(0, y0, width, y1 - y0) for y0, y1 in runs))

    def _strips(self, width: int, cursor: Cursor | None = None) -> list[Strip]:
        cursor = self.cursor if cursor is None else cursor
        width = max(width, 20)
        base = self.visual_style.rich_style
        key = (cursor, width, self.app.size, base)
        strips = self._drawn.get(key)
        if strips is None:
            # a run that overflowed is shown as it is; NumPy's warnings would write over the screen
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                try:
                    renderable = self.render_view(cursor, width)
                except NotReady as wait:   # a long run still sweeping: what this panel needs is not known yet
                    renderable = self.render_computing(cursor, wait)
                    self._computing.add(key)
            strips = to_strips(renderable, width, base, self.app)
            self._drawn.set(key, strips)
        return strips

    def _lines(self, width: int, cursor: Cursor) -> int:
        """How tall the panel is at *cursor*: the most either pass has needed at this place and width."""
        key = (cursor.place_index, max(width, 20), self.app.size)
        floor = self._floor.get(key)
        if floor is None:
            other = replace(cursor, phase="backward" if cursor.phase == "forward" else "forward")
            floor = [len(self._strips(width, other))]
            self._floor.set(key, floor)
        floor[0] = max(floor[0], len(self._strips(width, cursor)))
        return floor[0]

    def get_content_height(self, container, viewport, width: int) -> int:
        if self.run is None:
            return 0
        self._height = self._lines(width, self.cursor)
        return self._height

    def render_lines(self, crop):
        if self.run is None:
            self._frame = []
            return super().render_lines(crop)
        # the strips are looked up once a repaint, not once a line
        self._frame = self._strips(self.size.width)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        strips = self._frame if self._frame is not None else self._strips(self.size.width)
        return strips[y] if y < len(strips) else Strip.blank(self.size.width, self.visual_style.rich_style)

    def render_view(self, cursor: Cursor, width: int):  # pragma: no cover - each view defines it
        raise NotImplementedError

    def render_computing(self, cursor: Cursor, wait: NotReady):
        """What the panel says while the sweep of a long run has not computed what it needs (engine/checkpoint.py
        `NotReady`): `computing_words`, with the fraction of the sweep done."""
        return computing_words(wait, self.run.info, cursor)
