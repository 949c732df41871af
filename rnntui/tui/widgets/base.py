"""A view over the trace: holds the trace, receives the cursor from the app, renders one concept."""
from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget

from rnntui.render.cursor import Cursor


class TraceView(Widget):
    """Subclasses implement `render_view(width, height)` with a function from rnntui.render."""

    cursor: reactive[Cursor] = reactive(Cursor, layout=True)
    """Where the app is in the trace; set by the app, never by the view."""

    def __init__(self, trace, **kwargs):
        super().__init__(**kwargs)
        self.trace = trace

    def render(self):
        return self.render_view(max(self.size.width, 20), max(self.size.height, 3))

    def render_view(self, width: int, height: int):  # pragma: no cover - each view defines it
        raise NotImplementedError
