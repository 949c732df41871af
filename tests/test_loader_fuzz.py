"""Mutated scenarios fed to the loader: it may refuse them, it must never crash."""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import numpy as np

import rnntui
from rnntui.engine.trace_check import check_trace
from rnntui.errors import ScenarioError, printable
from rnntui.scenario.yaml_source import load_yaml

SCENARIOS = sorted((Path(__file__).parent.parent / "rnntui" / "bundled").glob("*.yaml"))
TEXTS = [p.read_text() for p in SCENARIOS]

values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.lists(st.integers(-2, 3), max_size=4),
    st.sampled_from(["lstm", "gru", "rnn", "dense", "concat", "mul", "none", "softmax", "words", "sine"]),
)


def mutate(data, path_choices, draw):
    """Replace, delete or add one key somewhere in the parsed scenario."""
    node = data
    for _ in range(draw(st.integers(0, 3))):
        if isinstance(node, dict) and node:
            node = node[draw(st.sampled_from(sorted(node)))]
        elif isinstance(node, list) and node:
            node = node[draw(st.integers(0, len(node) - 1))]
    if isinstance(node, dict):
        action = draw(st.sampled_from(["set", "del", "add"]))
        if action == "del" and node:
            del node[draw(st.sampled_from(sorted(node)))]
        elif action == "set" and node:
            node[draw(st.sampled_from(sorted(node)))] = draw(values)
        else:
            node[draw(st.sampled_from(["type", "units", "length", "at", "target", "merge", "x"]))] = draw(values)
    elif isinstance(node, list) and node:
        node[draw(st.integers(0, len(node) - 1))] = draw(values)
    return data


def assert_clear_problems(exc: ScenarioError, path, text: str) -> None:
    """Refused: each problem names the file, says what is wrong on one printable line, and points
    inside the file when it gives a line."""
    assert exc.problems
    for p in exc.problems:
        assert p.file == str(path) and p.message.strip()
        assert str(p) == printable(str(p)) and "\n" not in str(p)
        if p.line is not None:
            assert 1 <= p.line <= len(text.splitlines()) + 1, p
            assert p.column is None or p.column >= 1, p


def assert_whole_trace(trace, path) -> None:
    """Run: the recorded arrays are a trace rnntui can save and reopen (every array its layout implies,
    the loss one number), each parameter has a gradient of its shape, and the scenario it recorded
    runs again to the same loss."""
    recorded = {k: np.asarray(trace[k]) for k in trace}   # as a save writes it: the lazy diagnostics too
    check_trace(recorded, str(path))
    params = [k for k in recorded if k.startswith("param.")]
    for key in params:
        assert trace[f"grad.{key}"].shape == trace[key].shape, key
    again = path.with_name("again.yaml")
    trace.save_scenario(again)
    np.testing.assert_array_equal(rnntui.run(again, max_memory=1 << 28)["loss"], trace["loss"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_scenarios_never_crash(tmp_path_factory, data):
    import json

    i = data.draw(st.integers(0, len(TEXTS) - 1))
    parsed, _ = load_yaml(TEXTS[i], "x.yaml")
    for _ in range(data.draw(st.integers(1, 3))):
        parsed = mutate(parsed, None, data.draw)
    d = tmp_path_factory.mktemp("fuzz")
    for extra in SCENARIOS[0].parent.glob("*.safetensors"):
        (d / extra.name).write_bytes(extra.read_bytes())
    path = d / "s.yaml"
    path.write_text(json.dumps(parsed, allow_nan=True))
    try:
        trace = rnntui.run(path, max_memory=1 << 28)
    except ScenarioError as exc:
        assert_clear_problems(exc, path, path.read_text())
        return
    assert_whole_trace(trace, path)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_text(text)
    try:
        trace = rnntui.run(path, max_memory=1 << 28)
    except ScenarioError as exc:
        assert_clear_problems(exc, path, text)
        return
    assert_whole_trace(trace, path)
