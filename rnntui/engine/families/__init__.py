"""The recurrent families, one module each, found by the entry's `type`.

A new family is one module (a `Family` subclass: its step maths, `forward_steps` and `backward_steps`,
which the recurrence driver (driver.py) runs with padding, initial states, interventions and resume;
equations, gates, parameter blocks, step Jacobian, words), its tests, and one line here. Its graph cell
(engine/ops/cells.py) and the importers (`by_rows`) follow from the registry.
"""
from __future__ import annotations

from rnntui.engine.families.base import Family
from rnntui.engine.families.gru import GRU
from rnntui.engine.families.lstm import LSTM
from rnntui.engine.families.rnn import RNN

FAMILIES: dict[str, Family] = {f.name: f for f in (RNN(), LSTM(), GRU())}


def family(name: str) -> Family:
    """The family of a recurrent entry type; an unknown name is a KeyError, never another family."""
    return FAMILIES[name]


def by_rows(rows: int, H: int) -> Family | None:
    """The family whose weight_ih (PyTorch's weight_ih_l0) has *rows* rows for H units, or None: what an importer
    (scaffold, from_torch) asks instead of counting gate blocks itself."""
    return next((f for f in FAMILIES.values() if H > 0 and f.param_shapes(H, 1)["weight_ih"][0] == rows), None)


def shapes_expected(H: int) -> str:
    """What `by_rows` finds, in words: "1, 3 or 4 blocks of 8 rows (RNN, GRU, LSTM)"."""
    fams = sorted(FAMILIES.values(), key=lambda f: f.n_blocks)
    counts = [str(f.n_blocks) for f in fams]
    counts = ", ".join(counts[:-1]) + " or " + counts[-1] if len(counts) > 1 else counts[0]
    return f"{counts} blocks of {H} rows ({', '.join(f.title for f in fams)})"


__all__ = ["FAMILIES", "Family", "by_rows", "family", "shapes_expected"]
