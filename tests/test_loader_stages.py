"""The loader is a row of stages with declared prerequisites and a registry of modes (scenario/loader.py):
each stage's needs are provided before it, a stage run without them is refused, every mode the loader knows
is found in the registry, and no function of the loader is a long one again."""
from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest

from rnntui.scenario import loader
from rnntui.scenario.loader import MODES, STAGES, Load, Stage, run_stages

GIVEN = {"source", "text", "max_memory", "sample", "problems"}   # what a Load starts with


def test_each_stage_needs_only_what_the_stages_before_it_provide():
    known = set(GIVEN)
    for stage in STAGES:
        assert set(stage.needs) <= known, (stage.name, set(stage.needs) - known)
        known |= set(stage.provides)
    assert known <= {f.name for f in fields(Load)}


def test_every_field_of_a_loaded_scenario_comes_from_a_stage():
    provided = set(GIVEN).union(*(s.provides for s in STAGES))
    assert {"layout", "x", "made", "target", "initial_states", "watch", "interventions"} <= provided


def test_a_stage_run_before_what_it_needs_is_refused():
    load = Load("x.yaml", "", None, None)
    ran = []
    with pytest.raises(AssertionError, match="stage late needs layout"):
        run_stages(load, (Stage("late", needs=("layout",), provides=(), run=ran.append),))
    assert ran == []
    with pytest.raises(AssertionError, match="stage lazy did not provide layout"):
        run_stages(load, (Stage("lazy", needs=("source",), provides=("layout",), run=ran.append),))


def test_the_modes_are_found_in_the_registry():
    assert [m.name for m in MODES] == ["graph", "generator", "training", "seq2seq", "dataset"]
    assert MODES[0].load is not None and all(m.load is None for m in MODES[1:])


def test_a_graph_scenario_is_loaded_by_the_graph_mode(tmp_path, monkeypatch):
    seen = []
    graph = next(m for m in MODES if m.name == "graph")
    monkeypatch.setattr(loader, "MODES", (graph.__class__(graph.name, graph.applies,
                                                           load=lambda load: seen.append(load.file) or "graph"),)
                        + MODES[1:])
    text = "name: g\ndescription: d\ninput: {values: [[1]]}\nmodel:\n  - {id: a, type: dense, units: 1}\nloss: {kind: sum}\n"
    assert loader._load(tmp_path / "g.yaml", text, None) == "graph" and seen == [str(tmp_path / "g.yaml")]


def test_no_function_of_the_loader_is_a_long_one():
    tree = ast.parse(Path(loader.__file__).read_text(encoding="utf-8"))
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef) and n.end_lineno - n.lineno + 1 > 60]
    assert not long, long
