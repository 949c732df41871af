"""Header, timeline, states over time, gradients over time, details: one renderable each."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.render.analysis import Place, step_losses, verdict
from rnntui.render.colors import fmt
from rnntui.render.cursor import Cursor, is_map, length, order_sign, position, step_index
from rnntui.render.heatmap import state_heatmap
from rnntui.render.segments import Cells
from rnntui.render.strips import log_sparkline, window

DIM = Style(dim=True)
CURSOR = Style(reverse=True, bold=True)
HERE = Style(bold=True, dim=False)
OTHER = Style(bold=False, dim=True)
EVENT_MARKS = {"non-finite": ("!", "magenta"), "saturated": ("S", "yellow"), "vanishing": ("v", "cyan"),
               "exploding": ("^", "red")}


def header(trace, c: Cursor) -> Text:
    info = trace.info
    place = c.place(info)
    phase = "forward pass" if c.phase == "forward" else "backward pass (BPTT)"
    arrow = "→" if order_sign(c.phase, place.direction) > 0 else "←"
    text = Text()
    text.append(info.name, Style(bold=True))
    text.append(f"   loss {fmt(float(trace['loss']), 0)} ({info.loss})\n", Style(dim=True))
    text.append(f"{phase} {arrow}", Style(color="cyan" if c.phase == "forward" else "magenta", bold=True))
    if is_map(info, place):
        where = f"position {step_index(c, info) + 1} of {length(info, place)} {position(info, place, c.t)}"
    else:
        where = f"step {step_index(c, info) + 1} of {length(info, place)} (t={c.t})"
    text.append(f"  {place.label(info)}  {where}  sample {c.sample} of {info.B}")
    return text


def _token(trace, t: int, b: int) -> str:
    if "tokens" in trace:
        return str(trace["tokens"][t])
    x = trace["input"]
    if x.ndim != 3:
        return ""
    v = x[t, b]
    if v.size == 1:
        return f"{float(v[0]):.3g}"
    return f"|{float(np.linalg.norm(v)):.3g}|"


def timeline(trace, c: Cursor, marks: dict[Place, dict[int, str]], width: int = 80) -> Text | Cells | Group:
    """Input tokens or values per step, the cursor, and event markers for the current place
    (*marks*: analysis.event_marks of the trace's events)."""
    info = trace.info
    place = c.place(info)
    T = length(info, place)
    if not info.seq:
        e = info.entries[place.entry]
        text = Text(f"input {tuple(trace['input'].shape[1:])} image · ", Style(dim=True))
        text.append(" → ".join(f"{x.type}{tuple(x.out_shape)}" for x in info.entries))
        if is_map(info, place):
            text.append(f"\nmodel.{e.index} output position {position(info, place, c.t)} "
                        f"({c.t + 1} of {length(info, place)}); Right/Left move along positions", Style(dim=True))
        return text
    if "tokens" in trace:
        cw = max(min(int(np.char.str_len(trace["tokens"]).max()), 9), 3) + 1
    else:
        cw = 7
    start, stop = window(T, c.t, max((width - 8) // cw, 1))
    same_steps = trace["input"].shape[0] == T  # a strided conv1d earlier may have shortened this entry's steps
    cells = {t: _token(trace, t, c.sample) if same_steps else "" for t in range(start, stop)}  # only what is shown
    here = marks.get(place, {})
    text = Cells()  # laid out already: one column of cw cells a step, never wrapped
    text.append("input " if same_steps else "      ", DIM)
    for t in range(start, stop):
        style = CURSOR if t == c.t else None
        text.append(cells[t][: cw - 1].center(cw - 1), style)
        text.append(" ")
    text.newline().append(" step ", DIM)
    for t in range(start, stop):
        text.append(str(t)[: cw - 1].center(cw - 1), HERE if t == c.t else OTHER)
        text.append(" ")
    losses = step_losses(trace)
    if losses is not None and losses.shape[0] == T:
        text.newline().append(" loss ", DIM)
        for t in range(start, stop):
            text.append(f"{losses[t]:.2g}"[: cw - 1].center(cw - 1), HERE if t == c.t else OTHER)
            text.append(" ")
    text.newline().append("event ", DIM)
    for t in range(start, stop):
        ch, colour = EVENT_MARKS.get(here.get(t, ""), ("·", "grey50"))
        text.append(ch.center(cw - 1), _mark_style(colour, ch == "·"))
        text.append(" ")
    if start > 0 or stop < T:
        text.newline().append(f"      steps {start}..{stop - 1} of 0..{T - 1}", DIM)
    if not same_steps:
        return Group(text, Text(f"      model.{place.entry} runs over {T} steps: an earlier conv1d or pool shortened "
                                f"the {trace['input'].shape[0]}-step input", DIM))
    return text


@lru_cache(maxsize=None)
def _mark_style(colour: str, dim: bool) -> Style:
    return Style(color=colour, dim=dim)


def states(trace, c: Cursor, width: int = 80, height: int = 8) -> Group:
    """h (and c) heatmaps; bidirectional entries show both directions in reading order."""
    info = trace.info
    place = c.place(info)
    entry = info.entries[place.entry]
    if is_map(info, place):
        from rnntui.render.maps.panels import overview

        return overview(trace, c, width, height)
    if place.layer is None:
        key = f"model.{entry.index}.out"
        arr = trace[key] if c.phase == "forward" else trace[f"grad.{key}"]
        if not (entry.seq_out and info.seq):
            return Group(Text("one output per sequence (no steps to show)", Style(dim=True)))
        vals = arr[:, c.sample].reshape(arr.shape[0], -1)
        return Group(state_heatmap(vals, c.t, c.unit, width, height, "out" if c.phase == "forward" else "dL/dout"))
    grad = c.phase == "backward"
    parts = []
    names = ["h", "c"] if entry.type == "lstm" else ["h"]
    dirs = list(entry.directions)
    rows = max(height // (len(names) * len(dirs)) - 2, 2)
    for d in dirs:
        for name in names:
            key = f"{'grad.' if grad else ''}model.{entry.index}.l{place.layer}.{d}.{name}"
            label = f"{'dL/d' if grad else ''}{name} {d}"
            if d == "bwd":
                label += " (reads from the end: t=T-1 first)"
            cur = d == place.direction
            parts.append(state_heatmap(trace[key][:, c.sample], c.t, c.unit, width, rows,
                                       ("▸ " if cur else "  ") + label))
    return Group(*parts)


def gradients(trace, c: Cursor, width: int = 80) -> Group:
    """dL/dh_t per step on a log scale, per-step parameter-gradient norms, the verdict."""
    info = trace.info
    place = c.place(info)
    entry = info.entries[place.entry]
    if is_map(info, place):
        from rnntui.render.maps.panels import gradient_summary

        return gradient_summary(trace, c)
    if place.layer is None or not info.seq:
        rows = []
        for name in entry.params:
            rows.append(Text(f"‖grad {name}‖ = {fmt(float(np.linalg.norm(trace[f'grad.param.{name}'])), 0)}"))
        return Group(*(rows or [Text("no parameters", Style(dim=True))]))
    p = place.prefix
    T = length(info, place)
    start, stop = window(T, c.t, max(width - 2, 8))
    g = np.asarray(trace[f"diag.{p}.gradnorm"], dtype=float)
    pos = g[np.isfinite(g) & (g > 0)]
    lo, hi = (float(np.log10(pos.min())), float(np.log10(pos.max()))) if pos.size else (None, None)
    out = []
    out.append(Text(f"‖dL/dh_t‖ (log scale) at t={c.t}: {fmt(float(g[c.t]), 0)}", Style(bold=True)))
    out.append(log_sparkline(g[start:stop], c.t - start, lo, hi, into=Cells()))
    if pos.size:
        out.append(Text(f"range {pos.min():.2e} .. {pos.max():.2e}, steps {start}..{stop - 1}", Style(dim=True)))
    sfx = f"_l{place.layer}{'_reverse' if place.direction == 'bwd' else ''}"
    for stem in ("weight_hh", "weight_ih"):
        key = f"gradnorm.step.{entry.index}.{stem}{sfx}"
        vals = np.asarray(trace[key], dtype=float)
        out.append(Text(f"step t's share of ‖d{stem}‖: {fmt(float(vals[c.t]), 0)}"))
        out.append(log_sparkline(vals[start:stop], c.t - start, into=Cells()))
    v = verdict(trace, place)
    if v is not None:
        colour = {"vanishing": "cyan", "exploding": "red", "healthy": "green"}.get(v.kind, "magenta")
        out.append(Text(v.sentence, Style(color=colour, bold=True)))
    return Group(*out)


def details(trace, c: Cursor) -> Text:
    """Exact numbers of the selected vector and unit."""
    info = trace.info
    place = c.place(info)
    entry = info.entries[place.entry]
    text = Text()
    if is_map(info, place):
        key = f"model.{entry.index}.out"
        arr = trace[key] if c.phase == "forward" else trace[f"grad.{key}"]
        keys = {("map" if c.phase == "forward" else "dL/dmap"): np.asarray(arr[c.sample][min(c.unit, arr.shape[1] - 1)]).reshape(-1)}
    elif place.layer is None:
        key = f"model.{entry.index}.out"
        arr = trace[key] if c.phase == "forward" else trace[f"grad.{key}"]
        vec = arr[c.t, c.sample] if entry.seq_out and info.seq else arr[c.sample]
        keys = {("out" if c.phase == "forward" else "dL/dout"): np.asarray(vec).reshape(-1)}
    else:
        p = place.prefix
        if c.phase == "forward":
            names = ["h"] + (["c"] if entry.type == "lstm" else []) + [f"gates.{g}" for g in entry.gates]
            if entry.type == "rnn":
                names.append("pre")
            keys = {n: trace[f"{p}.{n}"][c.t, c.sample] for n in names}
        else:
            keys = {"dL/dh": trace[f"grad.{p}.h"][c.t, c.sample]}
            if entry.type == "lstm":
                keys["dL/dc"] = trace[f"grad.{p}.c"][c.t, c.sample]
    first = next(iter(keys))
    vec = np.asarray(keys[first], dtype=float)
    u = min(c.t if is_map(info, place) else c.unit, vec.size - 1)
    finite = vec[np.isfinite(vec)]
    at = f"channel {c.unit}" if is_map(info, place) else f"t={c.t}"
    text.append(f"{first} at {at}, sample {c.sample}\n", Style(bold=True))
    if finite.size:
        text.append(f"min {fmt(float(finite.min()), 0)}  max {fmt(float(finite.max()), 0)}  "
                    f"mean {fmt(float(finite.mean()), 0)}  ‖·‖ {fmt(float(np.linalg.norm(finite)), 0)}\n")
    if finite.size < vec.size:
        text.append(f"{vec.size - finite.size} of {vec.size} values are not finite\n", Style(color="magenta"))
    if first == "h" and finite.size and (entry.type != "rnn" or entry.nonlinearity == "tanh"):
        text.append(f"saturated (|h|>0.95): {np.mean(np.abs(finite) > 0.95):.0%}\n")
    label = f"position {position(info, place, u)}" if is_map(info, place) else f"unit {u}"
    text.append(f"{label}: ", Style(bold=True))
    text.append("  ".join(f"{n}={fmt(float(np.asarray(v).reshape(-1)[u]), 0)}" for n, v in keys.items()))
    return text
