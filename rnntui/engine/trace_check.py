"""Check a saved trace before anything reads it: its layout and the arrays the layout implies.

A trace .npz can come from anywhere (an older rnntui, another program, a damaged copy). Opening
one checks that `meta.layout` is JSON, a map with the expected keys and types, that `entries` is
a list of maps whose fields have the right types, and that every array the layout implies is there
with a consistent shape and real numbers. The first thing wrong is one ScenarioError line naming
the file.
"""
from __future__ import annotations

import json
from dataclasses import MISSING, fields

import numpy as np

from rnntui.errors import Problem, ScenarioError, lone_surrogate

STR, INT, BOOL, STRS, INTS, MAP, SHAPES = "a string", "an integer", "true or false", "a list of strings", \
    "a list of integers", "a map", "a map of parameter names to shapes"
INT_OR_NULL = "an integer or null"
# what each known field holds; fields the dataclasses gain later are only required to be present
TOP_TYPES = {"name": STR, "description": STR, "mode": STR, "dtype": STR, "loss": STR, "file": STR,
             "T": INT, "B": INT, "seq": BOOL, "feed": STR, "watch": STRS, "breakpoints": STRS}
ENTRY_TYPES = {"index": INT, "type": STR, "seq_in": BOOL, "seq_out": BOOL, "view": STR, "recurrent": BOOL,
               "hidden_size": INT, "num_layers": INT, "directions": STRS, "merge": STR, "nonlinearity": STR,
               "activation": STR, "reduce_final": BOOL, "params": SHAPES, "options": MAP, "in_feat": INTS,
               "out_shape": INTS, "steps": INT, "padding_idx": INT_OR_NULL, "part": STR,
               "buffers": SHAPES}
MAX_ENTRIES = 10_000
MAX_LAYERS = 1000


class _Bad(Exception):
    pass


def _is(value, kind: str) -> bool:
    if kind == STR:
        return isinstance(value, str)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == INT_OR_NULL:
        return value is None or _is(value, INT)
    if kind == STRS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == INTS:
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if kind == MAP:
        return value is None or isinstance(value, dict)
    if kind == SHAPES:
        return isinstance(value, dict) and all(isinstance(k, str) and _is(v, INTS) for k, v in value.items())
    return True


def _check_map(d, types: dict, cls, where: str) -> None:
    if not isinstance(d, dict):
        raise _Bad(f"{where}: found {type(d).__name__}; expected a map")
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise _Bad(f"{where}: unknown key {unknown[0]!r}; expected keys among {', '.join(names)}")
    for name, f in names.items():
        if name not in d:
            if f.default is MISSING and f.default_factory is MISSING:
                raise _Bad(f"{where}: the key {name!r} is missing")
            continue
        kind = types.get(name)
        if kind and not _is(d[name], kind):
            raise _Bad(f"{where}.{name}: found {json.dumps(d[name])[:40]}; expected {kind}")


def _array(arrays: dict, key: str, why: str) -> np.ndarray:
    if key not in arrays:
        raise _Bad(f"the array {key!r} is missing ({why})")
    if arrays[key].dtype.kind not in "biuf":
        raise _Bad(f"the array {key!r} holds {arrays[key].dtype}; expected real numbers ({why})")
    return arrays[key]


def _shape(a: np.ndarray, key: str, expected: tuple, shown: str) -> None:
    if len(a.shape) != len(expected) or any(e is not None and s != e for s, e in zip(a.shape, expected)):
        raise _Bad(f"the array {key!r} has shape {a.shape}; expected {shown}")


def _check_layout(d) -> None:
    from rnntui.engine.layout import VIEW_KINDS
    from rnntui.engine.trace import EntryInfo, TraceInfo

    if not isinstance(d, dict):
        raise _Bad(f"meta.layout: found {type(d).__name__}; expected a map")
    if "entries" not in d:
        raise _Bad("meta.layout: the key 'entries' is missing")
    entries = d["entries"]
    if not isinstance(entries, list) or not entries or len(entries) > MAX_ENTRIES:
        raise _Bad(f"meta.layout.entries: found {type(entries).__name__}; expected a list of 1 to {MAX_ENTRIES} maps")
    _check_map(d, TOP_TYPES, TraceInfo, "meta.layout")
    if d["T"] < 1 or d["B"] < 1:
        raise _Bad(f"meta.layout: found T={d['T']}, B={d['B']}; expected both 1 or more")
    for i, e in enumerate(entries):
        _check_map(e, ENTRY_TYPES, EntryInfo, f"meta.layout.entries[{i}]")
        if e.get("index") != i:
            raise _Bad(f"meta.layout.entries[{i}].index: found {e.get('index')}; expected {i}")
        view = e.get("view", "plain")
        if view not in VIEW_KINDS:
            raise _Bad(f"meta.layout.entries[{i}].view: found {json.dumps(view)[:40]}; expected "
                       f"{', '.join(VIEW_KINDS[:-1])} or {VIEW_KINDS[-1]}")
        if (view == "recurrent") != (e.get("recurrent") is True):
            raise _Bad(f"meta.layout.entries[{i}].view: found {json.dumps(view)} for an entry whose recurrent is "
                       f"{json.dumps(e.get('recurrent'))}; expected the recurrent view exactly for recurrent entries")
        if not 0 <= e.get("num_layers", 0) <= MAX_LAYERS or any(n < 1 for n in e.get("out_shape", [1])):
            raise _Bad(f"meta.layout.entries[{i}]: found num_layers {e.get('num_layers')} and out_shape "
                       f"{e.get('out_shape')}; expected sizes of 1 or more (at most {MAX_LAYERS} layers)")


