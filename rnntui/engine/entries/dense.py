"""`dense`: torch.nn.Linear, then an activation; on a sequence it applies at every step."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnntui.engine import keys
from rnntui.engine.entries.base import Activated, Activation, record_step_norms
from rnntui.engine.fields import choice, size
from rnntui.engine.layout import EntryInfo, LayoutProblem


@dataclass(frozen=True)
class DenseConfig:
    units: int = size(doc="output features")
    activation: Activation = choice("none", doc="applied after the linear map")


class Dense(Activated):
    """y = act(W x + b), W of shape (units, F) as nn.Linear.weight."""
    accepts_packed = True  # applies at each step on its own

    type = "dense"
    Config = DenseConfig
    doc = "torch.nn.Linear (+ activation)"

    def layout(self, index, cfg, feat, seq, steps, ctx) -> EntryInfo:
        if len(feat) != 1:
            raise LayoutProblem(index, "type", f"dense needs a vector of features; it receives a map of shape {feat} "
                                "(add a flatten entry before it)")
        params = {keys.param_name(index, "weight"): (cfg.units, feat[0]), keys.param_name(index, "bias"): (cfg.units,)}
        return EntryInfo(index, "dense", feat, (cfg.units,), seq, seq, steps=steps if seq else 1, params=params,
                         activation=cfg.activation)

    def forward(self, info, x, params, rec, ctx):
        W, b = params[keys.param_name(info.index, "weight")], params[keys.param_name(info.index, "bias")]
        pre = (x.reshape(-1, x.shape[-1]) @ W.T + b).reshape(x.shape[:-1] + (W.shape[0],))
        return pre, self.activate(info, pre, rec), None

    def backward(self, info, x, pre, out, cache, g_out, params, grads, rec, g_pre=None):
        gpre = self.pre_gradient(info, pre, out, g_out, rec, g_pre)
        wname, bname = keys.param_name(info.index, "weight"), keys.param_name(info.index, "bias")
        g2 = gpre.reshape(-1, gpre.shape[-1])
        x2 = x.reshape(-1, x.shape[-1])
        grads[wname] = g2.T @ x2
        grads[bname] = g2.sum(axis=0)
        if info.seq_in:
            record_step_norms(rec, wname, gpre, x)
            record_step_norms(rec, bname, gpre, None)
        return (g2 @ params[wname]).reshape(x.shape)

    def init_bound(self, info, name) -> float:
        """nn.Linear's U(-k, k), k = 1/sqrt(in_features) (also where the weight is tied to another node's)."""
        return 1.0 / np.sqrt(info.in_feat[0])

    def describe(self, info) -> str:
        tied = "".join(f", {n.split('.', 1)[1]} tied to {o}" for n, o in info.aliases.items())
        return f"{info.out_shape[0]} units{tied}, activation {info.activation}"

    def equations(self, info) -> list[str]:
        if info.activation == "none":   # no activation: the linear map alone (not a function called "none")
            return ["y = W x + b    (nn.Linear)"]
        return [f"y = {info.activation}(W x + b)    (nn.Linear, then the activation)"]
