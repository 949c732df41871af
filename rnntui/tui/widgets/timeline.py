from __future__ import annotations

from textual.reactive import reactive

from rnntui.render.timeline import timeline
from rnntui.render.watches import DebugState, breakpoint_marks
from rnntui.tui.widgets.base import TraceView


class Timeline(TraceView):
    """Input per step, the cursor, and event markers (! non-finite, S saturated, v vanishing, ^ exploding,
    ● a breakpoint holds)."""

    redraws_with_sweep = True   # its event row says how far the sweep is while it runs (its other rows may be ready)

    debug: reactive[DebugState] = reactive(DebugState, repaint=False)
    """Breakpoints whose steps the event row marks: the state's."""

    def watch_debug(self) -> None:
        self.watch_run()

    def take(self, old, state) -> None:
        self.debug = state.debugging

    def render_view(self, cursor, width: int):
        marks = self.run.marks
        if self.debug.breakpoints:
            place = cursor.place(self.run.info)
            steps = breakpoint_marks(self.trace, place, self.debug, defer=True)
            if steps:  # a built-in event keeps its own mark
                here = dict(marks.get(place, {}))
                for t in steps:
                    here.setdefault(t, "break")
                marks = {**marks, place: here}
        return timeline(self.trace, cursor, marks, width, muted=self.run.muted, sweeping=self.run.sweeping)
