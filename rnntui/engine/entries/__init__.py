"""The entry types, one handler each, found by the entry's `type`.

A new entry type is one module (a `Handler` subclass), its tests, and one line here. An unknown
type is an error (`UnknownEntryType`), never a fall-through to another handler.
"""
from __future__ import annotations

from rnntui.engine.entries.activation import ActivationEntry
from rnntui.engine.entries.base import Handler
from rnntui.engine.entries.batchnorm import BatchNorm
from rnntui.engine.entries.conv import Conv, Pool
from rnntui.engine.entries.dense import Dense
from rnntui.engine.entries.dropout import Dropout
from rnntui.engine.entries.embedding import Embedding
from rnntui.engine.entries.flatten import Flatten
from rnntui.engine.entries.layernorm import LayerNorm
from rnntui.engine.entries.recurrent import Recurrent
from rnntui.engine.families import FAMILIES

HANDLERS: dict[str, Handler] = {h.type: h for h in (
    *(Recurrent(f) for f in FAMILIES.values()),
    Dense(),
    ActivationEntry(),
    Conv(1), Conv(2),
    Pool("max", 1), Pool("max", 2), Pool("avg", 1), Pool("avg", 2),
    Flatten(),
    Embedding(),
    Dropout(),
    BatchNorm(1), BatchNorm(2),
    LayerNorm(),
)}


class UnknownEntryType(KeyError):
    pass


def handler(type_: str) -> Handler:
    """An entry type's handler (a graph's ops too: engine/handlers.py, above engine/ops/)."""
    try:
        return HANDLERS[type_]
    except KeyError:
        raise UnknownEntryType(type_) from None


__all__ = ["HANDLERS", "Handler", "UnknownEntryType", "handler"]
