"""Elementwise functions of one value: tanh, sigmoid, relu, exp, log, neg, abs, sqrt. Each with its
derivative as torch autograd takes it (relu and abs: 0 at 0)."""
from __future__ import annotations

import numpy as np

from rnntui.engine.activations import sigmoid_
from rnntui.engine.ops.base import Op, result

# name -> (forward, dL/dx from (x, y, dL/dy), the formula)
FUNCTIONS = {
    "tanh": (np.tanh, lambda x, y, g: g * (1 - y * y), "tanh(x)"),
    "sigmoid": (lambda x: sigmoid_(x.copy()), lambda x, y, g: g * y * (1 - y), "1 / (1 + exp(-x))"),
    "relu": (lambda x: np.maximum(x, 0), lambda x, y, g: g * (x > 0), "max(x, 0)"),
    "exp": (np.exp, lambda x, y, g: g * y, "exp(x)"),
    "log": (np.log, lambda x, y, g: g / x, "log(x)"),
    "neg": (np.negative, lambda x, y, g: -g, "-x"),
    "abs": (np.abs, lambda x, y, g: g * np.sign(x), "|x|"),
    "sqrt": (np.sqrt, lambda x, y, g: g / (2 * y), "sqrt(x)"),
}


class Elementwise(Op):
    def __init__(self, name: str):
        super().__init__(name)
        self.fn, self.dfn, self.text = FUNCTIONS[name]
        self.doc = f"torch.{name}(x) elementwise: {self.text}"

    def infer(self, cfg, ins):
        return result(ins[0].shape, ins[0].bpos, self.type), {}

    def run(self, info, xs, ctx):
        return self.fn(xs[0]), None

    def grads(self, info, xs, out, cache, g, ctx):
        return [self.dfn(xs[0], out, g)]

    def formula(self, info):
        return f"y = {self.text}"


OPS = tuple(Elementwise(name) for name in FUNCTIONS)
