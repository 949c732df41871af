"""A plain fixed-width table for reports."""
from __future__ import annotations

from rich.console import Group
from rich.style import Style
from rich.text import Text


class Columns:
    """A plain fixed-width table: thousands of rows render in a blink, unlike a measured rich Table."""

    def __init__(self, title: str, headers: list[tuple[str, str]]):
        self.title = title
        self.headers = headers            # (name, "<" or ">")
        self.rows: list[list] = []         # str, or (str, Style) for a styled cell

    def add(self, *cells) -> None:
        self.rows.append(list(cells))

    def render(self) -> Group:
        def plain(c):
            return c[0] if isinstance(c, tuple) else c

        widths = [max([len(h)] + [len(plain(r[k])) for r in self.rows]) for k, (h, _) in enumerate(self.headers)]
        head = Text(self.title + "\n", Style(bold=True))
        head.append(" │ ".join(h.rjust(w) if a == ">" else h.ljust(w)
                               for (h, a), w in zip(self.headers, widths)), Style(bold=True, underline=True))
        lines = [head]
        for r in self.rows:
            line = Text()
            for k, (c, (_, a), w) in enumerate(zip(r, self.headers, widths)):
                if k:
                    line.append(" │ ", Style(dim=True))
                text, style = (c if isinstance(c, tuple) else (c, None))
                line.append(text.rjust(w) if a == ">" else text.ljust(w), style)
            lines.append(line)
        return Group(*lines)
