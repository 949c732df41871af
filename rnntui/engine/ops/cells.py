"""The cells a recurrence's step graph runs once per step (engine/recurrence.py): `lstm_cell`,
`gru_cell` and `rnn_cell`, as nn.LSTMCell, nn.GRUCell and nn.RNNCell with PyTorch's parameter names
and gate order. A cell reads `from: [x, h]` (an LSTM cell `[x, h, c]`), returns h' and, for an LSTM
cell, c' as its second value (`cell.c`); each gate is recorded at every step (`model.{i}.{cell}.gates.*`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from rnntui.engine import keys
from rnntui.engine.activations import sigmoid_
from rnntui.engine.fields import choice, size
from rnntui.engine.ops.base import Op, OpProblem, result

STEMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass(frozen=True)
class CellConfig:
    hidden_size: int = size(doc="units of the state")


@dataclass(frozen=True)
class RNNCellConfig:
    hidden_size: int = size(doc="units of the state")
    nonlinearity: Literal["tanh", "relu"] = choice("tanh", doc="as nn.RNNCell")


def sig(x):
    return sigmoid_(x.copy())


class Cell(Op):
    is_cell = True
    blocks = 1
    states = ("h",)
    extras: tuple[str, ...] = ()

    def __init__(self, name: str, title: str, blocks: int, states: tuple[str, ...], config):
        super().__init__(name)
        self.title, self.blocks, self.states, self.Config = title, blocks, states, config
        self.arity = (1 + len(states), 1 + len(states))
        self.extras = states[1:]
        self.doc = f"nn.{title}: one step, from: [x, {', '.join(states)}]"

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
        H, D, g = conf["hidden_size"], conf["input_size"], self.blocks
        return {f"{index}.weight_ih": (g * H, D), f"{index}.weight_hh": (g * H, H),
                f"{index}.bias_ih": (g * H,), f"{index}.bias_hh": (g * H,)}

    def init_bound(self, info, name) -> float:
        return 1.0 / np.sqrt(info.config["hidden_size"])

    def is_recurrent_matrix(self, name: str) -> bool:
        return name.endswith(".weight_hh")

    def _p(self, info, params):
        return [params[f"{info.index}.{s}"] for s in STEMS]

    def _accumulate(self, info, ctx, grads: list) -> None:
        for s, g in zip(STEMS, grads):
            name = f"{info.index}.{s}"
            ctx.grads[name] = g if name not in ctx.grads else ctx.grads[name] + g

    def describe(self, info) -> str:
        return f"hidden {info.config['hidden_size']}"


class LSTMCell(Cell):
    gate_names, sigmoid_gates = ("i", "f", "g", "o"), frozenset("ifo")   # recorded as gates.{g}; diag sat.*

    def run(self, info, xs, ctx):
        x, h, c = xs
        W_ih, W_hh, b_ih, b_hh = self._p(info, ctx.params)
        z = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        H = h.shape[-1]
        i, f, g, o = sig(z[:, :H]), sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
        c2 = f * c + i * g
        tc = np.tanh(c2)
        h2 = o * tc
        for name, v in zip("ifgo", (i, f, g, o)):
            ctx.rec[keys.node_value(info.index, f"gates.{name}")] = v
        return h2, {"c": c2, "gates": (i, f, g, o), "tc": tc}

    def extra_values(self, cache) -> dict:
        return {"c": cache["c"]}

    def grads(self, info, xs, out, cache, g, ctx, g_extra=None):
        x, h, c = xs
        W_ih, W_hh, _, _ = self._p(info, ctx.params)
        i, f, gg, o = cache["gates"]
        tc = cache["tc"]
        dc = g * o * (1 - tc * tc)
        if g_extra and g_extra.get("c") is not None:
            dc = dc + g_extra["c"]
        ctx.rec[keys.grad(keys.node_value(info.index, "c"))] = dc   # the total dL/dc_t: through h_t and onwards
        dz = np.concatenate([dc * gg * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - gg * gg),
                             g * tc * o * (1 - o)], axis=-1)
        self._accumulate(info, ctx, [dz.T @ x, dz.T @ h, dz.sum(0), dz.sum(0)])
        return [dz @ W_ih, dz @ W_hh, dc * f]

    def formula(self, info):
        return "i,f,g,o = σ,σ,tanh,σ(W_ih x + b_ih + W_hh h + b_hh); c' = f c + i g; h' = o tanh(c')"


class GRUCell(Cell):
    gate_names, sigmoid_gates = ("r", "z", "n"), frozenset("rz")

    def run(self, info, xs, ctx):
        x, h = xs
        W_ih, W_hh, b_ih, b_hh = self._p(info, ctx.params)
        H = h.shape[-1]
        a = x @ W_ih.T + b_ih
        b = h @ W_hh.T + b_hh
        r = sig(a[:, :H] + b[:, :H])
        z = sig(a[:, H:2 * H] + b[:, H:2 * H])
        n = np.tanh(a[:, 2 * H:] + r * b[:, 2 * H:])
        h2 = (1 - z) * n + z * h
        for name, v in zip("rzn", (r, z, n)):
            ctx.rec[keys.node_value(info.index, f"gates.{name}")] = v
        return h2, {"gates": (r, z, n), "bn": b[:, 2 * H:]}

    def grads(self, info, xs, out, cache, g, ctx, g_extra=None):
        x, h = xs
        W_ih, W_hh, _, _ = self._p(info, ctx.params)
        r, z, n = cache["gates"]
        bn = cache["bn"]
        dn = g * (1 - z) * (1 - n * n)
        dz = g * (h - n) * z * (1 - z)
        dr = dn * bn * r * (1 - r)
        da = np.concatenate([dr, dz, dn], axis=-1)          # d(x W_ih^T + b_ih)
        db = np.concatenate([dr, dz, dn * r], axis=-1)      # d(h W_hh^T + b_hh)
        self._accumulate(info, ctx, [da.T @ x, db.T @ h, da.sum(0), db.sum(0)])
        return [da @ W_ih, db @ W_hh + g * z]

    def formula(self, info):
        return "r,z = σ(...); n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h' = (1 - z) n + z h"


class RNNCell(Cell):
    def run(self, info, xs, ctx):
        x, h = xs
        W_ih, W_hh, b_ih, b_hh = self._p(info, ctx.params)
        pre = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        h2 = np.tanh(pre) if info.config["nonlinearity"] == "tanh" else np.maximum(pre, 0)
        return h2, {"pre": pre}

    def grads(self, info, xs, out, cache, g, ctx, g_extra=None):
        x, h = xs
        W_ih, W_hh, _, _ = self._p(info, ctx.params)
        dpre = g * (1 - out * out) if info.config["nonlinearity"] == "tanh" else g * (cache["pre"] > 0)
        self._accumulate(info, ctx, [dpre.T @ x, dpre.T @ h, dpre.sum(0), dpre.sum(0)])
        return [dpre @ W_ih, dpre @ W_hh]

    def formula(self, info):
        return f"h' = {info.config['nonlinearity']}(W_ih x + b_ih + W_hh h + b_hh)"


CELLS = (LSTMCell("lstm_cell", "LSTMCell", 4, ("h", "c"), CellConfig),
         GRUCell("gru_cell", "GRUCell", 3, ("h",), CellConfig),
         RNNCell("rnn_cell", "RNNCell", 1, ("h",), RNNCellConfig))
