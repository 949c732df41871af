"""The ops of graph models, found by the node's `op:`. One module per family of ops and one line
each here; an op's name must not be an entry type's (tests/engine/test_ops.py checks)."""
from __future__ import annotations

from rnntui.engine.ops import arith, elementwise, join, matmul, parts, reduce, select, shape, softmax
from rnntui.engine.ops.base import Op, OpProblem, Val
from rnntui.engine.ops.attention import Attention
from rnntui.engine.ops.cells import CELLS
from rnntui.engine.ops.recurrence import Recurrence

# layers only a graph has (`type:` there, beside the entry types): a recurrence, and inside its step graph
# one step of PyTorch's cells, and attention over an outer sequence
GRAPH_LAYERS: dict[str, Op] = {h.type: h for h in (Recurrence(),)}
STEP_LAYERS: dict[str, Op] = {c.type: c for c in (*CELLS, Attention())}

OPS: dict[str, Op] = {op.type: op for op in (
    *arith.OPS,
    *join.OPS,
    *parts.OPS,
    *shape.OPS,
    *select.OPS,
    *reduce.OPS,
    *matmul.OPS,
    *softmax.OPS,
    *elementwise.OPS,
)}



__all__ = ["GRAPH_LAYERS", "OPS", "Op", "OpProblem", "STEP_LAYERS", "Val"]
