from __future__ import annotations

from rnntui.render.views import gradients
from rnntui.tui.widgets.base import TraceView


class GradientPlot(TraceView):
    """dL/dh_t per step on a log scale, per-step parameter-gradient norms, and the verdict (measured in a
    worker after the first paint where it costs more than a few ms: `RnntuiApp._measure_verdicts`)."""

    def render_view(self, cursor, width: int):
        return gradients(self.trace, cursor, width, defer=True)
