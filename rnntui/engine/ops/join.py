"""`cat` and `stack`: several values joined along an axis (torch.cat, torch.stack)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnntui.engine.ops.base import Op, OpProblem, axis, not_batch, result


@dataclass(frozen=True)
class JoinConfig:
    dim: int = field(default=-1, metadata={"doc": "the axis (PyTorch's dim of the (T, B, ...) or (B, ...) array)"})


class Cat(Op):
    type = "cat"
    arity = (1, None)
    Config = JoinConfig
    doc = "torch.cat(from, dim): the values joined along an existing axis"

    def infer(self, cfg, ins):
        first = ins[0]
        d = axis(cfg.dim, first.ndim)
        not_batch(d, first, what="join along")
        for v in ins[1:]:
            if v.bpos != first.bpos or v.ndim != first.ndim or \
                    any(a != b for k, (a, b) in enumerate(zip(v.shape, first.shape)) if k != d):
                raise OpProblem("from", f"found {first.describe()} and {v.describe()}; torch.cat along axis {d} "
                                "needs the same shape on every other axis")
        shape = list(first.shape)
        shape[d] = sum(v.shape[d] for v in ins)
        return result(shape, first.bpos, "cat"), {"dim": d}

    def mixes_steps(self, info, training):
        return info.seq_out and info.config["dim"] == 0

    def run(self, info, xs, ctx):
        return np.concatenate(xs, axis=info.config["dim"]), None

    def grads(self, info, xs, out, cache, g, ctx):
        d = info.config["dim"]
        cuts = np.cumsum([x.shape[d] for x in xs])[:-1]
        return np.split(g, cuts, axis=d)

    def formula(self, info):
        return f"y = torch.cat(inputs, dim={info.config['dim']})"


class Stack(Op):
    type = "stack"
    arity = (1, None)
    Config = JoinConfig
    doc = "torch.stack(from, dim): the values joined along a new axis"

    def infer(self, cfg, ins):
        first = ins[0]
        d = axis(cfg.dim, first.ndim + 1)
        for v in ins[1:]:
            if v.shape != first.shape or v.bpos != first.bpos:
                raise OpProblem("from", f"found {first.describe()} and {v.describe()}; torch.stack needs equal shapes")
        shape = list(first.shape)
        shape.insert(d, len(ins))
        return result(shape, first.bpos + (1 if d <= first.bpos else 0), "stack"), {"dim": d}

    def mixes_steps(self, info, training):
        return True

    def run(self, info, xs, ctx):
        return np.stack(xs, axis=info.config["dim"]), None

    def grads(self, info, xs, out, cache, g, ctx):
        d = info.config["dim"]
        return [np.take(g, k, axis=d) for k in range(len(xs))]

    def formula(self, info):
        return f"y = torch.stack(inputs, dim={info.config['dim']})"


OPS = (Cat(), Stack())
