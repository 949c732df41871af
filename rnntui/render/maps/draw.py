"""Maps as pre-laid-out cells: colour half-blocks (two pixels a cell), or, for a console without
colour (NO_COLOR, plain text files, pipes), one shade character a pixel with the sign kept.

Colours are picked for whole arrays at once and every style comes from a cache, so a frame builds
no Style and runs of equal style merge (segments.Cells).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
from rich.color import Color
from rich.style import Style

from rnntui.render.colors import LEVELS, NONFINITE, _diverging, diverging_index
from rnntui.render.segments import Cells

MARK = Color.from_rgb(255, 230, 0)
POSITIVE = " ░▒▓█"
NEGATIVE = " -=≡■"
MARKED = Style(bold=True, reverse=True)  # a marked pixel without colour: 'X'

# colour indices: diverging_index() (0..2 LEVELS, then non-finite), the marker, and "no pixel"
# (the bottom half of the last cell of a map with an odd number of rows)
_MARK_INDEX = 2 * LEVELS + 2
_NO_PIXEL = 2 * LEVELS + 3
_BASE = 2 * LEVELS + 4


def map_scale(a: np.ndarray) -> float:
    """The largest finite magnitude: the colour scale of a map (1 for an all-zero or empty map)."""
    f = np.abs(np.asarray(a, dtype=float))
    f = f[np.isfinite(f)]
    return float(f.max()) if f.size and f.max() > 0 else 1.0


def _colour(index: int) -> Color | None:
    if index == _NO_PIXEL:
        return None
    if index == _MARK_INDEX:
        return MARK
    if index == 2 * LEVELS + 1:
        return NONFINITE
    return _diverging(index - LEVELS)


@lru_cache(maxsize=None)
def _half_style(code: int) -> Style:
    """The style of a half-block cell: top pixel as foreground, bottom pixel as background."""
    return Style(color=_colour(code // _BASE), bgcolor=_colour(code % _BASE))


def colour_index(a: np.ndarray, scale: float) -> np.ndarray:
    """Each pixel's colour index (diverging_index of its value); cache it, it does not depend on the cursor."""
    return diverging_index(np.atleast_2d(np.asarray(a, dtype=float)), scale)


def _marked(index: np.ndarray, mark) -> np.ndarray:
    if not mark:
        return index
    index = index.copy()
    H, W = index.shape
    for y, x in mark:
        if 0 <= y < H and 0 <= x < W:
            index[y, x] = _MARK_INDEX
    return index


def halfblock_rows(index: np.ndarray, mark=(), max_width: int | None = None) -> Cells:
    """Rows of '▀' from colour indices (H, W): the top pixel is the foreground, the bottom one the background."""
    index = _marked(index[:, :max_width] if max_width else index, mark)
    H, W = index.shape
    if H % 2:
        index = np.vstack([index, np.full((1, W), _NO_PIXEL, dtype=index.dtype)])
    codes = index[0::2] * _BASE + index[1::2]
    unique, inverse = np.unique(codes, return_inverse=True)
    table = np.empty(len(unique), dtype=object)
    table[:] = [_half_style(int(c)) for c in unique]
    styles = table[inverse.reshape(codes.shape)]
    out = Cells()
    out.rows = [list(zip(["▀"] * W, row)) for row in styles.tolist()]
    return out


_POSITIVE = np.array(list(POSITIVE), dtype=object)
_NEGATIVE = np.array(list(NEGATIVE), dtype=object)


def shades(a: np.ndarray, mark=(), scale: float | None = None, max_width: int | None = None) -> Cells:
    """One character a pixel: ' ░▒▓█' for positive, ' -=≡■' for negative, '!' non-finite, 'X' marked."""
    a = np.atleast_2d(np.asarray(a, dtype=float))
    a = a[:, :max_width] if max_width else a
    scale = map_scale(a) if scale is None else scale
    scale = scale if scale > 0 else 1.0
    with np.errstate(all="ignore"):
        level = np.minimum(np.floor(np.where(np.isfinite(a), np.abs(a), 0.0) / scale * (len(POSITIVE) - 1) + 0.5),
                           len(POSITIVE) - 1).astype(np.intp)
    chars = np.where(a >= 0, _POSITIVE[level], _NEGATIVE[level])
    chars[~np.isfinite(a)] = "!"
    styles = np.full(a.shape, None, dtype=object)
    for y, x in mark:
        if 0 <= y < a.shape[0] and 0 <= x < a.shape[1]:
            chars[y, x], styles[y, x] = "X", MARKED
    out = Cells()
    out.rows = [list(zip(c, s)) for c, s in zip(chars.tolist(), styles.tolist())]
    return out


def _has_colour(console) -> bool:
    return console.color_system is not None and not console.no_color


class Drawing(Cells):
    """Cells drawn in colour (what the TUI shows), and drawn again without colour for a console that
    has none: *draw(colour)* makes either."""

    def __init__(self, draw: Callable[[bool], Cells]):
        super().__init__()
        self._draw = draw
        self.rows = draw(True).rows

    def drawn(self, colour: bool) -> Cells:
        return self if colour else self._draw(False)

    def _for(self, console) -> Cells:
        return self.drawn(_has_colour(console))

    def __rich_console__(self, console, options):
        yield from Cells.__rich_console__(self._for(console), console, options)

    def __rich_measure__(self, console, options):
        return Cells.__rich_measure__(self._for(console), console, options)


class HeatMap(Drawing):
    """One map: half-blocks in colour, shade characters without; *mark* is one (y, x) or a set of
    them (the pixels drawn in the marker colour, or as 'X'). *index*: colour_index(a, scale) when the
    caller keeps it (a map's colours do not change as the cursor moves over it)."""

    def __init__(self, a, mark=None, scale=None, max_width=None, index=None):
        self.a = np.atleast_2d(np.asarray(a, dtype=float))
        self.mark = {mark} if isinstance(mark, tuple) else set(mark or ())
        self.scale = map_scale(self.a) if scale is None else scale
        self.max_width = max_width
        self._index = index
        super().__init__(self._render)

    def _render(self, colour: bool) -> Cells:
        if not colour:
            return shades(self.a, self.mark, self.scale, self.max_width)
        index = self._index if self._index is not None else colour_index(self.a, self.scale)
        return halfblock_rows(index, self.mark, self.max_width)


def halfblock(a: np.ndarray, mark: tuple[int, int] | None = None, scale: float | None = None,
              max_width: int | None = None) -> HeatMap:
    return HeatMap(a, mark, scale, max_width)


# --- laying cells out side by side ------------------------------------------------------------------

def width_of(cells: Cells) -> int:
    return max((sum(len(t) for t, _ in row) for row in cells.rows), default=0)


def stack(*parts: Cells) -> Cells:
    """Parts one under the other."""
    out = Cells()
    out.rows = [row for part in parts for row in part.rows]
    return out


def beside(blocks: list[Cells], gap: int) -> Cells:
    """Blocks side by side, each padded to its own width, *gap* spaces between them."""
    widths = [width_of(b) for b in blocks]
    height = max((len(b.rows) for b in blocks), default=0)
    out = Cells()
    out.rows = []
    for y in range(height):
        row: list = []
        for k, (block, w) in enumerate(zip(blocks, widths)):
            cells = block.rows[y] if y < len(block.rows) else []
            row.extend(cells)
            pad = w - sum(len(t) for t, _ in cells) + (gap if k + 1 < len(blocks) else 0)
            if pad:
                row.append((" " * pad, None))
        out.rows.append(row)
    return out


def line(text: str, style: Style | None = None) -> Cells:
    return Cells().add(text, style)
