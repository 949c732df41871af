from __future__ import annotations

from textual.reactive import reactive

from rnntui.render.watches import COMPUTING, DebugState, watch_panel
from rnntui.tui.widgets.base import TraceView


class WatchPane(TraceView):
    """Watched expressions with their value at the cursor's step, and the breakpoints with where they hold
    (empty until the user adds one or the scenario's debug: section opens with some)."""

    debug: reactive[DebugState] = reactive(DebugState, repaint=False)
    """What is watched and where to stop: the state's."""

    waiting_words: reactive[str] = reactive(COMPUTING, repaint=False)
    """What an expression whose values wait for a costly key (a Jacobian norm) says: set by the app, which
    computes the key in a worker (or says Esc cancelled it)."""

    def watch_debug(self) -> None:
        self.watch_run()  # drawn for other expressions: measure and draw again

    def take(self, old, state) -> None:
        self.debug = state.debugging

    def watch_waiting_words(self) -> None:
        self.watch_run()

    def render_view(self, cursor, width: int):
        return watch_panel(self.trace, cursor, self.debug, width, defer=self.waiting_words)
