"""Every type a node can have, found by its name: the entry types (engine/entries/) and a graph's ops, layers and
step layers (engine/ops/). `handler(type)` is the one lookup; an unknown type raises `UnknownEntryType`."""
from __future__ import annotations

from rnntui.engine.entries import HANDLERS, Handler, UnknownEntryType
from rnntui.engine.ops import GRAPH_LAYERS, OPS, STEP_LAYERS

EVERY: dict[str, Handler] = {**STEP_LAYERS, **GRAPH_LAYERS, **OPS, **HANDLERS}


def handler(type_: str) -> Handler:
    """An entry type's handler, or a graph op's (an op's name is its type in EntryInfo)."""
    try:
        return EVERY[type_]
    except KeyError:
        raise UnknownEntryType(type_) from None


__all__ = ["EVERY", "UnknownEntryType", "handler"]
