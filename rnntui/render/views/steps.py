"""The view of a graph's `recurrence` node: its step graph at step t, every value it computed there
(each step node's output, a cell's c, the states), and in the backward pass each value's gradient with
the state's BPTT split (from the step's own emitted value, and through time from step t+1). Beside it,
the states over the steps, or, where the step graph attends, the attention weights as a heatmap
(decoder step x source step) with the source step each step attends to most."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.diagnostics import vector_norm
from rnntui.engine.ops.recurrence import step_layout
from rnntui.render.heatmap import state_heatmap
from rnntui.render.segments import Cells
from rnntui.render.pertrace import PerTrace
from rnntui.render.views.base import BOLD, DIM, param_norms
from rnntui.render.views.plain import PlainView
from rnntui.render.views.recurrent import finite_scale, name_width, unit_row, unit_window


def rows(trace, entry, t: int, b: int, backward: bool) -> list[tuple[str, np.ndarray]]:
    """(name, vector) of every value of the step graph at step t (or its gradient), then the states."""
    prefix = f"{entry.index}."
    out = []
    for s in step_layout(entry):
        key = keys.out(s.index)
        out.append((str(s.index)[len(prefix):], np.asarray(trace[keys.grad(key) if backward else key][t, b])))
        if s.handler.is_op and s.handler.extras:
            for name in s.handler.extras:
                k = keys.node_value(s.index, name)
                out.append((f"{str(s.index)[len(prefix):]}.{name}", np.asarray(trace[keys.grad(k) if backward else k][t, b])))
    for name in entry.config["states"]:
        k = keys.node_value(entry.index, name)
        if backward:
            out.append((f"dL/d{name}", np.asarray(trace[keys.grad(k)][t, b])))
            out.append((" from out", np.asarray(trace[keys.grad(f"{k}.{keys.FROM_OUTPUT.split('.', 1)[1]}")][t, b])))
            out.append((" thru time", np.asarray(trace[keys.grad(f"{k}.{keys.THROUGH_TIME.split('.', 1)[1]}")][t, b])))
        else:
            out.append((f"{name}_t", np.asarray(trace[k][t, b])))
    return out


def attention_node(entry):
    return next((s for s in step_layout(entry) if s.type == "attention"), None)


def source_tokens(trace, entry, att, b: int) -> list[str] | None:
    """The tokens of the sequence an attention step attends over, where the trace holds them (its keys run
    over the first input, whose tokens it records), else None."""
    from rnntui.engine.graph import source_input
    from rnntui.render.tokens import token_text

    keys_name = att.reads[1]
    outer = entry.config["outer"]
    if keys_name not in outer or "tokens" not in trace:
        return None
    node = entry.reads[1 + list(outer).index(keys_name)]
    info = trace.info
    if source_input(info.entries, node) != info.inputs[0]:
        return None
    T = np.asarray(trace[keys.node_value(att.index, "weights")]).shape[-1]
    if trace["input"].shape[0] != T:
        return None
    return [token_text(trace, s, b) for s in range(T)]


_step_jacobians = PerTrace(4096)  # (trace, node, t) -> (B,): one step's graph run again, a pass per unit of the states


def step_jacobian(trace, entry, t: int) -> np.ndarray:
    """(B,) the norm of step *t*'s Jacobian ds_t/ds_(t-1), computed once per trace, node and step."""
    from rnntui.engine.graph_diag import jacobian_norm_at

    return _step_jacobians.get(trace, (entry.index, t), lambda: jacobian_norm_at(trace, entry, t))


class StepsView(PlainView):
    kind = "steps"

    def gradients(self, trace, c, width):
        """The verdict (the one-term gradient of the states carried back), the step Jacobian's norm at the
        cursor's step, and each parameter's gradient."""
        from rnntui.render.analysis import state_symbol
        from rnntui.render.views.recurrent import verdict_lines

        info = trace.info
        place = c.place(info)
        entry = info.entries[place.entry]
        s = state_symbol(info, place)
        names = list(entry.config["states"])
        together = f" (s = {', '.join(names)} together)" if len(names) > 1 else ""
        jac = float(step_jacobian(trace, entry, c.t)[c.sample])
        line = Text(f"step Jacobian ‖d{s}_t/d{s}_(t-1)‖ at t={c.t}: {jac:.4g}{together}", DIM)
        return Group(*verdict_lines(trace, place, c.sample), line, param_norms(trace, entry))

    def cell(self, trace, c, width):
        info = trace.info
        place = c.place(info)
        entry = info.entries[place.entry]
        back = c.phase != "forward"
        found = rows(trace, entry, c.t, c.sample, back)
        name_w = name_width([n for n, _ in found])
        title = Text(f"{place.label(info)} · step graph at t={c.t} · sample {c.sample} · unit {c.unit}"
                     + (" · gradients" if back else ""), BOLD)
        cells = Cells()
        for name, vec in found:
            vec = vec.reshape(-1)
            u = min(c.unit, vec.size - 1)
            u0, u1 = unit_window(width, vec.size, u, name_w)
            unit_row(cells, name, vec, u, u0, u1, finite_scale(vec), width, name_w=name_w)
        lines = [title, cells]
        if back:
            nxt = ", ".join(f"{n} ← {r.split('.', 1)[1]}" for n, r in entry.config["next"].items())
            lines.append(Text(f"dL/d(state) = from out (this step's emitted value) + thru time (step t+1); {nxt}", DIM))
        return Group(*lines)

    def states(self, trace, c, width, height):
        info = trace.info
        entry = info.entries[c.place(info).entry]
        att = attention_node(entry)
        if att is None:
            name = next(iter(entry.config["states"]))
            k = keys.node_value(entry.index, name)
            vals = np.asarray(trace[k] if c.phase == "forward" else trace[keys.grad(k)])[:, c.sample]
            return Group(state_heatmap(vals, c.t, c.unit, width, height, name if c.phase == "forward" else f"dL/d{name}"))
        w = np.asarray(trace[keys.node_value(att.index, "weights")])[:, c.sample]      # (T_dec, T_src)
        peak = int(np.argmax(w[c.t]))
        token = source_tokens(trace, entry, att, c.sample)
        heat = state_heatmap(w, c.t, peak, width, height - 1, "attention (columns: decoder steps, rows: source steps)")
        at = f" {token[peak]!r}" if token else ""
        peaks = " ".join(str(int(p)) + (f" {token[int(p)]!r}" if token else "") for p in w.argmax(axis=1))
        return Group(Text(f"attention at t={c.t}: source step {peak}{at} most ({w[c.t, peak]:.0%}); every step's "
                          f"peak: {peaks}", DIM), heat)

    def details(self, trace, c):
        info = trace.info
        entry = info.entries[c.place(info).entry]
        found = rows(trace, entry, c.t, c.sample, c.phase != "forward")
        text = Text(f"t={c.t}, sample {c.sample}\n")
        for name, vec in found:
            vec = vec.reshape(-1)
            u = min(c.unit, vec.size - 1)
            text.append(f"{name.strip()}[{u}] = {float(vec[u]):.4g}   ‖·‖ {float(vector_norm(vec)):.4g}\n")
        return text
