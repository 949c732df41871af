"""The fused step loops (rnntui/engine/families/fused, numba) against the NumPy loops they stand in for.

The NumPy loops are the reference (checked against PyTorch elsewhere); the fused kernels must record the same
arrays to the documented tolerance: 1e-12 of each array's largest value in float64, 1e-4 in float32; a replayed
training's losses to 1e-10 relative (float64). Skipped where numba is not installed (`rnntui[fast]`)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("numba", reason="numba is not installed: the fused path is optional (pip install 'rnntui[fast]')")

import rnntui  # noqa: E402
from rnntui.engine import train_cache  # noqa: E402
from rnntui.engine.families import family, fused  # noqa: E402

if not fused.available():   # pragma: no cover - a NumPy whose BLAS has no ILP64 CBLAS gemm
    pytest.skip("NumPy's BLAS has no CBLAS gemm the kernels can call", allow_module_level=True)

from rnntui.engine.families.fused import kernels  # noqa: E402

TOL = {np.float64: 1e-12, np.float32: 1e-4}


def rel(a, b) -> float:
    """|a - b| at its largest, relative to b's largest value."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tanh_is_numpys_to_the_last_bits(dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=20000) * s for s in (1e-9, 1e-3, 0.3, 0.62, 1, 3, 12, 40)]
                       + [np.array([0.0, -0.0, 0.625, -0.625, 9.0, -9.0, 1e30, -1e30, np.inf, -np.inf])])
    x = x.astype(dtype)
    out = np.empty_like(x)
    kernels.tanh_array(x, out)
    ref = np.tanh(x.astype(np.float64))   # the exact value, to float64's precision
    err = np.abs(out.astype(np.float64) - ref) / np.maximum(np.abs(ref), np.finfo(dtype).tiny)
    assert err.max() <= (1e-15 if dtype == np.float64 else 1e-6)
    assert np.array_equal(np.sign(out), np.sign(np.tanh(x)))   # signs, zeros and the saturated ±1
    nan = np.array([np.nan], dtype=dtype)
    kernels.tanh_array(nan, out[:1])
    assert np.isnan(out[0])


CASES = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "identity"), ("lstm", None), ("gru", None)]


