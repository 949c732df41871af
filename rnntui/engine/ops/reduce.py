"""`mean`, `sum`, `max` over one axis (x.mean(dim), x.sum(dim), x.max(dim).values; `keepdim` as in
PyTorch). Over the steps of a sequence (dim 0) they count every step, padded ones too, as PyTorch does
on a padded tensor. `max` sends the gradient to the position it took (the first of equal ones). `argmax`
(x.argmax(dim)) gives that position, an id: greedy decoding feeds it back into an embedding."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnntui.engine.ops.base import Op, axis, not_batch, result


@dataclass(frozen=True)
class ReduceConfig:
    dim: int = field(default=0, metadata={"doc": "the axis reduced (0: over the steps of a sequence)"})
    keepdim: bool = field(default=False, metadata={"doc": "keep the axis with size 1"})


class Reduce(Op):
    Config = ReduceConfig

    def __init__(self, name: str, doc: str):
        super().__init__(name)
        self.doc = doc

    def infer(self, cfg, ins):
        v = ins[0]
        d = axis(cfg.dim, v.ndim)
        not_batch(d, v, what=f"take the {self.type} over")
        if cfg.keepdim:
            shape, bpos = v.shape[:d] + (1,) + v.shape[d + 1:], v.bpos
        else:
            shape, bpos = v.shape[:d] + v.shape[d + 1:], v.bpos - (1 if d < v.bpos else 0)
        return result(shape, bpos, self.type), {"dim": d, "keepdim": cfg.keepdim}

    def mixes_steps(self, info, training):
        return info.seq_in and info.config["dim"] == 0

    def run(self, info, xs, ctx):
        x, d, keep = xs[0], info.config["dim"], info.config["keepdim"]
        if self.type == "mean":
            return x.mean(axis=d, keepdims=keep), None
        if self.type == "sum":
            return x.sum(axis=d, keepdims=keep), None
        at = np.expand_dims(np.argmax(x, axis=d), d)
        out = np.take_along_axis(x, at, axis=d)
        return (out if keep else np.squeeze(out, axis=d)), at

    def grads(self, info, xs, out, cache, g, ctx):
        x, d = xs[0], info.config["dim"]
        ge = g if info.config["keepdim"] else np.expand_dims(g, d)
        if self.type == "mean":
            return [np.broadcast_to(ge / x.shape[d], x.shape).copy()]
        if self.type == "sum":
            return [np.broadcast_to(ge, x.shape).copy()]
        gx = np.zeros_like(x)
        np.put_along_axis(gx, cache, ge, axis=d)
        return [gx]

    def formula(self, info):
        c = info.config
        keep = ", keepdim=True" if c["keepdim"] else ""
        return f"y = x.{self.type}({c['dim']}{keep})" + (".values" if self.type == "max" else "")


OPS = (Reduce("mean", "x.mean(dim): the mean over an axis"),
       Reduce("sum", "x.sum(dim): the sum over an axis"),
       Reduce("max", "x.max(dim).values: the largest value along an axis"))


@dataclass(frozen=True)
class ArgmaxConfig:
    dim: int = field(default=-1, metadata={"doc": "the axis searched (-1: the last feature axis, a score per id)"})
    keepdim: bool = field(default=False, metadata={"doc": "keep the axis with size 1"})


class Argmax(Op):
    """x.argmax(dim): the position of the largest value (the first of equal ones, as PyTorch), held as a whole
    number in the run's float dtype (as the ids an embedding reads; exact below 2^24 in float32). A choice is
    not differentiable: no gradient reaches x through it, as autograd gives none."""

    type = "argmax"
    Config = ArgmaxConfig
    doc = "x.argmax(dim): the position of the largest value, an id (no gradient flows through it)"

    def infer(self, cfg, ins):
        v = ins[0]
        d = axis(cfg.dim, v.ndim)
        not_batch(d, v, what="take the argmax over")
        if cfg.keepdim:
            shape, bpos = v.shape[:d] + (1,) + v.shape[d + 1:], v.bpos
        else:
            shape, bpos = v.shape[:d] + v.shape[d + 1:], v.bpos - (1 if d < v.bpos else 0)
        return result(shape, bpos, self.type), {"dim": d, "keepdim": cfg.keepdim, "ids": int(v.shape[d])}

    def gives_ids(self, info) -> int:
        """How many ids it can give (0..n-1: the length of the axis it searches)."""
        return int(info.config["ids"])

    def mixes_steps(self, info, training):
        return info.seq_in and info.config["dim"] == 0

    def run(self, info, xs, ctx):
        x, d = xs[0], info.config["dim"]
        return np.argmax(x, axis=d, keepdims=info.config["keepdim"]).astype(x.dtype), None

    def grads(self, info, xs, out, cache, g, ctx):
        return [None]   # a choice: no gradient reaches the scores through it

    def formula(self, info):
        c = info.config
        keep = ", keepdim=True" if c["keepdim"] else ""
        return f"y = x.argmax({c['dim']}{keep})    (an id; no gradient flows through it)"


OPS = OPS + (Argmax(),)
