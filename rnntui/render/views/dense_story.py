"""A dense entry's value in numbers: z_u = W[u]·x + b_u with its largest products, the activation step (a
softmax in full: exp(z_u - max z) over the sum of them), and, where the output is a distribution over
classes, every class's probability as a bar (target and prediction marked)."""
from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.activations import log_softmax
from rnntui.numfmt import fmt, fmt_terms
from rnntui.render.segments import Cells
from rnntui.render.views.base import BOLD, DIM

TOP_PRODUCTS = 4   # the products named beside the sum
MOST_CLASSES = 12  # bars drawn (the most likely first when there are more)
TARGET = Style(color="green", bold=True)
SELECTED = Style(reverse=True, bold=True)


def entry_input(trace, entry, at: tuple) -> np.ndarray | None:
    """What the dense entry read at *at* ((t, b) or (b,)), as a vector, or None when it is not recorded."""
    key = "input" if entry.index == 0 else keys.out(entry.index - 1)
    if key not in trace:
        return None
    a = trace[key]     # not made whole first: a checkpointed trace's (StepRows) recomputes step t alone
    try:
        return np.asarray(a[at], dtype=float).reshape(-1)
    except IndexError:
        return None


def linear_story(trace, entry, at: tuple, u: int) -> list[Text]:
    """z_u = Σ_j W[u,j] x_j + b_u in numbers, then the activation (forward pass)."""
    W = np.asarray(trace[keys.entry_param(entry.index, "weight")], dtype=float)
    b = np.asarray(trace[keys.entry_param(entry.index, "bias")], dtype=float)
    x = entry_input(trace, entry, at)
    if x is None or x.size != W.shape[1]:
        return []
    prods = W[u] * x
    total = float(prods.sum())
    z = total + float(b[u])
    s_prods, s_bias, s_z = fmt_terms(total, float(b[u]), z)
    out = [Text(f"z_{u} = W[{u}]·x + b_{u} = Σ of {x.size} products w×x {s_prods} + bias {s_bias} = {s_z}", BOLD)]
    order = np.argsort(-np.abs(prods), kind="stable")[:TOP_PRODUCTS]
    named = ", ".join(f"x_{j}={fmt(float(x[j]), 0)}×{fmt(float(W[u, j]), 0)}={fmt(float(prods[j]), 0)}" for j in order)
    out.append(Text(f"  largest products: {named}" + (" …" if x.size > TOP_PRODUCTS else ""), DIM))
    act = entry.activation
    pre_key = keys.pre(entry.index)
    if act == "softmax":
        zs = np.asarray(trace[pre_key][at], dtype=float).reshape(-1) if pre_key in trace else None
        if zs is not None:
            m = float(zs.max())
            e = np.exp(zs - m)
            p = float(np.exp(log_softmax(zs))[u])
            out.append(Text(f"softmax: p_{u} = exp(z_{u} - max z) / Σ_k exp(z_k - max z) = exp({fmt(z - m, 0)}) / "
                            f"{fmt(float(e.sum()), 0)} = {fmt(p, 0)}   (max z = {fmt(m, 0)}, over {zs.size} classes)",
                            BOLD))
    elif act != "none":
        y = float(np.asarray(trace[keys.out(entry.index)][at]).reshape(-1)[u])
        out.append(Text(f"{act}(z_{u}) = {fmt(y, 0)}", BOLD))
    return out


def distribution(trace, entry, at: tuple) -> np.ndarray | None:
    """The class probabilities this entry gives at *at*, where its output is the model's and a distribution
    (a final softmax, or logits under a cross_entropy loss), else None."""
    info = trace.info
    if entry.index != len(info.entries) - 1:
        return None
    out = np.asarray(trace[keys.out(entry.index)][at], dtype=float).reshape(-1)
    if entry.activation == "softmax":
        return out
    if info.loss == "cross_entropy":
        return np.exp(log_softmax(out))
    return None


def class_bars(trace, entry, at: tuple, u: int, width: int) -> list:
    """Every class's probability as a bar (the most likely MOST_CLASSES when there are more): the target
    in green, the selected unit reversed, the prediction (the largest) named."""
    from rnntui.render.prediction import labels

    p = distribution(trace, entry, at)
    if p is None:
        return []
    names = labels(trace, p.size)
    target = None
    if keys.META_TARGET in trace:
        tgt = np.asarray(trace[keys.META_TARGET])
        try:
            target = int(tgt[at] if tgt.ndim else tgt)
        except (IndexError, TypeError, ValueError):
            target = None
    order = np.argsort(-p, kind="stable")
    shown = sorted(order[:MOST_CLASSES]) if p.size > MOST_CLASSES else list(range(p.size))
    name_w = min(max(len(n) for n in names) if names else 1, 12)
    bar_w = max(min(width - name_w - 31, 40), 4)  # the marker, the bar, "  ◂ predicted, target" fit
    more = f" (the {MOST_CLASSES} most likely of {p.size})" if p.size > MOST_CLASSES else ""
    out: list = [Text(f"class probabilities{more}: predicted {names[int(order[0])]}"
                      + (f", target {names[target]}" if target is not None and 0 <= target < p.size else ""), BOLD)]
    for k in shown:
        cells = Cells()
        label = names[k][:name_w].ljust(name_w)
        style = SELECTED if k == u else (TARGET if k == target else None)
        cells.add(("▸ " if k == u else "  ") + label, style)
        n = int(round(float(p[k]) * bar_w)) if np.isfinite(p[k]) else 0
        cells.add(" " + "█" * n + "·" * (bar_w - n), TARGET if k == target else None)
        marks = (["predicted"] if k == order[0] else []) + (["target"] if k == target else [])
        cells.add(f" {float(p[k]):6.1%}" + (f"  ◂ {', '.join(marks)}" if marks else ""))
        out.append(cells)
    return out
