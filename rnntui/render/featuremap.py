"""Feature maps: half-block heatmaps (two pixels a cell), kernels, and one output's receptive field."""
from __future__ import annotations

import math

import numpy as np
from rich.color import Color
from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text

from rnntui.engine.conv import receptive_field
from rnntui.render.colors import diverging, fmt
from rnntui.render.cursor import Cursor, position

MARK = Color.from_rgb(255, 230, 0)


def _scale(a: np.ndarray) -> float:
    f = np.abs(a[np.isfinite(a)])
    return float(f.max()) if f.size and f.max() > 0 else 1.0


POSITIVE = " ░▒▓█"
NEGATIVE = " -=≡■"


class HeatMap:
    """A map that draws itself for the console it meets: colour half-blocks (two pixels a cell), or,
    without colour (NO_COLOR, plain text files, pipes), one shade character a pixel, sign kept."""

    def __init__(self, a, mark=None, scale=None, max_width=None):
        self.a = np.atleast_2d(np.asarray(a, dtype=float))
        # one (y, x) or a set of them: the pixels drawn in the marker colour
        self.mark = {mark} if isinstance(mark, tuple) else set(mark or ())
        self.scale, self.max_width = scale, max_width

    def __rich_console__(self, console, options):
        if console.color_system is None or console.no_color:
            yield shades(self.a, self.mark, self.scale, self.max_width)
        else:
            yield _halfblock(self.a, self.mark, self.scale, self.max_width)

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        w = min(self.a.shape[1], self.max_width or self.a.shape[1])
        return Measurement(w, w)


def shades(a: np.ndarray, mark=frozenset(), scale=None, max_width=None) -> Text:
    scale = _scale(a) if scale is None else scale
    H, W = a.shape
    W = min(W, max_width) if max_width else W
    text = Text()
    for y in range(H):
        for x in range(W):
            v = a[y, x]
            if (y, x) in mark:
                text.append("X", Style(bold=True, reverse=True))
            elif not np.isfinite(v):
                text.append("!")
            else:
                chars = POSITIVE if v >= 0 else NEGATIVE
                text.append(chars[min(int(abs(v) / scale * (len(chars) - 1) + 0.5), len(chars) - 1)])
        if y + 1 < H:
            text.append("\n")
    return text


def halfblock(a: np.ndarray, mark: tuple[int, int] | None = None, scale: float | None = None,
              max_width: int | None = None) -> HeatMap:
    return HeatMap(a, mark, scale, max_width)


def _halfblock(a: np.ndarray, mark=frozenset(), scale: float | None = None,
               max_width: int | None = None) -> Text:
    """(H, W) values as rows of '▀': the top pixel is the foreground, the bottom one the background."""
    a = np.atleast_2d(np.asarray(a, dtype=float))
    scale = _scale(a) if scale is None else scale
    H, W = a.shape
    W = min(W, max_width) if max_width else W
    text = Text()
    for y in range(0, H, 2):
        for x in range(W):
            top = MARK if (y, x) in mark else diverging(a[y, x], scale)
            if y + 1 < H:
                bottom = MARK if (y + 1, x) in mark else diverging(a[y + 1, x], scale)
                text.append("▀", Style(color=top, bgcolor=bottom))
            else:
                text.append("▀", Style(color=top))
        if y + 2 < H:
            text.append("\n")
    return text


def _maps(trace, c: Cursor):
    info = trace.info
    e = info.entries[c.place(info).entry]
    key = f"model.{e.index}.out"
    arr = trace[key] if c.phase == "forward" else trace[f"grad.{key}"]
    a = np.asarray(arr[c.sample])
    return e, (a if a.ndim == 3 else a[:, None, :])  # (C, H, W); a 1-d map is one row


