"""Every norm a screen or report shows is the robust one (engine/diagnostics.py vector_norm / row_norms):
a float32 gradient of 1e-24 has a norm of about 1e-23, where squaring it in float32 (np.linalg.norm) gives 0."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app

ROOT = Path(__file__).resolve().parent.parent.parent / "rnntui"


def test_no_plain_norm_reaches_the_screen():
    bad = [f"{p.relative_to(ROOT)}:{n}" for folder in ("render", "tui") for p in sorted((ROOT / folder).rglob("*.py"))
           for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "linalg.norm" in line]
    assert not bad, "use engine.diagnostics.vector_norm / row_norms: " + ", ".join(bad)


def test_a_float32_gradient_of_1e_24_is_not_printed_as_0(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text("version: 1\ndtype: float32\ninput: {values: [[1.0e-24], [2.0e-24], [1.0e-24]]}\n"
                 "model:\n  - {type: rnn, hidden_size: 2, nonlinearity: identity}\n"
                 "weights: {init: constant, value: 0.5}\nloss: {kind: sum}\n")
    trace = rnntui.run(p)
    g = np.asarray(trace["grad.param.0.weight_ih_l0"], dtype=np.float64)
    expected = float(np.sqrt((g ** 2).sum()))
    assert expected > 1e-24 and float(np.linalg.norm(trace["grad.param.0.weight_ih_l0"])) == 0.0
    out = CliRunner().invoke(app, ["show", str(p)]).output
    row = next(line for line in out.splitlines() if "0.weight_ih_l0" in line and "(2, 1)" in line)
    assert f"{expected:.4g}" in row, row
    assert re.search(r"│\s+0\s+│\s*$", row) is None
