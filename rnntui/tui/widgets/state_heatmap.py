from __future__ import annotations

from rnntui.render.views import states
from rnntui.tui.widgets.base import TraceView


class StateHeatmap(TraceView):
    """h (and c) as steps x units heatmaps, both directions of a bidirectional entry in reading order."""

    def render_view(self, cursor, width: int):
        # the heatmaps share what the screen leaves below the panels above them
        rows = max(self.app.size.height - 18, 6) if self.is_mounted else 8
        return states(self.trace, cursor, width, rows)
