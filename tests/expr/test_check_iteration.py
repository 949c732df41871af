"""`rnntui check` on a training run: one iteration is checked, the last or `--iteration k`, the output says
which, and the expressions' `iteration` is that number; an iteration that cannot be checked is refused."""
from __future__ import annotations

import json

from typer.testing import CliRunner

import rnntui
from rnntui.cli import app


def cli(*args):
    r = CliRunner().invoke(app, ["check", *args])
    return r.exit_code, r.stdout, r.stderr


def test_the_last_iteration_is_checked_by_default_and_the_output_says_so():
    """training-exploding's parameters are NaN by its last iteration: a FAIL that says which iteration."""
    code, out, _ = cli("training-exploding", "--assert", "all(isfinite(h))")
    assert code == 1
    assert out.splitlines()[0] == "training run: checked at iteration 199 of 0..199 (the last; --iteration k checks another)"
    code, out, _ = cli("training-exploding", "--assert", "all(isfinite(h))", "--iteration", "3")
    assert code == 0 and out.splitlines()[0] == "training run: checked at iteration 3 of 0..199"


def test_iteration_in_an_expression_is_the_iteration_checked():
    code, out, _ = cli("training-lstm-memory", "--assert", "iteration == 299")
    assert code == 0, out
    code, out, _ = cli("training-lstm-memory", "--assert", "iteration == 60", "--iteration", "60", "--json")
    d = json.loads(out)
    assert code == 0 and (d["iteration"], d["iterations"], d["ok"]) == (60, 300, True)
    result = rnntui.check("training-lstm-memory", "iteration == 7", iteration=7)
    assert result.ok and result.iteration == 7


def test_a_run_without_training_says_nothing_of_iterations_and_refuses_one():
    code, out, _ = cli("rnn-sine", "--assert", "iteration == 0", "--json")
    assert code == 0 and "iteration" not in json.loads(out)
    code, _, err = cli("rnn-sine", "--assert", "iteration == 0", "--iteration", "1")
    assert code == 2 and "--iteration: found 1; this run has no train: section" in err and "Traceback" not in err


def test_an_iteration_out_of_range_or_not_kept_is_refused(traces, tmp_path):
    code, _, err = cli("training-exploding", "--assert", "t >= 0", "--iteration", "200")
    assert code == 2 and "--iteration: found 200; expected 0..199" in err
    path = tmp_path / "t.npz"
    traces["training-exploding-clipped"].save(path)
    code, out, _ = cli(str(path), "--assert", "iteration == 199")
    assert code == 0 and "checked at iteration 199 of 0..199" in out
    code, _, err = cli(str(path), "--assert", "t >= 0", "--iteration", "3")
    assert code == 2 and "run the scenario" in err and "Traceback" not in err


def test_a_file_exported_at_an_iteration_is_checked_at_that_iteration(tmp_path):
    """`export --iteration 60 -o f.npz` keeps iteration 60's record: check reads it there, not as the last."""
    path = tmp_path / "it60.npz"
    r = CliRunner().invoke(app, ["export", "training-exploding-clipped", "--iteration", "60", "-o", str(path)])
    assert r.exit_code == 0, r.output
    code, out, _ = cli(str(path), "--assert", "iteration == 60")
    assert code == 0 and out.splitlines()[0] == "training run: checked at iteration 60 of 0..199"
