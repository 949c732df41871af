from __future__ import annotations

from rnntui.render.views import gradients
from rnntui.tui.widgets.base import TraceView


class GradientPlot(TraceView):
    """dL/dh_t per step on a log scale, per-step parameter-gradient norms, and the verdict."""

    def render_view(self, cursor, width: int):
        return gradients(self.trace, cursor, width)
