"""A plain fixed-width table for reports."""
from __future__ import annotations

from rich.console import Group
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

SEP = " │ "


class Columns:
    """A plain fixed-width table: thousands of rows render in a blink, unlike a measured rich Table.

    A row never wraps: where the columns are wider than the page (a text report's 100 columns), the table
    is printed in parts, each a few of the columns beside the first *keys* columns (the step, the sample),
    so every line of every part is one whole row."""

    def __init__(self, title: str, headers: list[tuple[str, str]], keys: int = 1):
        self.title = title
        self.headers = headers            # (name, "<" or ">")
        self.rows: list[list] = []         # str, or (str, Style) for a styled cell
        self.keys = min(keys, len(headers))  # leading columns repeated in every part

    def add(self, *cells) -> None:
        self.rows.append(list(cells))

    def render(self) -> "ColumnsView":
        return ColumnsView(self)


def _plain(c) -> str:
    return c[0] if isinstance(c, tuple) else c


class ColumnsView:
    """The rendered table: laid out at the width it is given (rich's console protocol)."""

    def __init__(self, cols: Columns):
        self.cols = cols
        self.widths = [max([len(h)] + [len(_plain(r[k])) if k < len(r) else 0 for r in cols.rows])
                       for k, (h, _) in enumerate(cols.headers)]

    def full_width(self) -> int:
        return sum(self.widths) + len(SEP) * (len(self.widths) - 1)

    def parts(self, width: int) -> list[list[int]]:
        """The column indices of each part: the key columns, then as many others as fit in *width* (at least one)."""
        keys = list(range(self.cols.keys))
        rest = list(range(self.cols.keys, len(self.widths)))
        if self.full_width() <= width or not rest:
            return [keys + rest]
        base = sum(self.widths[k] for k in keys) + len(SEP) * len(keys)
        parts, cur, used = [], [], base
        for k in rest:
            need = self.widths[k] + (len(SEP) if cur else 0)
            if cur and used + need > width:
                parts.append(keys + cur)
                cur, used = [], base
                need = self.widths[k]
            cur.append(k)
            used += need
        parts.append(keys + cur)
        return parts

    def lines(self, width: int) -> list[Text]:
        cols = self.cols
        parts = self.parts(width)
        out = [Text(cols.title, Style(bold=True))]
        for n, part in enumerate(parts):
            if len(parts) > 1:
                names = ", ".join(cols.headers[k][0] for k in part[cols.keys:])
                out.append(Text(f"({n + 1} of {len(parts)}: {names})", Style(dim=True), no_wrap=True,
                                overflow="ellipsis"))
            head = Text(no_wrap=True, overflow="ellipsis")
            head.append(SEP.join(self._cell(cols.headers[k][0], k) for k in part), Style(bold=True, underline=True))
            out.append(head)
            for r in cols.rows:
                line = Text(no_wrap=True, overflow="ellipsis")
                for i, k in enumerate(part):
                    if i:
                        line.append(SEP, Style(dim=True))
                    c = r[k] if k < len(r) else ""
                    text, style = (c if isinstance(c, tuple) else (c, None))
                    line.append(self._cell(text, k), style)
                out.append(line)
            if n + 1 < len(parts):
                out.append(Text(""))
        return out

    def _cell(self, text: str, k: int) -> str:
        w = self.widths[k]
        return text.rjust(w) if self.cols.headers[k][1] == ">" else text.ljust(w)

    def __rich_console__(self, console, options):
        yield Group(*self.lines(options.max_width))

    def __rich_measure__(self, console, options):
        # as wide as the whole table; it fits itself into less (in parts)
        key = sum(self.widths[: self.cols.keys]) + len(SEP) * self.cols.keys
        least = key + max(self.widths[self.cols.keys:], default=0)
        return Measurement(min(least, options.max_width), min(max(self.full_width(), len(self.cols.title)),
                                                               options.max_width))
