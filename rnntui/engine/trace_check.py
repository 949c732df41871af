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
READS = "a list of node numbers and names"
# what each known field holds; fields the dataclasses gain later are only required to be present
TOP_TYPES = {"name": STR, "description": STR, "mode": STR, "dtype": STR, "loss": STR, "file": STR,
             "T": INT, "B": INT, "seq": BOOL, "feed": STR, "watch": STRS, "breakpoints": STRS,
             "inputs": STRS}
ENTRY_TYPES = {"index": INT, "type": STR, "seq_in": BOOL, "seq_out": BOOL, "view": STR, "recurrent": BOOL,
               "hidden_size": INT, "num_layers": INT, "directions": STRS, "merge": STR, "nonlinearity": STR,
               "activation": STR, "reduce_final": BOOL, "params": SHAPES, "options": MAP, "in_feat": INTS,
               "out_shape": INTS, "steps": INT, "padding_idx": INT_OR_NULL, "part": STR,
               "buffers": SHAPES, "id": STR, "reads": READS, "aliases": MAP, "config": MAP, "lengths_of": STR}
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
    if kind == READS:
        return isinstance(value, list) and all(isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))
                                               for v in value)
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


def _handlers() -> dict:
    """Every type an entry or graph node of this rnntui can have: entries, graph ops, graph and step layers."""
    from rnntui.engine.entries import HANDLERS
    from rnntui.engine.ops import GRAPH_LAYERS, OPS, STEP_LAYERS

    return {**STEP_LAYERS, **GRAPH_LAYERS, **OPS, **HANDLERS}


def _check_diagnostics(arrays: dict, text: str) -> None:
    """The diagnostics every view and report reads: each recurrent place's saturation, gradient norms and
    step Jacobian norms (unless meta.not_computed defers them), the one-term gradient with its step (both or
    neither: traces before it have neither), and the non-finite summary."""
    from rnntui.engine.trace import TraceInfo

    info = TraceInfo.from_json(text)
    deferred = set(arrays["meta.not_computed"].tolist()) if "meta.not_computed" in arrays else set()
    for place in info.places:
        if not place.recurrent:
            continue
        e = info.entries[place.entry]
        steps, why = e.steps, f"a diagnostic of entry {place.entry}"
        shapes = {**{f"sat.{name}": (steps,) for name in e.family.saturation(e)}, "gradnorm": (steps,),
                  "jacnorm": (steps, info.B)}
        for name, shape in shapes.items():
            key = place.diag_key(name)
            if key not in deferred:
                _shape(_array(arrays, key, why), key, shape, str(shape))
        term, step = place.diag_key("term_gradnorm"), place.diag_key("term_step")
        if (term in arrays) != (step in arrays):
            missing, saved = (step, term) if term in arrays else (term, step)
            raise _Bad(f"the array {missing!r} is missing ({why}, saved with {saved!r})")
        if term in arrays:
            # per sample: (steps, B) and each sample's step (B,); saved before that: (steps,) and one step ()
            g, s = _array(arrays, term, why), _array(arrays, step, why)
            if g.ndim == 1:
                _shape(g, term, (steps,), f"{(steps, info.B)} (or {(steps,)} in a trace saved before it was per sample)")
                per = ()
            else:
                _shape(g, term, (steps, info.B), f"{(steps, info.B)}")
                per = (info.B,)
            # an encoder's steps are its decoder's
            if s.shape != per or s.dtype.kind not in "iu" or (s < 0).any():
                raise _Bad(f"the array {step!r} has shape {s.shape} of {s.dtype}; expected {per} whole numbers from 0, "
                           f"the step each term entered at ({why})")
    why = "the summary of non-finite values"
    first = _array(arrays, "diag.nonfinite.first_step", why)
    if first.ndim != 0 or first.dtype.kind not in "iu":
        raise _Bad(f"the array 'diag.nonfinite.first_step' has shape {first.shape} of {first.dtype}; expected one "
                   "whole number")
    firsts = _array(arrays, "diag.nonfinite.key_first_step", why)
    names = arrays.get("diag.nonfinite.keys")
    if names is None:
        raise _Bad(f"the array 'diag.nonfinite.keys' is missing ({why})")
    if names.ndim != 1 or names.dtype.kind != "U" or firsts.shape != names.shape or firsts.dtype.kind not in "iu":
        raise _Bad(f"the arrays 'diag.nonfinite.keys' {names.shape} of {names.dtype} and 'diag.nonfinite.key_first_step' "
                   f"{firsts.shape} of {firsts.dtype}; expected a list of names and one whole number for each ({why})")


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
        known = _handlers()
        if e.get("type") not in known:
            raise _Bad(f"meta.layout.entries[{i}].type: found {json.dumps(e.get('type'))[:40]}; expected an entry type "
                       f"of this rnntui ({', '.join(sorted(known))})")
        if e.get("recurrent", False) is not known[e["type"]].recurrent:
            raise _Bad(f"meta.layout.entries[{i}].recurrent: found {json.dumps(e.get('recurrent'))} for a "
                       f"{e['type']} entry; expected {json.dumps(known[e['type']].recurrent)}")
        view = e.get("view", "plain")
        if view not in VIEW_KINDS:
            raise _Bad(f"meta.layout.entries[{i}].view: found {json.dumps(view)[:40]}; expected "
                       f"{', '.join(VIEW_KINDS[:-1])} or {VIEW_KINDS[-1]}")
        if (view == "recurrent") != (e.get("recurrent") is True):
            raise _Bad(f"meta.layout.entries[{i}].view: found {json.dumps(view)} for an entry whose recurrent is "
                       f"{json.dumps(e.get('recurrent'))}; expected the recurrent view exactly for recurrent entries")
        if (view == "steps") != (e.get("type") == "recurrence"):
            raise _Bad(f"meta.layout.entries[{i}].view: found {json.dumps(view)} for an entry of type "
                       f"{json.dumps(e.get('type'))[:40]}; expected the steps view exactly for recurrence nodes")
        if e.get("type") == "recurrence":
            _check_recurrence(e, f"meta.layout.entries[{i}]")
        if not 0 <= e.get("num_layers", 0) <= MAX_LAYERS or any(n < 1 for n in e.get("out_shape", [1])):
            raise _Bad(f"meta.layout.entries[{i}]: found num_layers {e.get('num_layers')} and out_shape "
                       f"{e.get('out_shape')}; expected sizes of 1 or more (at most {MAX_LAYERS} layers)")


