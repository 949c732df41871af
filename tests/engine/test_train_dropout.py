"""Dropout: the recorded masks of every iteration, injected into PyTorch, give the same training; a
run without `train:` is the identity (eval mode); masks replay exactly when an iteration is recomputed."""
from __future__ import annotations

import json

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402
from tests.engine.train_ref import torch_training  # noqa: E402

N = 30


def doc(train=True, p=0.3, layer_p=0.4, kind="lstm", mode="many-to-many"):
    rng = np.random.default_rng(5)
    d = {"version": 1, "seed": 5, "mode": mode, "input": {"batch": rng.normal(size=(3, 6, 2)).round(3).tolist()},
         "model": [{"type": kind, "hidden_size": 4, "num_layers": 3, "bidirectional": True, "dropout": layer_p},
                   {"type": "dropout", "p": p}, {"type": "dense", "units": 3}],
         "weights": {"init": "uniform", "low": -0.5, "high": 0.5},
         "loss": {"kind": "cross_entropy",
                  "target": rng.integers(0, 3, size=(3, 6) if mode == "many-to-many" else (3,)).tolist()}}
    if train:
        d["train"] = {"iterations": N, "optimizer": {"kind": "adam", "lr": 0.02}, "clip": {"norm": 0.5}}
    return d


def run(tmp_path, d, name="d.yaml"):
    (tmp_path / name).write_text(json.dumps(d))
    return rnntui.run(tmp_path / name)


@pytest.mark.parametrize("kind,mode", [("lstm", "many-to-many"), ("gru", "many-to-one")])
def test_training_with_dropout_matches_torch_with_the_same_masks(tmp_path, kind, mode):
    trace = run(tmp_path, doc(kind=kind, mode=mode))

    def masks(k):
        it = trace.iteration(k)
        return {key: np.asarray(it[key]) for key in it if key.endswith("mask")}

    m = masks(3)
    assert set(m) == {"model.0.l1.dropout_mask", "model.0.l2.dropout_mask", "model.1.mask"}
    assert set(np.unique(m["model.1.mask"]).round(12)) == {0.0, round(1 / 0.7, 12)}
    assert set(np.unique(m["model.0.l1.dropout_mask"]).round(12)) == {0.0, round(1 / 0.6, 12)}
    assert not np.array_equal(masks(4)["model.1.mask"], m["model.1.mask"])   # a new draw every iteration
    ref = torch_training(trace, {"kind": "adam", "lr": 0.02}, {"norm": 0.5}, masks=masks)
    np.testing.assert_allclose(trace["train.loss"], ref["loss"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(trace["train.gradnorm"], ref["gradnorm"], rtol=1e-9, atol=1e-12)
    for name, value in ref["final"].items():
        np.testing.assert_allclose(trace[f"train.final.param.{name}"], value, rtol=1e-9, atol=1e-12)


def test_recomputed_iterations_replay_their_masks(tmp_path):
    trace = run(tmp_path, doc())
    before = {k: np.asarray(trace.iteration(k)["model.1.mask"]).copy() for k in (0, 20)}
    trace._trainer.recent.clear()
    for k, mask in before.items():
        it = trace.iteration(k)
        np.testing.assert_array_equal(it["model.1.mask"], mask)
        assert it["loss"] == trace["train.loss"][k]


def test_without_train_dropout_is_the_identity(tmp_path):
    trace = run(tmp_path, doc(train=False))
    assert not any(k.endswith("mask") for k in trace)
    np.testing.assert_array_equal(trace["model.1.out"], trace["model.0.out"])
    np.testing.assert_array_equal(trace["grad.model.0.out"], trace["grad.model.1.out"])
    no_dropout = doc(train=False, p=0.0, layer_p=0.0)
    ref = run(tmp_path, no_dropout, "ref.yaml")
    np.testing.assert_array_equal(trace["loss"], ref["loss"])
    np.testing.assert_array_equal(trace["grad.param.0.weight_hh_l1"], ref["grad.param.0.weight_hh_l1"])
