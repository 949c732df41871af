"""Colour scales. Every colour is paired with a character so the view still reads under NO_COLOR."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
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


# --- the same scales for whole arrays at once (views draw hundreds of cells a frame) -----------------

SHADE_CHARS = np.array([c if c != " " else "·" for c in SHADES] + ["!"], dtype=object)
"""SHADES per index (|v| / scale rounded to the nearest level), with '·' for a blank and '!' (the last
index) for a non-finite value."""
DIVERGING_STYLES = [np.array([color_style(_diverging(level), reverse=rev) for level in range(-LEVELS, LEVELS + 1)]
                             + [color_style(NONFINITE, reverse=rev)], dtype=object) for rev in (False, True)]
"""color_style(diverging(...), reverse) per index of diverging_index(), plain and reversed."""
SEQUENTIAL_STYLES = [np.array([color_style(_sequential(level), reverse=rev) for level in range(LEVELS + 1)]
                              + [color_style(NONFINITE, reverse=rev)], dtype=object) for rev in (False, True)]
"""color_style(sequential(...), reverse) per index of sequential_index(), plain and reversed."""


def _magnitude(v: np.ndarray, scale: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        a = np.minimum(np.abs(v) / scale, 1.0) if scale > 0 else np.zeros_like(v)
    return np.where(np.isfinite(v), a, 0.0)


def shade_index(v: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Indices into SHADE_CHARS: the shade of each value."""
    v = np.asarray(v, dtype=np.float64)
    idx = np.minimum(np.floor(_magnitude(v, scale) * (len(SHADES) - 1) + 0.5), len(SHADES) - 1).astype(np.intp)
    idx[~np.isfinite(v)] = len(SHADES)
    return idx


def diverging_index(v: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Indices into DIVERGING_STYLES: diverging() of each value."""
    v = np.asarray(v, dtype=np.float64)
    idx = np.round(_magnitude(v, scale) * LEVELS).astype(np.intp) * np.where(v >= 0, 1, -1) + LEVELS
    idx[~np.isfinite(v)] = 2 * LEVELS + 1
    return idx


def sequential_index(a: np.ndarray) -> np.ndarray:
    """Indices into SEQUENTIAL_STYLES: sequential() of each value."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(all="ignore"):
        idx = np.round(np.clip(np.where(np.isfinite(a), a, 0.0), 0.0, 1.0) * LEVELS).astype(np.intp)
    idx[~np.isfinite(a)] = LEVELS + 1
    return idx