def _check_arrays(arrays: dict, d: dict) -> None:
    for key, a in arrays.items():
        if not isinstance(a, np.ndarray):
            raise _Bad(f"the member {key!r} is not an array")
        if a.dtype.kind not in "biufU":  # text for names and the scenario, real numbers for the rest
            raise _Bad(f"the array {key!r} holds {a.dtype}; expected real numbers or text")
    T, B, seq = d["T"], d["B"], d["seq"]
    x = _array(arrays, "input", "the run's input")
    if x.ndim < 2 or x.shape[1 if seq else 0] != B:
        raise _Bad(f"the array 'input' has shape {x.shape}; expected {'(T, B, ...)' if seq else '(B, ...)'} with B={B}")
    loss = _array(arrays, "loss", "the value that is differentiated")
    if loss.size != 1:
        raise _Bad(f"the array 'loss' has shape {loss.shape}; expected one number")
    if "meta.lengths" in arrays:  # traces before sequences of different lengths have none
        lengths = _array(arrays, "meta.lengths", "each sample's length")
        _shape(lengths, "meta.lengths", (B,), f"({B},)")
        most = max([T] + [e.get("steps", 1) for e in d["entries"] if isinstance(e.get("steps"), int)]) if seq else 1
        if lengths.dtype.kind not in "iu" or (lengths < 1).any() or (lengths > most).any():
            raise _Bad(f"meta.lengths: found {lengths[:8].tolist()}; expected whole numbers from 1 to T={most}")
    if "train.record_iteration" in arrays:   # which iteration's record a training trace holds
        k = _array(arrays, "train.record_iteration", "the iteration whose record the file holds")
        N = arrays["train.loss"].shape[0] if "train.loss" in arrays and arrays["train.loss"].ndim == 1 else 0
        if k.ndim != 0 or k.dtype.kind not in "iu" or not 0 <= int(k) < N:
            raise _Bad(f"train.record_iteration: found {k.ravel()[:4].tolist()}; expected one whole number in "
                       f"0..{N - 1}, an iteration of train.loss")
    for e in d["entries"]:
        i = e["index"]
        out_shape = tuple(e.get("out_shape", ()))
        key = f"model.{i}.out"
        out = _array(arrays, key, f"entry {i}'s output")
        if e.get("seq_out"):
            _shape(out, key, (None, B) + out_shape, f"(steps, {B}) + {out_shape}")
        else:
            _shape(out, key, (B,) + out_shape, f"{(B,) + out_shape}")
        for name in e.get("params", ()):
            _array(arrays, f"param.{name}", f"a parameter of entry {i}")
        if e.get("recurrent") is True:
            H, steps = e.get("hidden_size", 0), e.get("steps", T)
            for j in range(e.get("num_layers", 0)):
                for direction in e.get("directions", ()):
                    key = f"model.{i}.l{j}.{direction}.h"
                    _shape(_array(arrays, key, f"the states of entry {i}"), key, (steps, B, H), f"{(steps, B, H)}")


def _check_text(arrays: dict, layout) -> None:
    """Every text the trace holds can be printed: no half of a UTF-16 surrogate pair (JSON's \\ud800, or a
    text array that holds one), which no terminal or UTF-8 file can take."""
    def refuse(where: str, text: str, k: int):
        raise _Bad(f"{where}: holds \\u{ord(text[k]):04x} at character {k}, half of a UTF-16 surrogate pair "
                   "without its other half: no character, so it can be neither printed nor written")

    stack = [("meta.layout", layout)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, dict):
            stack += [(f"{where} key", k) for k in v] + [(f"{where}.{k}", x) for k, x in v.items()]
        elif isinstance(v, list):
            stack += [(f"{where}[{n}]", x) for n, x in enumerate(v)]
        elif isinstance(v, str) and lone_surrogate(v) is not None:
            refuse(where, v, lone_surrogate(v))
    for key, arr in arrays.items():
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "U":
            for at, text in np.ndenumerate(arr):
                k = lone_surrogate(str(text))
                if k is not None:
                    refuse(f"{key}{list(at) if at else ''}", str(text), k)


def check_trace(arrays: dict, path: str) -> None:
    """Raise ScenarioError (one line naming *path*) unless *arrays* form a trace rnntui can show."""
    try:
        if "meta.layout" not in arrays:
            raise _Bad("not an rnntui trace: no meta.layout key")
        raw = arrays["meta.layout"]
        if not isinstance(raw, np.ndarray) or raw.dtype.kind != "U" or raw.ndim != 0:
            raise _Bad(f"meta.layout: found an array of {getattr(raw, 'dtype', type(raw).__name__)}; expected JSON text")
        try:
            d = json.loads(str(raw))
        except (ValueError, RecursionError) as exc:
            raise _Bad(f"meta.layout: not JSON ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        _check_text(arrays, d)
        _check_layout(d)
        _check_arrays(arrays, d)
    except _Bad as exc:
        raise ScenarioError([Problem(str(path), None, None, "", f"not a trace rnntui can open: {exc}")]) from None
