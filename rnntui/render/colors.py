"""Colour scales. Every colour is paired with a character so the view still reads under NO_COLOR."""
from __future__ import annotations

import math
from functools import lru_cache

from rich.color import Color
from rich.style import Style

SHADES = " ░▒▓█"


LEVELS = 32  # colours are quantised so each one is built once


@lru_cache(maxsize=None)
def _diverging(level: int) -> Color:
    a = abs(level) / LEVELS
    base = (40, 40, 48)
    top = (230, 80, 60) if level >= 0 else (70, 130, 230)
    return Color.from_rgb(*(int(b + (t - b) * a) for b, t in zip(base, top)))


@lru_cache(maxsize=None)
def _sequential(level: int) -> Color:
    a = level / LEVELS
    return Color.from_rgb(int(30 + 220 * a), int(30 + 190 * a), int(50 + 40 * a))


NONFINITE = Color.from_rgb(255, 0, 255)


def diverging(v: float, scale: float = 1.0) -> Color:
    """Blue for negative, red for positive, dark for zero."""
    if not math.isfinite(v):
        return NONFINITE
    a = min(abs(v) / scale, 1.0) if scale > 0 else 0.0
    return _diverging(int(round(a * LEVELS)) * (1 if v >= 0 else -1))


def sequential(a: float) -> Color:
    """0..1 from dark to bright yellow (gate openness, magnitudes)."""
    if not math.isfinite(a):
        return NONFINITE
    return _sequential(int(round(min(max(a, 0.0), 1.0) * LEVELS)))


@lru_cache(maxsize=None)
def _style(color: Color, reverse: bool = False, bold: bool = False) -> Style:
    return Style(color=color, reverse=reverse or None, bold=bold or None)


def color_style(color: Color, reverse: bool = False, bold: bool = False) -> Style:
    """A cached Style: views build thousands per frame."""
    return _style(color, reverse, bold)


def shade(v: float, scale: float = 1.0) -> str:
    if not math.isfinite(v):
        return "!"
    a = min(abs(v) / scale, 1.0) if scale > 0 else 0.0
    return SHADES[min(int(a * (len(SHADES) - 1) + 0.5), len(SHADES) - 1)]


def cell_style(v: float, scale: float = 1.0) -> Style:
    return Style(color=diverging(v, scale))


def fmt(v: float, width: int = 8) -> str:
    """A number that fits: fixed where readable, scientific for the very small or large."""
    if not math.isfinite(v):
        return ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")).rjust(width)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.2e}".rjust(width)
    return f"{v:.4f}".rjust(width) if abs(v) < 10 else f"{v:.2f}".rjust(width)
