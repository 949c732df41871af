"""The scenario text of a mapped module: every number inline, written so that it reads back bit-equal.

Floats are written with Python's shortest round-trip repr (float(repr(v)) == v for every float64),
non-finite ones as YAML's .nan / .inf, so the text is the whole run: one file to share, nothing beside
it. Larger arrays are written one row per line.
"""
from __future__ import annotations

import json
import math

import numpy as np


def number(v) -> str:
    v = float(v)
    if math.isnan(v):
        return ".nan"
    if math.isinf(v):
        return ".inf" if v > 0 else "-.inf"
    return repr(v)


def flow(a, indent: int = 0) -> str:
    """A nested YAML flow list of *a*; 2-D and deeper arrays one innermost row per line."""
    a = np.asarray(a)
    if a.ndim == 0:
        return number(a) if a.dtype.kind == "f" else str(int(a))
    if a.ndim == 1:
        fmt = number if a.dtype.kind == "f" else (lambda v: str(int(v)))
        return "[" + ", ".join(fmt(v) for v in a) + "]"
    pad = " " * (indent + 2)
    rows = [flow(row, indent + 2) for row in a]
    return "[\n" + ",\n".join(pad + r for r in rows) + "]"


def scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(scalar(u) for u in v) + "]"
    if isinstance(v, float):
        return number(v)
    if isinstance(v, str):
        return v if v.replace("_", "").isalnum() else json.dumps(v)
    return str(v)


def entry_line(cfg: dict) -> str:
    return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in cfg.items()) + "}"


def quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(text)


def scenario_text(*, name: str, description: str, dtype: str, mode: str, input_lines: list[str],
                  entries: list[tuple[dict, str]], params: dict[str, np.ndarray], loss: str,
                  target_lines: list[str], train: dict | None = None) -> str:
    lines = ["version: 1", f"name: {quoted(name)}", f"description: {quoted(description)}", f"dtype: {dtype}",
             f"mode: {mode}", "input:"]
    lines += ["  " + line for line in input_lines]
    lines.append("model:")
    for cfg, comment in entries:
        lines.append(f"  - {entry_line(cfg)}   # {comment}")
    lines += ["weights:", "  init: none   # every parameter is the module's own, below", "  set:"]
    for key, value in params.items():
        lines.append(f"    {quoted(key)}: {flow(value, 4)}")
    lines += ["loss:", f"  kind: {loss}"]
    lines += ["  " + line for line in target_lines]
    if train is not None:   # JSON is YAML's flow style: the loader checks every key, as the user wrote it
        import json

        lines.append(f"train: {json.dumps(train, allow_nan=False)}")
    return "\n".join(lines) + "\n"
