"""The cells a recurrence's step graph runs once per step (engine/recurrence.py): one per recurrent family
(`lstm_cell`, `gru_cell`, `rnn_cell`: nn.LSTMCell, nn.GRUCell, nn.RNNCell), with the family's PyTorch
parameter names and gate order. A cell reads `from: [x, h]` (an LSTM cell `[x, h, c]`: the family's
states), returns h' and its other states as extra values (`cell.c`); each gate is recorded at every step
(`model.{i}.{cell}.gates.*`).

A cell is one step of its family: it runs the family's own step maths through the recurrence driver
(engine/families/driver.py) over a sequence of one step, from the states it reads, with the gradients
reaching its other states (an LSTM cell's dL/dc') injected as the final gradient. A new family brings
its cell with it.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from rnntui.engine import keys
from rnntui.engine.families import FAMILIES, Family
from rnntui.engine.families.base import STEMS
from rnntui.engine.ops.base import Op, OpProblem, result


class Cell(Op):
    is_cell = True

    def __init__(self, fam: Family):
        super().__init__(f"{fam.name}_cell")
        self.family, self.title, self.states, self.Config = fam, f"{fam.title}Cell", fam.states, fam.cell_config
        self.arity = (1 + len(fam.states), 1 + len(fam.states))
        self.extras = fam.states[1:]
        # recorded as gates.{g} (a vanilla RNN's cell has none); the diagnostics' sat.* (engine/graph_diag.py)
        self.gate_names, self.sigmoid_gates = fam.gates, fam.sigmoid_gates
        self.doc = f"nn.{self.title}: one step, from: [x, {', '.join(fam.states)}]"

    def infer(self, cfg, ins):
        x, *st = ins
        H = cfg.hidden_size
        for name, v in zip(self.states, st):
            if v.seq or v.feat != (H,):
                raise OpProblem("from", f"found {name} {v.describe()}; {self.type} with hidden_size {H} reads {name} as "
                                f"(B, {H})")
        if x.seq or len(x.feat) != 1:
            raise OpProblem("from", f"found x {x.describe()}; {self.type} reads one step's input, (B, features)")
        conf = {"hidden_size": H, "input_size": x.feat[0]}
        if hasattr(cfg, "nonlinearity"):
            conf["nonlinearity"] = cfg.nonlinearity
        return result((x.shape[0], H), 0, self.type), conf

    def params_of(self, index, conf) -> dict:
        shapes = self.family.param_shapes(conf["hidden_size"], conf["input_size"])
        return {f"{index}.{stem}": shape for stem, shape in shapes.items()}

    def init_bound(self, info, name) -> float:
        return 1.0 / np.sqrt(info.config["hidden_size"])

    def is_recurrent_matrix(self, name: str) -> bool:
        return name.endswith(".weight_hh")

    def _p(self, info, params) -> dict:
        return {s: params[f"{info.index}.{s}"] for s in STEMS}

    def _overrides(self, info, ctx, H: int):
        """A what-if's overwrites of this cell's gates at the step running (ctx.puts, `{cell}.gates.{g}`, later wins)
        as the family's loop takes them (engine/interventions.py `Overrides` over one step), or None: the cell reads
        the set gate, and no gradient reaches the gate's pre-activation there, as at a chain's place."""
        from rnntui.engine.interventions import Overrides

        ov = None
        for g in self.family.gates:
            for mask, values in ctx.puts.get(f"{info.index}.gates.{g}", ()) if ctx.puts else ():
                name = f"gates.{g}"
                if ov is None:
                    ov = Overrides(1, H)
                if name not in ov.mask:
                    ov.mask[name], ov.values[name] = np.zeros((1, H), dtype=bool), np.zeros((1, H))
                ov.values[name][0] = np.where(mask, values, ov.values[name][0])
                ov.mask[name][0] |= mask
                ov.any[name] = ov.mask[name].any(axis=1)
        return ov

    def run(self, info, xs, ctx):
        x, *st = xs
        entry = SimpleNamespace(**info.config)
        run = self.family.forward(entry, x[None], self._p(info, ctx.params), reverse=False,
                                  state0=dict(zip(self.states, st)),
                                  overrides=self._overrides(info, ctx, info.config["hidden_size"]))
        for g in self.family.gates:
            ctx.rec[keys.node_value(info.index, f"gates.{g}")] = run.record[f"gates.{g}"][0]
        return run.h[0], {"run": run, "entry": entry, **{s: run.record[s][0] for s in self.extras}}

    def extra_values(self, cache) -> dict:
        return {s: cache[s] for s in self.extras}

    def grads(self, info, xs, out, cache, g, ctx, g_extra=None):
        x = xs[0]
        # what reaches c' (an LSTM cell's) from outside the cell enters as the gradient through time at its step
        final = {s: v for s, v in (g_extra or {}).items() if v is not None} or None
        back = self.family.backward(cache["entry"], x[None], self._p(info, ctx.params), cache["run"], g[None],
                                    reverse=False, final=final)
        for s in self.extras:   # the total dL/dc_t: through h_t and onwards
            ctx.rec[keys.grad(keys.node_value(info.index, s))] = back.record[s][0]
        for s in STEMS:
            name = f"{info.index}.{s}"
            ctx.grads[name] = back.params[s] if name not in ctx.grads else ctx.grads[name] + back.params[s]
        return [back.dx[0], *(back.state0[s] for s in self.states)]

    def describe(self, info) -> str:
        return f"hidden {info.config['hidden_size']}"

    def formula(self, info):
        return self.family.cell_formula(SimpleNamespace(**info.config))


CELLS = tuple(Cell(fam) for fam in FAMILIES.values())
