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

    def lines(self, width: int, over=None) -> list[tuple[list[Segment], int]]:
        """Each row cut to *width* cells as merged segments, with the row's length in cells; *over*
        maps each style to the one drawn (a view puts its background under them).
        Styles come from caches, so equal styles are mostly the same object: `is` finds the runs
        without rich's slower equality (an equal style that is another object only splits a run)."""
        out = []
        for row in self.rows:
            if not row:
                out.append(([], 0))
                continue
            texts, styles = zip(*row)
            used = sum(map(len, texts))
            if used > width:
                texts, styles, used = _cut(texts, styles, width)
            n = len(texts)
            starts = [0] + [k for k in range(1, n) if styles[k] is not styles[k - 1]]
            ends = starts[1:] + [n]
            segments = [Segment("".join(texts[a:b]) if b - a > 1 else texts[a],
                                styles[a] if over is None else over(styles[a]))
                        for a, b in zip(starts, ends)]
            out.append(([seg for seg in segments if seg.text], used))
        return out

    def __rich_console__(self, console, options):
        for segments, _ in self.lines(options.max_width):
            yield from segments
            yield Segment.line()

    def __rich_measure__(self, console, options):
        w = max((sum(cell_len(t) for t, _ in row) for row in self.rows), default=0)
        return Measurement(w, w)


def _cut(texts, styles, width: int):
    """The cells of a row that fit in *width*, the last one cut short."""
    kept_t, kept_s, used = [], [], 0
    for text, style in zip(texts, styles):
        if used + len(text) > width:
            text = text[: width - used]
            if not text:
                break
        kept_t.append(text)
        kept_s.append(style)
        used += len(text)
    return kept_t, kept_s, used
