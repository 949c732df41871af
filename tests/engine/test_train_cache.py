"""A replayed training run is kept on disk: the second run of the same scenario reads it back instead of
training again, and gives the same numbers bit for bit; any change to what the numbers depend on (the
text, a weights file's content) trains anew; a damaged file or a cache turned off only costs time."""
from __future__ import annotations

import json

import numpy as np
import pytest

import rnntui
from rnntui.engine import train as train_mod
from rnntui.engine import train_cache


def _scenario(tmp_path, lr=0.2, weights=None):
    rng = np.random.default_rng(0)
    doc = {"version": 1, "seed": 2, "mode": "many-to-one", "input": {"batch": rng.normal(size=(4, 6, 2)).round(3).tolist()},
           "model": [{"type": "lstm", "hidden_size": 3}, {"type": "dense", "units": 2}],
           "loss": {"kind": "cross_entropy", "target": [0, 1, 1, 0]},
           "train": {"iterations": 25, "optimizer": {"kind": "adam", "lr": lr}, "batch_size": 3, "shuffle": True}}
    if weights is not None:
        doc["weights"] = {"file": weights.name}
    p = tmp_path / "t.yaml"
    p.write_text(json.dumps(doc))
    return p


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    where = tmp_path / "cache"
    monkeypatch.setenv("RNNTUI_CACHE_DIR", str(where))
    return where


@pytest.fixture
def trainings(monkeypatch):
    """How many times a run trained from iteration 0."""
    count = []
    real = train_mod.Trainer.train

    def counted(self):
        count.append(1)
        return real(self)

    monkeypatch.setattr(train_mod.Trainer, "train", counted)
    return count


def test_the_second_run_reads_the_first_back_bit_for_bit(tmp_path, cache_dir, trainings):
    path = _scenario(tmp_path)
    first = rnntui.run(path)
    assert len(trainings) == 1 and list(cache_dir.rglob("*.train.npz"))
    again = rnntui.run(path)
    assert len(trainings) == 1, "the second run trained again"
    assert sorted(first) == sorted(again)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key], err_msg=key)
    for k in (0, 7, 13, 24):   # any iteration recomputed from the kept checkpoints
        a, b = first.iteration(k), again.iteration(k)
        for key in ("loss", "grad.param.0.weight_hh_l0", "model.0.l0.fwd.c", "gradnorm.step.0.weight_ih_l0"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{key} at {k}")


def test_any_change_trains_again(tmp_path, cache_dir, trainings):
    from safetensors.numpy import save_file

    rnntui.run(_scenario(tmp_path, lr=0.2))
    rnntui.run(_scenario(tmp_path, lr=0.3))                  # the text changed
    assert len(trainings) == 2
    w = tmp_path / "w.safetensors"
    save_file({"1.bias": np.array([0.1, -0.1])}, str(w))
    rnntui.run(_scenario(tmp_path, weights=w))
    save_file({"1.bias": np.array([0.1, -0.2])}, str(w))   # same text, another file content
    b = rnntui.run(_scenario(tmp_path, weights=w))
    assert len(trainings) == 4
    np.testing.assert_array_equal(b.iteration(0)["param.1.bias"], [0.1, -0.2])


def test_a_damaged_file_or_a_cache_turned_off_only_costs_time(tmp_path, cache_dir, trainings, monkeypatch):
    path = _scenario(tmp_path)
    first = rnntui.run(path)
    (kept,) = cache_dir.rglob("*.train.npz")
    kept.write_bytes(kept.read_bytes()[:100])
    again = rnntui.run(path)
    assert len(trainings) == 2
    np.testing.assert_array_equal(first["train.loss"], again["train.loss"])
    monkeypatch.setenv("RNNTUI_CACHE_DIR", "off")
    assert train_cache.folder() is None
    rnntui.run(path)
    assert len(trainings) == 3


def test_the_key_covers_the_arrays_not_only_the_text(tmp_path):
    from dataclasses import replace

    from rnntui.scenario.loader import load_scenario

    sc = load_scenario(_scenario(tmp_path))
    x = sc.x.copy()
    x[0, 0, 0] += 1e-12
    assert train_cache.fingerprint(sc) != train_cache.fingerprint(replace(sc, x=x))
    assert train_cache.fingerprint(sc) == train_cache.fingerprint(load_scenario(_scenario(tmp_path)))


def test_the_key_covers_the_engine_code(tmp_path, monkeypatch):
    """Another engine (a checkout edited since, an upgrade without a version change) never reads what
    this one wrote: the engine's source is part of the key."""
    from rnntui.scenario.loader import load_scenario

    sc = load_scenario(_scenario(tmp_path))
    before = train_cache.fingerprint(sc)
    assert train_cache.code_fingerprint() in train_cache._CODE
    monkeypatch.setattr(train_cache, "_CODE", ["another engine"])
    assert train_cache.fingerprint(sc) != before
