"""Exports that leave diag.*.jacnorm out (meta.not_computed) and traces that derive it when reopened."""
from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app
from rnntui.engine import diagnostics
from rnntui.engine.progress import reporting

KEYS = ["diag.model.0.l0.fwd.jacnorm", "diag.model.0.l0.bwd.jacnorm"]


def test_saved_without_jacobian_then_derived_on_load(tmp_path):
    trace = rnntui.run("bilstm-apple")
    assert trace.save(tmp_path / "t.npz", jacobian=False) == KEYS
    with np.load(tmp_path / "t.npz") as z:
        assert sorted(z["meta.not_computed"]) == sorted(KEYS)
        assert not any(k.endswith(".jacnorm") for k in z.keys())
    back = rnntui.load_trace(tmp_path / "t.npz")
    assert not back.is_computed(KEYS[0])
    np.testing.assert_array_equal(back[KEYS[0]], trace[KEYS[0]])
    # saved again: the one now computed is written, the other is still listed
    assert back.save(tmp_path / "u.npz", jacobian=False) == [KEYS[1]]
    with np.load(tmp_path / "u.npz") as z:
        assert list(z["meta.not_computed"]) == [KEYS[1]] and KEYS[0] in z
    assert rnntui.load_trace(tmp_path / "u.npz").save(tmp_path / "v.npz") == []
    with np.load(tmp_path / "v.npz") as z:
        assert "meta.not_computed" not in z and all(k in z for k in KEYS)


def test_cli_default_leaves_out_only_costly_norms(tmp_path, monkeypatch):
    runner = CliRunner()
    small = runner.invoke(app, ["export", "bilstm-apple", "-o", str(tmp_path / "a.npz")])
    assert small.exit_code == 0
    with np.load(tmp_path / "a.npz") as z:
        assert all(k in z for k in KEYS) and "meta.not_computed" not in z
    monkeypatch.setattr(diagnostics, "JACNORM_AUTO_LIMIT", 0)  # every run counts as long
    big = runner.invoke(app, ["export", "bilstm-apple", "-o", str(tmp_path / "b.npz")])
    assert big.exit_code == 0 and "meta.not_computed" in big.output
    with np.load(tmp_path / "b.npz") as z:
        assert sorted(z["meta.not_computed"]) == sorted(KEYS)
    forced = runner.invoke(app, ["export", "bilstm-apple", "-o", str(tmp_path / "c.npz"), "--jacobian"])
    assert forced.exit_code == 0
    with np.load(tmp_path / "c.npz") as z:
        assert all(k in z for k in KEYS)


def test_jacobian_norms_report_progress():
    trace = rnntui.run("lstm-delayed-recall")
    seen = []
    with reporting(lambda label, done, total: seen.append((label, done, total))):
        trace["diag.model.0.l0.fwd.jacnorm"]
    assert seen and seen[-1] == ("Jacobian norms model.0.l0.fwd", 25 * 4, 25 * 4)
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)
