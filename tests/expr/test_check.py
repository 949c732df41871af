"""`rnntui check` and `rnntui.check`: exit codes, messages, the --json schema, the pass order."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app
from tests.expr.conftest import family_text


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    p = tmp_path_factory.mktemp("check") / "lstm.yaml"
    p.write_text(family_text("lstm"))
    return str(p)


def cli(*args):
    r = CliRunner().invoke(app, ["check", *args])
    return r.exit_code, r.stdout, r.stderr


def test_all_hold_exit_0(scenario):
    code, out, err = cli(scenario, "--assert", "all(isfinite(h))", "--assert", "max(abs(gates.f)) <= 1 @model.0.l1.bwd")
    assert code == 0, err
    assert out.splitlines() == ["ok    all(isfinite(h))  (4 places, 28 steps)",
                                "ok    max(abs(gates.f)) <= 1 @model.0.l1.bwd  (1 place, 7 steps)"]


def test_a_failing_assertion_names_place_pass_first_step_and_count(scenario):
    code, out, _ = cli(scenario, "--assert", "t < 3", "--assert", "t < 3 or norm(dh) < 0 @model.0.l0.bwd")
    assert code == 1
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0] == "FAIL  t < 3"
    # forward pass: a fwd direction runs t = 0 up (first failure t=3), a bwd one from T-1 down (t=6)
    assert "at model.0.l0.fwd, forward pass: first fails at t=3 (t = 0 .. T-1 order); fails at 4 of 7 steps" in lines
    assert "at model.0.l0.bwd, forward pass: first fails at t=6 (t = T-1 .. 0 order); fails at 4 of 7 steps" in lines
    # reading dh puts it in the backward pass: BPTT runs a bwd direction from t = 0 up
    assert "at model.0.l0.bwd, backward pass: first fails at t=3 (t = 0 .. T-1 order); fails at 4 of 7 steps" in lines


def test_json_schema(scenario):
    code, out, _ = cli(scenario, "--assert", "t < 3 or norm(dh) < 0", "--assert", "T == 7", "--json")
    assert code == 1
    d = json.loads(out)
    assert set(d) == {"version", "scenario", "file", "ok", "assertions"} and d["version"] == 1 and d["ok"] is False
    assert d["scenario"] == "lstm-expr" and d["file"] == scenario
    a, b = d["assertions"]
    assert (a["expression"], a["ok"], b["ok"]) == ("t < 3 or norm(dh) < 0", False, True)
    assert [p["place"] for p in a["places"]] == ["model.0.l0.fwd", "model.0.l0.bwd", "model.0.l1.fwd", "model.0.l1.bwd"]
    first = a["places"][0]
    assert first == {"place": "model.0.l0.fwd", "pass": "backward", "order": "descending", "steps": 7,
                     "failing_steps": 4, "first_failing_step": 6, "ok": False}
    assert all(p["first_failing_step"] is None and p["failing_steps"] == 0 for p in b["places"])


def test_python_api_returns_the_same(scenario):
    code, out, _ = cli(scenario, "--assert", "norm(dh) > 1e-3", "--json")
    result = rnntui.check(scenario, ["norm(dh) > 1e-3"])
    assert result.to_dict() == json.loads(out)
    assert bool(result) == (code == 0) and result.exit_code == code
    # the counts are NumPy's on the trace
    trace = rnntui.run(scenario)
    result = rnntui.check(trace, "norm(dh) > 1e-3 @model.0.l1.fwd")
    dh = np.asarray(trace["grad.model.0.l1.fwd.h"])
    fails = np.linalg.norm(dh.reshape(7, -1), axis=1) <= 1e-3
    p = result.assertions[0].places[0]
    assert p.failing == int(fails.sum())
    assert p.first_failing == (int(np.flatnonzero(fails)[-1]) if fails.any() else None)   # BPTT: from T-1 down


@pytest.mark.parametrize("args, column, words", [
    (["--assert", "norm(dh) <> 1"], 11, "--assert 1 ('norm(dh) <> 1'), column 11: found '>'; expected a value"),
    (["--assert", "t > 0", "--assert", "mean(c) > 0 and gates.r > 0"], 17, "--assert 2 ('mean(c) > 0 and gates.r > 0'), "
     "column 17: found gates.r, which model.0.l0.fwd (lstm) does not have; it has h, c, gates.i"),
    (["--assert", "mean(h)"], 1, "found a value, not a condition"),
    (["--assert", "h > 0 @model.0.l5.fwd"], 8, "found the place 'model.0.l5.fwd'"),
    (["--assert", "__import__(os)"], 1, "found a call of '__import__'"),
    (["--assert", "open('x')"], 6, "found a string"),
])
def test_unusable_expressions_exit_2_with_the_column(scenario, args, column, words):
    code, out, err = cli(scenario, *args)
    assert code == 2 and out == ""
    assert f"column {column}: " in err and words in err and "Traceback" not in err
    code, out, _ = cli(scenario, *args, "--json")
    assert code == 2 and json.loads(out)["error"]["column"] == column


def test_a_bad_expression_is_refused_before_the_scenario_runs(tmp_path):
    code, _, err = cli(str(tmp_path / "missing.yaml"), "--assert", "h >")
    assert code == 2 and "expression error" in err   # not "no such file": the expression is read first


def test_unusable_scenario_exits_2(tmp_path):
    code, _, err = cli(str(tmp_path / "missing.yaml"), "--assert", "h > 0")
    assert code == 2 and "no such file" in err and "Traceback" not in err


def test_a_model_without_recurrent_places_needs_a_place():
    code, _, err = cli("sobel-edges", "--assert", "all(isfinite(out))")
    assert code == 2 and "expected @place" in err and "model.0" in err
    code, out, _ = cli("sobel-edges", "--assert", "all(isfinite(out)) @model.0")
    assert code == 0 and "(1 place, 1 steps)" in out
