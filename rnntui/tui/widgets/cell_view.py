from __future__ import annotations

from rnntui.render.views import cell_panel
from rnntui.tui.widgets.base import TraceView


class CellView(TraceView):
    """The cell at step t: gates by name, the state update with its numbers; gradients in BPTT."""

    def render_view(self, cursor, width: int):
        return cell_panel(self.trace, cursor, width)
