"""What can be checked of an expression before a run: its place, its names against the model's entries,
and whether a breakpoint is a condition. Used when a scenario's `debug:` section is loaded; binding to
the trace (rnntui.expr.bound) checks the rest (shapes, indices, names that depend on the run)."""
from __future__ import annotations

from types import SimpleNamespace

from rnntui.engine.keys import places_of
from rnntui.expr import nodes
from rnntui.expr.errors import ExprError
from rnntui.expr.evaluate import is_condition
from rnntui.expr.names import find_place


def _known_at(e) -> set[str]:
    """Names an entry's places certainly can have (x, out and loss_t depend on the run, so they pass)."""
    from rnntui.engine.graph_diag import carries, step_names

    names = {"x", "out", "loss_t", "loss", "t", "T", "iteration"}
    if carries(e):   # a graph's recurrence: its states and step graph's values
        names |= set(step_names(e))
    if e.recurrent:
        fam = e.family
        names |= {"h", "dh", "jacnorm"} | {s for s in fam.states if s == "c"} | {"dc" for s in fam.states if s == "c"}
        names |= {f"gates.{g}" for g in fam.gates}
    return names


def validate(expr: nodes.Expr, entries, condition: bool = False) -> None:
    """Raise ExprError for an @place the model does not have, a name no place that the expression can be
    evaluated at has, or (with *condition*) a value where a breakpoint needs a condition."""
    info = SimpleNamespace(places=places_of(entries), entries={e.index: e for e in entries})
    if expr.place is not None:
        place = find_place(info, expr.place, expr.text, expr.place_col + 1)
        have = _known_at(info.entries[place.entry])
        where = f"{place.prefix} ({info.entries[place.entry].type})"
    else:
        have = set().union(*(_known_at(e) for e in entries))
        where = None
    for n in expr.names:
        if n.name not in have:
            listed = ", ".join(sorted(have, key=_name_order))
            what = "the unknown name" if n.name not in nodes.NAMES and not n.name.startswith("gates.") else "the name"
            which = f"which {where} does not have" if where else "which no place of this model has"
            raise ExprError(expr.text, n.col, f"found {what} {n.name!r}, {which}; expected one of {listed}")
    if condition and not is_condition(expr.root):
        raise ExprError(expr.text, 1, "found a value, not a condition; a breakpoint needs a comparison (e.g. "
                        "norm(dh) < 1e-3), or any(...), all(...), isnan(...), isfinite(...)")


def _name_order(name: str) -> tuple:
    order = list(nodes.NAMES)
    if name.startswith("gates."):  # after the states, as the names table lists them
        return (order.index("c"), 1, name)
    return (order.index(name) if name in order else len(order), 0, name)