def _check_recurrence(e: dict, where: str) -> None:
    """A recurrence node's config: its states, next values, emitted value and its step graph's layouts."""
    from rnntui.engine.trace import EntryInfo

    conf = e.get("config")
    kinds = {"states": dict, "next": dict, "emit": str, "outer": list, "step": list}
    if not isinstance(conf, dict) or any(not isinstance(conf.get(k), t) for k, t in kinds.items()):
        raise _Bad(f"{where}.config: expected a recurrence's map of states, next, emit, outer and step")
    if not conf["step"] or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                   for v in conf["states"].values()):
        raise _Bad(f"{where}.config: expected a step graph and states with sizes of 1 or more")
    for k, s in enumerate(conf["step"]):
        _check_map(s, {**ENTRY_TYPES, "index": STR}, EntryInfo, f"{where}.config.step[{k}]")
    names = {s["index"] for s in conf["step"]}
    refs = list(conf["next"].values()) + [conf["emit"]]
    if set(conf["next"]) != set(conf["states"]) or any(not isinstance(r, str) or r.rsplit(".", 1)[0] not in names
                                                       and r not in names for r in refs):
        raise _Bad(f"{where}.config: next and emit must name the step graph's nodes, one next value per state")


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
    if "train.config" in arrays:   # the training setup a report states (optimizer, schedule, clipping)
        from rnntui.engine.optim import TrainConfig

        raw = arrays["train.config"]
        try:
            if raw.dtype.kind != "U" or raw.ndim != 0:
                raise ValueError(f"found {raw.dtype} of shape {raw.shape}")
            TrainConfig.from_json(str(raw))
        except ValueError as exc:
            raise _Bad(f"train.config: {exc}; expected the JSON text of the run's train: section") from None
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
        _check_diagnostics(arrays, str(raw))
    except _Bad as exc:
        raise ScenarioError([Problem(str(path), None, None, "", f"not a trace rnntui can open: {exc}")]) from None
