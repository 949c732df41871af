"""Pre-built lines of styled cells for dense grids (heatmaps, sparklines).

A rich Text of a few hundred one-character spans is measured, wrapped and split on every frame;
these lines are already laid out, and runs of equal style are merged into one segment.
"""
from __future__ import annotations

from rich.cells import cell_len
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style


class Cells:
    """Rows of (text, style) cells; renders as exactly these lines, never wrapped."""

    def __init__(self):
        self.rows: list[list[tuple[str, Style | None]]] = [[]]

    def add(self, text: str, style: Style | None = None) -> "Cells":
        self.rows[-1].append((text, style))
        return self

    append = add  # so the strip functions can draw into a Text or into Cells alike

    def newline(self) -> "Cells":
        self.rows.append([])
        return self

    @property
    def plain(self) -> str:
        """The characters without styles, one line per row."""
        return "\n".join("".join(t for t, _ in row) for row in self.rows)

    def __rich_console__(self, console, options):
        width = options.max_width
        for row in self.rows:
            used = 0
            run_text, run_style = "", None
            for text, style in row:
                if used + len(text) > width:
                    text = text[: max(width - used, 0)]
                if not text:
                    break
                used += len(text)
                if style == run_style:
                    run_text += text
                else:
                    if run_text:
                        yield Segment(run_text, run_style)
                    run_text, run_style = text, style
            if run_text:
                yield Segment(run_text, run_style)
            yield Segment.line()

    def __rich_measure__(self, console, options):
        w = max((sum(cell_len(t) for t, _ in row) for row in self.rows), default=0)
        return Measurement(w, w)
