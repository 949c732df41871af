"""pydantic's validation errors turned into problems at file:line:col (`translate`), and a model list's entries
validated one by one against their handlers' Configs (`validate_entries`): for the chain's loader, a decoder's
model and a graph's nodes alike."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from rnntui.errors import Problem
from rnntui.scenario.entry_models import ENTRY_TYPES, model_for, to_config
from rnntui.scenario.yaml_source import Positions
from rnntui.scenario.yaml_words import suggest


def describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})" if value is not None else "nothing"


def _model_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed at *loc* inside *model*, for 'did you mean'."""
    cur: Any = model
    for part in loc:
        if isinstance(part, int) or cur is None:
            continue
        f = getattr(cur, "model_fields", {}).get(part)
        if f is None:
            return []
        ann = f.annotation
        cur = None
        for cand in getattr(ann, "__args__", ()) + (ann,):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                cur = cand
    return list(getattr(cur, "model_fields", {}))


def _real_loc(loc: tuple, data: Any) -> tuple:
    """The keys and indices of *loc* that are in the user's data (or the missing key at its end).

    pydantic adds the branches of unions ('constrained-int', 'tuple[...]') to a location; walking
    the data tells them apart from real keys, even keys that hold '[' or look like a branch name.
    """
    out, cur = [], data
    for n, part in enumerate(loc):
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif n == len(loc) - 1 and isinstance(cur, dict) and isinstance(part, str):
            out.append(part)  # a required key that is missing
    return tuple(out)


def translate(exc: ValidationError, model: type[BaseModel], prefix: tuple, pos: Positions, data: Any) -> list[Problem]:
    problems, seen = [], set()
    for err in exc.errors():
        loc = _real_loc(tuple(err["loc"]), data)
        path = prefix + loc
        if path in seen:  # a union reports each branch it tried; the first says enough
            continue
        seen.add(path)
        typ, value = err["type"], err.get("input")
        if typ == "extra_forbidden":
            key = loc[-1] if loc else ""
            allowed = _model_fields(model, loc[:-1])
            msg = f"unknown key {key!r}{suggest(key, allowed)}; expected one of {', '.join(allowed)}"
        elif typ == "missing":
            msg = "is required but missing"
        elif typ == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",")]
            msg = f"found {describe(value)}{suggest(value, choices)}; expected {expected}"
        elif typ == "value_error":
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
        else:
            want = err["msg"]
            want = want[0].lower() + want[1:] if want else want
            want = want.replace("input should be", "expected").replace("Input should be", "expected")
            msg = f"found {describe(value)}; {want}"
        problems.append(pos.problem(path, msg))
    return problems


def validate_entries(raw: list, pos: Positions, prefix: tuple = ("model",)) -> tuple[list, list, list[Problem]]:
    """Each entry's type and its handler's configuration, or the problems found."""
    types, configs, problems = [], [], []
    for i, item in enumerate(raw):
        path = prefix + (i,)
        if not isinstance(item, dict):
            problems.append(pos.problem(path, f"found {describe(item)}; expected a map with a `type` key"))
            continue
        kind = item.get("type")
        if kind is None:
            problems.append(pos.problem(path, f"has no `type`; expected one of {', '.join(ENTRY_TYPES)}"))
            continue
        if not isinstance(kind, str) or kind not in ENTRY_TYPES:
            problems.append(pos.problem(path + ("type",), f"found {describe(kind)}{suggest(kind, ENTRY_TYPES)}; "
                                        f"expected one of {', '.join(ENTRY_TYPES)}"))
            continue
        model = model_for(kind)
        try:
            validated = model.model_validate(item)
        except ValidationError as exc:
            problems.extend(translate(exc, model, path, pos, item))
            continue
        types.append(kind)
        configs.append(to_config(kind, validated))
    return types, configs, problems
