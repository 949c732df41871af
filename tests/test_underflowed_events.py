"""Vanishing-gradient events count a gradient that underflowed to exactly 0 (it vanished), and not a step no
loss reaches (no gradient at all): checked against the closed form 0.5^(T-1-t) of a linear unit with recurrent
weight 0.5 (the lecture notes' vanishing gradient), long enough for float64 to underflow."""
from __future__ import annotations

import numpy as np

import rnntui
from rnntui.render.analysis import events, thresholds, underflowed

T = 1200


def _scenario(tmp_path, bidirectional: bool):
    path = tmp_path / "v.yaml"
    extra = ("    0.weight_ih_l0_reverse: [[1.0]]\n    0.weight_hh_l0_reverse: [[0.5]]\n" if bidirectional else "")
    path.write_text(f"""\
version: 1
name: underflow
mode: many-to-one
input:
  generate: {{kind: pulse, length: {T}, at: 0}}
model:
  - {{type: rnn, hidden_size: 1, nonlinearity: identity, bidirectional: {str(bidirectional).lower()}}}
weights:
  init: constant
  value: 0.0
  set:
    0.weight_ih_l0: [[1.0]]
    0.weight_hh_l0: [[0.5]]
{extra}loss: {{kind: sum}}
""")
    return path


def _marked(trace, direction: str) -> set[int]:
    return {e.t for e in events(trace) if e.kind == "vanishing" and e.place.direction == direction}


def test_a_gradient_that_underflowed_to_zero_is_vanishing(tmp_path):
    trace = rnntui.run(_scenario(tmp_path, False))
    gn = trace["diag.model.0.l0.fwd.gradnorm"]
    closed = 0.5 ** (T - 1 - np.arange(T, dtype=float))       # dL/dh_t, exactly (powers of two)
    np.testing.assert_array_equal(gn, closed)
    assert (gn == 0).sum() > 100                                 # float64 underflowed: 0.5^1075 is 0
    lo = thresholds(trace.info)["vanishing"]
    assert _marked(trace, "fwd") == set(np.flatnonzero(closed < lo).tolist())


def test_a_backward_directions_gradient_underflows_upward(tmp_path):
    """h_n's backward half is the backward direction's state at step 0: its gradient is 0.5^t, BPTT running up."""
    trace = rnntui.run(_scenario(tmp_path, True))
    gb = trace["diag.model.0.l0.bwd.gradnorm"]
    np.testing.assert_array_equal(gb, 0.5 ** np.arange(T, dtype=float))
    lo = thresholds(trace.info)["vanishing"]
    assert (gb == 0).sum() > 100
    assert _marked(trace, "bwd") == set(np.flatnonzero(gb < lo).tolist())


def test_a_zero_without_a_vanishing_gradient_before_it_is_no_gradient():
    """The rule on its own: zeros that follow (in BPTT's order) a norm at or above the threshold, or nothing, are
    steps no loss reaches (a backward direction read only at its last step, padding), not underflow."""
    lo = 1e-6
    fwd = np.array([0.0, 0.0, 3e-7, 0.0, 0.0, 2.0, 0.0, 0.0])     # BPTT runs from the last step down
    assert underflowed(fwd, lo, False).tolist() == [True, True, False, False, False, False, False, False]
    bwd = np.array([0.0, 0.0, 0.5, 1e-9, 0.0, 0.0])                 # a backward direction's BPTT runs up
    assert underflowed(bwd, lo, True).tolist() == [False, False, False, False, True, True]
