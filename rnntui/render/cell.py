"""The cell at step t: gates by name with their values, and the state update with its numbers.

In the backward pass the same panel shows the gradients at t and where they came from.
"""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.engine.diagnostics import jacobian_norm_at
from rnntui.render.analysis import through_time
from rnntui.render.colors import fmt
from rnntui.render.cursor import Cursor, is_map, order_sign
from rnntui.render.segments import Cells
from rnntui.render.strips import unit_strip, value_bar, window

def bar_width(width: int) -> int:
    return 16 if width >= 70 else 8


GATE_NAMES = {
    "i": "i input gate", "f": "f forget gate", "g": "g candidate", "o": "o output gate",
    "r": "r reset gate", "z": "z update gate", "n": "n candidate",
}
SIGMOID = {"i", "f", "o", "r", "z"}


def _prev(trace, key: str, c: Cursor, direction: str):
    """Value at the step before t in this direction's forward order, or zeros at its start."""
    a = trace[key]
    tp = c.t - order_sign("forward", direction)
    if 0 <= tp < a.shape[0]:
        return a[tp, c.sample]
    return np.zeros_like(a[c.t, c.sample])


def _next(trace, key: str, c: Cursor, direction: str):
    a = trace[key]
    tn = c.t + order_sign("forward", direction)
    if 0 <= tn < a.shape[0]:
        return a[tn, c.sample]
    return None


def _window(width: int, H: int, unit: int) -> tuple[int, int]:
    """The units shown: as many as fit beside the name column and the value bar."""
    return window(H, unit, max(min(H, width - 16 - bar_width(width) - 12), 4))


def _row(cells: Cells, name: str, vec, u: int, u0: int, u1: int, scale: float, width: int,
         gate: bool = False) -> None:
    """One line: the name, one character per unit (the selected one reversed), the selected value's bar."""
    if cells.rows[-1]:
        cells.newline()
    cells.add(name[:15].ljust(16))
    unit_strip(vec[u0:u1], u - u0, scale, gate, into=cells)
    cells.add(" ")
    lo, hi = (0.0, 1.0) if gate else (-scale, scale)
    value_bar(float(vec[u]), bar_width(width), lo, hi, gate=gate, into=cells)


def cell_panel(trace, c: Cursor, width: int = 80) -> Group:
    info = trace.info
    place = c.place(info)
    entry = info.entries[place.entry]
    if is_map(info, place):
        from rnntui.render.maps.panels import map_panel

        return map_panel(trace, c, width)
    if place.layer is None:
        return entry_panel(trace, c, width)
    p, d = place.prefix, place.direction
    H = entry.hidden_size
    u = min(c.unit, H - 1)
    u0, u1 = _window(width, H, u)
    cells = Cells()
    lines: list[Text] = []
    title = Text(f"{entry.type.upper()} l{place.layer} {place.direction} · t={c.t} · unit {u}"
                 f"  (units {u0}..{u1 - 1} of {H})", Style(bold=True))
    if c.phase == "forward":
        rows = [(GATE_NAMES[g], trace[f"{p}.gates.{g}"][c.t, c.sample], g in SIGMOID) for g in entry.gates]
        if entry.type == "rnn":
            rows.append(("a pre-activation", trace[f"{p}.pre"][c.t, c.sample], False))
        if entry.type == "lstm":
            rows.append(("c cell state", trace[f"{p}.c"][c.t, c.sample], False))
        rows.append(("h hidden state", trace[f"{p}.h"][c.t, c.sample], False))
        for name, vec, gate in rows:
            scale = 1.0 if gate else max(float(np.nanmax(np.abs(vec))) if np.isfinite(vec).any() else 1.0, 1.0)
            _row(cells, name, vec, u, u0, u1, scale, width, gate)
        lines = _forward_story(trace, c, entry, p, d, u)
    else:
        rows = [("dL/dh_t", trace[f"grad.{p}.h"][c.t, c.sample])]
        if entry.type == "lstm":
            rows.append(("dL/dc_t", trace[f"grad.{p}.c"][c.t, c.sample]))
        for name, vec in rows:
            finite = np.abs(vec[np.isfinite(vec)])
            scale = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
            _row(cells, name, vec, u, u0, u1, scale, width)
        lines = _backward_story(trace, c, entry, p, d, u)
    return Group(title, cells, *lines)


