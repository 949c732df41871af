"""The training pane's and report's pictures (render/training.py): the curves over every iteration on a
log scale of the values themselves with their range labelled, the gradient picture's shades and legend,
iteration events as runs; and the non-finite verdict's words (render/analysis.py), true on each model."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
from rich.console import Console

import rnntui
from rnntui.engine.diagnostics import row_norms
from rnntui.engine.keys import Place
from rnntui.render.analysis import verdict
from rnntui.render.training import (PICTURE_SHADES, _bptt_picture, axis, curve, curve_rows, iteration_events,
                                    training_report)
from rnntui.render.strips import BLOCKS

PLACE = Place(0, 0, "fwd")


def _plain(renderable, width: int = 120) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def test_the_curve_is_a_log_scale_of_the_values_themselves():
    """A loss falling tenfold each iteration drops one bar each column, down to the lowest bar at its
    minimum: a log of the loss itself, not of the loss minus its minimum (which flattens the start)."""
    loss = 10.0 ** -np.arange(8.0)
    c = curve(loss, None, 8, positive_only=True)
    assert "".join(t for t, _ in c.cells.rows[0]) == BLOCKS[::-1]
    assert c.log and c.per == 1


def test_every_iteration_is_drawn_binned_to_the_width_and_the_axis_says_so():
    """800 iterations in 80 columns: 10 a column, each column the mean of its iterations (here equal,
    so exact), the first and last iteration labelled with their values, and the minimum with where."""
    levels = np.repeat(10.0 ** -np.linspace(0, 7, 80), 10)   # constant within each column's 10 iterations
    levels[-1] = levels[-2]
    c = curve(levels, 799, 80, positive_only=True)
    assert c.per == 10 and c.columns == 80
    chars = "".join(t for t, _ in c.cells.rows[0])
    expected = np.rint(np.linspace(1, 0, 80) * (len(BLOCKS) - 1)).astype(int)
    assert chars == "".join(BLOCKS[i] for i in expected)
    words = axis(levels, c)
    assert len(words) == 80
    assert words.startswith("└ 0: 1.0000") and words.endswith("799: 1.00e-07 ┘")
    assert "min 1.00e-07 at 790 · log · 10 per column" in words   # the longer words do not fit in 80
    assert "10 iterations a column (their mean)" in axis(levels, c, 100) and "log scale" in axis(levels, c, 100)


def test_a_loss_that_is_not_always_positive_is_drawn_linear_and_says_so():
    c = curve(np.array([-2.0, -1.0, 0.0, 1.0]), None, 10, positive_only=True)
    assert not c.log and "".join(t for t, _ in c.cells.rows[0]) == "▁▃▆█"
    assert "linear scale (loss is not always positive)" in axis(np.array([-2.0, -1.0, 0.0, 1.0]), c, 110)


def test_the_pane_covers_every_iteration_of_a_long_run(traces):
    """training-lstm-memory: 300 iterations; the curve once covered only 150 of them (ending …▄▃▃▁, a
    late collapse that is not there). Every iteration now, its range under it."""
    t = traces["training-lstm-memory"]
    loss = t["train.loss"]
    rows = curve_rows(t, 299, 106)
    assert rows[0].plain.startswith("loss  ") and rows[2].plain.startswith("‖g‖   ")
    bars = rows[0].plain[6:]
    assert len(bars) == math.ceil(300 / math.ceil(300 / 100))   # 3 iterations a column, all 300 covered
    assert bars[0] == "█"                                      # iteration 0: the highest loss
    words = rows[1].plain
    assert f"└ 0: {loss[0]:.4f}" in words and f"299: {loss[-1]:.2e} ┘" in words
    assert f"min {loss.min():.2e} at {int(loss.argmin())}" in words and "3 iterations a column" in words


def test_the_report_draws_its_curves_at_the_width_it_is_printed(traces):
    from rnntui.render.training import CurveRows

    curves = next(i for i in training_report(traces["training-exploding-clipped"]) if isinstance(i, CurveRows))
    text = _plain(curves, width=80)
    lines = text.splitlines()
    assert len(lines) == 4 and all(len(line) <= 80 for line in lines)   # loss, its axis, ‖g‖, clip: no wrap
    assert lines[1].lstrip().startswith("└ 0: 0.6601") and "199: " in lines[1]


def test_the_lowest_shade_is_visible_and_no_gradient_is_told_apart():
    """Rows: iterations, columns: steps. The smallest gradient drawn is '░', not a blank; a zero (no
    gradient) is '·' and a non-finite one '!'; the legend says which is which."""
    a = np.array([[1e-3, 1e-2, 1.0, 0.0, np.nan]])
    lines = _bptt_picture(a, 0, 0, 40, 2, PLACE).plain.splitlines()
    assert lines[-1].endswith("░▒█·!")
    assert PICTURE_SHADES[0] != " " and "░ 1.00e-03" in lines[1] and "█ 1.00e+00" in lines[1]
    assert "· no gradient (zero)" in lines[1] and "! not finite" in lines[1]


def test_iteration_events_are_runs_that_say_how_far_they_go(traces):
    """training-exploding: ‖dL/dh_0‖ rises above 1e6 at iteration 11 and stays there for many; one event
    for the run (j lands at its start), not one per iteration; the overflow of iteration 169 the next."""
    t = traces["training-exploding"]
    at0 = t["train.bptt.model.0.l0.fwd"][:, 0]
    above = np.isfinite(at0) & (at0 > 1e6)
    first = int(np.argmax(above))
    last = first + int(np.argmin(above[first:])) - 1
    events = iteration_events(t)
    exploding = [e for e in events if e.kind == "exploding"]
    assert exploding[0].iteration == first and exploding[0].end == last and last - first > 50
    assert at0[first - 1] <= 1e6 and f"rises above 1e+06 at iteration {first}" in exploding[0].text
    assert f"stays above through iteration {last} ({last - first + 1} iterations)" in exploding[0].text
    bad = [e for e in events if e.kind == "non-finite"]
    assert [e.iteration for e in bad] == [int(t["train.nonfinite.iteration"])]
    assert "(loss)" in bad[0].text and "step" not in bad[0].text   # the loss alone: it has no step


def test_norms_of_finite_gradients_never_overflow_or_underflow():
    """sqrt(sum(x²)) of finite values of 1e200 overflowed to inf (training-exploding's 'non-finite'
    gradient at iteration 169), and of 1e-170 underflowed to 0 ('no gradient'); math.hypot is exact."""
    a = np.array([[3e200, 4e200], [3e-170, 4e-170], [3.0, 4.0], [np.inf, 1.0]])
    got = row_norms(a[:, None, :])
    assert np.allclose(got[:3], [math.hypot(*row) for row in a[:3]], rtol=1e-15, atol=0)
    assert got[3] == np.inf
    f32 = np.array([[3e20, 4e20]], dtype=np.float32)
    assert np.isclose(row_norms(f32)[0], 5e20, rtol=1e-6)


def test_the_non_finite_verdict_names_the_parameters_when_they_are_not_finite(traces):
    t = traces["training-exploding"]   # iteration 199: the parameters themselves are NaN
    s = verdict(t, PLACE).sentence
    assert "the parameters themselves are not finite (param.0.weight_ih_l0" in s
    assert "so the forward pass is not finite either (model.0.l0.fwd.h, from step 0)" in s
    assert "overflowed" not in s


def test_a_finite_gradient_beyond_squaring_range_is_no_longer_non_finite(traces):
    it = traces["training-exploding"].iteration(169)   # the loss overflows; every gradient value is finite
    assert np.isfinite(it["grad.model.0.l0.fwd.h"]).all()
    assert verdict(it, PLACE).kind != "non-finite"
    assert np.isfinite(traces["training-exploding"]["train.bptt.model.0.l0.fwd"][169]).all()


def test_a_loss_that_overflows_is_named(traces):
    it = traces["training-exploding"].iteration(171)
    s = verdict(it, PLACE).sentence
    assert s.startswith("the gradient is not finite: the loss is not finite (loss.step, from step 0)")


ZEROS = "[" + ", ".join(["0"] * 40) + "]"
OVERFLOW_IN_BPTT = f"""version: 1
name: bptt overflow
input: {{values: {ZEROS}}}
model:
  - {{type: rnn, hidden_size: 2}}
  - {{type: dense, units: 1}}
