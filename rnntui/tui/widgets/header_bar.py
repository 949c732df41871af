from __future__ import annotations

from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.render.header import header
from rnntui.tui.widgets.base import TraceView


class HeaderBar(TraceView):
    """Scenario name, phase, place, step and sample; the description below, cut to one line."""

    def render_view(self, cursor, width: int):
        desc = " ".join(self.trace.info.description.split())
        if len(desc) > width - 1:
            desc = desc[: width - 2] + "…"
        return Group(header(self.trace, cursor), Text(desc, Style(dim=True, italic=True)))
