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
from rnntui.engine.handlers import handler
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
        if handler(s.type).is_op and handler(s.type).extras:
            for name in handler(s.type).extras:
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


def what_if_set(trace, entry, t: int, b: int) -> str:
    """Which of the step graph's values a what-if set at step *t* in sample *b*, and which units, in words."""
    from rnntui.engine.interventions import MASK

    out = []
    for name in handler(entry.type).settable_values(entry):
        key = keys.node_value(entry.index, f"{MASK}.{name}")
        if key in trace:
            units = np.flatnonzero(np.asarray(trace[key])[t, b])
            if units.size:
                every = units.size == np.asarray(trace[key]).shape[-1]
                out.append(f"{name} ({'every unit' if every else 'units ' + ', '.join(map(str, units[:8]))})")
    return "; ".join(out)


def report_jacobians(trace, entry, steps: list[int]) -> dict | None:
    """Step -> (B,) Jacobian norms for a report's steps: read where the trace holds them, computed where that is
    cheap (engine/graph_diag.py CHEAP_WORK), else None."""
    from rnntui.engine.diagnostics import ParamView
    from rnntui.engine.graph_diag import CHEAP_WORK, jacnorm_work, jacobian_norms

    key = keys.diag(keys.entry_prefix(entry.index), "jacnorm")
    if trace.is_computed(key) or jacnorm_work(entry, trace.info.B) <= CHEAP_WORK:
        jac = np.asarray(trace[key], dtype=float)
        return {t: jac[t] for t in steps}
    if not steps or jacnorm_work(entry, trace.info.B) * len(steps) // entry.steps > CHEAP_WORK:
        return None
    found = jacobian_norms(trace.info, entry, trace, ParamView(trace), steps=steps)
    return {t: np.asarray(found[k], dtype=float) for k, t in enumerate(steps)}


_step_jacobians = PerTrace(4096)  # (trace, node, t) -> (B,): one step's graph run again, a pass per unit of the states


def step_jacobian(trace, entry, t: int) -> np.ndarray:
    """(B,) the norm of step *t*'s Jacobian ds_t/ds_(t-1), computed once per trace, node and step."""
    from rnntui.engine.graph_diag import jacobian_norm_at

    return _step_jacobians.get(trace, (entry.index, t), lambda: jacobian_norm_at(trace, entry, t))


