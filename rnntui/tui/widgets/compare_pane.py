from __future__ import annotations

from rnntui.render.compare import compare_panel
from rnntui.tui.widgets.base import TraceView


class ComparePane(TraceView):
    """`--compare`: run A (the one stepped) and run B at the same place, pass, step and sample, and A - B."""

    def render_view(self, cursor, width: int):
        return compare_panel(self.trace, self.run.other, cursor, width)
