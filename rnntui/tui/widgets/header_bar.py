from __future__ import annotations

from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.render.panels import header
from rnntui.tui.usertext import one_line
from rnntui.tui.widgets.base import TraceView


class HeaderBar(TraceView):
    """Scenario name, phase, place, step and sample; the description below, cut to one line."""

    def render_view(self, cursor, width: int):
        desc = one_line(self.trace.info.description, width - 1)
        return Group(header(self.trace, cursor), Text(desc, Style(dim=True, italic=True)))
