"""Pictures a CNN's view adds to its feature maps: a conv entry's kernels (its weights as small images, on
one colour scale) and, in the backward pass of the entry that reads the image, the pixel saliency: dL/dx
of every input pixel (`grad.input`), beside the image, and its magnitude."""
from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.handlers import handler
from rnntui.render.maps.draw import Drawing, HeatMap, beside, line, map_scale, stack
from rnntui.render.maps.geometry import as_maps, first_input_channel

DIM = Style(dim=True)
BOLD = Style(bold=True)
SELECTED = Style(bold=True, color="yellow")
ZOOM = 2  # each weight drawn as ZOOM x ZOOM pixels: a 3x3 kernel is 6 characters wide, 3 lines high


def _zoomed(k: np.ndarray) -> np.ndarray:
    k = np.atleast_2d(np.asarray(k, dtype=float))
    return np.kron(k, np.ones((ZOOM, ZOOM)))


def kernels(trace, e, c, width: int) -> list:
    """The kernels of a conv entry (weight (out, in/groups, kh[, kw])) as pictures on one scale: with one input
    channel, every output channel's kernel (the selected one marked); with more, the selected output channel's
    kernel for each input channel it reads."""
    key = keys.entry_param(e.index, "weight")
    if not getattr(handler(e.type), "conv", False) or key not in trace:
        return []
    W = np.asarray(trace[key], dtype=float)
    W = W.reshape(W.shape[0], W.shape[1], -1, W.shape[-1]) if W.ndim == 4 else W.reshape(W.shape[0], W.shape[1], 1, -1)
    out_ch, in_ch = W.shape[:2]
    ch = min(c.unit, out_ch - 1)
    scale = map_scale(W)
    if in_ch == 1:
        pics = [(W[k, 0], ("▸" if k == ch else " ") + f"{k}", k == ch) for k in range(out_ch)]
        title = f"kernels (weights) of all {out_ch} output channels, shared scale ±{scale:.3g}"
    else:  # with groups, output channel ch reads its group's input channels only
        groups = int(e.options.get("groups", 1)) if isinstance(e.options, dict) else 1
        first = first_input_channel(e, in_ch * groups, ch)
        pics = [(W[ch, j], f"in {first + j}", False) for j in range(in_ch)]
        title = (f"kernel of output channel {ch}: one {W.shape[2]}×{W.shape[3]} slice per input channel it reads "
                 f"({first}..{first + in_ch - 1}), shared scale ±{scale:.3g}")
    per = max(W.shape[3] * ZOOM, 4) + 1
    fit = max((width + 1) // per, 1)
    heat = [HeatMap(_zoomed(k), None, scale) for k, _, _ in pics]
    labels = [line(lab[:per - 1], SELECTED if sel else DIM) for _, lab, sel in pics]

    def draw(colour: bool):
        rows = [beside([stack(labels[k], heat[k].drawn(colour)) for k in range(s, min(s + fit, len(pics)))], 1)
                for s in range(0, len(pics), fit)]
        return stack(*rows)

    return [Text(title, DIM), Drawing(draw)]


def saliency(trace, e, c, width: int) -> list:
    """In the backward pass of the entry that reads the image: the image, dL/dx of every pixel and |dL/dx|,
    each input channel's (what the gradients shown are of: the loss's, or the output `o` chose)."""
    if e.index != 0 or keys.GRAD_INPUT not in trace or c.phase != "backward":
        return []
    x = as_maps(np.asarray(trace["input"][c.sample], dtype=float))
    g = as_maps(np.asarray(trace[keys.GRAD_INPUT][c.sample], dtype=float))
    if x.shape != g.shape:
        return []
    C = x.shape[0]
    shown = min(C, 3)
    mag = np.abs(g)
    top = np.unravel_index(int(np.argmax(mag)), mag.shape) if np.isfinite(mag).any() else None
    maps = []
    for k in range(shown):
        suffix = f", ch {k}" if C > 1 else ""
        maps += [(f"input{suffix}", HeatMap(x[k])), (f"dL/dx{suffix}", HeatMap(g[k], None, map_scale(g))),
                 (f"|dL/dx|{suffix}", HeatMap(mag[k], None, map_scale(mag)))]
    head = Text(f"pixel saliency dL/dx (grad.input), sample {c.sample}", BOLD)
    if top is not None:
        where = f"channel {top[0]}, " if C > 1 else ""
        head.append(f": largest |dL/dx| {float(mag[top]):.3g} at {where}row {top[1]}, col {top[2]}"
                    + (f"; channels {shown}..{C - 1} not drawn" if C > shown else ""), DIM)
    out = [head]
    fit = max((width + 3) // (max(x.shape[2], 7) + 3), 1)

    def draw(colour: bool):
        return stack(*(beside([stack(line(label, DIM), hm.drawn(colour)) for label, hm in maps[s:s + fit]], 3)
                       for s in range(0, len(maps), fit)))

    out.append(Drawing(draw))
    return out
