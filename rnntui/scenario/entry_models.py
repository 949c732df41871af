"""Strict pydantic validators for model entries, made from each handler's `Config` dataclass.

The engine declares an entry's keys once (rnntui/engine/entries/, rnntui/engine/families/); this
module only turns that declaration into validation: whole numbers are whole numbers (never a
boolean or a string), bounds come from the fields' metadata, unknown keys are refused.
"""
from __future__ import annotations

import dataclasses
import typing
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, create_model

from rnntui.engine.entries import HANDLERS
from rnntui.engine.handlers import handler


def _strict(tp: Any, meta: dict) -> Any:
    """The strict pydantic type for a dataclass field's annotation."""
    origin = typing.get_origin(tp)
    if tp is int:
        bounds = {k: meta[m] for k, m in (("ge", "min"), ("le", "max")) if m in meta}
        return Annotated[StrictInt, Field(**bounds)] if bounds else StrictInt
    if tp is bool:
        return StrictBool
    if tp is float:
        bounds = {k: meta[m] for k, m in (("ge", "min"), ("le", "max")) if m in meta}
        return Annotated[Union[StrictInt, StrictFloat], Field(**bounds)] if bounds else Union[StrictInt, StrictFloat]
    if tp is str:
        return StrictStr
    if origin is Literal:
        return tp
    if origin is Union:
        return Union[tuple(_strict(a, meta) for a in typing.get_args(tp))]
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple[_strict(args[0], meta), ...]
        return tuple[tuple(_strict(a, meta) for a in args)]
    if tp is type(None):
        return type(None)
    raise TypeError(f"no strict form for {tp!r}")  # a handler declared a field type this module does not know


@cache
def model_for(type_: str, key: str = "type") -> type[BaseModel]:
    """The validator of one entry type's keys (with `type` itself), or of an op's (with `op`)."""
    cfg = handler(type_).Config
    hints = typing.get_type_hints(cfg)
    fields: dict[str, Any] = {key: (Literal[type_], ...)}
    for f in dataclasses.fields(cfg):
        default = ... if f.default is dataclasses.MISSING else f.default
        fields[f.name] = (_strict(hints[f.name], dict(f.metadata)), Field(default, description=f.metadata.get("doc")))
    return create_model(f"{type_}_{'entry' if key == 'type' else 'op'}", __config__=ConfigDict(extra="forbid", frozen=True), **fields)


def to_config(type_: str, model: BaseModel, key: str = "type"):
    """The handler's frozen dataclass from a validated model: what the engine receives."""
    values = model.model_dump(exclude={key})
    return handler(type_).Config(**values)


ENTRY_TYPES = tuple(HANDLERS)