def _forward_story(trace, c, entry, p, d, u) -> list[Text]:
    t, b = c.t, c.sample
    if entry.type == "lstm":
        i, f, g, o = (float(trace[f"{p}.gates.{k}"][t, b, u]) for k in "ifgo")
        cp = float(_prev(trace, f"{p}.c", c, d)[u])
        ct, ht = float(trace[f"{p}.c"][t, b, u]), float(trace[f"{p}.h"][t, b, u])
        return [
            Text("c_t = f⊙c_prev + i⊙g", Style(bold=True)),
            Text(f"    = {fmt(f, 0)}×{fmt(cp, 0)} + {fmt(i, 0)}×{fmt(g, 0)} = {fmt(ct, 0)}"),
            Text(f"    kept {fmt(f * cp, 0)} of {fmt(cp, 0)} (forget gate {f:.0%} open), wrote {fmt(i * g, 0)}",
                 Style(dim=True)),
            Text("h_t = o⊙tanh(c_t)", Style(bold=True)),
            Text(f"    = {fmt(o, 0)}×{fmt(float(np.tanh(ct)), 0)} = {fmt(ht, 0)}"),
        ]
    if entry.type == "gru":
        r, z, n = (float(trace[f"{p}.gates.{k}"][t, b, u]) for k in "rzn")
        hp = float(_prev(trace, f"{p}.h", c, d)[u])
        ht = float(trace[f"{p}.h"][t, b, u])
        return [
            Text("h_t = (1-z)⊙n + z⊙h_prev", Style(bold=True)),
            Text(f"    = {fmt(1 - z, 0)}×{fmt(n, 0)} + {fmt(z, 0)}×{fmt(hp, 0)} = {fmt(ht, 0)}"),
            Text(f"    new {fmt((1 - z) * n, 0)}, kept {fmt(z * hp, 0)} (update gate {z:.0%}); reset gate {r:.0%}",
                 Style(dim=True)),
        ]
    a = float(trace[f"{p}.pre"][t, b, u])
    h = float(trace[f"{p}.h"][t, b, u])
    nl = entry.nonlinearity
    deriv = {"tanh": 1 - h * h, "relu": float(a > 0), "identity": 1.0}[nl]
    return [Text(f"h_t = {nl}(a_t) = {nl}({fmt(a, 0)}) = {fmt(h, 0)}   {nl}'(a_t) = {fmt(deriv, 0)}")]


def _backward_story(trace, c, entry, p, d, u) -> list[Text]:
    t, b = c.t, c.sample
    dh = float(trace[f"grad.{p}.h"][t, b, u])
    out = [Text(f"BPTT at t={t}: dL/dh_t = {fmt(dh, 0)}", Style(bold=True))]
    if entry.type == "lstm":
        o = float(trace[f"{p}.gates.o"][t, b, u])
        tc = float(np.tanh(trace[f"{p}.c"][t, b, u]))
        from_h = dh * o * (1 - tc * tc)
        dcn = _next(trace, f"grad.{p}.c", c, d)
        fn = _next(trace, f"{p}.gates.f", c, d)
        through = float(dcn[u] * fn[u]) if dcn is not None else 0.0
        dc = float(trace[f"grad.{p}.c"][t, b, u])
        out.append(Text("dL/dc_t = dL/dh_t⊙o⊙(1-tanh²c) + dL/dc_next⊙f_next", Style(bold=True)))
        out.append(Text(f"        = {fmt(from_h, 0)} (from h_t) + {fmt(through, 0)} (through time) = {fmt(dc, 0)}"))
        out.append(Text("      the cell-state path multiplies by the forget gate only: no W_hh, no tanh'",
                        Style(dim=True)))
    through = through_time(trace, c.place(trace.info), t, b)
    if through is None:
        out.append(Text("BPTT starts here: only the output at this step contributes", Style(dim=True)))
    else:
        via = {"rnn": f"W_hhᵀ(dL/dh_next⊙{entry.nonlinearity}')", "lstm": "W_hhᵀ(gate gradients at t+1)",
               "gru": "z_next⊙dL/dh_next + W_hhᵀ(gate gradients at t+1)"}[entry.type]
        out.append(Text(f"dL/dh_t = from the output at t + {via}", Style(bold=True)))
        out.append(Text(f"        = {fmt(dh - float(through[u]), 0)} + {fmt(float(through[u]), 0)} (through time)"))
    jac = jacobian_norm_at(trace, entry, int(p.split(".")[2][1:]), d, t)[b]
    out.append(Text(f"‖dh_t/dh_prev‖ = {fmt(float(jac), 0)} at this step", Style(dim=True)))
    return out


def entry_panel(trace, c: Cursor, width: int = 80) -> Group:
    """A dense, activation or flatten entry: its output (and gradient) at t, unit by unit."""
    info = trace.info
    place = c.place(info)
    entry = info.entries[place.entry]
    key = f"model.{entry.index}.out"
    arr = trace[key] if c.phase == "forward" else trace[f"grad.{key}"]
    vec = arr[c.t, c.sample] if entry.seq_out and info.seq else arr[c.sample]
    vec = np.asarray(vec).reshape(-1)
    u = min(c.unit, vec.size - 1)
    u0, u1 = _window(width, vec.size, u)
    finite = np.abs(vec[np.isfinite(vec)])
    scale = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    cells = Cells()
    _row(cells, "out" if c.phase == "forward" else "dL/dout", vec, u, u0, u1, scale, width)
    where = f"t={c.t}" if entry.seq_out and info.seq else "one vector per sequence"
    title = Text(f"{entry.type} {place.label(info)} · {where} · sample {c.sample} · unit {u}", Style(bold=True))
    return Group(title, cells)
