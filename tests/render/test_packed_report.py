"""Reports of a batch of different lengths: the lengths, the final states' steps, statistics over the
samples still running, and no prediction or target claimed at a padded step."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from rich.console import Console

import rnntui
from rnntui.render.report import ReportOptions, build

DATA = Path(__file__).parent.parent / "data"


def report(name: str) -> str:
    out = io.StringIO()
    console = Console(file=out, width=300, color_system=None)
    for item in build(rnntui.run(DATA / name), ReportOptions()):
        console.print(item)
    return out.getvalue()


def test_report_lists_lengths_and_leaves_padding_out():
    trace = rnntui.run(DATA / "packed-bilstm.yaml")
    text = report("packed-bilstm.yaml")
    assert "samples of different lengths (packed): 0: 3, 1: 1, 2: 2 of T=3" in text
    pred_rows = [ln for ln in text.splitlines() if "target" in ln and "│" in ln]
    assert [tuple(int(v) for v in ln.split("│")[:2]) for ln in pred_rows] == [
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0)]
    # the forget gate's mean at t=1 is over samples 0 and 2 only
    f = trace["model.0.l0.fwd.gates.f"][1][[0, 2]]
    row = next(ln for ln in text.splitlines() if ln.startswith("1 │  2 of 3"))
    assert f"{f.mean():.3g} [{f.min():.2g}, {f.max():.2g}]" in row


def test_report_says_where_each_final_state_came_from():
    text = report("packed-bigru-many-to-one.yaml")
    assert "many-to-one output of model.0, sample 0: fwd h at t=2 and bwd h at t=0 merged by concat" in text
    assert "sample 1: fwd h at t=0 (its own last step of 3) and bwd h at t=0" in text
    assert np.asarray(rnntui.run(DATA / "packed-bigru-many-to-one.yaml")["meta.lengths"]).tolist() == [3, 1]
