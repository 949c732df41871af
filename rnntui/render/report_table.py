"""A plain fixed-width table for reports."""
from __future__ import annotations

import re
from functools import cached_property

from rich.cells import cell_len
from rich.console import Group
from rich.control import STRIP_CONTROL_CODES
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

SEP = " │ "
# what rich's Text takes out of what it is given (a cell holding one goes through Text, as before)
_CONTROL = re.compile("[" + "".join(re.escape(chr(c)) for c in STRIP_CONTROL_CODES) + "]")


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

    @cached_property
    def widths(self) -> list[int]:
        """Each column's width in characters (measured when first laid out: an HTML report never is)."""
        cols = self.cols
        return [max([len(h)] + [len(_plain(r[k])) if k < len(r) else 0 for r in cols.rows])
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

    def lines(self, width: int, plain: bool = False) -> list:
        """The title, each part's heading and rows, as Text; with *plain*, each row as its segments."""
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
            for pieces in self.rows(part, Style(dim=True)):
                out.append(pieces if plain else Text.assemble(*((seg.text, seg.style) for seg in pieces), no_wrap=True,
                                                              overflow="ellipsis"))
            if n + 1 < len(parts):
                out.append(Text(""))
        return out

    def _cell(self, text: str, k: int) -> str:
        w = self.widths[k]
        return text.rjust(w) if self.cols.headers[k][1] == ">" else text.ljust(w)

    def __rich_console__(self, console, options):
        """The lines as segments, made here rather than by rich's Text (wrap, split, crop: most of an HTML
        report's time at thousands of steps): a row that fits is its cells and separators as they are, the
        same segments the Text would give; one that does not (or holds a control code) goes through Text."""
        width = options.max_width
        newline = Segment.line()
        for line in self.lines(width, plain=True):
            if isinstance(line, Text):
                yield from console.render(line, options)
                continue
            text = "".join([seg.text for seg in line])
            if (len(text) if text.isascii() else cell_len(text)) > width or _CONTROL.search(text):
                yield from console.render(Text.assemble(*((seg.text, seg.style) for seg in line), no_wrap=True,
                                                        overflow="ellipsis"), options)
                continue
            yield from line
            yield newline

    def rows(self, part: list[int], dim: Style):
        """Each row of *part* as segments: its cells, laid out, between dim separators."""
        sep = Segment(SEP, dim)
        layout = [(k, self.widths[k], self.cols.headers[k][1] == ">") for k in part]
        for r in self.cols.rows:
            out = []
            n = len(r)
            for k, w, right in layout:
                if out:
                    out.append(sep)
                c = r[k] if k < n else ""
                text, style = (c if isinstance(c, tuple) else (c, None))
                out.append(Segment(text.rjust(w) if right else text.ljust(w), style))
            yield out

    def __rich_measure__(self, console, options):
        # as wide as the whole table; it fits itself into less (in parts)
        key = sum(self.widths[: self.cols.keys]) + len(SEP) * self.cols.keys
        least = key + max(self.widths[self.cols.keys:], default=0)
        return Measurement(min(least, options.max_width), min(max(self.full_width(), len(self.cols.title)),
                                                               options.max_width))
