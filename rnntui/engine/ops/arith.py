"""`add`, `sub`, `mul`: elementwise with PyTorch's broadcasting, of two values (or one value and a
number, `value:`). The gradient of a broadcast input is summed over the axes it was stretched along."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from rnntui.engine.ops.base import Op, OpProblem, broadcast_val, unbroadcast


@dataclass(frozen=True)
class ArithConfig:
    value: Optional[float] = field(default=None, metadata={"doc": "a number in place of a second value"})


class Arith(Op):
    arity = (1, 2)
    Config = ArithConfig

    def __init__(self, name: str, symbol: str, doc: str):
        super().__init__(name)
        self.symbol, self.doc = symbol, doc

    def infer(self, cfg, ins):
        if (len(ins) == 2) == (cfg.value is not None):
            raise OpProblem("from", f"found {len(ins)} value(s){' and value:' if cfg.value is not None else ''}; "
                            f"{self.type} takes two values in `from`, or one and a number `value:`")
        return broadcast_val(ins), self.config_dict(cfg)

    def _operands(self, info, xs):
        v = (info.config or {}).get("value")
        return xs[0], (xs[1] if len(xs) == 2 else np.asarray(v, dtype=xs[0].dtype))

    def run(self, info, xs, ctx):
        a, b = self._operands(info, xs)
        if self.type == "add":
            return a + b, None
        if self.type == "sub":
            return a - b, None
        return a * b, None

    def grads(self, info, xs, out, cache, g, ctx):
        a, b = self._operands(info, xs)
        if self.type == "add":
            ga, gb = g, g
        elif self.type == "sub":
            ga, gb = g, -g
        else:
            ga, gb = g * b, g * a
        out = [unbroadcast(ga, a.shape)]
        if len(xs) == 2:
            out.append(unbroadcast(gb, b.shape))
        return out

    def formula(self, info):
        v = (info.config or {}).get("value")
        return f"y = a {self.symbol} " + ("b" if v is None else f"{v:g}")


OPS = (Arith("add", "+", "a + b (broadcasting), e.g. a residual connection"),
       Arith("sub", "-", "a - b (broadcasting)"),
       Arith("mul", "*", "a * b elementwise (broadcasting)"))
