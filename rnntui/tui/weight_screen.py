"""`p`: edit a weight and see the run recomputed (the homework "turn vanishing into exploding": W_hh from 0.5
to 1.5). `NAME = VALUE`, `NAME *= VALUE`, `NAME += VALUE`, on the whole parameter or on `NAME[INDEX]`
(whole numbers and START:STOP slices, NumPy's order of axes). NAME is a parameter of the entry under the
cursor, by PyTorch's name (`weight_hh_l0`, `bias`) or its short name (`W_hh`, `W_ih`, `b_hh`, `b_ih` at a
recurrent place: its sub-layer and direction; `W`, `b` at a dense or conv entry), or any parameter by its
full name (`2.weight`)."""
from __future__ import annotations

import math
import re

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from rnntui.engine import keys
from rnntui.engine.edits import OPS, WeightEdit, parse_index
from rnntui.numfmt import fmt
from rnntui.tui.screens import ParsedDialog

SHORT = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}


def aliases(params: dict, entry, place) -> dict[str, str]:
    """Short and PyTorch names of the cursor's entry's parameters -> their full names."""
    out: dict[str, str] = {}
    if place.layer is not None:
        for short, stem in SHORT.items():
            full = place.param(stem)
            if full in params:
                out[short] = full
    else:
        for short, stem in (("W", "weight"), ("b", "bias")):
            full = f"{entry.index}.{stem}"
            if full in params:
                out[short] = full
    for full in entry.params:
        out.setdefault(full.split(".", 1)[1], full)
    return out


class WeightScreen(ParsedDialog["WeightEdit | None"]):
    """Ask for a weight edit; returns it (checked against the parameter's shape), or None when cancelled."""

    ERROR_ID = "weight-error"

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, params: dict[str, tuple], entry, place, trace):
        super().__init__()
        self.params, self.entry, self.place, self.trace = params, entry, place, trace
        self.names = aliases(params, entry, place)

    def compose(self) -> ComposeResult:
        lines = Text(f"Edit a weight of {self.place.label(self.trace.info)} (the run is recomputed beside the "
                     "original; u undoes, W writes it under weights.set):\n", Style(bold=True))
        shown = {}
        for short, full in self.names.items():
            shown.setdefault(full, []).append(short)
        for full, names in shown.items():
            a = np.asarray(self.trace[keys.param(full)])
            value = (" = " + ", ".join(fmt(float(v), 0) for v in a.reshape(-1))) if a.size <= 4 else ""
            lines.append(f"  {' / '.join(names)}: {full} {'×'.join(map(str, a.shape))}{value}\n")
        lines.append("NAME = VALUE, NAME *= VALUE or NAME += VALUE; NAME[0, 0] or NAME[0:4, :] for some elements; "
                     "another entry's parameter by its full name (2.weight)", Style(dim=True))
        with Vertical(id="weight"):
            yield Static(lines)
            yield Input(placeholder="W_hh = 1.5", id="weight-input", max_length=200)
            yield Static("", id="weight-error")

    def parse(self, text: str) -> "WeightEdit | str":
        m = re.fullmatch(r"\s*([A-Za-z0-9_.]{1,80})\s*(?:\[([^\]]{0,80})\])?\s*([*+]?=)\s*(\S+)\s*", text)
        if not m:
            return "expected NAME = VALUE (or *=, +=), NAME[INDEX] = VALUE"
        name, index, op, value = m.groups()
        full = self.names.get(name, name if name in self.params else None)
        if full is None:
            return f"found {name!r}; expected one of {', '.join(self.names)} (or a full name such as " \
                   f"{next(iter(self.params))})"
        try:
            v = float(value)
        except ValueError:
            return f"found {value!r}; expected a number"
        if not math.isfinite(v):
            return f"found {value}; expected a finite number"
        if op not in OPS:
            return f"found {op!r}; expected one of {' '.join(OPS)}"
        if index is not None:
            try:
                parse_index(index, self.params[full])
            except ValueError as exc:
                return f"{full}[{index}]: {exc}"
        return WeightEdit(full, index.strip() if index is not None and index.strip() else None, op, v)

