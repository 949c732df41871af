"""Recomputing from a step (engine/whatif.py) gives the same trace as a full run, to the bit: every key,
diagnostics included; the loops resume where they should; undo and chained interventions; refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest

import rnntui
from rnntui.engine import whatif
from rnntui.engine.whatif import WhatIfError, what_if

T, B, D = 9, 2, 3


def doc(model, interventions=(), seed=1, **extra):
    rng = np.random.default_rng(seed)
    d = {"version": 1, "seed": seed, "input": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()},
         "model": model, "weights": {"init": "uniform", "low": -0.7, "high": 0.7}, "loss": {"kind": "sum"},
         "interventions": list(interventions)}
    d.update(extra)
    return d


def run_doc(tmp_path, d, name="s.yaml"):
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return rnntui.run(p)


def assert_same(a, b):
    """Every key of both traces, bit for bit (the scenario's text and file name aside)."""
    text = ("meta.scenario", "meta.layout")
    ka = {k for k in a if k not in text}
    assert ka == {k for k in b if k not in text}
    assert a.info.entries == b.info.entries
    for k in sorted(ka):
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype and x.shape == y.shape, k
        if x.dtype.kind == "f":
            assert x.tobytes() == y.tobytes(), k  # bits: -0.0 and NaN payloads too
        else:
            assert np.array_equal(x, y), k


BI = [{"type": "lstm", "hidden_size": 4, "num_layers": 2, "bidirectional": True},
      {"type": "dense", "units": 2, "activation": "tanh"}]
MODELS = {
    "lstm-2-layers-bidirectional": BI,
    "gru-under-rnn": [{"type": "dense", "units": 3, "activation": "relu"}, {"type": "gru", "hidden_size": 3},
                      {"type": "rnn", "hidden_size": 4, "bidirectional": True, "merge": "sum"},
                      {"type": "dense", "units": 1}],
}
LATE = [{"at": "model.0.l0.fwd", "t": 6, "set": "h", "units": [1], "value": 0.0},
        {"at": "model.0.l0.bwd", "steps": "2:4", "set": "gates.f", "value": 1.0}]
GRU_UNDER = [{"at": "model.1.l0.fwd", "steps": "5:7", "set": "gates.z", "units": [0], "value": 0.9},
             {"at": "model.2.l0.bwd", "t": 3, "set": "pre", "value": 0.25}]


@pytest.mark.parametrize("name,items", [("lstm-2-layers-bidirectional", LATE), ("gru-under-rnn", GRU_UNDER)])
def test_resumed_equals_full_run(tmp_path, name, items):
    base = run_doc(tmp_path, doc(MODELS[name]))
    full = run_doc(tmp_path, doc(MODELS[name], items), "with.yaml")
    assert full["loss"] != base["loss"]
    assert_same(what_if(base, items), full)
    assert_same(what_if(base, items, resume=False), full)


def test_packed_batch_and_many_to_one(tmp_path):
    model = [{"type": "gru", "hidden_size": 3, "num_layers": 2, "bidirectional": True},
             {"type": "dense", "units": 2}]
    items = [{"at": "model.0.l1.bwd", "t": 2, "set": "h", "value": 0.3},
             {"at": "model.0.l0.fwd", "steps": "4:", "set": "gates.r", "units": [2], "value": 0.0}]
    extra = {"mode": "many-to-one", "loss": {"kind": "mse", "target": [[0.1, -0.2], [0.3, 0.4]]}}
    d = doc(model, **extra)
    d["input"]["lengths"] = [T, 5]
    base = run_doc(tmp_path, d)
    full = run_doc(tmp_path, {**d, "interventions": items}, "with.yaml")
    assert_same(what_if(base, items), full)


def test_initial_state(tmp_path):
    model = [{"type": "lstm", "hidden_size": 2, "initial_state": {"h": [[[0.5, -0.5], [0.1, 0.2]]],
                                                                  "c": [[[1.0, 0.0], [0.0, -1.0]]]}}]
    items = [{"at": "model.0.l0.fwd", "t": 4, "set": "c", "units": [0], "value": 0.0}]
    base = run_doc(tmp_path, doc(model))
    assert_same(what_if(base, items), run_doc(tmp_path, doc(model, items), "with.yaml"))


def test_undo_and_chain(tmp_path):
    base = run_doc(tmp_path, doc(BI))
    one = what_if(base, LATE[:1])
    assert_same(what_if(one, []), base)                     # undo: the original run, to the bit
    both = what_if(one, whatif.recorded(one) + (LATE[1],))  # a second on top of the first
    assert_same(both, run_doc(tmp_path, doc(BI, LATE), "both.yaml"))
    assert_same(what_if(both, LATE[:1]), one)               # undo the second only


def test_saved_trace_resumes(tmp_path):
    base = run_doc(tmp_path, doc(BI, LATE[:1]))
    base.save(tmp_path / "t.npz")
    loaded = rnntui.load_trace(tmp_path / "t.npz")
    assert [it.to_dict() for it in whatif.recorded(loaded)] == LATE[:1]
    assert_same(what_if(loaded, LATE), run_doc(tmp_path, doc(BI, LATE), "with.yaml"))


def test_loops_resume_at_the_first_changed_step(tmp_path, monkeypatch):
    """An intervention at step 6 of l0.fwd: l0.fwd resumes at 6, l0.bwd is copied whole, l1.fwd resumes
    at 6 (its input changed from step 6), l1.bwd recomputes every step (it reads step 8 first)."""
    seen = {}
    original = whatif.Plan.resume

    def spy(self, prefix, reverse, T_, changed, names):
        out = original(self, prefix, reverse, T_, changed, names)
        seen[prefix] = None if out[0] is None else out[0][0]
        return out

    monkeypatch.setattr(whatif.Plan, "resume", spy)
    base = run_doc(tmp_path, doc(BI))
    what_if(base, LATE[:1])
    assert seen == {"model.0.l0.fwd": 6, "model.0.l0.bwd": -1, "model.0.l1.fwd": 6, "model.0.l1.bwd": None}
    what_if(base, LATE[1:])  # steps 2:4 of l0.bwd: it resumes at 3, the first it meets
    assert seen == {"model.0.l0.fwd": T, "model.0.l0.bwd": 3, "model.0.l1.fwd": None, "model.0.l1.bwd": 3}


@pytest.mark.parametrize("item,message", [
    ({"at": "model.0.l2.fwd", "t": 1, "set": "h", "value": 0.0}, "2 sub-layer(s)"),
    ({"at": "model.1.l0.fwd", "t": 1, "set": "h", "value": 0.0}, "not a recurrent entry"),
    ({"at": "model.0.l0.fwd", "t": 1, "set": "gates.z", "value": 0.0}, "gates.i, gates.f"),
    ({"at": "model.0.l0.fwd", "t": T, "set": "h", "value": 0.0}, f"runs steps 0..{T - 1}"),
    ({"at": "model.0.l0.fwd", "steps": "3:2", "set": "h", "value": 0.0}, "START below STOP"),
    ({"at": "model.0.l0.fwd", "t": 1, "set": "h", "units": [4], "value": 0.0}, "units 0..3"),
    ({"at": "model.0.l0.fwd", "t": 1, "set": "h", "value": float("nan")}, "finite number"),
    ({"at": "model.0.l0.fwd", "set": "h", "value": 0.0}, "exactly one of `t`"),
])
def test_what_if_refuses(tmp_path, item, message):
    base = run_doc(tmp_path, doc(BI))
    with pytest.raises(WhatIfError, match="interventions\\[0\\]") as exc:
        what_if(base, [item])
    assert message in str(exc.value)


def test_float32(tmp_path):
    model = [{"type": "gru", "hidden_size": 5, "bidirectional": True}, {"type": "dense", "units": 1}]
    items = [{"at": "model.0.l0.bwd", "steps": "3:6", "set": "gates.n", "units": [4], "value": -0.3}]
    base = run_doc(tmp_path, doc(model, dtype="float32"))
    new = what_if(base, items)
    assert new["model.0.l0.bwd.gates.n"].dtype == np.float32
    assert_same(new, run_doc(tmp_path, doc(model, items, dtype="float32"), "with.yaml"))
