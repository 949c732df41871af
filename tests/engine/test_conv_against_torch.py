"""Convolution, pooling, flatten and dense against torch.nn.functional, float64 to 1e-9."""
from __future__ import annotations

import json

import numpy as np
import pytest

import torch

from tests.engine.conv_cases import CONV2D, _run  # noqa: E402
from tests.torch_ref import manual  # noqa: E402


def _check(trace):
    vals, grads = manual(trace, torch.float64)
    np.testing.assert_allclose(trace["loss"], vals["loss"], rtol=1e-9, atol=1e-12)
    for key, ref in {**vals, **grads}.items():
        if key == "loss":
            continue
        np.testing.assert_allclose(trace[key], ref, rtol=1e-9, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("conv", CONV2D, ids=lambda c: json.dumps(c, separators=(",", ":")))
@pytest.mark.parametrize("pool", ["maxpool2d", "avgpool2d"])
def test_conv2d_pool_flatten_dense(tmp_path, conv, pool):
    rng = np.random.default_rng(1)
    doc = {"input": {"image": rng.normal(size=(4, 9, 8)).round(3).tolist()},
           "model": [{"type": "conv2d", "out_channels": 4, "activation": "tanh", **conv},
                     {"type": pool, "kernel_size": 2},
                     {"type": "flatten"}, {"type": "dense", "units": 3}],
           "weights": {"init": "uniform", "low": -0.5, "high": 0.5},
           "loss": {"kind": "cross_entropy", "target": 2}}
    _check(_run(tmp_path, doc))


@pytest.mark.parametrize("conv", [{"kernel_size": 3}, {"kernel_size": 3, "padding": "same", "dilation": 2},
                                  {"kernel_size": 2, "stride": 2, "padding": 1}, {"kernel_size": 3, "groups": 3}])
def test_conv1d_and_pools_over_a_sequence(tmp_path, conv):
    rng = np.random.default_rng(2)
    doc = {"input": {"batch": rng.normal(size=(2, 12, 3)).round(3).tolist()},
           "model": [{"type": "conv1d", "out_channels": 6, "activation": "relu", **conv},
                     {"type": "maxpool1d", "kernel_size": 2, "stride": 1},
                     {"type": "avgpool1d", "kernel_size": 2},
                     {"type": "dense", "units": 2, "activation": "sigmoid"}],
           "weights": {"init": "uniform", "low": -0.5, "high": 0.5}, "loss": {"kind": "sum"}}
    _check(_run(tmp_path, doc))


@pytest.mark.parametrize("mode", ["many-to-many", "many-to-one"])
@pytest.mark.parametrize("conv", [{"kernel_size": 3, "padding": "same"}, {"kernel_size": 3, "stride": 2},
                                  {"kernel_size": 2, "dilation": 2, "groups": 3}])
def test_crnn(tmp_path, mode, conv):
    rng = np.random.default_rng(3)
    T, F = 11, 3
    doc = {"mode": mode, "input": {"batch": rng.normal(size=(2, T, F)).round(3).tolist()},
           "model": [{"type": "conv1d", "out_channels": 6, "activation": "relu", **conv},
                     {"type": "maxpool1d", "kernel_size": 2, "stride": 1},
                     {"type": "lstm", "hidden_size": 4, "bidirectional": True},
                     {"type": "dense", "units": 2}],
           "weights": {"init": "uniform", "low": -0.5, "high": 0.5}, "loss": {"kind": "sum"}}
    trace = _run(tmp_path, doc)
    steps = trace["model.2.l0.fwd.h"].shape[0]
    assert trace.info.T == steps
    assert trace["model.0.out"].shape[:2] == (trace["model.1.out"].shape[0] + 1, 2)
    _check(trace)


def test_crnn_one_to_many(tmp_path):
    doc = {"mode": "one-to-many", "length": 6, "input": {"values": [[0.5, -1.0]]},
           "model": [{"type": "conv1d", "out_channels": 3, "kernel_size": 3, "padding": "same"},
                     {"type": "gru", "hidden_size": 3}, {"type": "dense", "units": 1}],
           "weights": {"init": "uniform", "low": -0.5, "high": 0.5},
           "loss": {"kind": "mse", "target": [[0.1]] * 6}}
    _check(_run(tmp_path, doc))


def test_maxpool_routes_gradient_to_first_argmax(tmp_path):
    """A 1x1 identity conv first, so the gradient the pool sends back is recorded as its output's."""
    doc = {"input": {"image": [[1, 3, 3, 0], [2, 3, 0, 0]]},
           "model": [{"type": "conv2d", "out_channels": 1, "kernel_size": 1},
                     {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}],
           "weights": {"init": "constant", "value": 0.0, "set": {"0.weight": 1.0}},
           "loss": {"kind": "sum"}}
    trace = _run(tmp_path, doc)
    assert trace["model.1.out"].ravel().tolist() == [3, 3]
    # window one holds 3 twice: the first, at (0, 1), takes the gradient, as in PyTorch
    assert trace["grad.model.0.out"][0, 0].tolist() == [[0, 1, 1, 0], [0, 0, 0, 0]]
    _check(trace)
