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


# --- reading a saved value back against its declared type (engine/trace_check.py) ------------------
# A saved trace holds each entry's typed configuration as JSON (lists for tuples). These two functions
# read a field's type hint and its metadata (min, max) and say whether a JSON value is one, and in words
# what was expected, so a checker derived from the declarations cannot drift from them.

def _args(hint):
    import typing

    return typing.get_origin(hint), typing.get_args(hint)


def _is_union(origin) -> bool:
    import types
    import typing

    return origin is typing.Union or origin is types.UnionType


def _in_bounds(v, meta) -> bool:
    lo, hi = meta.get("min"), meta.get("max")
    if v != v:   # NaN: outside any bounds
        return lo is None and hi is None
    return (lo is None or v >= lo) and (hi is None or v <= hi)


def conforms(value, hint, meta=None) -> bool:
    """Whether the JSON *value* is a value of the type *hint* (a resolved annotation), every number in it
    within *meta*'s min and max."""
    import typing

    meta = meta or {}
    origin, args = _args(hint)
    if hint is typing.Any:
        return True
    if hint is type(None) or hint is None:
        return value is None
    if _is_union(origin):
        return any(conforms(value, a, meta) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and _in_bounds(value, meta)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and _in_bounds(value, meta)
    if hint is str:
        return isinstance(value, str)
    if hint in (tuple, list) or origin in (tuple, list):
        if not isinstance(value, list):
            return False
        if not args:
            return True
        if len(args) == 2 and args[1] is Ellipsis:
            return all(conforms(v, args[0], meta) for v in value)
        return len(value) == len(args) and all(conforms(v, a, meta) for v, a in zip(value, args))
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            return False
        return not args or all(conforms(k, args[0]) and conforms(v, args[1], meta) for k, v in value.items())
    return True   # a type these declarations do not use: only its presence is checked


def expected(hint, meta=None) -> str:
    """What a value of the type *hint* is, in words for a message: `a number from 0 to 1`."""
    import typing

    meta = meta or {}
    origin, args = _args(hint)
    lo, hi = (_number(meta.get(k)) for k in ("min", "max"))
    bounds = (f" from {lo} to {hi}" if lo is not None and hi is not None else f" of {lo} or more" if lo is not None
              else f" of {hi} or less" if hi is not None else "")
    if hint is typing.Any:
        return "any value"
    if hint is type(None) or hint is None:
        return "null"
    if _is_union(origin):
        return " or ".join(dict.fromkeys(expected(a, meta) for a in args))
    if origin is typing.Literal:
        shown = [json_words(a) for a in args]
        return "one of " + ", ".join(shown) if len(shown) > 1 else shown[0]
    if hint is bool:
        return "true or false"
    if hint is int:
        return "a whole number" + bounds
    if hint is float:
        return "a number" + bounds
    if hint is str:
        return "a string"
    if hint in (tuple, list) or origin in (tuple, list):
        if not args:
            return "a list"
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(expected(args[0], meta))}"
        if len(set(args)) == 1:
            return f"a list of {len(args)} {_plural(expected(args[0], meta))}"
        return f"a list of {len(args)}: " + ", ".join(expected(a, meta) for a in args)
    if hint is dict or origin is dict:
        return "a map" if not args else f"a map of {_plural(expected(args[0]))} to {_plural(expected(args[1], meta))}"
    return getattr(hint, "__name__", str(hint))


def _number(v):
    if v is None:
        return None
    return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


def json_words(v) -> str:
    import json

    return json.dumps(v)


def _plural(words: str) -> str:
    if " or " in words and not words.startswith("one of"):
        return " or ".join(_plural(w) for w in words.split(" or "))
    for a in ("a whole number", "a number", "a string", "a list", "a map"):
        if words.startswith(a):
            return a[2:] + "s" + words[len(a):]
    return words
