"""A scenario with `interventions:` runs the same from `run`'s engine, `export`, `show` and the Python API."""
from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app

DOC = {"version": 1, "input": {"generate": {"kind": "sine", "length": 12, "batch": 2}},
       "model": [{"type": "gru", "hidden_size": 3}, {"type": "dense", "units": 1}],
       "interventions": [{"at": "model.0.l0.fwd", "steps": "4:8", "set": "gates.z", "units": [1], "value": 0.25}]}


def test_export_show_and_api_agree(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(DOC))
    out = tmp_path / "t.npz"
    result = CliRunner().invoke(app, ["export", str(p), "-o", str(out)])
    assert result.exit_code == 0, result.output
    saved = rnntui.load_trace(out)
    api = rnntui.run(p)
    assert json.loads(str(saved["meta.interventions"])) == DOC["interventions"]
    assert saved["loss"] == api["loss"]
    np.testing.assert_array_equal(saved["grad.model.0.l0.fwd.h"], api["grad.model.0.l0.fwd.h"])
    assert saved["model.0.l0.fwd.intervened.gates.z"][4:8, :, 1].all()
    assert saved["model.0.l0.fwd.intervened.gates.z"].sum() == 4 * 2
    shown = CliRunner().invoke(app, ["show", str(p)])
    assert shown.exit_code == 0, shown.output
    p.write_text(json.dumps({**DOC, "interventions": []}))
    assert rnntui.run(p)["loss"] != api["loss"]


def test_python_api_what_if(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps({**DOC, "interventions": []}))
    base = rnntui.run(p)
    new = rnntui.what_if(base, DOC["interventions"])
    p.write_text(json.dumps(DOC))
    assert new["loss"] == rnntui.run(p)["loss"] != base["loss"]
