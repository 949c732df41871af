"""`rnntui export` of every bundled scenario, the .npz contract, atomic writes, the Python API."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app
from rnntui.errors import ExportError, ScenarioError
from rnntui.scenario.bundled import bundled

BUNDLED = sorted(bundled())


@pytest.mark.parametrize("name", BUNDLED)
def test_export_every_bundled_scenario(tmp_path, name):
    out = tmp_path / f"{name}.npz"
    result = CliRunner().invoke(app, ["export", name, "-o", str(out)])
    assert result.exit_code == 0, result.output
    trace = rnntui.run(name)
    with np.load(out, allow_pickle=False) as z:
        keys = set(z.keys())
        assert keys == set(trace.keys())
        assert int(z["meta.version"]) == 1
        assert str(z["meta.scenario"]) == bundled()[name].read_text()
        for key in ("input", "output", "loss"):
            np.testing.assert_array_equal(z[key], trace[key])
        for key in keys:
            if key.startswith("param."):
                assert f"grad.{key}" in keys
                assert z[key].shape == z[f"grad.{key}"].shape
    reopened = rnntui.load_trace(out)
    assert reopened.info == trace.info
    np.testing.assert_array_equal(reopened["loss"], trace["loss"])


def test_trace_is_read_only():
    trace = rnntui.run("lstm-delayed-recall")
    for key in ("model.0.l0.fwd.gates.f", "model.0.l0.fwd.h", "grad.param.0.weight_hh_l0", "diag.model.0.l0.fwd.jacnorm"):
        with pytest.raises(ValueError):
            trace[key][...] = 0
    assert set(trace["model.0.l0.fwd.gates.f"].shape) == {25, 4, 6}


def test_trace_keys_follow_the_format():
    trace = rnntui.run("bilstm-apple")
    T, B, H = 9, 1, 8
    for d in ("fwd", "bwd"):
        for k in ("h", "c", "gates.i", "gates.f", "gates.g", "gates.o"):
            assert trace[f"model.0.l0.{d}.{k}"].shape == (T, B, H)
        assert trace[f"grad.model.0.l0.{d}.h"].shape == (T, B, H)
        assert trace[f"grad.model.0.l0.{d}.c"].shape == (T, B, H)
    assert list(trace["tokens"]) == ["I", "like", "apple", ".", "It", "is", "very", "healthy", "."]
    assert trace["input"].shape == (T, B, len(trace["meta.vocab"])) == (T, B, 31)  # one-hot over apple-vocab.txt
    assert trace["model.0.out"].shape == (T, B, 2 * H)
    assert trace["model.1.pre"].shape == (T, B, 3)  # other, fruit, company
    np.testing.assert_allclose(trace["output"].sum(axis=-1), 1.0)  # probabilities
    assert trace["gradnorm.step.0.weight_hh_l0_reverse"].shape == (T,)


def test_export_is_atomic_and_keeps_existing_file(tmp_path):
    out = tmp_path / "trace.npz"
    out.write_bytes(b"precious")
    bad = Path(__file__).parent / "bad_scenarios" / "misspelt-key.yaml"
    result = CliRunner().invoke(app, ["export", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.npz"]


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "trace.npz"
    out.write_bytes(b"precious")
    trace = rnntui.run("rnn-sine")

    def explode(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", explode)
    with pytest.raises(ExportError, match="disk full"):  # one line for the CLI, not a traceback
        trace.save(out)
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.npz"]


@pytest.mark.parametrize("target,expected", [
    ("{dir}/missing/t.npz", "the folder"),
    ("{dir}/afile/t.npz", "is a file, not a folder"),
    ("{dir}/t.csv", "expected one of npz, txt, html, svg"),
    ("{dir}/missing/report.html", "the folder"),
    ("{dir}/afile/report.txt", "is a file, not a folder"),
    ("{dir}", "is a folder; expected a file name"),
])
def test_bad_output_paths(tmp_path, target, expected):
    (tmp_path / "afile").write_text("x")
    args = ["export", "rnn-sine", "-o", target.format(dir=tmp_path)]
    if target == "{dir}":
        args += ["--format", "html"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1  # one line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.parametrize("size,shown", [("10KiB", "10.0 KiB"), ("10KB", "9.8 KiB"), ("10240", "10.0 KiB")])
def test_memory_limit_refuses_with_estimate(tmp_path, size, shown):
    """--max-memory in bytes as rnntui/sizes.py reads it: 10KB is 10,000 bytes, 10KiB 10,240."""
    result = CliRunner().invoke(app, ["export", "stacked-lstm", "-o", str(tmp_path / "t.npz"), "--max-memory", size])
    assert result.exit_code == 2
    assert "would hold about" in result.output and f"limit of {shown} " in result.output
    assert not (tmp_path / "t.npz").exists()


@pytest.mark.parametrize("size,expected", [("2Q", "expected a size such as 2GB"), ("2 GB junk", "expected a size"),
                                           ("2EiB", "expected at most 1 EiB"), ("-1", "expected a size")])
def test_a_max_memory_that_is_no_size_is_one_line(size, expected):
    result = CliRunner().invoke(app, ["show", "bptt", "--max-memory", size])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith("rnntui: ") and "--max-memory: found" in result.output
    assert expected in result.output and len(result.output.strip().splitlines()) == 1


def test_the_default_limit_is_half_the_memory_the_system_says_is_available(monkeypatch):
    import psutil

    real = psutil.virtual_memory()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: real._replace(available=2 * 3000))
    with pytest.raises(ScenarioError) as exc:
        rnntui.run("stacked-lstm")
    assert "limit of 2.9 KiB" in str(exc.value)   # 3000 bytes


def test_run_raises_project_error():
    with pytest.raises(ScenarioError) as exc:
        rnntui.run("no-such-scenario-anywhere")
    assert "no bundled scenario" in str(exc.value)
    with pytest.raises(ScenarioError) as exc:
        rnntui.run("rnn-sin")
    assert "did you mean the bundled scenario 'rnn-sine'" in str(exc.value)


def test_exploding_to_overflow_completes_and_says_where(tmp_path):
    doc = {"input": {"generate": {"kind": "pulse", "length": 1200}}, "mode": "many-to-one",
           "model": [{"type": "rnn", "hidden_size": 1, "nonlinearity": "identity"}],
           "weights": {"init": "constant", "value": 0.0, "set": {"0.weight_ih_l0": [[1.0]], "0.weight_hh_l0": [[2.0]]}}}
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(doc))
    trace = rnntui.run(p)
    h = trace["model.0.l0.fwd.h"][:, 0, 0]
    first_inf = int(np.flatnonzero(~np.isfinite(h))[0])
    assert first_inf == 1024  # 2^1024 overflows float64
    assert int(trace["diag.nonfinite.first_step"]) == first_inf
    keys = list(trace["diag.nonfinite.keys"])
    assert "model.0.l0.fwd.h" in keys
    assert trace["diag.nonfinite.key_first_step"][keys.index("model.0.l0.fwd.h")] == first_inf


def test_nan_input_spreads_and_is_located(tmp_path):
    np.save(tmp_path / "x.npy", np.array([[0.1], [0.2], [np.nan], [0.3]]))
    (tmp_path / "s.yaml").write_text("input: {file: x.npy}\nmodel: [{type: gru, hidden_size: 2}]\n")
    trace = rnntui.run(tmp_path / "s.yaml")
    assert int(trace["diag.nonfinite.first_step"]) == 2
    assert np.isfinite(trace["model.0.l0.fwd.h"][:2]).all()


def test_input_forms(tmp_path):
    np.savez(tmp_path / "many.npz", a=np.zeros((3, 2)), b=np.ones((2, 4, 2)))
    cases = {
        "input: {text: 'abba', tokenize: chars}": ((4, 1, 2), ["a", "b", "b", "a"]),
        "input: {file: many.npz, key: b}": ((4, 2, 2), None),
        "input: {batch: [[[1], [2]], [[3], [4]], [[5], [6]]]}": ((2, 3, 1), None),
        "input: {values: [1, 2, 3]}": ((3, 1, 1), None),
        "input: {generate: {kind: delayed-recall, length: 6, batch: 3, features: 2}}": ((6, 3, 2), None),
        "input: {generate: {kind: constant, length: 3, value: 0.5}}": ((3, 1, 1), None),
    }
    for line, (shape, tokens) in cases.items():
        (tmp_path / "s.yaml").write_text(line + "\nmodel: [{type: rnn, hidden_size: 2}]\n")
        trace = rnntui.run(tmp_path / "s.yaml")
        assert trace["input"].shape == shape, line
        if tokens:
            assert list(trace["tokens"]) == tokens
    (tmp_path / "s.yaml").write_text("input: {generate: {kind: delayed-recall, length: 6, batch: 3}}\n"
                                     "model: [{type: rnn, hidden_size: 2}]\n")
    x = rnntui.run(tmp_path / "s.yaml")["input"]
    assert set(np.unique(x[0])) <= {0.0, 1.0} and not x[1:].any()
    (tmp_path / "s.yaml").write_text("input: {file: many.npz}\nmodel: [{type: rnn, hidden_size: 2}]\n")
    with pytest.raises(ScenarioError, match="expected `key:` naming one of them"):
        rnntui.run(tmp_path / "s.yaml")


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_scenario_reports(name, traces):
    """The report (what `show` and the .txt/.html/.svg exports print) of every bundled scenario: the
    encoder-decoder's report once indexed a source step with a decoder step."""
    import io

    from rich.console import Console

    from rnntui.render.report import ReportOptions, render_to

    out = io.StringIO()
    trace = traces[name]
    render_to(Console(file=out, width=120, color_system=None), trace, ReportOptions())
    assert trace.info.name.split()[0] in out.getvalue()


