"""Weight files and `weights:` options that need no PyTorch: refused files, missing parameters, set and init."""
from __future__ import annotations

import numpy as np

import rnntui
from tests.engine.weight_cases import SCENARIO, _errors


def test_missing_parameter_without_init(tmp_path):
    np.savez(tmp_path / "w.npz", **{"1.weight": np.zeros((2, 8)), "1.bias": np.zeros(2)})
    msg = _errors(tmp_path, SCENARIO.format(x=[[0, 0, 0]], kind="lstm", file="w.npz"))
    assert "parameter 0.weight_ih_l0 of shape (16, 3) is missing" in msg


def test_pickled_npz_is_refused(tmp_path):
    np.savez(tmp_path / "w.npz", a=np.array([{"x": 1}], dtype=object))
    msg = _errors(tmp_path, SCENARIO.format(x=[[0, 0, 0]], kind="lstm", file="w.npz"))
    assert "cannot read w.npz" in msg and "pickle" in msg.lower()


def test_set_wins_over_init_and_gain_scales_init(tmp_path):
    text = """
input: {values: [[1.0], [0.0]]}
seed: 1
model: [{type: rnn, hidden_size: 2}]
weights:
  init: constant
  value: 0.25
  recurrent_gain: 4
  set: {0.bias_ih_l0: [1.0, 2.0]}
"""
    (tmp_path / "s.yaml").write_text(text)
    tr = rnntui.run(tmp_path / "s.yaml")
    assert np.array_equal(tr["param.0.weight_hh_l0"], np.full((2, 2), 1.0))
    assert np.array_equal(tr["param.0.weight_ih_l0"], np.full((2, 1), 0.25))
    assert np.array_equal(tr["param.0.bias_ih_l0"], [1.0, 2.0])