class StepsView(PlainView):
    kind = "steps"

    def gradients(self, trace, c, width, defer=False):
        """The verdict (the one-term gradient of the states carried back; *defer*: a line that says it is being
        measured, until it is), the step Jacobian's norm at the cursor's step, and each parameter's gradient."""
        from rnntui.render.analysis import state_symbol
        from rnntui.render.views.recurrent import verdict_lines

        info = trace.info
        place = c.place(info)
        entry = info.entries[place.entry]
        s = state_symbol(info, place)
        names = list(entry.config["states"])
        together = f" (s = {', '.join(names)} together)" if len(names) > 1 else ""
        from rnntui.engine.graph_diag import CHEAP_WORK, jacnorm_work

        if trace.is_computed(place.diag_key("jacnorm")) or jacnorm_work(entry, info.B) // entry.steps <= CHEAP_WORK // 8:
            jac = float(step_jacobian(trace, entry, c.t)[c.sample])
            line = Text(f"step Jacobian ‖d{s}_t/d{s}_(t-1)‖ at t={c.t}: {jac:.4g}{together}", DIM)
        else:   # too slow to compute at every key: a watch on jacnorm computes it off the keys' way
            line = Text(f"step Jacobian ‖d{s}_t/d{s}_(t-1)‖: not computed at every key for a recurrence this large "
                        "(w jacnorm computes it in the background)", DIM)
        return Group(*verdict_lines(trace, place, c.sample, defer), line, param_norms(trace, entry))

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
        set_here = what_if_set(trace, entry, c.t, c.sample)
        if set_here:
            lines.append(Text(f"set by the what-if at t={c.t}: {set_here}; what follows in the step graph reads the "
                              "value set", "yellow"))
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
            vals = (trace[k] if c.phase == "forward" else trace[keys.grad(k)])[:, c.sample]   # a window of steps is read
            return Group(state_heatmap(vals, c.t, c.unit, width, height, name if c.phase == "forward" else f"dL/d{name}"))
        w = np.asarray(trace[keys.node_value(att.index, "weights")])[:, c.sample]      # (T_dec, T_src)
        peak = int(np.argmax(w[c.t]))
        token = source_tokens(trace, entry, att, c.sample)
        heat = state_heatmap(w, c.t, peak, width, height - 1, "attention (columns: decoder steps, rows: source steps)",
                             rows="source steps")
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

    def report(self, trace, place, index: int, opts) -> list:
        """Its step graph's equations, then BPTT through it: ‖dL/ds_t‖ per step on a log scale (the batch's),
        each step's Jacobian norm ‖ds_t/ds_(t-1)‖ (sample 0's and the batch's largest), and the verdict."""
        import math

        from rnntui.render.doc import Figure
        from rnntui.render.report_table import Columns
        from rnntui.render.views.recurrent import verdict_lines

        info = trace.info
        entry = info.entries[place.entry]
        rng = opts.step_range(entry.steps)
        out = [Text("\n".join(handler(entry.type).equations(entry)), DIM)]
        if info.packs(entry):
            out.append(Text("samples of different lengths (packed): " + ", ".join(
                f"{b}: {n}" for b, n in enumerate(info.lengths)) + f" of T={entry.steps}; past its length a sample's "
                "states stay as they were and it emits zeros", DIM))
        names = list(entry.config["states"])
        s = names[0] if len(names) == 1 else "s"
        g = np.asarray(trace[place.diag_key("gradnorm")], dtype=float)
        jac = report_jacobians(trace, entry, list(rng))   # step -> (B,), or None where too costly for a report
        pos = g[np.isfinite(g) & (g > 0)]
        lo, hi = (math.log10(pos.min()), math.log10(pos.max())) if pos.size else (0.0, 0.0)
        over = f" over the batch of {info.B}" if info.B > 1 else ""
        together = f" (s = {', '.join(names)} together)" if len(names) > 1 else ""
        headers = [("t", ">"), (f"‖dL/d{s}_t‖", ">"), ("log scale", "<")]
        if jac is not None:
            headers += [(f"‖d{s}_t/d{s}_(t-1)‖", ">")] if info.B == 1 else \
                [(f"‖d{s}_t/d{s}_(t-1)‖ sample 0", ">"), ("largest of the batch", ">")]
        cols = Columns(f"Backward pass (BPTT), {place.label(info)}: ‖dL/d{s}_t‖{over} per step, log scale"
                       + (f", and each step's Jacobian norm{together}" if jac is not None else ""), headers)
        for t in list(rng)[::-1]:   # in the order BPTT visits them
            v = g[t]
            if not math.isfinite(v):
                bar = ("!" * 21, None)
            elif v > 0:
                bar = ("█" * (int(round((math.log10(v) - lo) / max(hi - lo, 1e-12) * 20)) + 1 if hi > lo else 21), None)
            else:
                bar = ("·", None)
            row = [str(t), f"{v:.3e}", bar]
            if jac is not None:
                # a padded step is no step of the sample (its state is carried as it was): no norm to print
                real = np.array([t < (info.length_of(b) if info.packs(entry) else entry.steps) for b in range(info.B)])
                row.append(f"{jac[t][0]:.4g}" if real[0] else "padding")
                if info.B > 1:
                    js = np.asarray(jac[t])[real]
                    row.append(f"{np.nanmax(js):.4g}" if np.isfinite(js).any() else "nan")
            cols.add(*row)
        steps = np.asarray(list(rng), dtype=np.intp)
        chart = Figure(cols.render(), "steps", {"values": g[steps], "x": steps, "log": True, "xlabel": "step t",
                                                "title": f"‖dL/d{s}_t‖ per step, {place.label(info)}",
                                                "ylabel": f"‖dL/d{s}_t‖ (log)"}, table=True)
        if jac is None:
            out.append(Text(f"(each step's Jacobian norm ‖d{s}_t/d{s}_(t-1)‖ is not computed for a report of a "
                            "recurrence this large; the debugger shows it step by step, and the trace key "
                            f"{place.diag_key('jacnorm')} holds all of them)", DIM))
        return out + [chart, *verdict_lines(trace, place, None), Text("")]
