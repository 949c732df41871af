"""Types family: strict types, no coercion. A value that is not of the key's type (a bool, a numeric string,
null, a float for an integer) is refused at its key; numbers inside lists are numbers or refused."""
from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from rnntui.errors import ScenarioError
from rnntui.scenario import load_scenario

BASE = {"input": {"values": [[1.0], [2.0]]}, "model": [{"type": "rnn", "hidden_size": 2}]}
# (where to put the value, the key path in messages, what the key takes)
INT_KEYS = [(("model", 0, "hidden_size"), "model[0].hidden_size"), (("seed",), "seed"),
            (("version",), "version"), (("model", 0, "num_layers"), "model[0].num_layers")]
NUMBER_LISTS = [(("input", "values", 1, 0), "input.values[1][0]"),
                (("weights", "set", "0.bias_ih_l0", 1), "weights.set.0.bias_ih_l0[1]"),
                (("loss", "target", 0, 0), "loss.target[0][0]")]

not_an_int = st.one_of(st.booleans(), st.none(), st.floats(allow_nan=True), st.text(max_size=6),
                       st.integers(0, 9).map(str), st.lists(st.integers(0, 3), max_size=2))
not_a_number = st.one_of(st.booleans(), st.none(), st.sampled_from(["nan", "inf", "1e3", "3", "-0"]),
                         st.text(max_size=6), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))


def _put(data, where, value):
    node = data
    for part in where[:-1]:
        if isinstance(node, dict) and part not in node:
            node[part] = {} if part != "target" else [[0.0], [0.0]]
        node = node[part]
    node[where[-1]] = value


def _scenario(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("types") / "s.yaml"
    path.write_text(json.dumps(data))
    return path


@settings(max_examples=60, deadline=None)
@given(slot=st.sampled_from(INT_KEYS), value=not_an_int)
def test_integer_keys_take_integers_only(tmp_path_factory, slot, value):
    where, shown = slot
    data = json.loads(json.dumps(BASE))
    _put(data, where, value)
    try:
        load_scenario(_scenario(tmp_path_factory, data))
    except ScenarioError as exc:
        assert any(p.path == shown for p in exc.problems), str(exc)
    else:
        raise AssertionError(f"{shown}: {value!r} was accepted")


@settings(max_examples=60, deadline=None)
@given(slot=st.sampled_from(NUMBER_LISTS), value=not_a_number)
def test_lists_of_numbers_take_numbers_only(tmp_path_factory, slot, value):
    where, shown = slot
    data = json.loads(json.dumps(BASE))
    if where[0] == "weights":
        data["weights"] = {"set": {"0.bias_ih_l0": [0.0, 0.0]}}
    if where[0] == "loss":
        data["loss"] = {"kind": "mse", "target": [[0.0, 0.0], [0.0, 0.0]]}
    _put(data, where, value)
    try:
        load_scenario(_scenario(tmp_path_factory, data))
    except ScenarioError as exc:
        assert any(p.path == shown and "found" in p.message for p in exc.problems), str(exc)
    else:
        raise AssertionError(f"{shown}: {value!r} was accepted")


@settings(max_examples=30, deadline=None)
@given(low=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30)),
       high=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(1.7e308)),
       seed=st.integers(-10**40, 10**40))
@example(low=-1.7e308, high=1.7e308, seed=0)  # a finite range whose width is not
@example(low=0.0, high=1.0, seed=-1)
def test_seeds_and_bounds_load_or_are_refused(tmp_path_factory, low, high, seed):
    data = dict(BASE, seed=seed, weights={"init": "uniform", "low": low, "high": high})
    try:
        sc = load_scenario(_scenario(tmp_path_factory, data))
    except ScenarioError as exc:
        assert all(p.line is not None for p in exc.problems)
    else:
        assert 0 <= seed < 2**64 and all(v.size for v in sc.params.values())
