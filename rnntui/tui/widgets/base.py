"""A view over the trace: holds the trace, receives the cursor from the app, renders one concept."""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from rnntui.render.cursor import Cursor
from rnntui.tui.strips import to_strips


class TraceView(Widget):
    """Subclasses implement `render_view(cursor, width)` with a function from rnntui.render.

    Drawn through Textual's line API from strips made once per cursor and size. A panel keeps the
    height of the taller of its two passes (and grows if a step needs more), so stepping or
    switching pass repaints in place: the screen is laid out again only when a panel must grow
    or a new entry is chosen.
    """

    cursor: reactive[Cursor] = reactive(Cursor, repaint=False)
    """Where the app is in the trace; set by the app, never by the view."""

    def __init__(self, trace, **kwargs):
        super().__init__(**kwargs)
        self.trace = trace
        self._drawn: dict[tuple, list[Strip]] = {}
        self._floor: dict[tuple, int] = {}
        self._frame: list[Strip] | None = None
        self._height: int | None = None

    def watch_cursor(self, old: Cursor, new: Cursor) -> None:
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
                renderable = self.render_view(cursor, width)
            strips = to_strips(renderable, width, base, self.app)
            if len(self._drawn) >= 4:  # this step, the other pass, and what the layout measured
                self._drawn.pop(next(iter(self._drawn)))
            self._drawn[key] = strips
        return strips

    def _lines(self, width: int, cursor: Cursor) -> int:
        """How tall the panel is at *cursor*: the most either pass has needed at this place and width."""
        key = (cursor.place_index, max(width, 20), self.app.size)
        floor = self._floor.get(key)
        if floor is None:
            other = replace(cursor, phase="backward" if cursor.phase == "forward" else "forward")
            floor = len(self._strips(width, other))
        floor = max(floor, len(self._strips(width, cursor)))
        if len(self._floor) > 256:
            self._floor.clear()
        self._floor[key] = floor
        return floor

    def get_content_height(self, container, viewport, width: int) -> int:
        self._height = self._lines(width, self.cursor)
        return self._height

    def render_lines(self, crop):
        # the strips are looked up once a repaint, not once a line
        self._frame = self._strips(self.size.width)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        strips = self._frame if self._frame is not None else self._strips(self.size.width)
        return strips[y] if y < len(strips) else Strip.blank(self.size.width, self.visual_style.rich_style)

    def render_view(self, cursor: Cursor, width: int):  # pragma: no cover - each view defines it
        raise NotImplementedError
