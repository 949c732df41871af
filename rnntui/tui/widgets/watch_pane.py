from __future__ import annotations

from textual.reactive import reactive

from rnntui.render.watches import DebugState, watch_panel
from rnntui.tui.widgets.base import TraceView


class WatchPane(TraceView):
    """Watched expressions with their value at the cursor's step, and the breakpoints with where they hold
    (empty until the user adds one or the scenario's debug: section opens with some)."""

    debug: reactive[DebugState] = reactive(DebugState, repaint=False)
    """What is watched and where to stop; set by the app."""

    def watch_debug(self) -> None:
        self.watch_run()  # drawn for other expressions: measure and draw again

    def render_view(self, cursor, width: int):
        return watch_panel(self.trace, cursor, self.debug, width)
