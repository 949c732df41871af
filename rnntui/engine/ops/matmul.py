"""`matmul` (torch.matmul: a batch of matrix products, leading axes broadcast) and `bmm` (the same on
two 3-axis values with equal leading axes). The batch axis must be one of the leading axes of both."""
from __future__ import annotations

import numpy as np

from rnntui.engine.ops.base import Op, OpProblem, result, unbroadcast


class MatMul(Op):
    arity = (2, 2)

    def __init__(self, name: str, doc: str):
        super().__init__(name)
        self.doc = doc

    def infer(self, cfg, ins):
        a, b = ins
        for v in ins:
            if v.ndim < 3:
                raise OpProblem("from", f"found {v.describe()}; {self.type} needs matrices per sample: at least 3 "
                                "axes with the batch axis among the leading ones")
        if self.type == "bmm" and (a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]):
            raise OpProblem("from", f"found {a.describe()} and {b.describe()}; bmm needs two 3-axis values with the "
                            "same first axis")
        if a.shape[-1] != b.shape[-2]:
            raise OpProblem("from", f"found {a.describe()} @ {b.describe()}: {a.shape[-1]} columns against "
                            f"{b.shape[-2]} rows")
        if a.ndim - a.bpos != b.ndim - b.bpos:
            raise OpProblem("from", f"found {a.describe()} and {b.describe()}, whose batch axes do not line up")
        try:
            lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise OpProblem("from", f"the leading axes of {a.shape} and {b.shape} do not broadcast") from None
        shape = tuple(lead) + (a.shape[-2], b.shape[-1])
        return result(shape, len(shape) - (a.ndim - a.bpos), self.type), {}

    def mixes_steps(self, info, training):
        return True

    def run(self, info, xs, ctx):
        return np.matmul(xs[0], xs[1]), None

    def grads(self, info, xs, out, cache, g, ctx):
        a, b = xs
        ga = np.matmul(g, np.swapaxes(b, -1, -2))
        gb = np.matmul(np.swapaxes(a, -1, -2), g)
        return [unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)]

    def formula(self, info):
        return f"y = torch.{self.type}(a, b)"


OPS = (MatMul("matmul", "torch.matmul(a, b): matrix products, leading axes broadcast"),
       MatMul("bmm", "torch.bmm(a, b): a batch of matrix products"))