def test_run_opens_what_the_run_command_opens(tmp_path, monkeypatch):
    """rnntui.run is the one way a scenario, a saved trace or a recorded folder is opened (the CLI calls it):
    an existing .npz opens without recomputing, a missing one is looked for as a scenario and refused."""
    path = tmp_path / "t.npz"
    rnntui.run("bptt").save(path)

    def recompute(*args, **kwargs):
        raise AssertionError("a saved trace was run again")

    monkeypatch.setattr("rnntui.engine.run_scenario", recompute)
    reopened = rnntui.run(path)
    np.testing.assert_array_equal(reopened["grad.model.0.l0.fwd.h"], rnntui.load_trace(path)["grad.model.0.l0.fwd.h"])
    with pytest.raises(ScenarioError, match="no such file"):
        rnntui.run(tmp_path / "missing.npz")
    result = CliRunner().invoke(app, ["show", str(tmp_path / "missing.npz")])
    assert result.exit_code == 2 and "no such file" in result.output


@pytest.mark.parametrize("command", [["show", "bptt"], ["check", "bptt", "--assert", "norm(dh) >= 0"],
                                     ["export", "bptt", "-o", "{tmp}/r.txt"], ["run", "bptt", "--compare", "rnn-sine"]])
def test_every_command_opens_what_it_is_given_through_rnntui_run(tmp_path, monkeypatch, command):
    import rnntui.tui.app

    real, asked = rnntui._run, []   # what rnntui.run calls (`rnntui run` asks it for a first segment too)
    monkeypatch.setattr(rnntui, "_run", lambda path, max_memory, sample, first_segment:
                        (asked.append((path, max_memory)), real(path, None, sample, first_segment))[1])
    monkeypatch.setattr(rnntui.tui.app.RnntuiApp, "run", lambda self, *a, **k: None)
    result = CliRunner().invoke(app, [a.format(tmp=tmp_path) for a in command] + ["--max-memory", "1GiB"])
    assert result.exit_code == 0, result.output
    assert asked == [(name, 1 << 30) for name in ("bptt", "rnn-sine") if name in command]


