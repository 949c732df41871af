"""Each `weights.init` has the distribution it claims (PyTorch's formulas), checked on its samples."""
from __future__ import annotations

import json

import numpy as np
import pytest

import rnntui


def params(tmp_path, weights, model=None):
    model = model or [{"type": "lstm", "hidden_size": 64}, {"type": "dense", "units": 48},
                      {"type": "activation", "function": "tanh"}]
    doc = {"seed": 5, "input": {"values": [[0.0] * 32]}, "model": model, "weights": weights}
    (tmp_path / "s.yaml").write_text(json.dumps(doc))
    trace = rnntui.run(tmp_path / "s.yaml")
    return {k[len("param."):]: trace[k] for k in trace if k.startswith("param.")}


def test_pytorch_default(tmp_path):
    p = params(tmp_path, {"init": "pytorch"})
    k = 1 / np.sqrt(64)
    for name in ("0.weight_ih_l0", "0.weight_hh_l0", "0.bias_ih_l0", "0.bias_hh_l0"):
        assert np.abs(p[name]).max() <= k and np.abs(p[name]).max() > 0.9 * k  # U(-1/sqrt(H), 1/sqrt(H))
    kd = 1 / np.sqrt(p["1.weight"].shape[1])
    assert np.abs(p["1.weight"]).max() <= kd and np.abs(p["1.bias"]).max() <= kd
    assert abs(p["0.weight_hh_l0"].std() - k / np.sqrt(3)) < 0.05 * k  # std of U(-k, k)


def test_xavier_and_zero_biases(tmp_path):
    p = params(tmp_path, {"init": "xavier"})
    w = p["0.weight_ih_l0"]
    a = np.sqrt(6 / (w.shape[0] + w.shape[1]))
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.9 * a
    assert not p["0.bias_ih_l0"].any() and not p["1.bias"].any()


def test_orthogonal(tmp_path):
    p = params(tmp_path, {"init": "orthogonal", "recurrent_gain": 1.0})
    w = p["0.weight_hh_l0"]  # (256, 64): orthonormal columns
    np.testing.assert_allclose(w.T @ w, np.eye(64), atol=1e-12)
    d = p["1.weight"]  # (48, 64): orthonormal rows
    np.testing.assert_allclose(d @ d.T, np.eye(48), atol=1e-12)


def test_normal_uniform_constant(tmp_path):
    p = params(tmp_path, {"init": "normal", "std": 0.3})
    allv = np.concatenate([v.ravel() for v in p.values()])
    assert abs(allv.std() - 0.3) < 0.01 and abs(allv.mean()) < 0.01
    p = params(tmp_path, {"init": "uniform", "low": -0.2, "high": 0.5})
    allv = np.concatenate([v.ravel() for v in p.values()])
    assert allv.min() >= -0.2 and allv.max() < 0.5 and abs(allv.mean() - 0.15) < 0.01
    p = params(tmp_path, {"init": "constant", "value": 0.25, "recurrent_gain": 2.0})
    assert np.all(p["0.weight_ih_l0"] == 0.25) and np.all(p["0.weight_hh_l0"] == 0.5)


def test_same_seed_same_weights(tmp_path):
    a = params(tmp_path, {"init": "pytorch"})
    b = params(tmp_path, {"init": "pytorch"})
    for k in a:
        assert np.array_equal(a[k], b[k])


@pytest.mark.parametrize("bad", [{"init": "uniform", "low": 1, "high": 0}])
def test_bad_uniform_range(tmp_path, bad):
    with pytest.raises(rnntui.ScenarioError, match="expected low < high"):
        params(tmp_path, bad)
