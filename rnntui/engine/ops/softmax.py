"""`softmax` and `log_softmax` along an axis (F.softmax, F.log_softmax)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnntui.engine.ops.base import Op, axis, not_batch, result


@dataclass(frozen=True)
class SoftmaxConfig:
    dim: int = field(default=-1, metadata={"doc": "the axis the probabilities sum to 1 along"})


class Softmax(Op):
    Config = SoftmaxConfig

    def __init__(self, name: str, doc: str):
        super().__init__(name)
        self.doc = doc

    def infer(self, cfg, ins):
        v = ins[0]
        d = axis(cfg.dim, v.ndim)
        not_batch(d, v, what=f"take the {self.type} over")
        return result(v.shape, v.bpos, self.type), {"dim": d}

    def mixes_steps(self, info, training):
        return info.seq_in and info.config["dim"] == 0

    def run(self, info, xs, ctx):
        d = info.config["dim"]
        x = xs[0]
        z = x - np.max(x, axis=d, keepdims=True)
        lse = np.log(np.sum(np.exp(z), axis=d, keepdims=True))
        if self.type == "log_softmax":
            return z - lse, None
        return np.exp(z - lse), None

    def grads(self, info, xs, out, cache, g, ctx):
        d = info.config["dim"]
        if self.type == "log_softmax":
            return [g - np.exp(out) * np.sum(g, axis=d, keepdims=True)]
        return [out * (g - np.sum(g * out, axis=d, keepdims=True))]

    def formula(self, info):
        return f"y = F.{self.type}(x, dim={info.config['dim']})"


OPS = (Softmax("softmax", "F.softmax(x, dim)"), Softmax("log_softmax", "F.log_softmax(x, dim): log-probabilities"))
