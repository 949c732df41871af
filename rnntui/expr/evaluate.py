"""Evaluate an expression tree over every step of a place at once.

A value is a NumPy array whose first axis is the step (T, ...), or a 0-d array for a constant (a
number, `T`). Each operation is one NumPy call over all steps, so an expression costs about one pass
over the arrays it reads, whatever T is. Rules (docs/debugger.md):

- Reductions (mean min max sum norm any all) reduce every axis but the step's: one number per step.
- Two arrays combine left-aligned: a per-sample value (T, B) meets a (T, B, H) one sample by sample.
- A comparison is elementwise; a condition (what `and`, `or`, `not`, a breakpoint and an assertion
  need) is true at a step when it holds for every element there, unless wrapped in any(...).
- Indexing applies to each step's array: `h[3]` is sample 3's units, `h[:, 0:4]` units 0..3.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnntui.expr import nodes
from rnntui.expr.errors import ExprError

CONDITION_FUNCTIONS = frozenset({"any", "all", "isnan", "isfinite"})
ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "**": np.power}


def is_condition(node) -> bool:
    """Whether the expression's value is true/false (a comparison, any(...), ...) rather than a number."""
    if isinstance(node, (nodes.Compare, nodes.Logic)):
        return True
    if isinstance(node, nodes.Unary):
        return node.op == "not"
    if isinstance(node, nodes.Call):
        return node.fn in CONDITION_FUNCTIONS or (node.fn in ("min", "max") and is_condition(node.arg))
    if isinstance(node, nodes.Index):
        return is_condition(node.target)
    return False


def step_shape(v: np.ndarray) -> tuple:
    return v.shape[1:] if v.ndim else ()


def _shown(v: np.ndarray) -> str:
    s = step_shape(v)
    return "a number per step" if not s else f"shape {s} per step"


class Evaluator:
    """Evaluates the nodes of one expression; *read(name_node)* gives a name's (T, ...) array."""

    def __init__(self, text: str, read: Callable[[nodes.Name], np.ndarray]):
        self.text, self.read = text, read

    def error(self, node, message: str) -> ExprError:
        return ExprError(self.text, node.col, message)

    def __call__(self, node) -> np.ndarray:
        with np.errstate(all="ignore"):   # inf and NaN are values to look at, not failures of the expression
            return self.eval(node)

    def eval(self, node) -> np.ndarray:
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node)

    def _num(self, node: nodes.Num) -> np.ndarray:
        return np.asarray(node.value)

    def _name(self, node: nodes.Name) -> np.ndarray:
        return np.asarray(self.read(node))

    def _call(self, node: nodes.Call) -> np.ndarray:
        v = self.eval(node.arg)
        fn = node.fn
        if fn in ("abs", "isnan", "isfinite"):
            return getattr(np, fn)(_numeric(v))
        axes = tuple(range(1, v.ndim))
        if axes and any(n == 0 for n in step_shape(v)):
            raise self.error(node, f"found {fn}() of an empty selection ({_shown(v)}); expected at least one element")
        if fn in ("any", "all"):
            b = v if v.dtype == bool else (v != 0)
            return getattr(np, fn)(b, axis=axes) if axes else b
        if fn in ("min", "max"):
            return getattr(np, fn)(v, axis=axes) if axes else v
        v = _numeric(v)
        if fn == "mean":
            return v.mean(axis=axes) if axes else v
        if fn == "sum":
            return v.sum(axis=axes) if axes else v
        if fn == "norm":  # L2 over every element of the step (Frobenius for (B, H))
            return np.sqrt((v * v).sum(axis=axes)) if axes else np.abs(v)
        raise self.error(node, f"found the function {fn}; expected one of {', '.join(nodes.FUNCTIONS)}")

    def _index(self, node: nodes.Index) -> np.ndarray:
        v = self.eval(node.target)
        shape = step_shape(v)
        if len(node.items) > len(shape):
            raise self.error(node, f"found {len(node.items)} indices into a value of {_shown(v)}; expected at most "
                             f"{len(shape)}")
        for axis, item in enumerate(node.items):
            n = shape[axis]
            if isinstance(item, int) and not -n <= item < n:
                raise self.error(node, f"found index {item} on axis {axis} of size {n} ({_shown(v)}); expected "
                                 f"{-n}..{n - 1}")
        return v[(slice(None),) + tuple(node.items)]

    def _unary(self, node: nodes.Unary) -> np.ndarray:
        v = self.eval(node.operand)
        if node.op == "not":
            return np.logical_not(self.truth(node.operand, v))
        v = _numeric(v)
        return -v if node.op == "-" else v

    def _binary(self, node: nodes.Binary) -> np.ndarray:
        # down the left spine in a loop: a chain a + b * c - d ... of any length costs no recursion
        spine = [node]
        if node.op != "**":
            while isinstance(spine[-1].left, nodes.Binary) and spine[-1].left.op != "**":
                spine.append(spine[-1].left)
        value = self.eval(spine[-1].left)
        for link in reversed(spine):
            value = self.combine(link, ARITHMETIC[link.op], _numeric(value), _numeric(self.eval(link.right)))
        return value

    def _compare(self, node: nodes.Compare) -> np.ndarray:
        ops = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
               "!=": np.not_equal}
        values = [self.eval(o) for o in node.operands]
        result = None
        for op, a, b in zip(node.ops, values, values[1:]):
            r = self.combine(node, ops[op], a, b)
            result = r if result is None else self.combine(node, np.logical_and, result, r)
        return result

    def _logic(self, node: nodes.Logic) -> np.ndarray:
        combine = np.logical_and if node.op == "and" else np.logical_or
        result = None
        for o in node.operands:   # a flat chain p and q and r ... is one node
            v = self.truth(o, self.eval(o))
            result = v if result is None else combine(result, v)
        return result

    def truth(self, node, v: np.ndarray) -> np.ndarray:
        """A condition's value per step: true where it holds for every element of the step."""
        if v.dtype != bool:
            raise self.error(node, f"found a number where a condition was expected; write a comparison "
                             f"(e.g. ... > 0), or any(...), all(...), isnan(...), isfinite(...)")
        return v.reshape(v.shape[0], -1).all(axis=1) if v.ndim > 1 else v

    def combine(self, node, op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """op(a, b) with the step axes lined up and each step's axes aligned on the left."""
        if a.ndim and b.ndim and a.ndim != b.ndim:
            if a.ndim < b.ndim:
                a = a.reshape(a.shape + (1,) * (b.ndim - a.ndim))
            else:
                b = b.reshape(b.shape + (1,) * (a.ndim - b.ndim))
        try:
            return op(a, b)
        except ValueError:
            raise self.error(node, f"found values of {_shown(a)} and {_shown(b)}, which do not combine; expected "
                             "the same shapes, or one that repeats along the other's last axes") from None


def _numeric(v: np.ndarray) -> np.ndarray:
    """Conditions count as 1 and 0 in arithmetic (mean(h > 0) is the share of positive units)."""
    return v.astype(np.float64) if v.dtype == bool else v
