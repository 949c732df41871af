"""The `Op` base class: a node of a graph model that computes a function of the values it reads and
owns no parameter (add, cat, mean, softmax, ...).

Values in a graph are laid out as everywhere in rnntui: a sequence is (T, B, *feat), anything else
(B, *feat). An op's keys name axes as PyTorch does on that array (`dim: 0` is the step axis of a
sequence, `dim: -1` the last feature axis). At layout time a value is a `Val`: its whole shape and the
position of its batch axis (1 for a sequence, 0 otherwise); an op infers its result's `Val` and
refuses what would move the batch axis anywhere else, or mix samples. At run time it gets the arrays
and gives back dL/d(each input) from dL/d(its output), exactly as torch autograd does.

A new op is a subclass (or an instance of a generic one) in a module of this package and one line in
`ops/__init__.py`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from math import prod
from typing import Any

import numpy as np

from rnntui.engine.entries.base import Handler, NoConfig
from rnntui.engine.layout import EntryInfo, Footprint


class OpProblem(Exception):
    """What keeps an op from applying to the values it reads: *key* names the scenario key at fault."""

    def __init__(self, key: str | None, message: str):
        self.key, self.message = key, message
        super().__init__(message)


@dataclass(frozen=True)
class Val:
    """A value at layout time: its whole shape (with B, and T for a sequence) and its batch axis."""

    shape: tuple[int, ...]
    bpos: int  # 1: a sequence (T, B, ...); 0: (B, ...)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def seq(self) -> bool:
        return self.bpos == 1

    @property
    def feat(self) -> tuple[int, ...]:
        return self.shape[self.bpos + 1:]

    def describe(self) -> str:
        return ("(T, B" if self.seq else "(B") + "".join(f", {n}" for n in self.feat) + ")" + \
            f" = {self.shape}"


def val_of(info: EntryInfo, B: int) -> Val:
    """The output of a laid-out node as a Val."""
    if info.seq_out:
        return Val((info.steps, B) + tuple(info.out_shape), 1)
    return Val((B,) + tuple(info.out_shape), 0)


def axis(dim: int, ndim: int, key: str = "dim") -> int:
    """A PyTorch dim (negative counts from the end) as an axis in 0..ndim-1."""
    if not -ndim <= dim < ndim:
        raise OpProblem(key, f"found {dim}; expected an axis in {-ndim}..{ndim - 1} of a value with {ndim} axes")
    return dim % ndim


def result(shape: tuple[int, ...], bpos: int, why: str) -> Val:
    """The result of an op, refused where its batch axis would not be first, or second after the steps."""
    if bpos not in (0, 1):
        raise OpProblem(None, f"this would move the batch axis to position {bpos} ({why}); rnntui keeps every value "
                        "as (T, B, ...) or (B, ...)")
    return Val(tuple(int(n) for n in shape), bpos)


def not_batch(ax: int, v: Val, key: str = "dim", what: str = "work along") -> None:
    if ax == v.bpos:
        raise OpProblem(key, f"found axis {ax}, the batch axis of {v.describe()}; an op may not {what} the batch "
                        "(each sample runs on its own)")


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum *g* over the axes that broadcasting added or stretched, back to *shape* (autograd's rule)."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True) if stretched else g


def broadcast_val(vals: list[Val]) -> Val:
    """The Val of a broadcasting op: numpy's (PyTorch's) rule; the batch axes must line up."""
    try:
        shape = np.broadcast_shapes(*(v.shape for v in vals))
    except ValueError:
        raise OpProblem("from", "found shapes " + ", ".join(str(v.shape) for v in vals) + " that do not broadcast "
                        "together (PyTorch's rule: from the last axis, each pair equal or one of them 1)") from None
    from_end = {v.ndim - v.bpos for v in vals}
    if len(from_end) != 1:
        raise OpProblem("from", "found values whose batch axes do not line up when broadcast: "
                        + ", ".join(v.describe() for v in vals) + "; give them the same layout first (unsqueeze)")
    return result(shape, len(shape) - from_end.pop(), "broadcasting")


class Op(Handler):
    """One op. `arity`: how many values it reads (max None: any number)."""

    is_op = True
    arity: tuple[int, int | None] = (1, 1)
    accepts_packed = True       # ops never mix the steps of a sample unless `mixes` says so
    mixes = False               # whether one step's output reads other steps (a reduction over time, ...)
    one_step = False            # it reads one step of a sequence alone (last, index): its gradient enters there
    extras: tuple[str, ...] = ()  # values it gives besides its output (a cell's c'), read as `{id}.{name}`
    Config: type = NoConfig

    def info_fields(self) -> dict[str, str]:
        """None: an op's (a cell's, attention's, a recurrence's) configuration is EntryInfo.config, whole."""
        return {}

    def __init__(self, name: str | None = None):
        if name is not None:
            self.type = name

    # --- layout ---------------------------------------------------------------------------------
    def infer(self, cfg: Any, ins: list[Val]) -> tuple[Val, dict]:  # pragma: no cover - abstract
        """The output's Val, and the configuration the run reads (dims made non-negative)."""
        raise NotImplementedError

    def params_of(self, index, conf: dict) -> dict:
        """The parameters it owns, name -> shape (a cell's; an op's: none)."""
        return {}

    def extra_values(self, cache) -> dict:
        return {}

    def config_dict(self, cfg: Any) -> dict:
        return {} if isinstance(cfg, NoConfig) else {f.name: getattr(cfg, f.name) for f in fields(cfg)}

    def footprint(self, info: EntryInfo, steps: int, B: int) -> Footprint:
        n_out = prod(info.out_shape) * (info.steps if info.seq_out else 1) * B
        return Footprint(held=2 * n_out, records=n_out, temp=2 * n_out)

    def mixes_steps(self, info: EntryInfo, training: bool) -> bool:
        return self.mixes

    # --- running --------------------------------------------------------------------------------
    def run(self, info: EntryInfo, xs: list[np.ndarray], ctx) -> tuple[np.ndarray, Any]:  # pragma: no cover
        """(output, cache)."""
        raise NotImplementedError

    def grads(self, info: EntryInfo, xs: list[np.ndarray], out, cache, g: np.ndarray, ctx) -> list:  # pragma: no cover
        """dL/d(each input) (None: no gradient reaches it), from dL/d(output) *g*."""
        raise NotImplementedError

    # --- words ----------------------------------------------------------------------------------
    def describe(self, info: EntryInfo) -> str:
        cfg = info.config or {}
        return ", ".join(f"{k} {v}" for k, v in cfg.items() if v is not None)

    def equations(self, info: EntryInfo) -> list[str]:
        return [self.formula(info)]

    def formula(self, info: EntryInfo) -> str:
        return f"y = {info.type}(x)"


__all__ = ["Op", "OpProblem", "Val", "axis", "broadcast_val", "not_batch", "result", "unbroadcast", "val_of"]


class AlongAxis(Op):
    """An op that takes a part of its input along one axis (`config["dim"]`: which part, `_part`): its
    result is that part, its gradient the incoming one put back there with zeros around it."""

    def _part(self, config: dict):  # pragma: no cover - each op defines it
        raise NotImplementedError

    def _index(self, info, ndim: int) -> tuple:
        idx = [slice(None)] * ndim
        idx[info.config["dim"]] = self._part(info.config)
        return tuple(idx)

    def mixes_steps(self, info, training):
        return info.seq_in and info.config["dim"] == 0

    def run(self, info, xs, ctx):
        return xs[0][self._index(info, xs[0].ndim)], None

    def grads(self, info, xs, out, cache, g, ctx):
        gx = np.zeros_like(xs[0])
        gx[self._index(info, gx.ndim)] = g
        return [gx]
