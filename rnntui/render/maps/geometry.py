"""Window arithmetic of conv and pool entries: which input pixels an output position reads.

NumPy only, nothing of rich: the views draw what these functions pick.
"""
from __future__ import annotations

import numpy as np

from rnntui.engine import keys
from rnntui.engine.handlers import handler


def as_maps(a: np.ndarray) -> np.ndarray:
    """(C, H, W) from a (C, H, W) or (C, L) map: a 1-d map is one row."""
    a = np.asarray(a)
    return a if a.ndim == 3 else a[:, None, :]


def as_yx(pos: tuple[int, ...]) -> tuple[int, int]:
    """An output position as (y, x): a 1-d position (l,) is row 0."""
    return (int(pos[0]), int(pos[1])) if len(pos) == 2 else (0, int(pos[0]))


def entry_input(trace, e) -> np.ndarray:
    """What the entry read: the input, or the previous entry's output (the whole batch)."""
    return trace[keys.input_of(trace.info.entries, e.index)]


def input_maps(trace, e, b: int) -> np.ndarray:
    """Sample b of what the entry read, as (C, H, W)."""
    return as_maps(entry_input(trace, e)[b])


def first_input_channel(e, in_channels: int, ch: int) -> int:
    """The first input channel output channel *ch* reads: its group's first for a conv, itself for a pool."""
    if not handler(e.type).conv:
        return ch
    groups = e.options["groups"]
    return (ch // (e.out_shape[0] // groups)) * (in_channels // groups)


def window(e, pos: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The input rows and columns the output at *pos* reads, kernel tap by tap. Coordinates are of the
    unpadded input: a negative one or one past the edge falls in the padding."""
    o = e.options
    y, x = as_yx(pos)
    rows = y * o["stride"][0] + np.arange(o["kernel"][0]) * o["dilation"][0] - o["pad"][0]
    cols = x * o["stride"][1] + np.arange(o["kernel"][1]) * o["dilation"][1] - o["pad"][2]
    return rows, cols


def inside(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The taps of a window that fall on the input, not in the padding."""
    return rows[(rows >= 0) & (rows < shape[0])], cols[(cols >= 0) & (cols < shape[1])]


def receptive_pixels(trace, e, b: int, ch: int, pos: tuple[int, ...]):
    """The entry's input channel that feeds channel *ch*, the (y, x) pixels the output at *pos* reads
    in it, and a label; None for an entry over a sequence (no image to mark)."""
    if e.options.get("on_seq"):
        return None
    x = input_maps(trace, e, b)
    first = first_input_channel(e, x.shape[0], ch)
    rows, cols = inside(*window(e, pos), x.shape[1:])
    pixels = {(int(y), int(c)) for y in rows for c in cols}
    source = keys.source_words(keys.input_of(trace.info.entries, e.index))
    return x[first], pixels, f"{source}, channel {first}: the receptive field"


def pool_window(trace, e, b: int, ch: int, pos: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values a pool reads for channel *ch* at *pos*, and the input rows and columns of its window."""
    x = input_maps(trace, e, b)
    rows, cols = inside(*window(e, pos), x.shape[1:])
    return x[ch][np.ix_(rows, cols)], rows, cols


def span_words(rows: np.ndarray, cols: np.ndarray, one_d: bool) -> str:
    """Where a window lies in its input: "rows 2..3, cols 4..5" (a 1-d map: "positions 4..5")."""
    def span(a: np.ndarray) -> str:
        lo, hi = int(a.min()), int(a.max())
        return f"{lo}..{hi}" if hi > lo else f"{lo}"

    if one_d:
        return f"position{'s' if cols.max() > cols.min() else ''} {span(cols)}"
    return f"row{'s' if rows.max() > rows.min() else ''} {span(rows)}, col{'s' if cols.max() > cols.min() else ''} {span(cols)}"
