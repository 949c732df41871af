"""Small rich Texts: value bars, unit strips, sparklines on linear and log scales."""
from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from rnntui.render.colors import NONFINITE, color_style, diverging, fmt, sequential, shade

BLOCKS = "▁▂▃▄▅▆▇█"
DIM = Style(dim=True)
DIM_REVERSE = Style(dim=True, reverse=True)


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
    for k, v in enumerate(np.asarray(values, dtype=float)):
        ch = shade(v, scale) if math.isfinite(v) else "!"
        colour = sequential(v) if gate else diverging(v, scale)
        text.append(ch if ch != " " else "·", color_style(colour, reverse=(k == selected)))
    return text


def log_sparkline(values: np.ndarray, marker: int | None = None, lo: float | None = None, hi: float | None = None,
                  into=None):
    """Bars on a log10 scale (zeros and non-finite values shown apart); the marker in reverse video."""
    v = np.asarray(values, dtype=float)
    pos = v[np.isfinite(v) & (v > 0)]
    text = Text() if into is None else into
    if pos.size == 0:
        for k in range(v.size):
            text.append("·" if np.isfinite(v[k]) else "!", DIM_REVERSE if k == marker else DIM)
        return text
    lo = math.log10(pos.min()) if lo is None else lo
    hi = math.log10(pos.max()) if hi is None else hi
    span = max(hi - lo, 1e-12)
    for k, x in enumerate(v):
        here = k == marker
        if not math.isfinite(x):
            text.append("!", color_style(NONFINITE, reverse=here, bold=True))
        elif x <= 0:
            text.append("·", DIM_REVERSE if here else DIM)
        else:
            a = (math.log10(x) - lo) / span if span > 1e-12 else 1.0
            text.append(BLOCKS[min(int(a * (len(BLOCKS) - 1) + 0.5), len(BLOCKS) - 1)],
                        color_style(sequential(0.3 + 0.7 * a), reverse=here))
    return text


def window(T: int, t: int, width: int) -> tuple[int, int]:
    """The [start, stop) range of steps shown in *width* columns, keeping step t in view."""
    if T <= width:
        return 0, T
    start = min(max(t - width // 2, 0), T - width)
    return start, start + width
