"""The colour scales' shade character for one value, written out by hand: the reference the array
versions (`colors.shade_index`, what every view draws) are checked against."""
from __future__ import annotations

import math

from rnntui.render.colors import SHADES


def shade(v: float, scale: float = 1.0) -> str:
    """The character of |v| / scale rounded to the nearest of SHADES' levels; '!' for a non-finite value."""
    if not math.isfinite(v):
        return "!"
    a = min(abs(v) / scale, 1.0) if scale > 0 else 0.0
    return SHADES[min(int(a * (len(SHADES) - 1) + 0.5), len(SHADES) - 1)]
