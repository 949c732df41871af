"""A view over the trace: holds the trace, receives the cursor from the app, renders one concept."""
from __future__ import annotations

import warnings

import numpy as np
from textual.reactive import reactive
from textual.widget import Widget

from rnntui.render.cursor import Cursor


class TraceView(Widget):
    """Subclasses implement `render_view(width, height)` with a function from rnntui.render."""

    cursor: reactive[Cursor] = reactive(Cursor, repaint=False)
    """Where the app is in the trace; set by the app, never by the view."""

    def __init__(self, trace, **kwargs):
        super().__init__(**kwargs)
        self.trace = trace
        self._cached = None

    def watch_cursor(self, old: Cursor, new: Cursor) -> None:
        # a new step keeps every panel's height; a new pass or entry may change it
        shape_changed = (old.phase, old.place_index) != (new.phase, new.place_index)
        self.refresh(layout=shape_changed)

    def render(self):
        width, height = max(self.size.width, 20), max(self.size.height, 3)
        key = (self.cursor, width, height, self.app.size)
        # auto-height widgets are rendered once to measure and once to draw: render once
        if self._cached is None or self._cached[0] != key:
            # a run that overflowed is shown as it is; NumPy's warnings would write over the screen
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                self._cached = (key, self.render_view(width, height))
        return self._cached[1]

    def render_view(self, width: int, height: int):  # pragma: no cover - each view defines it
        raise NotImplementedError
