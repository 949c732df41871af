"""The scenario's `debug:` section: watches and breakpoints the debugger opens with.

    debug:
      watch: ["norm(dh)", "mean(gates.f) @model.0.l0.fwd"]
      break: ["norm(dh) < 1e-6"]

Each expression is parsed and checked against the model when the scenario is loaded; a bad one is a
problem at its line and column in the file (inside the YAML string, where it is written on one line).
"""
from __future__ import annotations

from typing import Any

from rnntui.errors import Problem
from rnntui.scenario.yaml_source import Positions

KINDS = ("watch", "break")


def load_debug(raw: Any, entries, pos: Positions, text: str) -> tuple[tuple[str, ...], tuple[str, ...], list[Problem]]:
    """(watches, breakpoints, problems) from the `debug:` value."""
    from rnntui.expr.errors import ExprError
    from rnntui.expr.grammar import parse
    from rnntui.expr.static import validate

    if raw is None:
        return (), (), []
    if not isinstance(raw, dict):
        return (), (), [pos.problem(("debug",), f"found {type(raw).__name__}; expected a map with `watch` and/or "
                                    "`break`, each a list of expressions")]
    problems = [pos.problem(("debug", k), f"unknown key {k!r}; expected watch or break") for k in raw if k not in KINDS]
    found: dict[str, list[str]] = {k: [] for k in KINDS}
    for kind in KINDS:
        items = raw.get(kind, [])
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(pos.problem(("debug", kind), f"found {type(items).__name__}; expected a list of "
                                        "expressions, e.g. [\"norm(dh) < 1e-6\"]"))
            continue
        for k, item in enumerate(items):
            path = ("debug", kind, k)
            if not isinstance(item, str):
                problems.append(pos.problem(path, f"found {item!r} ({type(item).__name__}); expected an expression "
                                            "written as a string"))
                continue
            try:
                validate(parse(item), entries, condition=kind == "break")
            except ExprError as exc:
                problems.append(_problem(exc, path, pos, text))
                continue
            found[kind].append(item)
    return tuple(found["watch"]), tuple(found["break"]), problems


def _problem(exc, path: tuple, pos: Positions, text: str) -> Problem:
    """The error at its own column in the file when the string is written out on its line (plain or
    quoted, no escapes before the column); otherwise at the string, naming the column in the expression."""
    from rnntui.scenario.yaml_source import format_path

    line, col = pos.of(path)
    message = f"{exc.message} (column {exc.column} of the expression {exc.text!r})"
    if line is not None and col is not None:
        lines = text.splitlines()
        src = lines[line - 1] if line - 1 < len(lines) else ""
        start = col - 1 + (1 if src[col - 1: col] in ("'", '"') else 0)
        if src[start: start + len(exc.text)] == exc.text:
            return Problem(pos.file, line, start + exc.column, format_path(path), message)
    return Problem(pos.file, line, col, format_path(path), message)
