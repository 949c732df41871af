"""Check a saved trace before anything reads it: its layout and the arrays the layout implies.

A trace .npz can come from anywhere (an older rnntui, another program, a damaged copy). Opening
one checks that `meta.layout` is JSON, a map with the expected keys and types, that `entries` is
a list of maps whose fields have the right types, and that every array the layout implies is there
with a consistent shape and real numbers. The first thing wrong is one ScenarioError line naming
the file.
"""
from __future__ import annotations

import json
import typing
from dataclasses import MISSING, fields

import numpy as np

from rnntui.engine import keys
from rnntui.engine.fields import conforms, expected
from rnntui.errors import Problem, ScenarioError, lone_surrogate

MAX_ENTRIES = 10_000
MAX_LAYERS = 1000


class _Bad(Exception):
    pass


def _declared(cls) -> dict:
    """name -> (type hint, metadata, required) of a dataclass's fields: what a saved map of it holds."""
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], f.metadata, f.default is MISSING and f.default_factory is MISSING)
            for f in fields(cls)}


def _check_map(d, cls, where: str, hints: dict | None = None) -> None:
    """*d* is a saved *cls* (EntryInfo, TraceInfo, a handler's Options): no unknown key, every required one,
    and every value of its field's declared type, within the field's bounds (*hints* overrides some)."""
    if not isinstance(d, dict):
        raise _Bad(f"{where}: found {type(d).__name__}; expected a map")
    declared = {**_declared(cls), **(hints or {})}
    unknown = sorted(set(d) - set(declared))
    if unknown:
        raise _Bad(f"{where}: unknown key {unknown[0]!r}; expected keys among {', '.join(declared)}")
    for name, (hint, meta, required) in declared.items():
        if name not in d:
            if required:
                raise _Bad(f"{where}: the key {name!r} is missing")
            continue
        if not conforms(d[name], hint, meta):
            raise _Bad(f"{where}.{name}: found {json.dumps(d[name])[:40]}; expected {expected(hint, meta)}")


def _check_config(e: dict, handler, where: str) -> None:
    """The entry's typed configuration, derived from its handler's declarations: each EntryInfo field that holds
    a Config field (`dropout`: an lstm's dropout, a dropout entry's p) of the Config field's type and bounds;
    an op's `config` keys of its Config's; `options` of the handler's Options shape."""
    declared = _declared(handler.Config)
    for name, cfg_name in handler.info_fields().items():
        hint, meta, _ = declared[cfg_name]
        if name in e and not conforms(e[name], hint, meta):
            shown = name if name == cfg_name else f"{name} (its {cfg_name})"
            raise _Bad(f"{where}.{shown}: found {json.dumps(e[name])[:40]}; expected {expected(hint, meta)} for a "
                       f"{e['type']} entry")
    config = e.get("config")
    if isinstance(config, dict) and e["type"] != "recurrence":   # a recurrence's config: _check_recurrence
        for name in sorted(set(config) & set(declared)):
            hint, meta, _ = declared[name]
            if not conforms(config[name], hint, meta):
                raise _Bad(f"{where}.config.{name}: found {json.dumps(config[name])[:40]}; expected "
                           f"{expected(hint, meta)} for a {e['type']} node")
    if handler.Options is not None and e.get("options") is not None:
        _check_map(e["options"], handler.Options, f"{where}.options")


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
    from rnntui.engine.handlers import EVERY

    return EVERY


def _check_diagnostics(arrays: dict, text: str) -> None:
    """The diagnostics every view and report reads: each recurrent place's saturation, gradient norms and
    step Jacobian norms (unless meta.not_computed defers them), the one-term gradient with its step (both or
    neither: traces before it have neither), and the non-finite summary."""
    from rnntui.engine.trace import TraceInfo

    info = TraceInfo.from_json(text)
    deferred = set(arrays[keys.META_NOT_COMPUTED].tolist()) if keys.META_NOT_COMPUTED in arrays else set()
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
    first = _array(arrays, keys.NONFINITE_FIRST_STEP, why)
    if first.ndim != 0 or first.dtype.kind not in "iu":
        raise _Bad(f"the array 'diag.nonfinite.first_step' has shape {first.shape} of {first.dtype}; expected one "
                   "whole number")
    firsts = _array(arrays, keys.NONFINITE_KEY_FIRST_STEP, why)
    names = arrays.get(keys.NONFINITE_KEYS)
    if names is None:
        raise _Bad(f"the array 'diag.nonfinite.keys' is missing ({why})")
    if names.ndim != 1 or names.dtype.kind != "U" or firsts.shape != names.shape or firsts.dtype.kind not in "iu":
        raise _Bad(f"the arrays 'diag.nonfinite.keys' {names.shape} of {names.dtype} and 'diag.nonfinite.key_first_step' "
                   f"{firsts.shape} of {firsts.dtype}; expected a list of names and one whole number for each ({why})")


