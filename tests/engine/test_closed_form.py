"""Closed-form cases and central differences: references that need no PyTorch."""
from __future__ import annotations

import json

import numpy as np
import pytest

import rnntui
from rnntui.engine.context import RunContext
from rnntui.engine.network import run_network
from rnntui.scenario import load_scenario


def test_vanishing_gradient_halves_exactly():
    trace = rnntui.run("vanishing-gradient")
    g = trace["grad.model.0.l0.fwd.h"][:, 0, 0]
    T = g.shape[0]
    assert np.array_equal(g, 0.5 ** (T - 1 - np.arange(T)))
    assert g[0] == 0.5 ** 29
    # the step Jacobian of a linear unit is its recurrent weight
    np.testing.assert_allclose(trace["diag.model.0.l0.fwd.jacnorm"][:, 0], 0.5, rtol=1e-12)


def test_exploding_gradient_doubles_exactly():
    trace = rnntui.run("exploding-gradient")
    g = trace["grad.model.0.l0.fwd.h"][:, 0, 0]
    T = g.shape[0]
    assert np.array_equal(g, 2.0 ** (T - 1 - np.arange(T)))
    # h_t = 2^t after a pulse at step 0
    assert np.array_equal(trace["model.0.l0.fwd.h"][:, 0, 0], 2.0 ** np.arange(T))
    # d loss / d w_hh = sum_t dL/dh_t * h_{t-1} = sum_{t>=1} 2^(29-t) 2^(t-1) = 29 * 2^28
    assert trace["grad.param.0.weight_hh_l0"][0, 0] == 29 * 2.0 ** 28


def _loss_of(sc, params):
    arrays = run_network(list(sc.layout), sc.x, RunContext.chain(params), sc.loss, sc.target)
    return float(arrays["loss"])


def assert_gradients_match_central_differences(sc, trace, eps: float = 1e-6) -> None:
    """Every parameter's recorded gradient against (L(p + eps) - L(p - eps)) / 2 eps, element by element."""
    for name, value in sc.params.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in sc.params.items()}
            minus = {k: v.copy() for k, v in sc.params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            numeric[idx] = (_loss_of(sc, plus) - _loss_of(sc, minus)) / (2 * eps)
        np.testing.assert_allclose(trace[f"grad.param.{name}"], numeric, rtol=1e-5, atol=1e-8, err_msg=name)


SMALL = [
    {"type": "lstm", "hidden_size": 3, "bidirectional": True, "num_layers": 2},
    {"type": "gru", "hidden_size": 3, "bidirectional": True, "merge": "mul"},
    {"type": "rnn", "hidden_size": 3, "nonlinearity": "tanh", "bidirectional": True, "merge": "mean"},
    {"type": "rnn", "hidden_size": 3, "nonlinearity": "relu"},
]


@pytest.mark.parametrize("entry", SMALL, ids=lambda e: f"{e['type']}-{e.get('merge', 'concat')}")
@pytest.mark.parametrize("mode", ["many-to-many", "many-to-one"])
def test_parameter_gradients_by_central_differences(tmp_path, entry, mode):
    doc = {"seed": 3, "mode": mode, "input": {"generate": {"kind": "noise", "length": 4, "features": 2, "batch": 2}},
           "model": [entry, {"type": "dense", "units": 2, "activation": "sigmoid"}],
           "weights": {"init": "uniform", "low": -0.7, "high": 0.7},
           "loss": {"kind": "mse", "target": np.full((2, 4, 2) if mode == "many-to-many" else (2, 2), 0.3).tolist()}}
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(doc))
    sc = load_scenario(path)
    trace = rnntui.run(path)
    assert_gradients_match_central_differences(sc, trace)


def test_total_dh_by_central_differences(tmp_path):
    """dL/dh_t: perturb h_t's effect by adding a constant to the state at step t."""
    doc = {"seed": 5, "input": {"generate": {"kind": "noise", "length": 5, "features": 2}},
           "model": [{"type": "lstm", "hidden_size": 3}, {"type": "dense", "units": 1}],
           "weights": {"init": "uniform", "low": -0.8, "high": 0.8}, "loss": {"kind": "sum"}}
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(doc))
    sc = load_scenario(path)
    trace = rnntui.run(path)
    dh = trace["grad.model.0.l0.fwd.h"]
    dc = trace["grad.model.0.l0.fwd.c"]
    eps = 1e-6

    def perturbed(step, unit, delta, which):
        # re-run the forward pass by hand with a nudge added to h_t or c_t
        p = {s: sc.params[f"0.{s}_l0"] for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        x = sc.x
        H = 3
        h = np.zeros((1, H))
        c = np.zeros((1, H))
        hs = []
        for t in range(x.shape[0]):
            z = x[t] @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
            i, f, g, o = np.split(z, 4, axis=-1)
            i, f, o = (1 / (1 + np.exp(-v)) for v in (i, f, o))
            c = f * c + i * np.tanh(g)
            if which == "c" and t == step:
                c = c.copy()
                c[0, unit] += delta
            h = o * np.tanh(c)
            if which == "h" and t == step:
                h = h.copy()
                h[0, unit] += delta
            hs.append(h)
        out = np.stack(hs) @ sc.params["1.weight"].T + sc.params["1.bias"]
        return out.sum()

    for t in range(5):
        for u in range(3):
            for which, ref in (("h", dh), ("c", dc)):
                num = (perturbed(t, u, eps, which) - perturbed(t, u, -eps, which)) / (2 * eps)
                assert abs(num - ref[t, 0, u]) < 1e-7, (which, t, u, num, ref[t, 0, u])


CNN = [
    [{"type": "conv2d", "out_channels": 2, "kernel_size": 2, "padding": 1, "dilation": 2, "activation": "tanh"},
     {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 2}],
    [{"type": "conv2d", "out_channels": 4, "kernel_size": 3, "groups": 2, "stride": 2, "activation": "sigmoid"},
     {"type": "avgpool2d", "kernel_size": 1}, {"type": "flatten"}, {"type": "dense", "units": 2}],
]


@pytest.mark.parametrize("model", CNN, ids=["dilated-maxpool", "grouped-strided"])
def test_conv_parameter_gradients_by_central_differences(tmp_path, model):
    rng = np.random.default_rng(6)
    doc = {"input": {"image": rng.normal(size=(2, 5, 5)).round(3).tolist()}, "model": model,
           "weights": {"init": "uniform", "low": -0.7, "high": 0.7}, "loss": {"kind": "mse", "target": [0.1, -0.2]}}
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(doc))
    sc = load_scenario(path)
    trace = rnntui.run(path)
    assert_gradients_match_central_differences(sc, trace)
