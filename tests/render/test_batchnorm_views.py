"""A batchnorm entry in the views: the cell panel says which statistics it used and shows x-hat and the
output made from the recorded input, mean and variance (checked against arithmetic done here); `rnntui show`
reports it (the feature-map overview for batchnorm2d, the per-step table for a sequence)."""
from __future__ import annotations

import json

import numpy as np
from rich.console import Console
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app
from rnntui.numfmt import fmt
from rnntui.render.cursor import Cursor
from rnntui.render.views import cell_panel

CNN = {"version": 1, "seed": 3, "input": {"generate": {"kind": "digit", "size": 8}},
       "model": [{"type": "conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
                 {"type": "batchnorm2d", "batch_stats": True}, {"type": "flatten"}, {"type": "dense", "units": 2}],
       "weights": {"set": {"1.weight": [0.5, 1.5, 2.0], "1.bias": [0.1, -0.2, 0.3]}},
       "loss": {"kind": "sum"}}
SEQ = {"version": 1, "seed": 4, "input": {"generate": {"kind": "sine", "length": 6, "features": 3, "batch": 2}},
       "model": [{"type": "batchnorm1d"}, {"type": "lstm", "hidden_size": 2}],
       "weights": {"set": {"0.running_mean": [0.1, 0.2, 0.3], "0.running_var": [2.0, 0.5, 1.0],
                           "0.weight": [1.5, 1.0, 0.5]}},
       "loss": {"kind": "sum"}}


def _text(renderable) -> str:
    con = Console(width=120, record=True, file=open("/dev/null", "w"))
    con.print(renderable)
    return con.export_text()


def _run(tmp_path, doc):
    p = tmp_path / "bn.yaml"
    p.write_text(json.dumps(doc))
    return p, rnntui.run(p)


def test_the_feature_map_cell_explains_the_value_with_the_batch_statistics(tmp_path):
    _, trace = _run(tmp_path, CNN)
    ch, y, x = 2, 1, 4
    text = _text(cell_panel(trace, Cursor(phase="forward", place_index=1, t=y * 8 + x, unit=ch), 120))
    conv = np.asarray(trace["model.0.out"])
    mean, var = conv[:, ch].mean(), conv[:, ch].var()
    xhat = (conv[0, ch, y, x] - mean) / np.sqrt(var + 1e-5)
    assert "batch's statistics" in text
    assert f"= {fmt(xhat, 0)}" in text
    assert f"2.0000 · {fmt(xhat, 0)} + 0.3000 = {fmt(2.0 * xhat + 0.3, 0)}" in text
    back = _text(cell_panel(trace, Cursor(phase="backward", place_index=1, t=y * 8 + x, unit=ch), 120))
    assert f"dL/dx = {fmt(float(trace['grad.model.0.out'][0, ch, y, x]), 0)}" in back


def test_the_sequence_cell_explains_the_value_with_the_running_statistics(tmp_path):
    _, trace = _run(tmp_path, SEQ)
    t, b, u = 3, 1, 1
    text = _text(cell_panel(trace, Cursor(phase="forward", place_index=0, t=t, sample=b, unit=u), 120))
    xhat = (trace["input"][t, b, u] - 0.2) / np.sqrt(0.5 + 1e-5)
    assert "running statistics (eval mode)" in text
    assert f"√(0.5000 + 1e-05) = {fmt(xhat, 0)}" in text


def test_show_reports_both(tmp_path):
    for doc in (CNN, SEQ):
        p, _ = _run(tmp_path, doc)
        result = CliRunner().invoke(app, ["show", str(p)])
        assert result.exit_code == 0, result.output
        assert "batchnorm" in result.stdout and "eps 1e-05" in result.stdout
