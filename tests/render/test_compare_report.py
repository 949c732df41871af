"""Comparing two runs in a report and on screen: two training runs' curves on one scale, where they part and
first go non-finite, parameter counts, the iteration compared (--iteration), and norms that do not underflow."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app
from rnntui.render.compare import compare_panel, compare_report
from rnntui.render.cursor import Cursor
from rnntui.render.training import BLOCKS, paired_rows


def text_of(items, width: int = 100) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    for item in items:
        console.print(item)
    return out.getvalue()


def row_chars(cells) -> str:
    return "".join(ch for ch, _ in cells.rows[0])


def test_two_runs_curves_share_one_scale():
    """B's loss is 1 throughout, A's grows to 100: on one scale B's bars are all the lowest and A's last the
    highest (each on its own scale, B's flat line would be drawn at full height)."""
    a = {"train.loss": np.array([1.0, 10.0, 100.0]), "train.gradnorm": np.array([1.0, 1.0, 1.0]),
         "train.clipped": np.zeros(3, bool)}
    b = {"train.loss": np.array([1.0, 1.0, 1.0]), "train.gradnorm": np.array([4.0, 2.0, 1.0]),
         "train.clipped": np.array([True, False, False])}
    rows = paired_rows(a, b, 1, 40)
    la, lb = row_chars(rows[0]), row_chars(rows[1])
    assert la.startswith("A loss") and lb.startswith("B loss")
    assert la[-3:] == BLOCKS[0] + BLOCKS[len(BLOCKS) // 2] + BLOCKS[-1]
    assert lb[-3:] == BLOCKS[0] * 3
    ga, gb = row_chars(rows[3]), row_chars(rows[4])
    assert ga[-3:] == BLOCKS[0] * 3 and gb[-3:] == BLOCKS[-1] + BLOCKS[len(BLOCKS) // 2] + BLOCKS[0]
    assert "log scale 1.00e+00 .. 1.00e+02" in row_chars(rows[2])
    assert row_chars(rows[-1]).startswith("B clip c")


@pytest.fixture(scope="module")
def pair(traces):
    return traces["training-exploding"], traces["training-exploding-clipped"]


def test_the_compare_report_of_two_training_runs(pair):
    a, b = pair
    la, lb = (np.asarray(t["train.loss"], dtype=float) for t in pair)
    ga = np.asarray(a["train.gradnorm"], dtype=float)
    part = int(np.flatnonzero(la != lb)[0])
    bad = int(np.flatnonzero(~(np.isfinite(la) & np.isfinite(ga)))[0])
    text = " ".join(text_of(compare_report(a, b)).split())
    assert "Training: A 200 iterations, B 200" in text
    assert f"The losses agree through iteration {part - 1} and part at iteration {part}" in text
    assert f"A: the loss or gradient norm is first not finite at iteration {bad}" in text
    assert "B: finite at every one of its 200 iterations" in text
    # by default the iteration compared is the last where both are finite (A's last is nan)
    assert f"Compared below at iteration {bad - 1} (the last at which both runs are finite" in text
    params = sum(int(np.prod(a[f"param.{n}"].shape)) for e in a.info.entries for n in e.params)
    assert f"total │ │ {params:,} │ │ {params:,}" in text


def test_iteration_picks_the_iteration_compared(pair, tmp_path):
    a, b = pair
    out = tmp_path / "r.txt"
    r = CliRunner().invoke(app, ["export", "training-exploding", "--compare", "training-exploding-clipped",
                                 "--iteration", "5", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    from rnntui.numfmt import fmt
    assert "Compared below at iteration 5 (chosen with --iteration" in text
    lines = text.splitlines()
    assert lines[0] == f"A {a.info.name}  loss {fmt(float(a['train.loss'][5]), 0)} at iteration 5"
    assert lines[1] == f"B {b.info.name}  loss {fmt(float(b['train.loss'][5]), 0)} at iteration 5"
    # the step tables are iteration 5's: A's h at t=0 of iteration 5, from the engine's own record of it
    h = np.asarray(a.iteration(5)["model.0.l0.fwd.h"][0, 0], dtype=float)
    row = next(ln for ln in text.splitlines() if ln.startswith(" 0 │"))
    assert row.split("│")[1].strip().startswith(f"{np.linalg.norm(h):.3g} / ")
    r = CliRunner().invoke(app, ["export", "training-exploding", "--compare", "training-exploding-clipped",
                                 "--iteration", "200", "-o", str(tmp_path / "x.txt")])
    assert r.exit_code == 2 and "expected 0..199" in r.output and not (tmp_path / "x.txt").exists()


TINY = """version: 1
dtype: float32
mode: many-to-one
input: {generate: {kind: pulse, length: 30, at: 0}}
model: [{type: rnn, hidden_size: 2, nonlinearity: identity}]
weights: {init: constant, value: 0.0, set: {0.weight_ih_l0: [[1.0], [1.0]], 0.weight_hh_l0: [[%s, 0.0], [0.0, %s]]}}
loss: {kind: sum}
"""


def test_compare_norms_do_not_underflow_in_float32(tmp_path):
    """dL/dh at t=0 is w^29 per unit (1e-29 for w=0.1): its float32 square underflows to 0, so a plain norm
    says 0; the compare panel and report say the norm, as the main views do."""
    runs = []
    for w in ("0.1", "0.2"):
        path = tmp_path / f"w{w}.yaml"
        path.write_text(TINY % (w, w))
        runs.append(rnntui.run(path))
    a, b = runs
    g = np.asarray(a["grad.model.0.l0.fwd.h"][0, 0])
    assert g.dtype == np.float32 and float(np.linalg.norm(g)) == 0.0  # the plain norm underflows
    expect = math.sqrt(2) * 0.1 ** 29
    panel = text_of([compare_panel(a, b, Cursor(phase="backward", t=0), 100)])
    assert f"‖A‖ {expect:.2e}" in panel
    report = text_of(compare_report(a, b))
    bptt = report[report.index("Backward pass (BPTT)"):]
    row = next(ln for ln in bptt.splitlines() if ln.startswith(" 0 │"))
    assert row.split("│")[1].strip().startswith(f"{expect:.3g} / {math.sqrt(2) * 0.2 ** 29:.3g} / ")
