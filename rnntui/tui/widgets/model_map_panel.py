"""The model map as a panel beside the views (render/model_map.py, compact), where the terminal is wide enough:
a graph model's nodes, what each reads and returns, the cursor's node marked; `M` opens it whole anywhere."""
from __future__ import annotations

from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.render.model_map import model_map
from rnntui.tui.widgets.base import TraceView


class ModelMapPanel(TraceView):
    def render_view(self, cursor, width: int):
        info = self.trace.info
        title = Text.assemble(("Model map", Style(bold=True)), ("  [ ] move through it; M: whole", Style(dim=True)))
        return Group(title, model_map(info, cursor.place(info).entry, compact=True))
