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
    if isinstance(v, np.ndarray):
        return flow(v, 6)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {scalar(u)}" for k, u in v.items()) + "}"
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


# parameters past this many numbers are written beside the scenario (a .safetensors file it names) rather than
# inline: the YAML reader takes a few thousand numbers a second, the file's reader millions
INLINE_PARAMS = 20_000
BESIDE = "from_torch.safetensors"   # the name the text gives that file; save_scenario writes it as <stem>.safetensors


def scenario_text(*, name: str, description: str, dtype: str, mode: str | None, input_lines: list[str],
                  entries: list[tuple[dict, str]], params: dict[str, np.ndarray], loss: str,
                  target_lines: list[str], train: dict | None = None, extra_lines: list[str] = (),
                  beside: dict | None = None) -> str:
    """The scenario's text. *beside*: a dict that receives the parameters, by key, when they are more than
    INLINE_PARAMS numbers; the text then names the file BESIDE instead of listing them."""
    lines = ["version: 1", f"name: {quoted(name)}", f"description: {quoted(description)}", f"dtype: {dtype}",
             *([f"mode: {mode}"] if mode else [])]
    lines += input_lines   # `input:` or `inputs:` with its keys
    lines.append("model:")
    for cfg, comment in entries:
        lines.append(f"  - {entry_line(cfg)}   # {comment}")
    if beside is not None and sum(int(np.size(v)) for v in params.values()) > INLINE_PARAMS:
        beside.update(params)
        lines += ["weights:", "  init: none   # every parameter is the module's own, in the file beside",
                  f"  file: {quoted(BESIDE)}"]
    else:
        lines += ["weights:", "  init: none   # every parameter is the module's own, below", "  set:"]
        for key, value in params.items():
            lines.append(f"    {quoted(key)}: {flow(value, 4)}")
    lines += list(extra_lines)
    lines += ["loss:", f"  kind: {loss}"]
    lines += ["  " + line for line in target_lines]
    if train is not None:   # JSON is YAML's flow style: the loader checks every key, as the user wrote it
        import json

        lines.append(f"train: {json.dumps(train, allow_nan=False)}")
    return "\n".join(lines) + "\n"
