"""A recurrent entry's `initial_state:` (PyTorch's h_0, and c_0 for an LSTM), as arrays.

    - type: lstm
      hidden_size: 4
      num_layers: 2
      initial_state: {h: [[[...]]], c: state.npz}   # each (num_layers * directions, B, H)

Each state is numbers or a `.npy` / `.npz` file (an `.npz` member named `h` or `c`, or its only one).
It is data, not configuration, so it is read here and never reaches the entry's Config.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rnntui.scenario.arrays import NotNumbers, numbers

KEY = "initial_state"


class StateProblem(Exception):
    """*key*: the path below the entry's `initial_state`; *index*: the entry."""

    def __init__(self, key: tuple, message: str, index: int = -1):
        self.key, self.message, self.index = key, message, index
        super().__init__(message)


def split_initial_states(raw: list) -> tuple[list, dict[int, object]]:
    """The entries without their `initial_state` keys, and those keys by entry index."""
    entries, states = [], {}
    for i, item in enumerate(raw):
        if isinstance(item, dict) and KEY in item:
            states[i] = item[KEY]
            item = {k: v for k, v in item.items() if k != KEY}
        entries.append(item)
    return entries, states


def build_initial_states(raw: dict[int, object], layout, B: int, base_dir: Path, limit: int | None) -> dict:
    """Entry index -> {"h": (L * D, B, H)[, "c": ...]}; StateProblem(key path below the entry, message)."""
    out = {}
    for i, spec in raw.items():
        try:
            out[i] = _states(spec, layout[i], B, base_dir, limit)
        except StateProblem as exc:
            exc.index = i
            raise
    return out


def _states(spec, e, B: int, base_dir: Path, limit: int | None) -> dict:
    from rnntui.scenario.inputs import InputProblem, load_array_file

    if not e.recurrent:
        raise StateProblem((), f"found an initial state on a {e.type} entry; expected it on rnn, lstm or gru")
    names = e.family.states
    if not isinstance(spec, dict) or not spec or set(spec) - set(names):
        found = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
        raise StateProblem((), f"found {found}; expected a map with {' and '.join(names)} "
                           f"(each {e.num_layers * len(e.directions)} x B x {e.hidden_size})")
    shape = (e.num_layers * len(e.directions), B, e.hidden_size)
    states = {}
    for name, value in spec.items():
        if isinstance(value, str):
            path = base_dir / value
            try:
                key = name if path.suffix == ".npz" and _has_member(path, name) else None
                arr = load_array_file(path, key, name, value, limit)
            except InputProblem as exc:
                raise StateProblem((name,), exc.message) from None
        else:
            try:
                arr = numbers(value)
            except NotNumbers as exc:
                raise StateProblem((name,) + exc.sub, exc.message) from None
        if arr.shape != shape:
            raise StateProblem((name,), f"found shape {arr.shape}; expected {shape} (layers x directions, "
                               f"batch, hidden), as PyTorch's {name}_0")
        states[name] = arr
    return states


def _has_member(path: Path, name: str) -> bool:
    from rnntui.scenario.arrays import ArrayFileError, npz_names

    try:
        return name in npz_names(path)
    except (ArrayFileError, OSError):
        return False
