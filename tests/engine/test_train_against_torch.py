"""Training against torch.optim and torch.nn.utils.clip_grad_*_: 30 iterations, float64 to 1e-9.

Every optimizer (with its less common keys too) under every clip kind, on LSTM, GRU and RNN models
(stacked, bidirectional, many-to-one and many-to-many): the loss of every iteration, the global
gradient norm before and after clipping, and the parameters of chosen iterations read through
`trace.iteration(k)`, and the parameters after the last update.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402
from tests.engine.train_ref import torch_training  # noqa: E402

N = 30
T, B, D = 6, 3, 2

MODELS = {
    "lstm-stacked-bidir-m2o": ("many-to-one", [{"type": "lstm", "hidden_size": 4, "num_layers": 2,
                                                "bidirectional": True}, {"type": "dense", "units": 3}], "cross_entropy"),
    "gru-m2m": ("many-to-many", [{"type": "gru", "hidden_size": 5}, {"type": "dense", "units": 2}], "mse"),
    "rnn-stacked-bidir-m2m": ("many-to-many", [{"type": "rnn", "hidden_size": 4, "num_layers": 2, "bidirectional": True,
                                               "merge": "sum"}, {"type": "dense", "units": 3, "activation": "softmax"}],
                              "cross_entropy"),
}

OPTIMIZERS = [
    {"kind": "sgd", "lr": 0.2},
    {"kind": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"kind": "sgd", "lr": 0.1, "momentum": 0.8, "dampening": 0.3, "maximize": False},
    {"kind": "adam", "lr": 0.02},
    {"kind": "adam", "lr": 0.02, "amsgrad": True, "weight_decay": 0.05, "betas": [0.8, 0.95]},
    {"kind": "adamw", "lr": 0.02},
    {"kind": "adamw", "lr": 0.03, "amsgrad": True, "weight_decay": 0.1, "eps": 1e-6},
    {"kind": "rmsprop"},
    {"kind": "rmsprop", "lr": 0.005, "centered": True, "momentum": 0.5, "weight_decay": 0.01, "alpha": 0.9},
]
CLIPS = [None, {"norm": 0.3}, {"value": 0.02}]


def scenario(model: str, optimizer: dict, clip, dtype="float64", seed=1, iterations=N) -> str:
    mode, entries, loss = MODELS[model]
    rng = np.random.default_rng(seed)
    out = entries[-1]["units"]
    doc = {"version": 1, "seed": seed, "dtype": dtype, "mode": mode,
           "input": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()}, "model": entries,
           "weights": {"init": "uniform", "low": -0.5, "high": 0.5},
           "train": {"iterations": iterations, "optimizer": optimizer}}
    seq = mode == "many-to-many"
    if loss == "mse":
        doc["loss"] = {"kind": "mse", "target": rng.normal(size=(B, T, out) if seq else (B, out)).round(3).tolist()}
    else:
        doc["loss"] = {"kind": "cross_entropy", "target": rng.integers(0, out, size=(B, T) if seq else (B,)).tolist()}
    if clip is not None:
        doc["train"]["clip"] = clip
    return json.dumps(doc)


def train(tmp_path, text):
    p = tmp_path / "train.yaml"
    p.write_text(text)
    return rnntui.run(p)


def check_against_torch(trace, tol, optimizer, clip, dtype=torch.float64, check=(0, 7, 19, N - 1)):
    ref = torch_training(trace, optimizer, clip, dtype)
    np.testing.assert_allclose(trace["train.loss"], ref["loss"], rtol=tol, atol=tol)
    np.testing.assert_allclose(trace["train.gradnorm"], ref["gradnorm"], rtol=tol, atol=tol)
    np.testing.assert_allclose(trace["train.gradnorm.clipped"], ref["clipped"], rtol=tol, atol=tol)
    for k in check:
        it = trace.iteration(k)
        for name, value in ref["params"][k].items():
            np.testing.assert_allclose(it[f"param.{name}"], value, rtol=tol, atol=tol, err_msg=f"{name} at {k}")
    for name, value in ref["final"].items():
        np.testing.assert_allclose(trace[f"train.final.param.{name}"], value, rtol=tol, atol=tol, err_msg=name)
    return ref


CASES = [(opt, clip, list(MODELS)[(i + j) % len(MODELS)])
         for i, opt in enumerate(OPTIMIZERS) for j, clip in enumerate(CLIPS)]


@pytest.mark.parametrize("optimizer,clip,model", CASES,
                         ids=[f"{o['kind']}{i // 3}-{'none' if c is None else next(iter(c))}-{m}"
                              for i, (o, c, m) in enumerate(CASES)])
def test_training_matches_torch(tmp_path, optimizer, clip, model):
    trace = train(tmp_path, scenario(model, optimizer, clip))
    check_against_torch(trace, 1e-9, optimizer, clip)
    # the parameters moved (a loop that never updated would pass the comparisons above only trivially)
    first, last = trace.iteration(0), trace.iteration(N - 1)
    assert any(not np.allclose(first[k], last[k], atol=1e-3) for k in first if k.startswith("param."))
    if clip is not None:
        acted = trace["train.clipped"]
        assert acted.any(), "the clip limits here are chosen to act"
        if "norm" in clip:
            assert (trace["train.gradnorm.clipped"][acted] <= clip["norm"] * (1 + 1e-9)).all()
            np.testing.assert_array_equal(acted, trace["train.gradnorm"] > clip["norm"] + 1e-6)


@pytest.mark.parametrize("model", list(MODELS))
def test_float32_training_stays_near_torch(tmp_path, model):
    optimizer, clip = {"kind": "adam", "lr": 0.02}, {"norm": 0.5}
    trace = train(tmp_path, scenario(model, optimizer, clip, dtype="float32"))
    assert trace["train.loss"].dtype == np.float32 and trace.iteration(5)["param.0.weight_hh_l0"].dtype == np.float32
    check_against_torch(trace, 2e-4, optimizer, clip, dtype=torch.float32)
