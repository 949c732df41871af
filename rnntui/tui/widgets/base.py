"""A view over the trace: holds the trace, receives the cursor from the app, renders one concept."""
from __future__ import annotations

import warnings

import numpy as np
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from rnntui.render.cursor import Cursor
from rnntui.tui.strips import to_strips


class TraceView(Widget):
    """Subclasses implement `render_view(width, height)` with a function from rnntui.render."""

    cursor: reactive[Cursor] = reactive(Cursor, repaint=False)
    """Where the app is in the trace; set by the app, never by the view."""

    def __init__(self, trace, **kwargs):
        super().__init__(**kwargs)
        self.trace = trace
        self._cached = None
        self._frame = None

    def watch_cursor(self, old: Cursor, new: Cursor) -> None:
        # a new step keeps every panel's height; a new pass or entry may change it
        shape_changed = (old.phase, old.place_index) != (new.phase, new.place_index)
        self.refresh(layout=shape_changed)

    def _strips(self, width: int) -> list[Strip]:
        width = max(width, 20)
        height = max(self.size.height, 3)
        base = self.visual_style.rich_style
        key = (self.cursor, width, height, self.app.size, base)
        if self._cached is None or self._cached[0] != key:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                renderable = self.render_view(width, height)
            self._cached = (key, to_strips(renderable, width, base, self.app))
        return self._cached[1]

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._strips(width))

    def render_lines(self, crop):
        # the key is worked out once a repaint, not once a line
        self._frame = self._strips(self.size.width)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        strips = self._frame if self._frame is not None else self._strips(self.size.width)
        return strips[y] if y < len(strips) else Strip.blank(self.size.width, self.visual_style.rich_style)

    def render_view(self, width: int, height: int):  # pragma: no cover - each view defines it
        raise NotImplementedError
