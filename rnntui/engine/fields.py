"""How an entry type declares its scenario keys: a frozen dataclass whose fields carry their limits.

The engine knows nothing of pydantic: the scenario layer turns these dataclasses into strict
validators (`rnntui/scenario/entry_models.py`). Field metadata:

    min, max   bounds for every whole number in the field (also inside a pair)
    doc        one line for the docs and error messages
"""
from __future__ import annotations

from dataclasses import MISSING, field
from typing import Any

# no entry may be larger than this in any dimension: beyond it nothing fits in memory anyway, and a
# number this size is almost always a typing slip (the memory estimate refuses most runs far below)
SIZE_MAX = (1 << 31) - 1
LAYERS_MAX = 1000  # stacked sub-layers of one entry: the layout is built layer by layer


def size(default: Any = MISSING, doc: str = "", minimum: int = 1, maximum: int = SIZE_MAX) -> Any:
    """A count or length: a whole number from *minimum* up to *maximum*."""
    return field(default=default, metadata={"min": minimum, "max": maximum, "doc": doc})


def fraction(default: Any = MISSING, doc: str = "") -> Any:
    """A number from 0 to 1 (a probability)."""
    return field(default=default, metadata={"min": 0, "max": 1, "doc": doc})


def choice(default: Any = MISSING, doc: str = "") -> Any:
    return field(default=default, metadata={"doc": doc})
