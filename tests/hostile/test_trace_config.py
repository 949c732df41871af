"""A saved trace's typed configuration is checked at load against the declarations it came from: each
EntryInfo field's type (engine/layout.py), and where a field holds a handler's Config field (an lstm's
`dropout`, a dropout entry's `p`, an op's `config`, a conv's `options`), that field's type and bounds. A bad
value is one line at load (file, key, what was expected, exit 2), never a traceback in `show` later."""
from __future__ import annotations

import dataclasses
import json
import math
import typing

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnntui
from rnntui.engine.entries import HANDLERS
from rnntui.engine.fields import conforms, expected
from rnntui.engine.ops import GRAPH_LAYERS, OPS, STEP_LAYERS
from rnntui.errors import ScenarioError
from tests.hostile.common import invoke, refused

EVERY = {**STEP_LAYERS, **GRAPH_LAYERS, **OPS, **HANDLERS}

DROPOUT = """name: dropout entry
description: an lstm with dropout between its sub-layers, then a dropout entry
input: {values: [[1], [2]]}
model:
  - {type: lstm, hidden_size: 2, num_layers: 2, dropout: 0.5}
  - {type: dropout, p: 0.25}
"""


def _saved(tmp_path, source, change) -> str:
    """*source* (a bundled name or a scenario's text) run and saved, its meta.layout changed by *change*."""
    if "\n" in source:
        (tmp_path / "s.yaml").write_text(source, encoding="utf-8")
        source = str(tmp_path / "s.yaml")
    good = tmp_path / "good.npz"
    rnntui.run(source).save(good)
    arrays = dict(np.load(good))
    layout = json.loads(str(arrays["meta.layout"]))
    change(layout["entries"])
    arrays["meta.layout"] = np.asarray(json.dumps(layout))
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return str(path)


def test_a_dropout_that_is_no_number_is_refused_at_load_by_show(tmp_path):
    """The issue's case: `"dropout": "abc"` in meta.layout used to load, then `show` raised a traceback."""
    path = _saved(tmp_path, DROPOUT, lambda es: es[1].update(dropout="abc"))
    lines = refused(invoke("show", path))
    assert len(lines) == 1, lines
    assert path in lines[0] and 'meta.layout.entries[1].dropout: found "abc"; expected a number' in lines[0], lines
    with pytest.raises(ScenarioError):
        rnntui.load_trace(path)


@pytest.mark.parametrize("entry, value, said", [
    (1, 1.5, 'meta.layout.entries[1].dropout (its p): found 1.5; expected a number from 0 to 1 for a dropout entry'),
    (0, -0.5, 'meta.layout.entries[0].dropout: found -0.5; expected a number from 0 to 1 for a lstm entry'),
    (0, True, 'meta.layout.entries[0].dropout: found true; expected a number'),
])
def test_a_dropout_outside_its_configs_bounds_is_refused(tmp_path, entry, value, said):
    path = _saved(tmp_path, DROPOUT, lambda es: es[entry].update(dropout=value))
    lines = refused(invoke("show", path))
    assert len(lines) == 1 and said in lines[0], lines


def _step(entries, kind):
    """The step node of type *kind* in the first recurrence's step graph."""
    rec = next(e for e in entries if e["type"] == "recurrence")
    return next(s for s in rec["config"]["step"] if s["type"] == kind)


@pytest.mark.parametrize("source, change, said", [
    ("cnn-digit", lambda es: es[0]["options"].update(stride=[1, 0]),
     "entries[0].options.stride: found [1, 0]; expected a list of 2 whole numbers from 1 to"),
    ("cnn-digit", lambda es: es[0]["options"].update(on_seq="no"), "entries[0].options.on_seq: found \"no\"; expected true or false"),
    ("cnn-digit", lambda es: es[0].update(activation="gelu"), 'entries[0].activation: found "gelu"; expected one of "none"'),
    ("graph-layernorm-lstm", lambda es: next(e for e in es if e["type"] == "layernorm")["config"].update(eps=-1),
     "config.eps: found -1; expected a number of 0 or more for a layernorm node"),
    ("stacked-lstm", lambda es: es[0].update(hidden_size=0), "entries[0].hidden_size: found 0; expected a whole number from 1"),
    ("graph-attention-reverse", lambda es: _step(es, "attention")["config"].update(kind="abc"),
     '].config.kind: found "abc"; expected one of "additive", "dot" for a attention node'),
    ("graph-attention-reverse", lambda es: _step(es, "gru_cell")["config"].update(hidden_size=0),
     "].config.hidden_size: found 0; expected a whole number from 1"),
    ("stacked-lstm", lambda es: es[0].update(params={"0.weight_ih_l0": "x"}), "entries[0].params: found"),
])
def test_other_typed_fields_are_refused_at_load(tmp_path, source, change, said):
    lines = refused(invoke("show", _saved(tmp_path, source, change)))
    assert len(lines) == 1 and said in lines[0], lines


