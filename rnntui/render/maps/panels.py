"""The map views: the selected channel with its receptive field and the products that make the value,
every channel at once, and the size of the gradients.

Built from pre-laid-out cells (draw.py), so the TUI draws them without rich's layout; what does not
depend on the cursor's position (a map's colours, the overview of all channels) is kept per trace.
"""
from __future__ import annotations

import math
import textwrap

import numpy as np
from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.conv import receptive_field
from rnntui.engine.handlers import handler
from rnntui.numfmt import fmt
from rnntui.render import norm
from rnntui.render.norm import normalises
from rnntui.render.cursor import Cursor, position
from rnntui.render.maps.draw import Drawing, HeatMap, beside, colour_index, line, map_scale, stack, width_of
from rnntui.render.maps.geometry import as_maps, as_yx, entry_input, pool_window, receptive_pixels, span_words
from rnntui.render.pertrace import PerTrace
from rnntui.render.segments import Cells
from rnntui.engine.diagnostics import vector_norm

BOLD = Style(bold=True)
DIM = Style(dim=True)
ITALIC = Style(italic=True)  # rich's table titles
SELECTED = Style(bold=True, color="yellow")


_colours = PerTrace(256)   # a map's colour indices: the same wherever the cursor is on it
_overviews = PerTrace(16)  # all channels: the same at every position


def _map_key(c: Cursor, e) -> str:
    key = keys.out(e.index)
    return key if c.phase == "forward" else keys.grad(key)


def _maps(trace, c: Cursor):
    info = trace.info
    e = info.entries[c.place(info).entry]
    return e, as_maps(trace[_map_key(c, e)][c.sample])


def maps_of(trace, c: Cursor) -> np.ndarray:
    """(C, H, W): the maps (or their gradients, by the cursor's phase) of the cursor's place and sample."""
    return _maps(trace, c)[1]


def _heatmap(trace, key: tuple, a: np.ndarray, mark, max_width: int) -> HeatMap:
    """A map scaled to its own largest value, its colours computed once per trace and *key*."""
    def colours():
        scale = map_scale(a)
        return scale, colour_index(a, scale)

    scale, index = _colours.get(trace, key, colours)
    return HeatMap(a, mark, scale, max_width, index=index)


