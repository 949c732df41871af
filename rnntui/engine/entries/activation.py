"""`activation`: a standalone activation function."""
from __future__ import annotations

from dataclasses import dataclass

from rnntui.engine.entries.base import Activated, Activation
from rnntui.engine.fields import choice
from rnntui.engine.layout import EntryInfo


@dataclass(frozen=True)
class ActivationConfig:
    function: Activation = choice(doc="relu, tanh, sigmoid, softmax or none")


class ActivationEntry(Activated):
    takes_lengths = True  # applies at each step on its own
    type = "activation"
    Config = ActivationConfig
    doc = "a standalone activation"
    activation_key = "function"

    def layout(self, index, cfg, feat, seq, steps, ctx) -> EntryInfo:
        return EntryInfo(index, "activation", feat, feat, seq, seq, steps=steps if seq else 1,
                         activation=cfg.function)

    def forward(self, info, x, params, rec, lengths=None):
        return x, self.activate(info, x, rec), None

    def backward(self, info, x, pre, out, cache, g_out, params, grads, rec, g_pre=None):
        return self.pre_gradient(info, pre, out, g_out, rec, g_pre)

    def describe(self, info) -> str:
        return f"function {info.activation}"

    def equations(self, info) -> list[str]:
        return [f"y = {info.activation}(x)"]
