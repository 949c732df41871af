from __future__ import annotations

from rnntui.render.analysis import event_marks
from rnntui.render.timeline import timeline
from rnntui.tui.widgets.base import TraceView


class Timeline(TraceView):
    """Input per step, the cursor, and event markers (! non-finite, S saturated, v vanishing, ^ exploding)."""

    def __init__(self, trace, events, **kwargs):
        super().__init__(trace, **kwargs)
        self.marks = event_marks(events)

    def render_view(self, cursor, width: int):
        return timeline(self.trace, cursor, self.marks, width)
