"""The debugger's expression language (docs/debugger.md): parsed by a grammar, never eval'ed.

    from rnntui.expr import parse, bind, check_trace, ExprError
    e = parse("norm(dh) < 1e-3 @model.0.l1.bwd")   # syntax only: ExprError with .column, .message
    b = bind(e, trace, place)                        # names, indices, shapes at the place
    b.value_at(t); b.values; b.holds; b.next_true(t, "forward", backwards=False)

The TUI, `rnntui check` and the scenario's `debug:` section all use these. Imports stay light: lark is
imported the first time an expression is parsed, NumPy arrays are read when a value is first asked for.
"""
from __future__ import annotations

from rnntui.expr.bound import Bound, bind, next_step, require_condition, step_order
from rnntui.expr.check import AssertionResult, CheckResult, PlaceResult, check_trace
from rnntui.expr.errors import ExprError
from rnntui.expr.grammar import parse
from rnntui.expr.nodes import FUNCTIONS, NAMES, Expr

__all__ = ["AssertionResult", "Bound", "CheckResult", "Expr", "ExprError", "FUNCTIONS", "NAMES", "PlaceResult", "bind",
           "check_trace", "next_step", "parse", "require_condition", "step_order"]
