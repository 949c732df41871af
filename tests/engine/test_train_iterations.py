"""trace.iteration(k): exactly a plain run with iteration k's parameters, and exactly what training computed,
whether it comes from the cache or is recomputed from a checkpoint; memory stays bounded."""
from __future__ import annotations

import json

import numpy as np
import pytest

import rnntui
from rnntui.engine import keys, train as train_mod
from rnntui.errors import ScenarioError

N = 14


def doc(dtype="float64", iterations=N, optimizer=None, clip=None, model=None, seed=2):
    rng = np.random.default_rng(seed)
    d = {"version": 1, "seed": seed, "dtype": dtype, "mode": "many-to-many",
         "input": {"batch": rng.normal(size=(2, 5, 3)).round(3).tolist()},
         "model": model or [{"type": "lstm", "hidden_size": 4, "num_layers": 2, "bidirectional": True},
                            {"type": "dense", "units": 2}],
         "loss": {"kind": "mse", "target": rng.normal(size=(2, 5, 2)).round(3).tolist()},
         "train": {"iterations": iterations, "optimizer": optimizer or {"kind": "adam", "lr": 0.05}}}
    if clip:
        d["train"]["clip"] = clip
    return d


def run(tmp_path, d, name="t.yaml", **kw):
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return rnntui.run(p, **kw)


def same(a, b, where=""):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, where
    if a.dtype.kind in "fc":
        assert np.array_equal(a, b, equal_nan=True), where
    else:
        assert np.array_equal(a, b), where


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_iteration_is_a_plain_run_with_its_parameters(tmp_path, monkeypatch, dtype):
    # on the NumPy path, which plain runs take; the fused one (numba installed) agrees to its tolerance (test_fused.py)
    monkeypatch.setenv("RNNTUI_FUSED", "off")
    d = doc(dtype, clip={"norm": 0.5})
    trace = run(tmp_path, d)
    k = 3   # out of the cache of recent iterations by now: recomputed
    assert not trace.is_cached(k)
    it = trace.iteration(k)
    params = {key[len("param."):]: np.asarray(it[key]) for key in it if key.startswith("param.")}
    np.savez(tmp_path / "w.npz", **params)
    plain = dict(d)
    del plain["train"]
    plain["weights"] = {"init": "none", "file": "w.npz"}
    ref = run(tmp_path, plain, "plain.yaml")
    assert set(it) == set(ref) | {"meta.iteration"} and int(it["meta.iteration"]) == k  # which iteration it is
    for key in ref:
        if key not in ("meta.scenario", "meta.layout"):   # the two files' texts, names and paths
            same(it[key], ref[key], key)
    a, b = json.loads(str(it["meta.layout"])), json.loads(str(ref["meta.layout"]))
    assert {**a, "name": "", "file": ""} == {**b, "name": "", "file": ""}
    assert not any(key.startswith("train.") for key in it)


@pytest.mark.parametrize("budget", [None, 40_000, 1])
def test_every_iteration_is_what_training_recorded(tmp_path, monkeypatch, budget):
    """Recomputed from checkpoints (budget None: every iteration; 40 kB: every few; 1 byte: only the start), each
    iteration's loss, gradient norms and BPTT profile are the very numbers the training loop recorded."""
    if budget is not None:
        monkeypatch.setattr(train_mod, "CHECKPOINT_BUDGET", budget)
    trace = run(tmp_path, doc(optimizer={"kind": "sgd", "lr": 0.3, "momentum": 0.9}, clip={"value": 0.05}))
    if budget == 1:
        assert trace.checkpoint_every >= N and set(trace._trainer.checkpoints) == {0}
    if budget == 40_000:
        assert 1 < trace.checkpoint_every < N // 2
    trace._trainer.recent.clear()
    prefixes = [p.prefix for p in trace.info.places if p.recurrent]
    for k in [N - 1, 0, 9, 5, 6, 12]:
        it = trace.iteration(k)
        same(trace["train.loss"][k], it["loss"], f"loss {k}")
        for prefix in prefixes:
            same(trace[f"train.bptt.{prefix}"][k], it[keys.diag(prefix, "gradnorm")], f"bptt {prefix} {k}")
        for key in it:
            if key.startswith("grad.param."):
                g = np.asarray(it[key]).ravel()
                same(trace[f"train.gradnorm.param.{key[len('grad.param.'):]}"][k], np.sqrt(np.dot(g, g)), key)
    # the last iteration's record is the top-level trace's
    last = trace.iteration(N - 1)
    for key in last:
        same(trace[key], last[key], key)