def test_run_opens_a_saved_trace(tmp_path):
    """`rnntui.run("trace.npz")` opens the saved trace, as `rnntui run trace.npz` does (it read it as YAML)."""
    trace = rnntui.run("lstm-delayed-recall")
    out = tmp_path / "trace.npz"
    trace.save(out)
    for path in (out, str(out)):
        reopened = rnntui.run(path)
        assert reopened.info.name == trace.info.name
        np.testing.assert_array_equal(reopened["grad.model.0.l0.fwd.c"], trace["grad.model.0.l0.fwd.c"])
        assert float(reopened["loss"]) == float(trace["loss"])


@pytest.mark.parametrize("command", ["run", "show", "export", "check"])
def test_max_memory_help_says_what_the_limit_does(command):
    """Over the limit a run is checkpointed, refused only where it cannot be (the help said 'Refuse runs whose
    trace would exceed this')."""
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    words = " ".join(result.output.split())
    assert "Refuse runs whose trace" not in words
    assert "a run whose whole recording would hold more at its peak is checkpointed" in words


def test_export_no_jacobian_says_the_option_left_the_norms_out(tmp_path):
    result = CliRunner().invoke(app, ["export", "bptt", "-o", str(tmp_path / "t.npz"), "--no-jacobian"])
    assert result.exit_code == 0, result.output
    assert "listed in meta.not_computed (--no-jacobian)" in result.output
    assert "would take a while" not in result.output    # bptt's norms cost nothing: the option left them out
