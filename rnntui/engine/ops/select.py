"""Picking steps or features: `index` (x.select(dim, at): one position, the axis removed, e.g. the
last step `{dim: 0, at: -1}` or `h_n[-1]`), `slice` (x[start:stop:step] along an axis), and `last`
(each sample's last real step of a sequence: for a batch of different lengths, the step at its own
length - 1, as PyTorch's h_n of a packed sequence; else the last step)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from rnntui.engine.ops.base import AlongAxis, Op, OpProblem, axis, not_batch, result

WHOLE = {"min": -(1 << 31), "max": (1 << 31) - 1}


@dataclass(frozen=True)
class IndexConfig:
    dim: int = field(default=0, metadata={"doc": "the axis (0: the steps of a sequence)"})
    at: int = field(default=-1, metadata={**WHOLE, "doc": "the position (negative counts from the end)"})


@dataclass(frozen=True)
class SliceConfig:
    dim: int = field(default=0, metadata={"doc": "the axis"})
    start: Optional[int] = field(default=None, metadata={**WHOLE, "doc": "first position (Python's slice)"})
    stop: Optional[int] = field(default=None, metadata={**WHOLE, "doc": "position after the last"})
    step: int = field(default=1, metadata={"min": 1, "max": (1 << 31) - 1, "doc": "stride"})


class Index(AlongAxis):
    type = "index"
    one_step = True
    Config = IndexConfig
    doc = "x.select(dim, at): one position of an axis, the axis removed"

    def infer(self, cfg, ins):
        v = ins[0]
        d = axis(cfg.dim, v.ndim)
        not_batch(d, v, what="index")
        n = v.shape[d]
        if not -n <= cfg.at < n:
            raise OpProblem("at", f"found {cfg.at}; axis {d} of {v.describe()} has positions {-n}..{n - 1}")
        shape = v.shape[:d] + v.shape[d + 1:]
        return result(shape, v.bpos - (1 if d < v.bpos else 0), "index"), {"dim": d, "at": cfg.at % n}

    def _part(self, config):
        return config["at"]

    def run(self, info, xs, ctx):
        return np.take(xs[0], info.config["at"], axis=info.config["dim"]), None

    def formula(self, info):
        return f"y = x.select({info.config['dim']}, {info.config['at']})"


class Slice(AlongAxis):
    type = "slice"
    Config = SliceConfig
    doc = "x[start:stop:step] along an axis"

    def infer(self, cfg, ins):
        v = ins[0]
        d = axis(cfg.dim, v.ndim)
        not_batch(d, v, what="slice")
        lo, hi, st = slice(cfg.start, cfg.stop, cfg.step).indices(v.shape[d])
        n = len(range(lo, hi, st))
        if n == 0:
            raise OpProblem("start", f"found [{cfg.start}:{cfg.stop}:{cfg.step}] of axis {d} (length {v.shape[d]}); "
                            "it selects nothing")
        shape = list(v.shape)
        shape[d] = n
        return result(shape, v.bpos, "slice"), {"dim": d, "start": lo, "stop": hi, "step": st}

    def _part(self, config):
        return slice(config["start"], config["stop"], config["step"])

    def formula(self, info):
        c = info.config
        return f"y = x[{c['start']}:{c['stop']}:{c['step']}] along axis {c['dim']}"


class Last(Op):
    type = "last"
    one_step = True
    doc = "each sample's last real step of a sequence (its own length - 1 in a batch of different lengths)"

    def infer(self, cfg, ins):
        v = ins[0]
        if not v.seq:
            raise OpProblem("from", f"found {v.describe()}, which has no steps; last takes a sequence (T, B, ...)")
        return result((v.shape[1],) + v.feat, 0, "last"), {}

    def mixes_steps(self, info, training):
        return True

    def _steps(self, info, x, ctx):
        lengths = ctx.lengths.get(info.lengths_of) if info.lengths_of else None
        return np.full(x.shape[1], x.shape[0] - 1) if lengths is None else np.asarray(lengths) - 1

    def run(self, info, xs, ctx):
        x = xs[0]
        steps = self._steps(info, x, ctx)
        return x[steps, np.arange(x.shape[1])], steps

    def grads(self, info, xs, out, cache, g, ctx):
        gx = np.zeros_like(xs[0])
        gx[cache, np.arange(gx.shape[1])] = g
        return [gx]

    def formula(self, info):
        return "y[b] = x[length_b - 1, b]    (each sample's last real step)"


OPS = (Index(), Slice(), Last())
