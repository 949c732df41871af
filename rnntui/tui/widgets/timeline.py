from __future__ import annotations

from rnntui.render.timeline import timeline
from rnntui.tui.widgets.base import TraceView


class Timeline(TraceView):
    """Input per step, the cursor, and event markers (! non-finite, S saturated, v vanishing, ^ exploding)."""

    def render_view(self, cursor, width: int):
        return timeline(self.trace, cursor, self.run.marks, width)
