"""Ops that rearrange a value without computing: `reshape` (and `view`), `transpose`, `permute`,
`squeeze`, `unsqueeze`. Their gradient is the same rearrangement undone."""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import numpy as np

from rnntui.engine.ops.base import Op, OpProblem, axis, not_batch, result


@dataclass(frozen=True)
class ReshapeConfig:
    shape: tuple[int, ...] = field(default=(-1,), metadata={
        "min": -1, "max": (1 << 31) - 1,
        "doc": "each sample's new feature shape (one -1 is inferred): x.reshape(T, B, *shape) or x.reshape(B, *shape)"})


class Reshape(Op):
    Config = ReshapeConfig

    def __init__(self, name: str):
        super().__init__(name)
        self.doc = f"x.{name}(T, B, *shape) or x.{name}(B, *shape): the features of each sample reshaped"

    def infer(self, cfg, ins):
        v = ins[0]
        feat = list(cfg.shape)
        n = prod(v.feat)
        if feat.count(-1) > 1 or 0 in feat:
            raise OpProblem("shape", f"found {list(cfg.shape)}; expected sizes of 1 or more and at most one -1")
        if -1 in feat:
            rest = prod(f for f in feat if f != -1)
            if n % rest:
                raise OpProblem("shape", f"found {list(cfg.shape)}; {n} features per sample do not divide by {rest}")
            feat[feat.index(-1)] = n // rest
        if prod(feat) != n:
            raise OpProblem("shape", f"found {list(cfg.shape)} ({prod(feat)} numbers); each sample has {n} "
                            f"({v.describe()})")
        return result(v.shape[:v.bpos + 1] + tuple(feat), v.bpos, self.type), {"shape": tuple(feat)}

    def run(self, info, xs, ctx):
        x = xs[0]
        lead = x.shape[:2] if info.seq_in else x.shape[:1]
        return x.reshape(lead + tuple(info.config["shape"])), None

    def grads(self, info, xs, out, cache, g, ctx):
        return [g.reshape(xs[0].shape)]

    def formula(self, info):
        lead = "T, B" if info.seq_in else "B"
        return f"y = x.{self.type}({lead}, {', '.join(str(n) for n in info.config['shape'])})"


@dataclass(frozen=True)
class PermuteConfig:
    dims: tuple[int, ...] = field(default=(), metadata={"doc": "the new order of the axes (PyTorch's permute)"})


@dataclass(frozen=True)
class TransposeConfig:
    dim0: int = field(default=0, metadata={"doc": "one axis"})
    dim1: int = field(default=1, metadata={"doc": "the other"})


def permuted(v, order: list[int], key: str):
    if sorted(order) != list(range(v.ndim)):
        raise OpProblem(key, f"found {order}; expected an order of the {v.ndim} axes 0..{v.ndim - 1} of {v.describe()}")
    shape = tuple(v.shape[k] for k in order)
    return result(shape, order.index(v.bpos), "permute")


class Permute(Op):
    type = "permute"
    Config = PermuteConfig
    doc = "x.permute(*dims)"

    def infer(self, cfg, ins):
        v = ins[0]
        order = [axis(d, v.ndim, "dims") for d in cfg.dims]
        return permuted(v, order, "dims"), {"dims": tuple(order)}

    def mixes_steps(self, info, training):
        return True

    def run(self, info, xs, ctx):
        return np.ascontiguousarray(np.transpose(xs[0], info.config["dims"])), None

    def grads(self, info, xs, out, cache, g, ctx):
        return [np.transpose(g, np.argsort(info.config["dims"]))]

    def formula(self, info):
        return f"y = x.permute{tuple(info.config['dims'])}"


class Transpose(Op):
    type = "transpose"
    Config = TransposeConfig
    doc = "x.transpose(dim0, dim1)"

    def infer(self, cfg, ins):
        v = ins[0]
        a, b = axis(cfg.dim0, v.ndim, "dim0"), axis(cfg.dim1, v.ndim, "dim1")
        order = list(range(v.ndim))
        order[a], order[b] = b, a
        return permuted(v, order, "dim0"), {"dim0": a, "dim1": b, "dims": tuple(order)}

    def mixes_steps(self, info, training):
        return True

    run = Permute.run
    grads = Permute.grads

    def formula(self, info):
        return f"y = x.transpose({info.config['dim0']}, {info.config['dim1']})"


@dataclass(frozen=True)
class SqueezeConfig:
    dim: int = field(default=-1, metadata={"doc": "the axis of size 1 to remove"})


@dataclass(frozen=True)
class UnsqueezeConfig:
    dim: int = field(default=-1, metadata={"doc": "where the new axis of size 1 goes"})


class Squeeze(Op):
    type = "squeeze"
    Config = SqueezeConfig
    doc = "x.squeeze(dim): an axis of size 1 removed"

    def infer(self, cfg, ins):
        v = ins[0]
        d = axis(cfg.dim, v.ndim)
        not_batch(d, v, what="remove")
        if v.shape[d] != 1:
            raise OpProblem("dim", f"found axis {d} of size {v.shape[d]} in {v.describe()}; squeeze removes an axis "
                            "of size 1")
        shape = v.shape[:d] + v.shape[d + 1:]
        return result(shape, v.bpos - (1 if d < v.bpos else 0), "squeeze"), {"dim": d}

    def run(self, info, xs, ctx):
        return np.squeeze(xs[0], axis=info.config["dim"]), None

    def grads(self, info, xs, out, cache, g, ctx):
        return [g.reshape(xs[0].shape)]

    def formula(self, info):
        return f"y = x.squeeze({info.config['dim']})"


class Unsqueeze(Op):
    type = "unsqueeze"
    Config = UnsqueezeConfig
    doc = "x.unsqueeze(dim): a new axis of size 1"

    def infer(self, cfg, ins):
        v = ins[0]
        d = axis(cfg.dim, v.ndim + 1)
        shape = v.shape[:d] + (1,) + v.shape[d:]
        return result(shape, v.bpos + (1 if d <= v.bpos else 0), "unsqueeze"), {"dim": d}

    def run(self, info, xs, ctx):
        return np.expand_dims(xs[0], info.config["dim"]), None

    def grads(self, info, xs, out, cache, g, ctx):
        return [g.reshape(xs[0].shape)]

    def formula(self, info):
        return f"y = x.unsqueeze({info.config['dim']})"


OPS = (Reshape("reshape"), Reshape("view"), Transpose(), Permute(), Squeeze(), Unsqueeze())