def _check_layout(d) -> None:
    from rnntui.engine.layout import VIEW_KINDS
    from rnntui.engine.trace import EntryInfo, TraceInfo

    if not isinstance(d, dict):
        raise _Bad(f"{keys.META_LAYOUT}: found {type(d).__name__}; expected a map")
    if "entries" not in d:
        raise _Bad(f"{keys.META_LAYOUT}: the key 'entries' is missing")
    entries = d["entries"]
    if not isinstance(entries, list) or not entries or len(entries) > MAX_ENTRIES:
        raise _Bad(f"{keys.META_LAYOUT}.entries: found {type(entries).__name__}; expected a list of 1 to {MAX_ENTRIES} maps")
    _check_map(d, TraceInfo, keys.META_LAYOUT, {"entries": (list, {}, True)})
    if d["T"] < 1 or d["B"] < 1:
        raise _Bad(f"{keys.META_LAYOUT}: found T={d['T']}, B={d['B']}; expected both 1 or more")
    for i, e in enumerate(entries):
        _check_map(e, EntryInfo, f"{keys.META_LAYOUT}.entries[{i}]")
        if e.get("index") != i:
            raise _Bad(f"{keys.META_LAYOUT}.entries[{i}].index: found {e.get('index')}; expected {i}")
        known = _handlers()
        if e.get("type") not in known:
            raise _Bad(f"{keys.META_LAYOUT}.entries[{i}].type: found {json.dumps(e.get('type'))[:40]}; expected an entry type "
                       f"of this rnntui ({', '.join(sorted(known))})")
        if e.get("recurrent", False) is not known[e["type"]].recurrent:
            raise _Bad(f"{keys.META_LAYOUT}.entries[{i}].recurrent: found {json.dumps(e.get('recurrent'))} for a "
                       f"{e['type']} entry; expected {json.dumps(known[e['type']].recurrent)}")
        _check_config(e, known[e["type"]], f"{keys.META_LAYOUT}.entries[{i}]")
        view = e.get("view", "plain")
        if view not in VIEW_KINDS:
            raise _Bad(f"{keys.META_LAYOUT}.entries[{i}].view: found {json.dumps(view)[:40]}; expected "
                       f"{', '.join(VIEW_KINDS[:-1])} or {VIEW_KINDS[-1]}")
        if (view == "recurrent") != (e.get("recurrent") is True):
            raise _Bad(f"{keys.META_LAYOUT}.entries[{i}].view: found {json.dumps(view)} for an entry whose recurrent is "
                       f"{json.dumps(e.get('recurrent'))}; expected the recurrent view exactly for recurrent entries")
        if (view == "steps") != (e.get("type") == "recurrence"):
            raise _Bad(f"{keys.META_LAYOUT}.entries[{i}].view: found {json.dumps(view)} for an entry of type "
                       f"{json.dumps(e.get('type'))[:40]}; expected the steps view exactly for recurrence nodes")
        if e.get("type") == "recurrence":
            _check_recurrence(e, f"{keys.META_LAYOUT}.entries[{i}]")
        if not 0 <= e.get("num_layers", 0) <= MAX_LAYERS or any(n < 1 for n in e.get("out_shape", [1])):
            raise _Bad(f"{keys.META_LAYOUT}.entries[{i}]: found num_layers {e.get('num_layers')} and out_shape "
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
        _check_map(s, EntryInfo, f"{where}.config.step[{k}]", {"index": (str, {}, True)})
        known = _handlers()
        if s["type"] not in known:
            raise _Bad(f"{where}.config.step[{k}].type: found {json.dumps(s['type'])[:40]}; expected a node type of "
                       "this rnntui")
        _check_config(s, known[s["type"]], f"{where}.config.step[{k}]")
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
    if keys.META_LENGTHS in arrays:  # traces before sequences of different lengths have none
        lengths = _array(arrays, keys.META_LENGTHS, "each sample's length")
        _shape(lengths, keys.META_LENGTHS, (B,), f"({B},)")
        most = max([T] + [e.get("steps", 1) for e in d["entries"] if isinstance(e.get("steps"), int)]) if seq else 1
        if lengths.dtype.kind not in "iu" or (lengths < 1).any() or (lengths > most).any():
            raise _Bad(f"{keys.META_LENGTHS}: found {lengths[:8].tolist()}; expected whole numbers from 1 to T={most}")
    if keys.TRAIN_RECORD_ITERATION in arrays:   # which iteration's record a training trace holds
        k = _array(arrays, keys.TRAIN_RECORD_ITERATION, "the iteration whose record the file holds")
        N = arrays[keys.TRAIN_LOSS].shape[0] if keys.TRAIN_LOSS in arrays and arrays[keys.TRAIN_LOSS].ndim == 1 else 0
        if k.ndim != 0 or k.dtype.kind not in "iu" or not 0 <= int(k) < N:
            raise _Bad(f"{keys.TRAIN_RECORD_ITERATION}: found {k.ravel()[:4].tolist()}; expected one whole number in "
                       f"0..{N - 1}, an iteration of train.loss")
    if keys.TRAIN_CONFIG in arrays:   # the training setup a report states (optimizer, schedule, clipping)
        from rnntui.engine.optim import TrainConfig

        raw = arrays[keys.TRAIN_CONFIG]
        try:
            if raw.dtype.kind != "U" or raw.ndim != 0:
                raise ValueError(f"found {raw.dtype} of shape {raw.shape}")
            TrainConfig.from_json(str(raw))
        except ValueError as exc:
            raise _Bad(f"{keys.TRAIN_CONFIG}: {exc}; expected the JSON text of the run's train: section") from None
    for e in d["entries"]:
        i = e["index"]
        out_shape = tuple(e.get("out_shape", ()))
        key = keys.out(i)
        out = _array(arrays, key, f"entry {i}'s output")
        if e.get("seq_out"):
            _shape(out, key, (None, B) + out_shape, f"(steps, {B}) + {out_shape}")
        else:
            _shape(out, key, (B,) + out_shape, f"{(B,) + out_shape}")
        for name in e.get("params", ()):
            _array(arrays, keys.param(name), f"a parameter of entry {i}")
        if e.get("recurrent") is True:
            H, steps = e.get("hidden_size", 0), e.get("steps", T)
            for j in range(e.get("num_layers", 0)):
                for direction in e.get("directions", ()):
                    key = keys.Place(i, j, direction).key("h")
                    _shape(_array(arrays, key, f"the states of entry {i}"), key, (steps, B, H), f"{(steps, B, H)}")


def _check_text(arrays: dict, layout) -> None:
    """Every text the trace holds can be printed: no half of a UTF-16 surrogate pair (JSON's \\ud800, or a
    text array that holds one), which no terminal or UTF-8 file can take."""
    def refuse(where: str, text: str, k: int):
        raise _Bad(f"{where}: holds \\u{ord(text[k]):04x} at character {k}, half of a UTF-16 surrogate pair "
                   "without its other half: no character, so it can be neither printed nor written")

    stack = [(keys.META_LAYOUT, layout)]
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
        if keys.META_LAYOUT not in arrays:
            raise _Bad("not an rnntui trace: no meta.layout key")
        raw = arrays[keys.META_LAYOUT]
        if not isinstance(raw, np.ndarray) or raw.dtype.kind != "U" or raw.ndim != 0:
            raise _Bad(f"{keys.META_LAYOUT}: found an array of {getattr(raw, 'dtype', type(raw).__name__)}; expected JSON text")
        try:
            d = json.loads(str(raw))
        except (ValueError, RecursionError) as exc:
            raise _Bad(f"{keys.META_LAYOUT}: not JSON ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        _check_text(arrays, d)
        _check_layout(d)
        _check_arrays(arrays, d)
        _check_diagnostics(arrays, str(raw))
    except _Bad as exc:
        raise ScenarioError([Problem(str(path), None, None, "", f"not a trace rnntui can open: {exc}")]) from None