def map_panel(trace, c: Cursor, width: int = 80) -> Group:
    """The selected channel's map, the selected position, and how that value was made."""
    info = trace.info
    e, maps = _maps(trace, c)
    ch = min(c.unit, maps.shape[0] - 1)
    pos = position(info, c.place(info), c.t)
    yx = as_yx(pos)
    value = float(maps[ch][yx])
    what = "feature map" if c.phase == "forward" else "dL/d(feature map)"
    title = Text(f"{e.type} {keys.entry_prefix(e.index)} · channel {ch} of {maps.shape[0]} · position {tuple(pos)} "
                 f"of {maps.shape[1:] if maps.shape[1] > 1 else maps.shape[2:]} · {what} = {fmt(value, 0)}", BOLD)
    here = ("map", _map_key(c, e), c.sample, ch)
    field = receptive_pixels(trace, e, c.sample, ch, pos)
    if field is not None:
        in_map, pixels, label = field
        left = _heatmap(trace, here, maps[ch], yx, width // 2 - 2)
        right = _heatmap(trace, ("input of", e.index, c.sample, label), in_map, pixels, width // 2)
        heads = _headings([f"{what}, channel {ch}", label], [width_of(left), width_of(right)], 3, width)
        side = Drawing(lambda colour: beside([stack(heads[0], left.drawn(colour)),
                                              stack(heads[1], right.drawn(colour))], 3))
    else:
        side = _heatmap(trace, here, maps[ch], yx, width - 2)
    parts = [title, side]
    if c.phase == "forward":
        parts += explain(trace, e, c.sample, ch, pos, width)
    elif normalises(e):
        parts += norm.story(trace, e, (c.sample, ch) + tuple(pos), ch, "backward")
    return Group(*parts)


def _headings(labels: list[str], widths: list[int], gap: int, width: int) -> list[Cells]:
    """A dim heading over each column: a column grows to its heading while the line has room,
    and a heading longer than its column wraps (as rich's table did)."""
    spare = max(width - sum(widths) - gap * (len(widths) - 1), 0)
    out = []
    for label, w in zip(labels, widths):
        grown = min(max(w, len(label)), w + spare)
        spare -= grown - w
        cells = Cells()
        cells.rows = [[(part, DIM)] for part in textwrap.wrap(label, max(grown, 1))] or [[]]
        out.append(cells)
    tallest = max(len(c.rows) for c in out)
    for c in out:  # the maps under them start on the same line
        c.rows += [[] for _ in range(tallest - len(c.rows))]
    return out


def _numbers(title: str, vals: np.ndarray, total: float | None = None, pad: str = "") -> Cells:
    """A small grid of numbers under a centred title, as rich drew a borderless table; *total* adds a Σ line."""
    texts = [[fmt(float(v), 7) for v in row] for row in vals]
    cw = max(len(t) for row in texts for t in row)
    rows = ["".join(" " + t.rjust(cw) + pad for t in row) for row in texts]
    w = max(len(title), max(map(len, rows)))
    left = (w - len(title)) // 2
    out = Cells().add(" " * left).add(title, ITALIC).add(" " * (w - left - len(title)))
    for r in rows:
        out.newline().add(r)
    if total is not None:
        out.newline().add(" ").add(f"Σ {fmt(total, 0)}", BOLD)
    return out


def _span(chans: np.ndarray) -> str:
    return f"in ch {chans[0]}" if len(chans) == 1 else f"in ch {chans[0]}..{chans[-1]}"


def explain(trace, e, b: int, ch: int, pos: tuple[int, ...], width: int) -> list:
    """The receptive field: for a conv the products that sum to the value, for a pool its window (a
    batchnorm's value is its own pixel's, normalised: render/norm.py)."""
    if normalises(e):
        return norm.story(trace, e, (b, ch) + tuple(pos), ch, "forward")
    if handler(e.type).conv:
        W, bias = trace[keys.entry_param(e.index, "weight")], trace[keys.entry_param(e.index, "bias")]
        rows, cols, chans, prods, bterm, total = receptive_field(e, entry_input(trace, e), W, bias, b, ch, pos)
        out = [Text(f"receptive field: input {span_words(rows, cols, len(pos) == 1)}, "
                    f"channels {chans[0]}..{chans[-1]} (negative or past the edge: padding, 0)", DIM)]
        kernel = W[ch].reshape(len(chans), prods.shape[1], prods.shape[2])
        shown = min(len(chans), max((width - 2) // (2 * 8 * prods.shape[2] + 4), 1), 4)
        blocks = []
        for k in range(shown):
            blocks.append(_numbers(f"kernel w, in ch {chans[k]}", kernel[k]))
            blocks.append(_numbers(f"w×x, in ch {chans[k]}", prods[k], float(prods[k].sum())))
        out.append(beside(blocks, 2))
        # an honest sum: every term printed is a number, and they add up to the value
        terms = [f"bias {fmt(bterm, 0)}"]
        if shown == len(chans):
            terms.append(f"Σ w×x {fmt(float(prods.sum()), 0)}" if shown == 1
                         else f"Σ w×x over {_span(chans)} {fmt(float(prods.sum()), 0)}")
        else:
            terms.append(f"Σ w×x over {_span(chans[:shown])} (shown) {fmt(float(prods[:shown].sum()), 0)}")
            terms.append(f"Σ w×x over {_span(chans[shown:])} (not shown) {fmt(float(prods[shown:].sum()), 0)}")
        sentence = f"value = {' + '.join(terms)} = {fmt(total, 0)}"
        if e.activation != "none":
            activated = float(as_maps(trace[keys.out(e.index)][b])[ch][as_yx(pos)])
            sentence += f" → {e.activation} = {fmt(activated, 0)}"
        out.append(Text(sentence, BOLD))
        return out
    # pooling: the window of the input channel
    win, rows, cols = pool_window(trace, e, b, ch, pos)
    rule, value = handler(e.type).window_rule, handler(e.type).window_value(win)
    return [_numbers(f"window of input channel {ch}, {span_words(rows, cols, len(pos) == 1)}", win, pad=" "),
            Text(f"value = {rule} = {fmt(value, 0)}", BOLD)]


def overview(trace, c: Cursor, width: int = 80, height: int = 12) -> Group:
    """Every channel's map side by side, the selected channel marked. The same at every position of
    the cursor, so kept per trace."""
    return _overviews.get(trace, (c.place_index, c.phase, c.sample, c.unit, width, height),
                          lambda: _overview(trace, c, width, height))


def _overview(trace, c: Cursor, width: int, height: int) -> Group:
    e, maps = _maps(trace, c)
    C, H, W = maps.shape
    scale = map_scale(maps)
    index = colour_index(maps.reshape(C * H, W), scale).reshape(C, H, W)
    per_row = max((width + 1) // (W + 1), 1)
    rows_of_maps = math.ceil(C / per_row)
    if rows_of_maps * (math.ceil(H / 2) + 1) > max(height, 4) * 3:
        per_row = C  # too many to stack: one long row, cut at the edge
    heat = [HeatMap(maps[k], None, scale, index=index[k]) for k in range(C)]
    labels = [line((("▸" if k == c.unit else " ") + str(k))[:max(W, 2)], SELECTED if k == c.unit else None)
              for k in range(C)]

    def draw(colour: bool) -> Cells:
        return stack(*(beside([stack(labels[k], heat[k].drawn(colour)) for k in range(s, min(s + per_row, C))], 1)
                       for s in range(0, C, per_row)))

    title = Text(f"all {C} channels ({'feature maps' if c.phase == 'forward' else 'gradients'}), shared scale "
                 f"±{scale:.3g}", DIM)
    return Group(title, Drawing(draw))


def gradient_summary(trace, c: Cursor) -> Group:
    """Parameter gradients of a conv entry, and the size of dL/d(map) per channel."""
    info = trace.info
    e = info.entries[c.place(info).entry]
    g = np.asarray(trace[keys.grad(keys.out(e.index))][c.sample])
    out = [Text("‖dL/d(map)‖ per channel", BOLD)]
    norms = np.sqrt((g.reshape(g.shape[0], -1) ** 2).sum(axis=1))
    for k, n in enumerate(norms):
        out.append(Text(f"{'▸' if k == c.unit else ' '} ch {k:<3} {n:.3e}", Style(bold=(k == c.unit))))
    for name in e.params:
        out.append(Text(f"‖grad {name}‖ = {fmt(float(vector_norm(trace[keys.grad_param(name)])), 0)}"))
    return Group(*out)