weights: {{init: constant, value: 0, set: {{0.weight_hh_l0: 1.0e+12, 1.weight: 1.0}}}}
loss: {{kind: sum}}
"""


@pytest.mark.parametrize("case, words", [
    # h stays 0 (zero input and biases): every forward value is finite, BPTT multiplies by 2e12 a step
    ("bptt", "it overflowed (inf or NaN) during BPTT; every value of the forward pass is finite"),
    ("input", "the input is not finite (input, from step 0), so neither is the forward pass"),
])
def test_the_non_finite_verdict_names_bptt_or_the_input_on_models_where_that_is_the_cause(tmp_path, case, words):
    text = OVERFLOW_IN_BPTT if case == "bptt" else OVERFLOW_IN_BPTT.replace("values: [0,", "values: [.nan,")
    p = tmp_path / f"{case}.yaml"
    p.write_text(text)
    t = rnntui.run(p)
    forward = [str(k) for k in t["diag.nonfinite.keys"] if not str(k).startswith(("grad", "param."))]
    assert (forward == []) == (case == "bptt")
    assert verdict(t, PLACE).sentence == "the gradient is not finite: " + words + (
        "" if case == "bptt" else ", and BPTT computes the gradient from it")


@pytest.mark.parametrize("width", [40, 60, 90])
def test_the_pictures_title_says_what_its_axes_are_at_any_width(width):
    """A narrow pane would cut the title's end, where it says which axis is which: the longest wording that
    fits is chosen instead."""
    a = np.full((300, 30), 1e-3)
    title = _bptt_picture(a, 299, 0, width, 5, Place(0, 0, "fwd")).plain.splitlines()[0]
    assert len(title) <= width
    assert "295..299 ↓" in title or "iterations 295..299 down" in title
    assert "0..29 →" in title or "steps 0..29 across" in title


def test_a_parameter_that_started_at_zero_is_said_to_have_moved_from_0_not_given_an_infinite_ratio(traces):
    """training-exploding-clipped's biases start at 0: the update / parameter ratio of iteration 0 is recorded as
    inf (the update over a zero norm) and shown in words."""
    trace = traces["training-exploding-clipped"]
    assert np.isinf(trace["train.update_ratio.0.bias_hh_l0"][0])
    text = "\n".join(_plain(item) for item in training_report(trace))
    row = next(line for line in text.splitlines() if line.startswith("0.bias_hh_l0"))
    assert "moved from 0" in row and "inf" not in row
    assert f"{trace['train.update_ratio.0.bias_hh_l0'][-1]:.3e}" in row
