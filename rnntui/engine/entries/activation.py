"""`activation`: a standalone activation function."""
from __future__ import annotations

from dataclasses import dataclass

from rnntui.engine.entries.base import Activated, Activation, sizes
from rnntui.engine.fields import choice
from rnntui.engine.layout import EntryInfo, Footprint


@dataclass(frozen=True)
class ActivationConfig:
    function: Activation = choice(doc="relu, tanh, sigmoid, softmax, log_softmax or none")


class ActivationEntry(Activated):
    accepts_packed = True  # applies at each step on its own
    type = "activation"
    Config = ActivationConfig
    config_in_info = {"activation": "function"}
    doc = "a standalone activation"
    activation_key = "function"

    def layout(self, index, cfg, feat, seq, steps, ctx) -> EntryInfo:
        return EntryInfo(index, "activation", feat, feat, seq, seq, steps=steps if seq else 1,
                         activation=cfg.function)

    def footprint(self, info, steps, B) -> Footprint:
        f = super().footprint(info, steps, B)
        n_out = sizes(info, steps, B)[1]
        return Footprint(held=f.held - n_out, records=f.records, temp=f.temp)  # its pre is what it receives

    def forward(self, info, x, params, rec, ctx):
        return x, self.activate(info, x, rec), None

    def backward(self, info, x, pre, out, cache, g_out, params, grads, rec, g_pre=None):
        return self.pre_gradient(info, pre, out, g_out, rec, g_pre)

    def describe(self, info) -> str:
        return f"function {info.activation}"

    def equations(self, info) -> list[str]:
        return [f"y = {info.activation}(x)"]
