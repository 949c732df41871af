"""Numbers as the views print them. Pure Python: used by the engine's words and by every view."""
from __future__ import annotations

import math

# a term smaller than this share of the largest term it sums with is rounding residue, shown as 0
RESIDUE = 1e-12


def fmt(v: float, width: int = 8) -> str:
    """A number that fits: fixed where readable, scientific for the very small or large."""
    if not math.isfinite(v):
        return ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")).rjust(width)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.2e}".rjust(width)
    return f"{v:.4f}".rjust(width) if abs(v) < 10 else f"{v:.2f}".rjust(width)


def fmt_terms(*values: float, width: int = 0) -> list[str]:
    """Values that sum with one another (terms and their total), each formatted relative to the largest:
    what is below RESIDUE of it is last-bit residue that another machine's BLAS would print differently."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    scale = max(finite, default=0.0)
    return [fmt(0.0 if (math.isfinite(v) and abs(v) <= RESIDUE * scale) else v, width) for v in values]


def compact(v: float, width: int) -> str:
    """The most precise form of *v* that fits in *width* characters (never cut mid-number)."""
    if not math.isfinite(v):
        return ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))[:width]

    def short_e(digits: int) -> str:  # 7.6e-05 -> 7.6e-5
        mantissa, exp = f"{v:.{digits}e}".split("e")
        return f"{mantissa}e{int(exp)}"

    for text in (f"{v:.3g}", f"{v:.2g}", short_e(1), short_e(0), f"{v:.1g}"):
        if len(text) <= width:
            return text
    return "#" * width
