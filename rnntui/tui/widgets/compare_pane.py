from __future__ import annotations

from rich.console import Group

from rnntui.render.compare import compare_panel
from rnntui.tui.widgets.base import TraceView


class ComparePane(TraceView):
    """`--compare` or a what-if: run A (the one stepped) and run B at the same place, pass, step and sample,
    and A - B. Hidden while there is no B."""

    def take(self, old, state) -> None:
        self.display = state.run.other is not None

    def render_view(self, cursor, width: int):
        if self.run.other is None:
            return Group()
        return compare_panel(self.trace, self.run.other, cursor, width, self.run.labels)