def map_panel(trace, c: Cursor, width: int = 80) -> Group:
    """The selected channel's map, the selected position, and how that value was made."""
    info = trace.info
    e, maps = _maps(trace, c)
    ch = min(c.unit, maps.shape[0] - 1)
    pos = position(info, c.place(info), c.t)
    yx = pos if len(pos) == 2 else (0, pos[0])
    value = float(maps[ch][yx])
    what = "feature map" if c.phase == "forward" else "dL/d(feature map)"
    title = Text(f"{e.type} model.{e.index} · channel {ch} of {maps.shape[0]} · position {tuple(pos)} "
                 f"of {maps.shape[1:] if maps.shape[1] > 1 else maps.shape[2:]} · {what} = {fmt(value, 0)}",
                 Style(bold=True))
    side = Table.grid(padding=(0, 3))
    side.add_column()
    side.add_column()
    field = receptive_pixels(trace, e, c.sample, ch, pos)
    if field is not None:
        in_map, pixels, label = field
        side.add_row(Text(f"{what}, channel {ch}", Style(dim=True)), Text(label, Style(dim=True)))
        side.add_row(halfblock(maps[ch], yx, max_width=width // 2 - 2), halfblock(in_map, pixels, max_width=width // 2))
    else:
        side.add_row(halfblock(maps[ch], yx, max_width=width - 2))
    parts = [title, side]
    if c.phase == "forward":
        parts += explain(trace, e, c.sample, ch, pos, width)
    return Group(*parts)


def receptive_pixels(trace, e, b: int, ch: int, pos: tuple[int, ...]):
    """The entry's input channel that feeds channel *ch*, and the pixels the output at *pos* reads."""
    if e.options.get("on_seq"):
        return None
    x = np.asarray(_entry_input(trace, e)[b])
    x = x if x.ndim == 3 else x[:, None, :]
    o = e.options
    if e.type.startswith("conv"):
        per = x.shape[0] // o["groups"]
        first = (ch // (e.out_shape[0] // o["groups"])) * per
    else:
        first = ch
    yx = pos if len(pos) == 2 else (0, pos[0])
    ys = [yx[0] * o["stride"][0] + i * o["dilation"][0] - o["pad"][0] for i in range(o["kernel"][0])]
    xs = [yx[1] * o["stride"][1] + j * o["dilation"][1] - o["pad"][2] for j in range(o["kernel"][1])]
    pixels = {(y, x_) for y in ys for x_ in xs if 0 <= y < x.shape[1] and 0 <= x_ < x.shape[2]}
    source = "input" if e.index == 0 else f"model.{e.index - 1} output"
    return x[first], pixels, f"{source}, channel {first}: the receptive field"


def _entry_input(trace, e):
    return trace["input"] if e.index == 0 else trace[f"model.{e.index - 1}.out"]


def explain(trace, e, b: int, ch: int, pos: tuple[int, ...], width: int) -> list:
    """The receptive field: for a conv the products that sum to the value, for a pool its window."""
    x = _entry_input(trace, e)
    if e.type.startswith("conv"):
        W, bias = trace[f"param.{e.index}.weight"], trace[f"param.{e.index}.bias"]
        rows, cols, chans, prods, bterm, total = receptive_field(e, x, W, bias, b, ch, pos)
        out = [Text(f"receptive field: input rows {rows.min()}..{rows.max()}, cols {cols.min()}..{cols.max()}, "
                    f"channels {chans[0]}..{chans[-1]} (negative or past the edge: padding, 0)", Style(dim=True))]
        grid = Table.grid(padding=(0, 2))
        kernel = W[ch].reshape(len(chans), prods.shape[1], prods.shape[2])
        shown = min(len(chans), max((width - 2) // (2 * 8 * prods.shape[2] + 4), 1), 4)
        cells = []
        for k in range(shown):
            for title, vals, total in ((f"kernel w, in ch {chans[k]}", kernel[k], None),
                                       (f"w×x, in ch {chans[k]}", prods[k], float(prods[k].sum()))):
                t = Table(title=title, box=None, show_header=False, padding=(0, 0, 0, 1))
                for r in range(vals.shape[0]):
                    t.add_row(*[fmt(float(v), 7) for v in vals[r]])
                if total is not None:
                    t.add_row(Text(f"Σ {fmt(total, 0)}", Style(bold=True)))
                cells.append(t)
        grid.add_row(*cells)
        out.append(grid)
        more = f" + {len(chans) - shown} more channels" if len(chans) > shown else ""
        out.append(Text(f"value = bias {fmt(bterm, 0)} + Σ products {fmt(float(prods.sum()), 0)}{more} = {fmt(total, 0)}"
                        + (f" → {e.activation}" if e.activation != "none" else ""), Style(bold=True)))
        return out
    # pooling: the window of the input channel
    x4 = np.asarray(x[b] if not e.options["on_seq"] else x[:, b].T)
    x4 = x4 if x4.ndim == 3 else x4[:, None, :]
    o = e.options
    yx = pos if len(pos) == 2 else (0, pos[0])
    r0, c0 = yx[0] * o["stride"][0], yx[1] * o["stride"][1]
    win = x4[ch, r0: r0 + o["kernel"][0], c0: c0 + o["kernel"][1]]
    t = Table(title=f"window of input channel {ch} at rows {r0}.., cols {c0}..", box=None, show_header=False)
    for r in win:
        t.add_row(*[fmt(float(v), 7) for v in r])
    rule = "max (its gradient goes to the first maximum)" if e.type.startswith("max") else "mean"
    return [t, Text(f"value = {rule} = {fmt(float(win.max() if e.type.startswith('max') else win.mean()), 0)}",
                    Style(bold=True))]


def overview(trace, c: Cursor, width: int = 80, height: int = 12) -> Group:
    """Every channel's map side by side, the selected channel marked."""
    e, maps = _maps(trace, c)
    C, H, W = maps.shape
    scale = _scale(maps)
    per_row = max((width + 1) // (W + 1), 1)
    rows_of_maps = math.ceil(C / per_row)
    if rows_of_maps * (math.ceil(H / 2) + 1) > max(height, 4) * 3:
        per_row = C  # too many to stack: one long row, cut at the edge
    lines = [Text(f"all {C} channels ({'feature maps' if c.phase == 'forward' else 'gradients'}), shared scale "
                  f"±{scale:.3g}", Style(dim=True))]
    for start in range(0, C, per_row):
        group = list(range(start, min(start + per_row, C)))
        grid = Table.grid(padding=(0, 1))
        for _ in group:
            grid.add_column(width=W, no_wrap=True)
        grid.add_row(*[Text(("▸" if k == c.unit else " ") + str(k), Style(bold=(k == c.unit),
                                                                       color="yellow" if k == c.unit else None))
                       for k in group])
        grid.add_row(*[HeatMap(maps[k], None, scale) for k in group])
        lines.append(grid)
    return Group(*lines)


def gradient_summary(trace, c: Cursor) -> Group:
    """Parameter gradients of a conv entry, and the size of dL/d(map) per channel."""
    info = trace.info
    e = info.entries[c.place(info).entry]
    g = np.asarray(trace[f"grad.model.{e.index}.out"][c.sample])
    out = [Text("‖dL/d(map)‖ per channel", Style(bold=True))]
    norms = np.sqrt((g.reshape(g.shape[0], -1) ** 2).sum(axis=1))
    for k, n in enumerate(norms):
        out.append(Text(f"{'▸' if k == c.unit else ' '} ch {k:<3} {n:.3e}", Style(bold=(k == c.unit))))
    for name in e.params:
        out.append(Text(f"‖grad {name}‖ = {fmt(float(np.linalg.norm(trace[f'grad.param.{name}'])), 0)}"))
    return Group(*out)
