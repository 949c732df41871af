"""Issue 28's last crashes, each with the input that made it: sizes counted before they are made, saved
traces refused with one line, unreadable inputs, option values."""
from __future__ import annotations

import tracemalloc

import pytest

from rnntui.errors import ScenarioError
from rnntui.scenario import load_scenario


def test_a_model_too_large_to_run_is_refused_before_its_parameters_are_made(tmp_path):
    """hidden_size 3,000: 9 million parameters (72 MB) fit a 200 MB limit, but the run (its gradients and
    records) does not: refused while loading, having allocated nothing of that size (was: the parameters
    drawn, `validate` saying ok, and only the run refusing; at hidden_size 30,000, 45 s and 14 GB)."""
    path = tmp_path / "big.yaml"
    path.write_text("mode: many-to-one\ninput: {generate: {kind: pulse, length: 3, at: 0}}\n"
                    "model:\n  - {type: rnn, hidden_size: 3000}\nloss: {kind: sum}\n")
    tracemalloc.start()
    try:
        with pytest.raises(ScenarioError) as info:
            load_scenario(path, max_memory=200 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    problem = info.value.problems[0]
    assert (problem.line, problem.path) == (3, "model")
    assert "this run would hold about" in problem.message and "memory limit of 200.0 MiB" in problem.message
    assert peak < 40 << 20, peak  # the parameters alone take 72 MB


def test_a_long_run_whose_parameters_alone_overflow_the_limit_is_refused_even_checkpointed(tmp_path):
    """hidden_size 3,000 over 20,000 steps: checkpointing would shrink the per-step record, but the
    parameters and their gradients (144 MB) and one segment still overflow 150 MiB: refused while loading,
    saying so (was: accepted as checkpointed, then the run itself went over the limit)."""
    path = tmp_path / "big.yaml"
    path.write_text("mode: many-to-one\ninput: {generate: {kind: pulse, length: 20000, at: 0}}\n"
                    "model:\n  - {type: rnn, hidden_size: 3000}\nloss: {kind: sum}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, max_memory=150 << 20)
    problem = info.value.problems[0]
    assert (problem.line, problem.path) == (3, "model")
    assert problem.message.startswith("even checkpointed, this run would hold about")
    assert "memory limit of 150.0 MiB" in problem.message
    # the same model over the same steps fits a limit its parameters, gradients and a segment fit in
    load_scenario(path, max_memory=600 << 20)


def _scenario_reading(tmp_path, name: str):
    path = tmp_path / "s.yaml"
    path.write_text(f"input: {{file: {name}}}\nmodel: [{{type: rnn, hidden_size: 2}}]\nloss: {{kind: sum}}\n")
    return path


def test_an_unreadable_input_file_is_one_problem(tmp_path, monkeypatch):
    """EACCES from open (simulated: the tests run as root, who may read anything), and a folder where the
    .npy should be."""
    import errno

    import numpy as np

    import rnntui.npyfiles

    np.save(tmp_path / "x.npy", np.zeros((3, 1, 2)))
    real_open = open

    def refuse(file, *args, **kwargs):
        if str(file).endswith("x.npy"):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(rnntui.npyfiles, "open", refuse, raising=False)
    with pytest.raises(ScenarioError) as info:
        load_scenario(_scenario_reading(tmp_path, "x.npy"))
    assert [p.message for p in info.value.problems] == ["x.npy: cannot be opened: Permission denied"]
    assert info.value.problems[0].path == "input.file"
    monkeypatch.undo()
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(ScenarioError) as info:
        load_scenario(_scenario_reading(tmp_path, "d.npy"))
    assert "d.npy: is not a regular file" in info.value.problems[0].message


def test_steps_with_a_stop_beyond_any_run_is_to_the_end():
    from typer.testing import CliRunner

    from rnntui.cli import app

    def show(steps):
        return CliRunner().invoke(app, ["show", "bptt", "--steps", steps])

    to_end, huge = show("0:"), show("0:99999999999999999999")
    assert to_end.exit_code == huge.exit_code == 0 and huge.output == to_end.output
    assert show("2:12").output == show("2:" + "9" * 400).output
    result = show("99999999999999999999:5")
    assert result.exit_code == 2 and result.output.strip().splitlines() == [
        "rnntui: show error: --steps: found START 99999999999999999999… (20 digits); expected a step of the run"]


def test_a_long_run_of_a_small_model_is_accepted_checkpointed(tmp_path):
    """LSTM(64) over 200,000 steps: the whole record is gigabytes, but the input (12.8 MB), the parameters and a
    segment forward and backward fit 50 MB: it loads (was: refused as 'even checkpointed ... 415 MiB', the
    segment counted with arrays over the whole run's steps); 20 MB stays refused."""
    path = tmp_path / "long.yaml"
    path.write_text("input: {generate: {kind: noise, length: 200000, features: 8}}\n"
                    "model:\n  - {type: lstm, hidden_size: 64}\nloss: {kind: sum}\n")
    sc = load_scenario(path, max_memory=50 << 20)
    assert sc.x.shape == (200000, 1, 8)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, max_memory=20 << 20)
    assert info.value.problems[0].message.startswith("even checkpointed, this run would hold about")
