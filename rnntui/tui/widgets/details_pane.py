from __future__ import annotations

from rnntui.render.views import details
from rnntui.tui.widgets.base import TraceView


class DetailsPane(TraceView):
    """Exact numbers of the selected vector (min, max, mean, saturation) and of the selected unit."""

    def render_view(self, cursor, width: int):
        return details(self.trace, cursor)
