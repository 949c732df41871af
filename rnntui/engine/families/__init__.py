"""The recurrent families, one module each, found by the entry's `type`.

A new family is one module (a `Family` subclass: equations, gates, forward, backward, step
Jacobian, words), its tests, and one line here.
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


__all__ = ["FAMILIES", "Family", "family"]