@pytest.mark.parametrize("name,nl", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_states", [False, True])
def test_a_direction_records_what_the_numpy_loop_records(name, nl, dtype, reverse, with_states):
    """Forward and backward of one direction: every recorded array, the weight gradients, dL/d(input) and dL/d(initial
    state), with an initial state and a gradient reaching the final state (a decoder's) or without."""
    rng = np.random.default_rng(hash((name, nl, reverse, with_states)) % 2**32)
    fam = family(name)
    entry = SimpleNamespace(nonlinearity=nl)
    T, B, D, H = 23, 3, 5, 7
    n = fam.n_blocks * H
    p = {"weight_ih": rng.normal(size=(n, D)), "weight_hh": rng.normal(size=(n, H)) * 0.6,
         "bias_ih": rng.normal(size=n) * 0.3, "bias_hh": rng.normal(size=n) * 0.3}
    p = {k: v.astype(dtype) for k, v in p.items()}
    x = rng.normal(size=(T, B, D)).astype(dtype)
    dh = rng.normal(size=(T, B, H)).astype(dtype)
    state0 = {s: rng.normal(size=(B, H)).astype(dtype) for s in fam.states} if with_states else None
    final = {s: rng.normal(size=(B, H)).astype(dtype) for s in fam.states} if with_states else None

    ref = fam.forward(entry, x, p, reverse, state0=state0)
    gref = fam.backward(entry, x, p, ref, dh, reverse, final=final)
    with fused.replay():
        run = fused.forward(fam, entry, x, p, reverse, state0=state0)
    assert run is not None and fused.is_fused(run)
    g = fused.backward_of(fam, run)(entry, x, p, run, dh, reverse, final=final)

    tol = TOL[dtype]
    assert set(run.record) == set(ref.record) and set(g.record) == set(gref.record)
    for k in ref.record:
        assert run.record[k].dtype == dtype and rel(run.record[k], ref.record[k]) <= tol, k
    for k in gref.record:
        assert rel(g.record[k], gref.record[k]) <= tol, f"grad {k}"
    for k in gref.params:
        assert g.params[k].dtype == dtype and rel(g.params[k], gref.params[k]) <= tol, f"dL/d{k}"
    assert rel(g.dx, gref.dx) <= tol
    assert set(g.state0) == set(gref.state0)
    for k in gref.state0:
        assert rel(g.state0[k], gref.state0[k]) <= tol, f"dL/d{k}0"
    if nl in ("relu", "identity"):
        # no tanh anywhere: the same operations in the same order, the products by NumPy's own BLAS call
        for k in ref.record:
            np.testing.assert_array_equal(run.record[k], ref.record[k])
    # the one-term pass (a lean backward) on a fused run: dL/dh_t alone
    lean = fused.backward_of(fam, run)(entry, x, p, run, dh, reverse, final=final, lean=True)
    assert set(lean.record) == {"h"} and lean.params == {} and rel(lean.record["h"], gref.record["h"]) <= tol


def test_the_fused_path_is_taken_only_where_it_can_be(monkeypatch):
    fam = family("lstm")
    entry = SimpleNamespace(nonlinearity=None)
    x = np.zeros((4, 2, 3))
    p = {"weight_ih": np.zeros((8, 3)), "weight_hh": np.zeros((8, 2)), "bias_ih": np.zeros(8), "bias_hh": np.zeros(8)}
    assert fused.forward(fam, entry, x, p, False) is None                          # outside a training replay
    with fused.replay():
        assert fused.forward(fam, entry, x, p, False) is not None
        assert fused.forward(fam, entry, x, p, False, pad=np.zeros((4, 2, 1), bool)) is None   # padding
        assert fused.forward(fam, entry, x, p, False, overrides=object()) is None               # an intervention
        assert fused.forward(fam, entry, x, p, False, resume=(1, {})) is None                   # a resumed what-if
        assert fused.forward(fam, entry, x.astype(np.float16), p, False) is None
        monkeypatch.setenv(fused.ENV, "off")
        assert fused.forward(fam, entry, x, p, False) is None
    run = fam.forward(entry, x, p, False)
    assert fused.backward_of(fam, run) == fam.backward   # a NumPy forward keeps the NumPy backward


def scenario(tmp_path, model, dtype="float64", iterations=12, name="t.yaml"):
    rng = np.random.default_rng(4)
    d = {"version": 1, "seed": 4, "dtype": dtype, "mode": "many-to-many",
         "input": {"batch": rng.normal(size=(3, 9, 4)).round(3).tolist()},
         "model": model + [{"type": "dense", "units": 2}],
         "loss": {"kind": "mse", "target": rng.normal(size=(3, 9, 2)).round(3).tolist()},
         "train": {"iterations": iterations, "optimizer": {"kind": "adam", "lr": 0.05}, "clip": {"norm": 1.0}}}
    path = tmp_path / name
    path.write_text(json.dumps(d))
    return path


MODELS = {
    "lstm-2-layers-bidirectional": [{"type": "lstm", "hidden_size": 5, "num_layers": 2, "bidirectional": True}],
    "gru": [{"type": "gru", "hidden_size": 6}],
    "rnn-relu": [{"type": "rnn", "hidden_size": 6, "nonlinearity": "relu"}],
}


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_training_replay_on_the_fused_path_is_the_numpy_replay(tmp_path, monkeypatch, model, dtype):
    monkeypatch.setenv("RNNTUI_CACHE_DIR", "off")
    path = scenario(tmp_path, MODELS[model], dtype)
    calls = []
    real = fused.forward

    def counted(*a, **kw):
        out = real(*a, **kw)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(fused, "forward", counted)
    monkeypatch.setenv(fused.ENV, "off")
    ref = rnntui.run(path)
    assert calls and not any(calls)          # switched off: every direction ran the NumPy loop
    calls.clear()
    monkeypatch.setenv(fused.ENV, "auto")
    got = rnntui.run(path)
    assert calls and all(calls)              # every direction of every iteration ran fused
    tol = 1e-10 if dtype == "float64" else 1e-4
    for key in ("train.loss", "train.gradnorm"):
        np.testing.assert_allclose(got[key], ref[key], rtol=tol, err_msg=key)
    for key in (k for k in ref if k.startswith("train.final.param.")):
        assert rel(got[key], ref[key]) <= tol, key
    for key in (k for k in ref if k.startswith(("grad.param.", "model."))):
        if np.asarray(ref[key]).dtype.kind == "f":
            assert rel(got[key], ref[key]) <= tol * 10, key
    # on the fused path too, an iteration recomputed from a checkpoint is bit for bit what training computed
    k = 2
    assert not got.is_cached(k)
    again = got.iteration(k)
    assert float(again["loss"]) == float(got["train.loss"][k])


def test_an_iteration_equals_a_plain_run_of_its_parameters_to_the_tolerance(tmp_path, monkeypatch):
    """On the NumPy path exactly (tests/engine/test_train_iterations.py); on the fused path, which a plain run does
    not take, within the fused path's tolerance."""
    monkeypatch.setenv("RNNTUI_CACHE_DIR", "off")
    trace = rnntui.run(scenario(tmp_path, MODELS["lstm-2-layers-bidirectional"]))
    it = trace.iteration(3)
    params = {key[len("param."):]: np.asarray(it[key]) for key in it if key.startswith("param.")}
    np.savez(tmp_path / "w.npz", **params)
    d = json.loads((tmp_path / "t.yaml").read_text())
    del d["train"]
    d["weights"] = {"init": "none", "file": "w.npz"}
    (tmp_path / "plain.yaml").write_text(json.dumps(d))
    plain = rnntui.run(tmp_path / "plain.yaml")
    for key in plain:
        if key.startswith(("model.", "grad.", "loss")) and np.asarray(plain[key]).dtype.kind == "f":
            assert rel(it[key], plain[key]) <= 1e-12, key


def test_the_cache_keeps_the_two_paths_apart(tmp_path, monkeypatch):
    """A replay kept by one path is not read back by the other: their numbers differ in the last bits."""
    monkeypatch.setenv("RNNTUI_CACHE_DIR", str(tmp_path / "cache"))
    path = scenario(tmp_path, MODELS["gru"], iterations=4)
    monkeypatch.setenv(fused.ENV, "off")
    rnntui.run(path)
    monkeypatch.setenv(fused.ENV, "auto")
    rnntui.run(path)
    files = sorted(train_cache.folder().glob("*" + train_cache.SUFFIX))
    assert len(files) == 2
    monkeypatch.setenv(fused.ENV, "off")
    ref = rnntui.run(path)   # read back: the NumPy replay's own numbers
    monkeypatch.setenv("RNNTUI_CACHE_DIR", "off")
    np.testing.assert_array_equal(ref["train.loss"], rnntui.run(path)["train.loss"])
