"""States over time as a heatmap: units as rows, steps as columns, the current step marked."""
from __future__ import annotations

import numpy as np
from rich.style import Style

from rnntui.render.colors import DIVERGING_STYLES, SHADE_CHARS, diverging_index, shade_index
from rnntui.render.segments import Cells
from rnntui.render.strips import window

BOLD = Style(bold=True)
DIM = Style(dim=True)
PADDING_CHAR = "╌"  # a padded step of a shorter sample: there is no value to shade
YELLOW = Style(color="yellow")


def _window(values: np.ndarray, t: int, unit: int, width: int, height: int, scale: float | None):
    T, H = values.shape
    start, stop = window(T, t, max(width - 6, 4))
    u0, u1 = window(H, unit, max(height, 1))
    block = values[start:stop, u0:u1]
    if scale is None:
        finite = np.abs(block[np.isfinite(block)])
        scale = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return start, stop, u0, u1, block, scale


def _signed(block: np.ndarray, start: int, length: int | None) -> bool:
    """Whether any value drawn (finite, on a step before the sample's padding from *length*) is negative."""
    drawn = block[: max((length if length is not None else start + block.shape[0]) - start, 0)]
    return bool((drawn[np.isfinite(drawn)] < 0).any())


def title_words(values: np.ndarray, t: int, unit: int, width: int, height: int, scale: float | None = None,
                brief: bool = False, rows: str = "units", length: int | None = None) -> str:
    """What the title says after the label: the steps and units shown and the colour scale (*brief*: the
    scale without the word; *rows*: what the rows are, where they are not units: an attention's source steps):
    ±scale where a value drawn is negative, else the range 0..scale the values drawn lie in (an attention's
    weights, a ReLU's outputs): decided from the values drawn, steps from *length* on being padding."""
    start, stop, u0, u1, block, scale = _window(values, t, unit, width, height, scale)
    shown = f"±{scale:.3g}" if _signed(block, start, length) else f"0..{scale:.3g}"
    return f"t {start}..{stop - 1}  {rows} {u0}..{u1 - 1}  {'' if brief else 'scale '}{shown}"


def state_heatmap(values: np.ndarray, t: int, unit: int, width: int, height: int, label: str,
                  scale: float | None = None, length: int | None = None, brief: bool = False,
                  rows: str = "units") -> Cells:
    """values: (T, H) for one sample. Rows are units around the selected one; columns steps around t.
    Steps from *length* on are the sample's padding: drawn as padding, never as values. A title wider
    than *width* goes on two lines, never cut (`title_words` lets a caller pick a label that fits)."""
    T, H = values.shape
    start, stop, u0, u1, block, scale = _window(values, t, unit, width, height, scale)
    padded = np.arange(start, stop) >= (length if length is not None else T)
    words = title_words(values, t, unit, width, height, scale, brief, rows, length)
    out = Cells()
    out.add(f"{label} ", BOLD)
    if len(label) + 1 + len(words) > width:
        out.newline().add("  ")
    out.add(words, DIM).newline()
    out.add("      " + "".join("▼" if s == t else " " for s in range(start, stop)), YELLOW)
    glyphs = SHADE_CHARS[shade_index(block.T, scale)]
    levels = diverging_index(block.T, scale)
    styles = DIVERGING_STYLES[0][levels]
    if start <= t < stop:
        styles[:, t - start] = DIVERGING_STYLES[1][levels[:, t - start]]
    if padded.any():
        glyphs[:, padded] = PADDING_CHAR
        styles[:, padded] = DIM
    for k, u in enumerate(range(u0, u1)):
        out.newline().add(f"{'▶' if u == unit else ' '}{u:>4} ", BOLD if u == unit else None)
        out.rows[-1].extend(zip(glyphs[k].tolist(), styles[k].tolist()))
    return out
