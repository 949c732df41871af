"""Small rich Texts: value bars, unit strips, sparklines on linear and log scales."""
from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from rnntui.numfmt import fmt
from rnntui.render.colors import (DIVERGING_STYLES, NONFINITE, SEQUENTIAL_STYLES, SHADE_CHARS, color_style,
                                  diverging, diverging_index, sequential, sequential_index, shade_index)
from rnntui.render.segments import Cells

BLOCKS = "▁▂▃▄▅▆▇█"
DIM = Style(dim=True)
DIM_REVERSE = Style(dim=True, reverse=True)
_BLOCKS = np.array(list(BLOCKS), dtype=object)
_NONFINITE_STYLES = (color_style(NONFINITE, bold=True), color_style(NONFINITE, reverse=True, bold=True))


def value_bar(v: float, width: int = 20, lo: float = -1.0, hi: float = 1.0, gate: bool = False, into=None):
    """A bar for one value in [lo, hi], drawn from zero (or from lo for gates), with its number.
    Appends to *into* (a Text or a Cells row) when given, else returns a new Text."""
    text = Text() if into is None else into
    if not math.isfinite(v):
        text.append("!" * width, color_style(NONFINITE, bold=True))
    elif gate:
        n = int(round(min(max((v - lo) / (hi - lo), 0), 1) * width))
        text.append("█" * n, color_style(sequential(v)))
        text.append("·" * (width - n), DIM)
    else:
        half = width // 2
        m = min(abs(v) / max(abs(lo), abs(hi)), 1.0)
        n = int(round(m * half))
        left = " " * half if v >= 0 else " " * (half - n) + "█" * n
        right = "█" * n + " " * (half - n) if v >= 0 else " " * half
        style = color_style(diverging(v, max(abs(lo), abs(hi))))
        text.append(left, style)
        text.append("│", DIM)
        text.append(right, style)
    text.append(" " + fmt(float(v)))
    return text


def unit_strip(values: np.ndarray, selected: int | None = None, scale: float = 1.0, gate: bool = False,
               into=None):
    """One character per unit: shade by magnitude, colour by value; the selected unit in reverse."""
    text = Text() if into is None else into
    v = np.asarray(values, dtype=float).reshape(-1)
    chars = SHADE_CHARS[shade_index(v, scale)]
    index, table = (sequential_index(v), SEQUENTIAL_STYLES) if gate else (diverging_index(v, scale), DIVERGING_STYLES)
    styles = table[0][index]
    if selected is not None and 0 <= selected < v.size:
        styles[selected] = table[1][index[selected]]
    _extend(text, chars, styles)
    return text


def _extend(text, chars, styles) -> None:
    if isinstance(text, Cells):
        text.rows[-1].extend(zip(chars.tolist(), styles.tolist()))
    else:
        for ch, st in zip(chars.tolist(), styles.tolist()):
            text.append(ch, st)


def log_sparkline(values: np.ndarray, marker: int | None = None, lo: float | None = None, hi: float | None = None,
                  into=None):
    """Bars on a log10 scale (zeros and non-finite values shown apart); the marker in reverse video."""
    v = np.asarray(values, dtype=float).reshape(-1)
    finite = np.isfinite(v)
    positive = finite & (v > 0)
    pos = v[positive]
    text = Text() if into is None else into
    here = np.arange(v.size) == (marker if marker is not None else -1)
    if pos.size == 0:
        chars = np.where(finite, "·", "!").astype(object)
        styles = np.where(here, DIM_REVERSE, DIM).astype(object)
        _extend(text, chars, styles)
        return text
    lo = math.log10(pos.min()) if lo is None else lo
    hi = math.log10(pos.max()) if hi is None else hi
    span = max(hi - lo, 1e-12)
    with np.errstate(all="ignore"):
        a = np.where(positive, (np.log10(np.where(positive, v, 1.0)) - lo) / span, 0.0) if span > 1e-12 \
            else np.ones_like(v)
    # a value outside lo..hi (a range given for a longer series) gets the lowest or highest bar
    level = np.clip(np.trunc(a * (len(BLOCKS) - 1) + 0.5), 0, len(BLOCKS) - 1).astype(np.intp)
    chars = _BLOCKS[level]
    index = sequential_index(0.3 + 0.7 * a)
    styles = np.where(here, SEQUENTIAL_STYLES[1][index], SEQUENTIAL_STYLES[0][index])
    chars[~positive] = "·"
    styles[finite & ~positive] = np.where(here, DIM_REVERSE, DIM)[finite & ~positive]
    chars[~finite] = "!"
    styles[~finite] = np.where(here, _NONFINITE_STYLES[1], _NONFINITE_STYLES[0])[~finite]
    _extend(text, chars, styles)
    return text


def window(T: int, t: int, width: int) -> tuple[int, int]:
    """The [start, stop) range of steps shown in *width* columns, keeping step t in view."""
    if T <= width:
        return 0, T
    start = min(max(t - width // 2, 0), T - width)
    return start, start + width