def test_update_ratio_is_the_step_over_the_parameter(tmp_path):
    trace = run(tmp_path, doc())
    for k in (2, 7):
        a, b = trace.iteration(k), trace.iteration(k + 1)
        for key in a:
            if key.startswith("param."):
                name = key[len("param."):]
                want = np.linalg.norm(b[key] - a[key]) / np.linalg.norm(a[key])
                np.testing.assert_allclose(trace[f"train.update_ratio.{name}"][k], want, rtol=1e-12)
    same(trace.iteration(N - 1)["param.0.weight_hh_l0"] * 0 + trace["train.final.param.0.weight_hh_l0"],
         trace["train.final.param.0.weight_hh_l0"])
    assert not np.array_equal(trace.iteration(N - 1)["param.0.weight_hh_l0"], trace["train.final.param.0.weight_hh_l0"])


def test_memory_stays_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(train_mod, "CHECKPOINT_BUDGET", 30_000)
    trace = run(tmp_path, doc(iterations=40))
    trainer = trace._trainer
    assert 1 < trace.checkpoint_every < 40
    assert len(trainer.checkpoints) == -(-40 // trace.checkpoint_every)
    for k in range(40):
        trace.iteration(k)
        assert len(trainer.recent) <= train_mod.MAX_CACHED
    assert trace.is_cached(39) and not trace.is_cached(0)
    with pytest.raises(IndexError):
        trace.iteration(40)


def test_max_memory_counts_the_training(tmp_path):
    one = run(tmp_path, {k: v for k, v in doc().items() if k != "train"}, "one.yaml")
    from rnntui.engine.run import estimate_bytes
    from rnntui.scenario import load_scenario

    need = estimate_bytes(load_scenario(tmp_path / "one.yaml"))
    assert one["loss"].shape == ()
    with pytest.raises(ScenarioError, match="training would hold"):
        run(tmp_path, doc(iterations=200_000), max_memory=int(need * 3))


def test_divergence_is_recorded_and_nothing_stops(tmp_path):
    model = [{"type": "rnn", "hidden_size": 4}, {"type": "dense", "units": 2}]
    trace = run(tmp_path, doc(model=model, iterations=12, optimizer={"kind": "sgd", "lr": 1e150}))
    loss = trace["train.loss"]
    assert loss.shape == (12,)
    bad = np.flatnonzero(~np.isfinite(loss) | ~np.isfinite(trace["train.gradnorm"]))
    assert bad.size and int(trace["train.nonfinite.iteration"]) == bad[0]
    it = trace.iteration(int(bad[0]))
    assert int(trace["train.nonfinite.step"]) == int(it["diag.nonfinite.first_step"]) >= 0
    assert list(trace["train.nonfinite.keys"]) == list(it["diag.nonfinite.keys"]) != []


def test_a_finite_run_says_so_and_saves_its_train_keys(tmp_path):
    trace = run(tmp_path, doc(iterations=4))
    assert int(trace["train.nonfinite.iteration"]) == -1 and int(trace["train.nonfinite.step"]) == -1
    trace.save(tmp_path / "t.npz")
    loaded = rnntui.load_trace(tmp_path / "t.npz")
    same(loaded["train.loss"], trace["train.loss"])
    same(loaded["train.bptt.model.0.l1.bwd"], trace["train.bptt.model.0.l1.bwd"])
    assert loaded["train.bptt.model.0.l1.bwd"].shape == (4, 5)


def test_only_the_last_iteration_is_recorded_in_full_and_the_ones_before_are_one_run_away(tmp_path, monkeypatch):
    """Training computes the per-step norms (gradnorm.step.*) of the last iteration only; an iteration shortly before
    it is recomputed by one run from where it started, bit for bit what the checkpoints give."""
    from rnntui.engine import stepnorms

    monkeypatch.setenv("RNNTUI_CACHE_DIR", "off")
    calls = []
    real = stepnorms.step_outer_norms
    monkeypatch.setattr(stepnorms, "step_outer_norms", lambda *a: calls.append(1) or real(*a))
    import rnntui.engine.entries.base as entries_base
    monkeypatch.setattr(entries_base, "step_outer_norms", stepnorms.step_outer_norms)
    run(tmp_path, doc(iterations=1), "one.yaml")
    one = len(calls)
    calls.clear()
    trace = run(tmp_path, doc(iterations=10))
    assert one > 0 and len(calls) == one                 # the last iteration's norms, no other's
    trainer = trace._trainer
    assert sorted(trainer.near) == list(range(10 - trainer.cached, 9)) and trainer.cached > 1
    assert trace.is_cached(9) and not trace.is_cached(8)
    calls.clear()
    eight = trace.iteration(8)
    assert len(calls) == one and trace.is_cached(8)      # one run, in full
    assert any(k.startswith("gradnorm.step.") for k in eight)
    trainer.recent.clear()
    trainer.near.clear()
    again = trace.iteration(8)                            # from the checkpoint at or before 8
    for key in eight:
        same(eight[key], again[key], key)
    same(eight["loss"], trace["train.loss"][8])
