from __future__ import annotations

from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.render.panels import header
from rnntui.tui.usertext import one_line
from rnntui.tui.widgets.base import TraceView


class HeaderBar(TraceView):
    """Scenario name (cut to one line), phase, place, step and sample; the description below, cut to one line."""

    def render_view(self, cursor, width: int):
        # the name line is cut, never wrapped: a long name would push the phase and step (what
        # the header is for) out of its three lines
        name_line, *where = header(self.trace, cursor).split("\n")
        name_line.no_wrap, name_line.overflow = True, "ellipsis"
        desc = one_line(self.trace.info.description, width - 1)
        return Group(name_line, *where, Text(desc, Style(dim=True, italic=True)))