# --- every handler's Config field, through the checker's two functions ------------------------------------

FIELDS = [(name, f, typing.get_type_hints(h.Config)[f.name]) for name, h in sorted(EVERY.items())
          for f in dataclasses.fields(h.Config)]


def _numbers(hint) -> bool:
    """Whether every value of *hint* holds numbers that bounds apply to."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    return hint in (int, float) or any(_numbers(a) for a in args if a is not Ellipsis and a is not type(None))


def test_there_are_fields_to_check():
    assert len(FIELDS) > 40 and {n for n, _, _ in FIELDS} >= {"lstm", "dropout", "conv2d", "layernorm", "cat"}


@pytest.mark.parametrize("kind, f, hint", FIELDS, ids=[f"{n}.{f.name}" for n, f, _ in FIELDS])
def test_each_config_fields_declaration_decides_what_the_checker_accepts(kind, f, hint):
    """The default (as JSON) is accepted; text where no text belongs, a map, and a number past a bound are
    refused, and the words say what was expected (the bound too)."""
    meta = dict(f.metadata)
    if f.default is not dataclasses.MISSING:
        assert conforms(json.loads(json.dumps(f.default)), hint, meta), (kind, f.name, f.default)
    if not conforms("abc", hint, meta):
        assert "string" not in expected(hint, meta) or "strings" in expected(hint, meta)
    else:
        assert "string" in expected(hint, meta) or "\"abc\"" in expected(hint, meta)
    assert not conforms({"a": 1}, hint, meta)
    for bound, past in (("min", -1), ("max", 1)):
        if meta.get(bound) is not None and _numbers(hint):
            beyond = meta[bound] + past
            assert not conforms(beyond, hint, meta) and not conforms([beyond, beyond], hint, meta), (kind, f.name)
            shown = f"{int(meta[bound]):,}" if float(meta[bound]).is_integer() else f"{meta[bound]:g}"
            assert shown in expected(hint, meta), expected(hint, meta)


def _valid(hint, meta):
    """A strategy of JSON values of *hint* within *meta*'s bounds."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    lo, hi = meta.get("min"), meta.get("max")
    if hint is type(None):
        return st.none()
    if origin is typing.Literal:
        return st.sampled_from(args)
    if args and (origin is typing.Union or str(origin) == "<class 'types.UnionType'>"):
        return st.one_of(*[_valid(a, meta) for a in args])
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(-2**40 if lo is None else int(lo), 2**40 if hi is None else int(hi))
    if hint is float:
        return st.floats(-1e9 if lo is None else lo, 1e9 if hi is None else hi, allow_nan=False)
    if hint is str:
        return st.text(max_size=5)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(_valid(args[0], meta), max_size=3)
        return st.tuples(*[_valid(a, meta) for a in args]).map(list)
    return st.nothing()


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_values_within_the_declarations_are_accepted_and_those_past_a_bound_refused(data):
    kind, f, hint = data.draw(st.sampled_from(FIELDS))
    meta = dict(f.metadata)
    strategy = _valid(hint, meta)
    if strategy is st.nothing():
        return
    value = data.draw(strategy)
    assert conforms(value, hint, meta), (kind, f.name, value, expected(hint, meta))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (meta.get("max") is not None) \
            and typing.get_origin(hint) is not typing.Literal:
        beyond = meta["max"] + data.draw(st.sampled_from([1, 0.5, 1e6]))
        assert not conforms(beyond, hint, meta) or not math.isfinite(beyond), (kind, f.name, beyond)
