"""How a batchnorm entry made one value: the statistics it used (the batch's or the running ones), x-hat,
the scale and shift; in the backward pass, the gradient through them. Shared by the plain view (vectors,
sequences) and the map view (feature maps); reads only what the engine recorded."""
from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.numfmt import fmt

BOLD = Style(bold=True)
DIM = Style(dim=True)


def normalises(entry) -> bool:
    return entry.type.startswith("batchnorm") and entry.options is not None


def _input_key(entry, entries) -> str:
    return keys.input_of(entries, entry.index)


def story(trace, entry, at: tuple, channel: int, phase: str) -> list[Text]:
    """*at*: the index of the value in the entry's input and output arrays (sample first for maps and vectors,
    step first on a sequence); *channel*: its channel."""
    i, o = entry.index, entry.options
    batch = bool(trace[keys.node_value(i, "batch_stats")])
    mean, var = float(trace[keys.node_value(i, "mean")][channel]), float(trace[keys.node_value(i, "var")][channel])
    which = ("the batch's statistics (mean and biased variance over every sample"
             + (" and step" if entry.seq_in else " and position" if len(entry.in_feat) > 1 else "") + ")"
             if batch else "the running statistics (eval mode)")
    lines = [Text(f"normalised with {which}", DIM)]
    x, xhat, out = (float(np.asarray(trace[k])[at]) for k in (_input_key(entry, trace.info.entries), keys.node_value(i, "xhat"),
                                                            keys.out(i)))
    w = float(trace[keys.entry_param(i, "weight")][channel]) if o["affine"] else 1.0
    b = float(trace[keys.entry_param(i, "bias")][channel]) if o["affine"] else 0.0
    if phase == "forward":
        lines.append(Text(f"x̂ = (x − mean) / √(var + eps) = ({fmt(x, 0)} − {fmt(mean, 0)}) / √({fmt(var, 0)} + "
                          f"{o['eps']:g}) = {fmt(xhat, 0)}", BOLD))
        if o["affine"]:
            lines.append(Text(f"out = weight · x̂ + bias = {fmt(w, 0)} · {fmt(xhat, 0)} + {fmt(b, 0)} = {fmt(out, 0)}",
                              BOLD))
        return lines
    g_out = float(np.asarray(trace[keys.grad(keys.out(i))])[at])
    g_xhat = float(np.asarray(trace[keys.grad(keys.node_value(i, "xhat"))])[at])
    g_x = float(np.asarray(trace[keys.GRAD_INPUT if i == 0 else keys.grad(keys.out(i - 1))])[at])
    if o["affine"]:
        lines.append(Text(f"dL/dx̂ = weight · dL/dout = {fmt(w, 0)} · {fmt(g_out, 0)} = {fmt(g_xhat, 0)}", BOLD))
    else:   # no weight: out is x̂ itself
        lines.append(Text(f"dL/dx̂ = dL/dout = {fmt(g_xhat, 0)} (affine: false, out = x̂)", BOLD))
    if batch:
        lines.append(Text(f"dL/dx = {fmt(g_x, 0)}: dL/dx̂ / √(var + eps), less what every value of the channel "
                          "sends back through the batch's mean and variance", BOLD))
    else:
        lines.append(Text(f"dL/dx = dL/dx̂ / √(var + eps) = {fmt(g_x, 0)} (the running statistics are constants)",
                          BOLD))
    return lines
