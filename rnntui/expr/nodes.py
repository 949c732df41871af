"""The expression tree: only the forms the language admits, each with the column it starts at.

Nothing here refers to Python objects: a name is a string looked up in a table of the place's arrays,
a function is a string looked up in a table of NumPy reductions, so no expression can reach
anything else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from rnntui.engine import keys

FUNCTIONS = ("mean", "min", "max", "sum", "norm", "abs", "any", "all", "isnan", "isfinite")
NAMES = ("h", "c", "x", "out", "dh", "dc", "jacnorm", "loss_t", "loss", "t", "T", "iteration")  # and gates.X
# a training run's numbers over its iterations (an assertion reading one is checked at every iteration)
TRAINING_NAMES = (keys.TRAIN_LOSS, keys.TRAIN_GRADNORM, keys.TRAIN_LR, keys.TRAIN_UPDATE_RATIO)


@dataclass(frozen=True)
class Num:
    value: float
    col: int


@dataclass(frozen=True)
class Name:
    name: str          # "h", "gates.f", ...
    col: int


@dataclass(frozen=True)
class Call:
    fn: str
    arg: "Node"
    col: int


@dataclass(frozen=True)
class Index:
    target: "Node"
    items: tuple        # of int and slice, applied to each step's array
    col: int


@dataclass(frozen=True)
class Unary:
    op: str             # "-", "+", "not"
    operand: "Node"
    col: int


@dataclass(frozen=True)
class Binary:
    op: str             # "+", "-", "*", "/", "**"
    left: "Node"
    right: "Node"
    col: int


@dataclass(frozen=True)
class Compare:
    ops: tuple          # ("<", "<=") for a < b <= c
    operands: tuple
    col: int


@dataclass(frozen=True)
class Logic:
    op: str             # "and", "or"
    operands: tuple
    col: int


Node = Union[Num, Name, Call, Index, Unary, Binary, Compare, Logic]


def children(node) -> tuple:
    if isinstance(node, Call):
        return (node.arg,)
    if isinstance(node, (Index, Unary)):
        return (node.target,) if isinstance(node, Index) else (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, (Compare, Logic)):
        return tuple(node.operands)
    return ()


def walk(node):
    """Every node of the tree, without recursion."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


@dataclass(frozen=True)
class Expr:
    """A parsed expression: its text, its tree and the place written after `@` (None: the current one)."""

    text: str
    root: Node
    place: str | None = None
    place_col: int | None = None

    @property
    def names(self) -> tuple[Name, ...]:
        """Every name the expression reads, in the order written."""
        return tuple(sorted((n for n in walk(self.root) if isinstance(n, Name)), key=lambda n: n.col))

    def __str__(self) -> str:
        return self.text
