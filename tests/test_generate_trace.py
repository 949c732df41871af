"""A generator's trace (`feed: output`) as a file and a report: `feed` travels in meta.layout and comes
back from the .npz, an older layout without it reads as zeros, `feed: zeros` is today's one-to-many, and
the text report of a generator lists what each step read."""
from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app
from rnntui.engine.trace import TraceInfo


def test_a_generator_round_trips_through_its_file(tmp_path, traces):
    trace = traces["sine-generator"]
    path = tmp_path / "gen.npz"
    trace.save(path)
    back = rnntui.load_trace(path)
    assert back.info.feed == "output"
    for key in ("input", "output", "grad.input", "grad.model.0.l0.fwd.h.from_output", "loss.step"):
        np.testing.assert_array_equal(back[key], trace[key])
    assert trace["input"][1:].any(), "the fed-back steps are not zeros"
    layout = json.loads(str(trace["meta.layout"]))
    del layout["feed"]  # a trace saved before `feed` existed
    assert TraceInfo.from_json(json.dumps(layout)).feed == "zeros"


def test_feed_zeros_is_the_one_to_many_of_before(tmp_path):
    doc = {"mode": "one-to-many", "length": 5, "input": {"values": [[0.3, -0.2]]},
           "model": [{"type": "lstm", "hidden_size": 3}, {"type": "dense", "units": 2}],
           "loss": {"kind": "sum"}}
    runs = []
    for feed in (None, "zeros", "output"):
        p = tmp_path / f"{feed}.yaml"
        p.write_text(json.dumps(doc if feed is None else {**doc, "feed": feed}))
        runs.append(rnntui.run(p))
    plain, zeros, fed = runs
    for key in ("input", "output", "grad.param.0.weight_hh_l0", "grad.model.0.l0.fwd.h"):
        np.testing.assert_array_equal(zeros[key], plain[key])
    assert not plain["input"][1:].any() and zeros.info.feed == "zeros"
    np.testing.assert_array_equal(fed["input"][1:], fed["output"][:-1])
    assert not np.allclose(fed["output"], plain["output"])


def test_the_text_report_of_a_generator(tmp_path):
    out = tmp_path / "gen.txt"
    result = CliRunner().invoke(app, ["export", "sine-generator", "-o", str(out), "--width", "120"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "Sine generator" in text
    assert "input at t≥1 = output at t-1 (feed: output)" in text
