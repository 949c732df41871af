"""The debugger on checkpointed traces of more kinds than a chain of per-step entries (engine/checkpoint_kinds.py):
every screen is the whole recording's, with no array of every step read whole (the memory limit set to
nothing: such a read would raise)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rnntui.engine import checkpoint
from rnntui.engine.scenario_run import run_scenario
from rnntui.scenario.loader import load_scenario
from tests.tui.screen import screens_after

SIZE = (120, 40)


def many_to_one():
    rng = np.random.default_rng(5)
    doc = {"version": 1, "name": "long m2o", "mode": "many-to-one",
           "input": {"batch": rng.normal(size=(2, 200, 3)).round(3).tolist(), "lengths": [200, 90]},
           "model": [{"type": "lstm", "hidden_size": 6, "bidirectional": True}, {"type": "dense", "units": 3}],
           "loss": {"kind": "cross_entropy", "target": [1, 2]},
           "weights": {"init": "uniform", "low": -0.9, "high": 0.9}}
    return load_scenario("m2o.yaml", json.dumps(doc))


def encoder_decoder():
    rng = np.random.default_rng(6)
    doc = {"version": 1, "name": "long seq2seq", "mode": "encoder-decoder",
           "input": {"batch": rng.normal(size=(2, 200, 3)).round(3).tolist(), "lengths": [200, 120]},
           "model": [{"type": "lstm", "hidden_size": 6, "num_layers": 2}],
           "decoder": {"input": {"batch": rng.normal(size=(2, 5, 2)).round(3).tolist()},
                       "model": [{"type": "lstm", "hidden_size": 6, "num_layers": 2}, {"type": "dense", "units": 3}]},
           "loss": {"kind": "cross_entropy", "target": rng.integers(0, 3, (2, 5)).tolist()},
           "weights": {"init": "uniform", "low": -0.9, "high": 0.9}}
    return load_scenario("seq2seq.yaml", json.dumps(doc))


def graph():
    rng = np.random.default_rng(7)
    doc = {"version": 1, "name": "long graph",
           "inputs": {"x": {"batch": rng.normal(size=(2, 200, 3)).round(3).tolist(), "lengths": [200, 130]}},
           "model": [{"id": "lstm1", "type": "lstm", "hidden_size": 6, "from": "x"},
                     {"id": "lstm2", "type": "lstm", "hidden_size": 6},
                     {"id": "skip", "op": "add", "from": ["lstm1", "lstm2"]},
                     {"id": "head", "type": "dense", "units": 3}],
           "loss": {"kind": "cross_entropy", "target": rng.integers(0, 3, (2, 200)).tolist()},
           "weights": {"init": "uniform", "low": -0.9, "high": 0.9}}
    return load_scenario("graph.yaml", json.dumps(doc))


def graph_recurrence():
    """A recurrence node (an LSTM cell's step graph, states h and c) over samples of their own lengths: the cursor
    starts on it (its step graph's view), a GRU node after it."""
    rng = np.random.default_rng(9)
    doc = {"version": 1, "name": "long recurrence",
           "inputs": {"x": {"batch": rng.normal(size=(2, 200, 3)).round(3).tolist(), "lengths": [200, 130]}},
           "model": [{"id": "rec", "type": "recurrence", "from": "x", "state": {"h": 4, "c": 4},
                      "step": [{"id": "cell", "type": "lstm_cell", "hidden_size": 4, "from": ["x", "h", "c"]}],
                      "next": {"h": "cell", "c": "cell.c"}, "emit": "cell"},
                     {"id": "gru", "type": "gru", "hidden_size": 5},
                     {"id": "head", "type": "dense", "units": 3}],
           "loss": {"kind": "cross_entropy", "target": rng.integers(0, 3, (2, 200)).tolist()},
           "weights": {"init": "uniform", "low": -0.9, "high": 0.9}}
    return load_scenario("recurrence.yaml", json.dumps(doc))


def training():
    rng = np.random.default_rng(8)
    doc = {"version": 1, "name": "long training", "mode": "many-to-many",
           "input": {"batch": rng.normal(size=(2, 200, 3)).round(3).tolist()},
           "model": [{"type": "gru", "hidden_size": 6}, {"type": "dense", "units": 3}],
           "loss": {"kind": "cross_entropy", "target": rng.integers(0, 3, (2, 200)).tolist()},
           "train": {"iterations": 4, "optimizer": {"kind": "adam", "lr": 0.05}},
           "weights": {"init": "uniform", "low": -0.9, "high": 0.9}}
    return load_scenario("train.yaml", json.dumps(doc))


KINDS = {"many-to-one": many_to_one, "encoder-decoder": encoder_decoder, "graph": graph,
         "graph-recurrence": graph_recurrence, "training": training}


@pytest.mark.parametrize("keys", [["end", "b"], ["g", "1", "5", "0", "enter", "b", "left", "right_square_bracket"]],
                         ids=["end-backward", "goto-150"])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_every_screen_is_the_whole_recordings(monkeypatch, kind, keys):
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", 64)
    sc = KINDS[kind]()
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    assert ck.recording.mode == "checkpointed" and type(ck).__name__.startswith("Checkpointed")
    ck.limit = 0   # any whole read of a recomputed array now raises NotInMemory
    (a, ca), (b, cb) = [await screens_after(t, keys, SIZE) for t in (full, ck)]
    assert ca == cb and ca.t != 0
    assert a == b


async def test_stepping_to_other_iterations_of_a_checkpointed_training_run(monkeypatch):
    """`{` (the first iteration), `.` (the next): each iteration's record recomputed from the training
    checkpoints, checkpointed as the last one is, and drawn as the whole recording's."""
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", 64)
    sc = training()
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    assert type(ck.iteration(1)).__name__ == "CheckpointedTrace"
    ck.limit = 0
    keys = ["left_curly_bracket", "full_stop", "right", "right", "b", "end"]
    (a, ca), (b, cb) = [await screens_after(t, keys, SIZE) for t in (full, ck)]
    assert ca == cb
    assert a == b


async def test_a_recurrence_nodes_step_graph_in_an_early_segment_is_the_whole_recordings(monkeypatch):
    """A graph's recurrence node (its step graph's view) at t=30, in the first of four segments, drawn as the run
    in one piece draws it: its gradients there carry what entered from the segments after it, the heatmap of dL/dh
    reads only the steps it shows, and the step Jacobian's norm is computed from the segments holding t-1 and t."""
    sc = graph_recurrence()
    with monkeypatch.context() as m:    # the reference: the run in one piece (segments longer than it)
        m.setattr(checkpoint, "SEGMENT_MIN", 4096)
        m.setattr(checkpoint, "SEGMENT_MAX", 4096)
        full = run_scenario(sc, recording="full")
    assert full.recording.segments == 0
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", 64)
    ck = run_scenario(sc, recording="checkpointed")
    assert ck.recording.segments == 4
    ck.limit = 0
    keys = ["g", "3", "0", "enter", "b"]
    (a, ca), (b, cb) = [await screens_after(t, keys, SIZE) for t in (full, ck)]
    assert ca == cb and ca.t == 30 and ca.place_index == 0 and ca.phase == "backward"
    text = a.replace("&#160;", " ")
    assert "step graph at t=30" in text and "step Jacobian" in text
    assert a == b
