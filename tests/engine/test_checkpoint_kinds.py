"""Checkpointed runs of more kinds than a chain of per-step entries (engine/checkpoint_kinds.py).

For each kind: the checkpointed recording equals the whole recording bit for bit, key by key (states, gates,
gradients, the loss, the parameters' gradients, the derived diagnostics: saturation, ||dL/dh||, the Jacobian
norms, where inf or NaN appears), as do the events and the verdicts read from them and `trace.steps` slices;
the whole recording made in segments is the plain one-piece run (the same equations, rounding aside), so a
gradient put at a wrong step could not pass; a saved checkpointed trace reopens to the same bits.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from rnntui.engine import checkpoint, keys
from rnntui.engine.scenario_run import run_scenario
from rnntui.scenario.loader import load_scenario
from tests.engine.test_checkpoint import assert_bit_equal

T, D, H, B, S = 150, 3, 5, 3, 64


@pytest.fixture(autouse=True)
def short_segments(monkeypatch):
    """Segments of 64 steps: a run of 150 steps is three of them (the last one short)."""
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)


def many_to_one(kind="lstm", layers=1, bidir=False, merge="concat", loss="cross_entropy", lengths=None, tail=True,
                before=False, dtype="float64", initial=False, seed=0):
    rng = np.random.default_rng(seed)
    entry = {"type": kind, "hidden_size": H, "num_layers": layers, "bidirectional": bidir, "merge": merge}
    if initial:
        n = layers * (2 if bidir else 1)
        entry["initial_state"] = {s: rng.normal(size=(n, B, H)).round(3).tolist()
                                  for s in (("h", "c") if kind == "lstm" else ("h",))}
    model = ([{"type": "dense", "units": 4, "activation": "tanh"}] if before else []) + [entry]
    out = 2 * H if bidir and merge == "concat" else H
    if tail:
        model.append({"type": "dense", "units": 4, "activation": "softmax" if loss == "cross_entropy" else "tanh"})
        out = 4
    inp: dict = {"batch": rng.normal(size=(B, T, D)).round(3).tolist()}
    if lengths is not None:
        inp["lengths"] = lengths
    doc = {"version": 1, "seed": seed, "dtype": dtype, "mode": "many-to-one", "input": inp, "model": model,
           "weights": {"init": "uniform", "low": -0.7, "high": 0.7}}
    if loss == "cross_entropy":
        doc["loss"] = {"kind": "cross_entropy", "target": rng.integers(0, out, B).tolist()}
    elif loss == "mse":
        doc["loss"] = {"kind": "mse", "target": rng.normal(size=(B, out)).round(3).tolist()}
    else:
        doc["loss"] = {"kind": "sum"}
    return load_scenario("m2o.yaml", json.dumps(doc))


def saved_and_reopened(ck, path, kind: str = "CheckpointedTrace"):
    """*ck* saved to *path* (its checkpoints and small arrays: no array of every step) and opened again."""
    from rnntui.engine.load import load_trace

    ck.save(path)
    with np.load(path) as z:
        assert "meta.checkpoint" in z.files and not any(k in z.files for k in ck.big)
    back = load_trace(path)
    assert type(back).__name__ == kind
    return back


def assert_same_diagnostics(full, ck):
    """The events and every place's verdicts, as the views read them."""
    from rnntui.engine.checkpoint import stepwise
    from rnntui.render.analysis import events, steps_place, verdicts

    assert repr(events(full)) == repr(events(stepwise(ck)))
    for place in full.info.places:
        if steps_place(full.info, place):    # a recurrent place, or a graph's recurrence node
            assert repr(verdicts(full, place)) == repr(verdicts(stepwise(ck), place)), place


def assert_is_the_plain_run(sc, segmented, monkeypatch):
    """The whole recording in segments against the engine's run in one piece (segments longer than the run)."""
    with monkeypatch.context() as m:
        m.setattr(checkpoint, "SEGMENT_MAX", 4096)
        m.setattr(checkpoint, "SEGMENT_MIN", 4096)
        plain = run_scenario(sc, recording="full")
    assert plain.recording.segments == 0 and segmented.recording.segments == 3
    assert set(plain) == set(segmented)
    for key in plain:
        a, b = np.asarray(plain[key]), np.asarray(segmented[key])
        if a.dtype.kind == "f" and not key.startswith("meta."):
            tol = 1e-5 if a.dtype == np.float32 else 1e-11
            np.testing.assert_allclose(b, a, rtol=tol, atol=tol * 1e-2, err_msg=key)


M2O = {
    "gru-dense": dict(kind="gru"),
    "lstm-bidirectional-mul-packed": dict(kind="lstm", bidir=True, merge="mul", lengths=[150, 70, 1]),
    "lstm-stacked-packed-mse": dict(kind="lstm", layers=2, lengths=[150, 64, 63], loss="mse"),
    "rnn-bidirectional-sum-no-tail": dict(kind="rnn", bidir=True, merge="sum", tail=False, loss="sum"),
    "dense-then-gru-initial": dict(kind="gru", before=True, initial=True, layers=2),
    "lstm-float32": dict(kind="lstm", dtype="float32", lengths=[150, 149, 128]),
}


@pytest.mark.parametrize("case", list(M2O))
def test_many_to_one_checkpointed_equals_full_bit_for_bit(case, monkeypatch):
    sc = many_to_one(**M2O[case])
    assert checkpoint.why_whole(sc) is None
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    assert type(ck).__name__ == "CheckpointedTrace" and ck.recording.segments == 3
    assert "grad.model.0.l0.fwd.h" in ck.big or "grad.model.1.l0.fwd.h" in ck.big
    assert not any(ck.is_computed(k) for k in ck.big)
    assert_bit_equal(full, ck)
    assert_same_diagnostics(full, ck)
    for key in list(ck.big)[:: max(1, len(ck.big) // 6)]:
        for a, b in ((60, 70), (0, 1), (128, 150)):
            assert np.array_equal(ck.steps(key, a, b), full[key][a:b], equal_nan=True), (key, a, b)
    assert_is_the_plain_run(sc, full, monkeypatch)


def test_many_to_one_steps_recompute_only_the_segments_read():
    sc = many_to_one(kind="lstm", bidir=True, lengths=[150, 70, 1])
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    calls = []
    forward = ck.segments._forward
    ck.segments._forward = lambda k: (calls.append(k), forward(k))[1]
    assert np.array_equal(ck.steps("grad.model.0.l0.bwd.h", 60, 70), full["grad.model.0.l0.bwd.h"][60:70])
    assert calls == [0, 1]          # the tail is not run again: its gradient into the final states is kept
    assert ck.segments.tail_loss is not None and np.array_equal(ck["loss"], full["loss"])


@pytest.mark.parametrize("case", ["lstm-bidirectional-mul-packed", "lstm-stacked-packed-mse"])
def test_a_saved_many_to_one_trace_reopens_to_the_same_bits(tmp_path, case):
    sc = many_to_one(**M2O[case])
    full = run_scenario(sc, recording="full")
    back = saved_and_reopened(run_scenario(sc, recording="checkpointed"), tmp_path / "long.npz")
    assert back.segments.tail_loss is None      # nothing reruns the tail: its final-state gradient was saved
    assert_bit_equal(full, back)
    assert_same_diagnostics(full, back)


def test_a_saved_many_to_one_trace_without_its_final_gradient_is_refused(tmp_path):
    from rnntui.engine.load import load_trace
    from rnntui.errors import ScenarioError

    ck = run_scenario(many_to_one(kind="gru"), recording="checkpointed")
    ck.save(tmp_path / "long.npz")
    with np.load(tmp_path / "long.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "checkpoint.extra.final_grad.fwd"}
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(ScenarioError, match="checkpoint.extra.final_grad.fwd: expected float64"):
        load_trace(tmp_path / "cut.npz")


def test_the_bundled_many_to_one_is_checkpointed_when_long():
    from pathlib import Path

    import rnntui

    sc = load_scenario(Path(rnntui.__file__).parent / "bundled" / "many-to-one.yaml")
    assert checkpoint.why_whole(sc) is None
    long = load_scenario("long.yaml", sc.text.replace("length: 12", "length: 300"))
    ck = run_scenario(long, max_memory=20_000)
    assert ck.recording.mode == "checkpointed" and "5 segments of 64 steps" in ck.recording.words()
    assert_bit_equal(run_scenario(long, recording="full"), ck)


# --- encoder-decoders -----------------------------------------------------------------------------------------

T_DEC = 7


def encoder_decoder(kind="gru", decoder="gru", layers=1, bidir=False, merge="concat", lengths=None, before=True,
                    loss="cross_entropy", dtype="float64", seed=1):
    rng = np.random.default_rng(seed)
    enc = {"type": kind, "hidden_size": H, "num_layers": layers, "bidirectional": bidir, "merge": merge}
    model = ([{"type": "dense", "units": 4, "activation": "tanh"}] if before else []) + [enc]
    handed = 2 * H if bidir and merge == "concat" else H
    inp: dict = {"batch": rng.normal(size=(B, T, D)).round(3).tolist()}
    if lengths is not None:
        inp["lengths"] = lengths
    dec = {"input": {"batch": rng.normal(size=(B, T_DEC, 2)).round(3).tolist()},
           "model": [{"type": decoder, "hidden_size": handed, "num_layers": layers},
                     {"type": "dense", "units": 4, "activation": "softmax" if loss == "cross_entropy" else "tanh"}]}
    doc = {"version": 1, "seed": seed, "dtype": dtype, "mode": "encoder-decoder", "input": inp, "model": model,
           "decoder": dec, "weights": {"init": "uniform", "low": -0.7, "high": 0.7}}
    if loss == "cross_entropy":
        doc["loss"] = {"kind": "cross_entropy", "target": rng.integers(0, 4, (B, T_DEC)).tolist()}
    else:
        doc["loss"] = {"kind": "mse", "target": rng.normal(size=(B, T_DEC, 4)).round(3).tolist()}
    return load_scenario("seq2seq.yaml", json.dumps(doc))


ED = {
    "gru-gru": dict(),
    "lstm-stacked-packed": dict(kind="lstm", decoder="lstm", layers=2, lengths=[150, 70, 1]),
    "lstm-bidirectional-sum-packed": dict(kind="lstm", decoder="lstm", bidir=True, merge="sum",
                                          lengths=[150, 64, 63]),
    "gru-bidirectional-concat-mse": dict(bidir=True, loss="mse", before=False),
    "lstm-to-gru-float32": dict(kind="lstm", decoder="gru", dtype="float32", lengths=[150, 149, 128]),
}


@pytest.mark.parametrize("case", list(ED))
def test_encoder_decoder_checkpointed_equals_full_bit_for_bit(case, monkeypatch):
    sc = encoder_decoder(**ED[case])
    assert checkpoint.why_whole(sc) is None
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    assert type(ck).__name__ == "CheckpointedTrace" and ck.recording.segments == 3
    # the encoder's steps are cut (150: 64, 64 and 22), not the decoder's 7
    assert "3 segments of 64 steps (the last 22)" in ck.recording.words()
    enc = 1 if ED[case].get("before", True) else 0
    assert f"grad.model.{enc}.l0.fwd.h" in ck.big and f"model.{enc + 1}.l0.fwd.h" not in ck.big   # the decoder: whole
    assert not any(ck.is_computed(k) for k in ck.big)
    assert_bit_equal(full, ck)
    assert_same_diagnostics(full, ck)
    for key in list(ck.big)[:: max(1, len(ck.big) // 6)]:
        for a, b in ((60, 70), (0, 1), (128, 150)):
            assert np.array_equal(ck.steps(key, a, b), full[key][a:b], equal_nan=True), (key, a, b)
    assert_is_the_plain_run(sc, full, monkeypatch)


@pytest.mark.parametrize("case", ["lstm-stacked-packed", "gru-bidirectional-concat-mse"])
def test_a_saved_encoder_decoder_trace_reopens_to_the_same_bits(tmp_path, case):
    from rnntui.engine.load import load_trace

    sc = encoder_decoder(**ED[case])
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    ck.save(tmp_path / "long.npz", jacobian=False)
    with np.load(tmp_path / "long.npz") as z:
        assert "meta.checkpoint" in z.files and not any(k in z.files for k in ck.big)
        assert "checkpoint.extra.handover_grad.h" in z.files
    back = load_trace(tmp_path / "long.npz")
    assert type(back).__name__ == "CheckpointedTrace" and back.segments.tail_loss is None   # no decoder rerun
    # the Jacobian norms not saved (meta.not_computed says so): derived again, the decoder's from its whole arrays
    assert_bit_equal(full, back, extra=["meta.not_computed"])
    assert_same_diagnostics(full, back)


def test_the_bundled_encoder_decoder_is_checkpointed_when_long():
    from pathlib import Path

    import rnntui

    sc = load_scenario(Path(rnntui.__file__).parent / "bundled" / "seq2seq-reverse.yaml")
    assert checkpoint.why_whole(sc) is None
    with pytest.raises(ValueError, match="5 steps are one segment of 64"):
        run_scenario(sc, recording="checkpointed")


# --- graph models with recurrences ----------------------------------------------------------------------------

def graph(kind="residual", dtype="float64", seed=2):
    rng = np.random.default_rng(seed)
    batch = rng.normal(size=(B, T, D)).round(3).tolist()
    if kind == "residual":       # two LSTM nodes, the second's output added to the first's (graph-residual-lstm)
        inputs = {"x": {"batch": batch}}
        model = [{"id": "lstm1", "type": "lstm", "hidden_size": H, "from": "x"},
                 {"id": "lstm2", "type": "lstm", "hidden_size": H},
                 {"id": "skip", "op": "add", "from": ["lstm1", "lstm2"]},
                 {"id": "head", "type": "dense", "units": 2}]
        loss = {"kind": "mse", "target": rng.normal(size=(B, T, 2)).round(3).tolist()}
    elif kind == "bidirectional-packed":    # a bidirectional GRU over samples of their own lengths
        inputs = {"x": {"batch": batch, "lengths": [150, 71, 2]}}
        model = [{"id": "gru", "type": "gru", "hidden_size": H, "bidirectional": True, "merge": "sum", "from": "x"},
                 {"id": "norm", "type": "layernorm"},
                 {"id": "head", "type": "dense", "units": 3},
                 {"id": "logp", "op": "log_softmax"}]
        loss = {"kind": "nll", "target": rng.integers(0, 3, (B, T)).tolist()}
    elif kind == "cell-two-states":    # an LSTM cell's step graph (states h and c) over samples of their own
        inputs = {"x": {"batch": batch, "lengths": [150, 64, 2]}}     # lengths, then a GRU node over its output
        model = [{"id": "rec", "type": "recurrence", "from": "x", "state": {"h": 4, "c": 4},
                  "step": [{"id": "cell", "type": "lstm_cell", "hidden_size": 4, "from": ["x", "h", "c"]},
                           {"id": "out", "type": "dense", "units": 3, "activation": "tanh", "from": "cell"}],
                  "next": {"h": "cell", "c": "cell.c"}, "emit": "out"},
                 {"id": "gru", "type": "gru", "hidden_size": H},
                 {"id": "head", "type": "dense", "units": 3, "activation": "softmax"}]
        loss = {"kind": "cross_entropy", "target": rng.integers(0, 3, (B, T)).tolist()}
    elif kind == "lstm-then-cell":    # an LSTM node, then a recurrence reading it (a GRU cell's step graph)
        inputs = {"x": {"batch": batch}}
        model = [{"id": "lstm", "type": "lstm", "hidden_size": H, "from": "x"},
                 {"id": "rec", "type": "recurrence", "from": "lstm", "state": {"h": 4},
                  "step": [{"id": "cell", "type": "gru_cell", "hidden_size": 4, "from": ["x", "h"]}],
                  "next": {"h": "cell"}, "emit": "cell"},
                 {"id": "head", "type": "dense", "units": 2}]
        loss = {"kind": "mse", "target": rng.normal(size=(B, T, 2)).round(3).tolist()}
    else:     # two inputs: one LSTM module called on both (same_as), with an initial state, the results joined
        inputs = {"x": {"batch": batch}, "y": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()}}
        model = [{"id": "enc", "type": "lstm", "hidden_size": H, "from": "x", "num_layers": 2,
                  "initial_state": {s: rng.normal(size=(2, B, H)).round(3).tolist() for s in ("h", "c")}},
                 {"id": "enc_y", "same_as": "enc", "from": "y"},
                 {"id": "both", "op": "cat", "from": ["enc", "enc_y"], "dim": -1},
                 {"id": "head", "type": "dense", "units": 4, "activation": "softmax"}]
        loss = {"kind": "cross_entropy", "target": rng.integers(0, 4, (B, T)).tolist()}
    doc = {"version": 1, "seed": seed, "dtype": dtype, "inputs": inputs, "model": model, "loss": loss,
           "weights": {"init": "uniform", "low": -0.7, "high": 0.7}}
    return load_scenario("graph.yaml", json.dumps(doc))


def custom_cell():
    """The bundled graph-custom-cell (a recurrence node: a gated cell written from ops, one state h), 16 steps."""
    from pathlib import Path

    import rnntui

    return load_scenario(Path(rnntui.__file__).parent / "bundled" / "graph-custom-cell.yaml")


GRAPHS = {"residual": dict(), "bidirectional-packed": dict(kind="bidirectional-packed"),
          "two-inputs-shared-initial": dict(kind="shared"), "residual-float32": dict(dtype="float32"),
          "recurrence-two-states-packed": dict(kind="cell-two-states"),
          "lstm-then-recurrence-float32": dict(kind="lstm-then-cell", dtype="float32")}
# what each case records per step, recomputed per segment (a recurrence node's states and its step graph's values)
GRAPH_BIG = {"lstm-then-recurrence-float32": ("grad.model.1.h", "model.1.cell.gates.z", "grad.model.0.l0.fwd.c"),
             "recurrence-two-states-packed": ("grad.model.0.c", "model.0.cell.gates.f", "grad.model.1.l0.fwd.h"),
             "bundled-custom-cell": ("grad.model.0.h", "model.0.z.out", "grad.model.0.h.through_time")}
# what a recurrence node's diagnostics and verdict read, kept from the sweep (its Jacobian norms through windows)
GRAPH_DIAG = {"recurrence-two-states-packed": ("diag.model.0.gradnorm", "diag.model.0.sat.cell.gates.f",
                                               "diag.model.0.term_gradnorm", "diag.model.0.jacnorm"),
              "bundled-custom-cell": ("diag.model.0.gradnorm", "diag.model.0.term_gradnorm", "diag.model.0.jacnorm")}


@pytest.mark.parametrize("case", list(GRAPHS) + ["bundled-custom-cell"])
def test_graph_checkpointed_equals_full_bit_for_bit(case, monkeypatch):
    if case == "bundled-custom-cell":    # 16 steps: segments of 6 (6, 6, 4)
        monkeypatch.setattr(checkpoint, "SEGMENT_MAX", 6)
        sc = custom_cell()
        windows = ((5, 7), (0, 1), (12, 16))
    else:
        sc = graph(**GRAPHS[case])
        windows = ((60, 70), (0, 1), (128, 150))
    assert checkpoint.why_whole(sc) is None
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    assert type(ck).__name__ == "CheckpointedTrace" and ck.recording.segments == 3
    big = GRAPH_BIG.get(case, ("grad.model.0.l0.fwd.h",)) + ("grad.input.x",)
    assert all(k in ck.big for k in big), [k for k in big if k not in ck.big]
    assert all(k in full and k in ck for k in GRAPH_DIAG.get(case, ()))
    assert not any(ck.is_computed(k) for k in ck.big)
    assert_bit_equal(full, ck)
    assert_same_diagnostics(full, ck)
    for key in list(ck.big)[:: max(1, len(ck.big) // 6)] + list(GRAPH_BIG.get(case, ())):
        for a, b in windows:
            assert np.array_equal(ck.steps(key, a, b), full[key][a:b], equal_nan=True), (key, a, b)
    assert_is_the_plain_run(sc, full, monkeypatch)


@pytest.mark.parametrize("case", ["bidirectional-packed", "two-inputs-shared-initial", "recurrence-two-states-packed",
                                  "bundled-custom-cell"])
def test_a_saved_graph_trace_reopens_to_the_same_bits(tmp_path, case, monkeypatch):
    from rnntui.engine.load import load_trace

    if case == "bundled-custom-cell":
        monkeypatch.setattr(checkpoint, "SEGMENT_MAX", 6)
        sc = custom_cell()
    else:
        sc = graph(**GRAPHS[case])
    full = run_scenario(sc, recording="full")
    back = saved_and_reopened(run_scenario(sc, recording="checkpointed"), tmp_path / "long.npz")
    assert_bit_equal(full, back)
    assert_same_diagnostics(full, back)
    if case in GRAPH_DIAG:   # saved without its Jacobian norms: reopened, they are derived through windows again
        run_scenario(sc, recording="checkpointed").save(tmp_path / "lean.npz", jacobian=False)
        with np.load(tmp_path / "lean.npz") as z:
            assert "diag.model.0.jacnorm" not in z.files
        lean = load_trace(tmp_path / "lean.npz")
        assert not lean.is_computed("diag.model.0.jacnorm")
        assert np.array_equal(np.asarray(lean["diag.model.0.jacnorm"]), np.asarray(full["diag.model.0.jacnorm"]),
                              equal_nan=True)


def test_a_recurrence_nodes_segments_are_short_enough_to_recompute_at_once(monkeypatch):
    """A recurrence node runs a walk of its step graph per step, in Python: its segments are at most 256 steps
    (about 100 ms to recompute), where a graph of rnn, lstm and gru nodes as small gets the longest ones."""
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", 4096)
    for sc, S in ((graph(kind="cell-two-states"), 256), (custom_cell(), 256), (graph(), 4096)):
        assert checkpoint.segment_steps(list(sc.layout), sc.B, sc.dtype) == S


WHOLE_HEAD = """version: 1
inputs:
  x: {generate: {kind: sine, length: 200, features: 1, period: 8}}
loss: {kind: sum}
model:
"""
CELL = "{id: cell, type: gru_cell, hidden_size: 4, from: [x, h]}"
WHOLE_RECURRENCES = {    # graphs with a recurrence node that is not checkpointed: its text, and why
    "feed": (f"""  - {{id: gen, type: recurrence, from: x, state: {{h: 4}}, next: {{h: cell}}, emit: out, feed: out,
     step: [{CELL}, {{id: out, type: dense, units: 1, from: cell}}]}}
""", "node model.0 (gen) is a recurrence that feeds a value back as the next step's x: recorded whole"),
    "attention": ("""  - {id: enc, type: gru, hidden_size: 4, from: x}
  - {id: dec, type: recurrence, from: x, state: {h: 4}, next: {h: cell}, emit: cell,
     step: [{id: ctx, type: attention, kind: dot, from: [h, enc]}, {id: xin, op: cat, from: [x, ctx]},
            {id: cell, type: gru_cell, hidden_size: 4, from: [xin, h]}]}
""", "node model.1 (dec) is a recurrence whose step graph reads other nodes (enc): recorded whole"),
    "start": (f"""  - {{id: enc, type: gru, hidden_size: 4, from: x}}
  - {{id: enc_last, op: last, from: enc}}
  - {{id: dec, type: recurrence, from: x, state: {{h: 4}}, start: {{h: enc_last}}, next: {{h: cell}}, emit: cell,
     step: [{CELL}]}}
""", "node model.2 (dec) is a recurrence whose states start from a node's value (h from enc_last): recorded whole"),
    "bidirectional": (f"""  - {{id: rec, type: recurrence, from: x, state: {{h: 4}}, next: {{h: cell}}, emit: cell, step: [{CELL}]}}
  - {{id: bi, type: gru, hidden_size: 3, bidirectional: true}}
""", "a graph with a recurrence and a bidirectional node is recorded whole"),
}


@pytest.mark.parametrize("name", ["graph-attention-reverse"] + list(WHOLE_RECURRENCES))
def test_graphs_recorded_whole_say_why(name):
    """Each graph checkpointing does not cover says why (and a forced checkpointed run is refused with it); the
    bundled graph-custom-cell (a recurrence reading only x and its state) is covered."""
    from pathlib import Path

    import rnntui

    if name in WHOLE_RECURRENCES:
        text, why = WHOLE_RECURRENCES[name]
        sc = load_scenario(f"{name}.yaml", WHOLE_HEAD + text)
    else:
        sc = load_scenario(Path(rnntui.__file__).parent / "bundled" / f"{name}.yaml")
        why = "a graph whose inputs have different numbers of steps is recorded whole"
    assert why in checkpoint.why_whole(sc)
    with pytest.raises(ValueError, match="cannot be checkpointed"):
        run_scenario(sc, recording="checkpointed")
    assert checkpoint.why_whole(custom_cell()) is None


def test_a_chain_with_running_statistics_is_recorded_whole_and_says_why():
    """An eval batchnorm records its statistics (no step axis): refused with the reason, not a crash mid-sweep."""
    from rnntui.errors import ScenarioError

    rng = np.random.default_rng(4)
    doc = {"version": 1, "mode": "many-to-many", "input": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()},
           "model": [{"type": "lstm", "hidden_size": H}, {"type": "batchnorm1d"}, {"type": "dense", "units": 2}],
           "loss": {"kind": "sum"}}
    sc = load_scenario("bn.yaml", json.dumps(doc))
    why = "entry 1 (batchnorm1d) records its running statistics, which have no steps: recorded whole"
    assert checkpoint.why_whole(sc) == why
    with pytest.raises(ScenarioError, match=why.replace("(", r"\(").replace(")", r"\)")):
        run_scenario(sc, max_memory=1000)
    assert run_scenario(sc, recording="full").recording.segments == 0


# --- training runs ------------------------------------------------------------------------------------------

def training(mode="many-to-many", seed=3):
    rng = np.random.default_rng(seed)
    if mode == "graph-recurrence":    # a graph with a recurrence node (a GRU cell's step graph), trained
        doc = {"version": 1, "seed": seed, "inputs": {"x": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()}},
               "model": [{"id": "rec", "type": "recurrence", "from": "x", "state": {"h": H},
                          "step": [{"id": "cell", "type": "gru_cell", "hidden_size": H, "from": ["x", "h"]}],
                          "next": {"h": "cell"}, "emit": "cell"},
                         {"id": "head", "type": "dense", "units": 3, "activation": "softmax"}],
               "loss": {"kind": "cross_entropy", "target": rng.integers(0, 3, (B, T)).tolist()},
               "train": {"iterations": 5, "optimizer": {"kind": "adam", "lr": 0.05}},
               "weights": {"init": "uniform", "low": -0.6, "high": 0.6}}
        return load_scenario("train.yaml", json.dumps(doc))
    target = rng.integers(0, 3, (B, T) if mode == "many-to-many" else B).tolist()
    doc = {"version": 1, "seed": seed, "mode": mode, "input": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()},
           "model": [{"type": "lstm", "hidden_size": H, "num_layers": 2}, {"type": "dense", "units": 3}],
           "loss": {"kind": "cross_entropy", "target": target},
           "train": {"iterations": 5, "optimizer": {"kind": "adam", "lr": 0.05}},
           "weights": {"init": "uniform", "low": -0.6, "high": 0.6}}
    return load_scenario("train.yaml", json.dumps(doc))


def fresh_training(sc, recording, tmp_path, monkeypatch, name):
    """A training run of its own (not read back from another test's disk cache)."""
    monkeypatch.setenv("RNNTUI_CACHE_DIR", str(tmp_path / name))
    return run_scenario(sc, recording=recording)


@pytest.mark.parametrize("mode", ["many-to-many", "many-to-one", "graph-recurrence"])
def test_training_checkpointed_equals_full_bit_for_bit(mode, tmp_path, monkeypatch):
    sc = training(mode)
    assert checkpoint.why_whole(sc) is None
    full = fresh_training(sc, "full", tmp_path, monkeypatch, "full")
    ck = fresh_training(sc, "checkpointed", tmp_path, monkeypatch, "ck")
    assert type(ck).__name__ == "CheckpointedTrainTrace" and ck.recording.mode == "checkpointed"
    assert ck.iterations == 5 and "train.loss" in ck and not any(ck.is_computed(k) for k in ck.big)
    assert_bit_equal(full, ck)       # every iteration's numbers (train.*) and the last iteration's record
    assert_same_diagnostics(full, ck)
    for key in list(ck.big)[:: max(1, len(ck.big) // 6)]:
        assert np.array_equal(ck.steps(key, 60, 70), full[key][60:70], equal_nan=True), key
    # another iteration, recomputed from the training checkpoints: checkpointed too, the same bits
    two = ck.iteration(2)
    assert type(two).__name__ == "CheckpointedTrace"
    assert_bit_equal(full.iteration(2), two)
    # read back from the disk cache: the last iteration rerun, checkpointed
    again = run_scenario(sc, recording="checkpointed")
    assert type(again).__name__ == "CheckpointedTrainTrace"
    assert_bit_equal(full, again)


def test_a_training_segment_recomputed_on_another_thread_takes_the_runs_path(tmp_path, monkeypatch):
    """Training replays run their step loops on the fused path (families/fused, where numba is installed): a
    segment recomputed later on a worker thread (the debugger's) takes it too, not the NumPy loop, whose last
    bits differ."""
    import threading

    from rnntui.engine.families import fused

    if not fused.available():
        pytest.skip("numba is not installed: every run takes the NumPy loop")
    sc = training()
    full = fresh_training(sc, "full", tmp_path, monkeypatch, "full")
    ck = fresh_training(sc, "checkpointed", tmp_path, monkeypatch, "ck")
    assert ck.segments.path == {"replay": True, "step_norms": True}
    got = {}
    worker = threading.Thread(target=lambda: got.update(h=ck.steps("grad.model.0.l0.fwd.h", 0, T)))
    worker.start()
    worker.join()
    assert np.array_equal(got["h"], full["grad.model.0.l0.fwd.h"])


def test_a_saved_checkpointed_training_trace_reopens_to_the_same_bits(tmp_path, monkeypatch):
    from rnntui.render.training import is_training

    sc = training()
    full = fresh_training(sc, "full", tmp_path, monkeypatch, "full")
    ck = fresh_training(sc, "checkpointed", tmp_path, monkeypatch, "ck")
    back = saved_and_reopened(ck, tmp_path / "long.npz", "SavedCheckpointedTrainTrace")
    assert is_training(back)
    assert back.iterations == 5 and back.iteration(4) is back and back.segments.path["replay"] == ck.segments.path[
        "replay"]
    assert_bit_equal(full, back)
    assert_same_diagnostics(full, back)


def test_a_training_run_with_dropout_is_recorded_whole_and_says_why():
    rng = np.random.default_rng(5)
    doc = {"version": 1, "mode": "many-to-many", "input": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()},
           "model": [{"type": "lstm", "hidden_size": H, "num_layers": 2, "dropout": 0.3}, {"type": "dense", "units": 2}],
           "loss": {"kind": "sum"}, "train": {"iterations": 2, "optimizer": {"kind": "sgd", "lr": 0.1}}}
    sc = load_scenario("dropout.yaml", json.dumps(doc))
    why = "a training iteration with dropout is recorded whole (its masks are drawn over every step)"
    assert checkpoint.why_whole(sc) == why
    from rnntui.engine.run import estimate_bytes
    from rnntui.errors import ScenarioError

    with pytest.raises(ScenarioError, match="training would hold about"):   # planned as whole runs: refused
        run_scenario(sc, max_memory=estimate_bytes(sc) - 1)


def test_a_training_run_over_the_memory_limit_checkpoints_its_iterations(tmp_path, monkeypatch):
    """The limit, not a forced choice: a run whose iterations' whole records would not fit trains with each
    iteration checkpointed (before, training refused it), to the whole run's numbers."""
    from rnntui.engine.run import estimate_bytes

    sc = training()
    full = fresh_training(sc, "full", tmp_path, monkeypatch, "full")
    monkeypatch.setenv("RNNTUI_CACHE_DIR", str(tmp_path / "limit"))
    ck = run_scenario(sc, max_memory=estimate_bytes(sc) - 1)
    assert type(ck).__name__ == "CheckpointedTrainTrace" and ck.recording.mode == "checkpointed"
    assert "more than the memory limit" in ck.recording.words()
    assert_bit_equal(full, ck)


def test_an_earlier_iteration_of_a_checkpointed_training_run_saves_and_reopens(tmp_path, monkeypatch):
    """`export --iteration 1`: that iteration's checkpointed record with the run's train.* keys."""
    from rnntui.engine.load import load_trace
    from rnntui.engine.train import with_record_of

    sc = training()
    full = fresh_training(sc, "full", tmp_path, monkeypatch, "full")
    ck = fresh_training(sc, "checkpointed", tmp_path, monkeypatch, "ck")
    with_record_of(ck, 1).save(tmp_path / "one.npz")
    back = load_trace(tmp_path / "one.npz")
    assert type(back).__name__ == "SavedCheckpointedTrainTrace" and back.record_iteration == 1
    whole = with_record_of(full, 1)
    assert_bit_equal(whole, back)


@pytest.mark.parametrize("kind", ["many-to-one", "encoder-decoder", "graph", "graph-recurrence"])
def test_check_streams_each_kind_to_what_the_whole_recording_finds(kind):
    """`rnntui check --assert` on a checkpointed run of each kind: the segments' places a segment at a time (no
    array read whole: the limit set to nothing), an encoder-decoder's decoder places on their whole arrays."""
    from rnntui.expr.check import check_trace

    sc = {"many-to-one": lambda: many_to_one(kind="lstm", lengths=[150, 70, 1]),
          "encoder-decoder": lambda: encoder_decoder(kind="lstm", decoder="lstm", layers=2, lengths=[150, 70, 1]),
          "graph": graph, "graph-recurrence": lambda: graph(kind="cell-two-states")}[kind]()
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    ck.limit = 0
    asserts = ["norm(dh) > 0.02", "max(abs(gates.f)) < 0.8 or t < 10", "norm(h) < 1.5"]
    if kind == "graph-recurrence":    # at the recurrence node too: its state, its gradient, its step Jacobian
        asserts = ["norm(dh) > 0.02", "norm(h) < 1.5", "max(jacnorm) < 1.2"]
    whole = check_trace(full, asserts).to_dict()
    assert any(not a["ok"] for a in whole["assertions"])
    assert check_trace(ck, asserts).to_dict() == whole


@pytest.mark.parametrize("kind", ["many-to-one", "encoder-decoder", "graph", "graph-recurrence", "training"])
def test_the_report_of_each_kind_checkpointed_is_the_whole_runs(kind, tmp_path, monkeypatch):
    """`rnntui show`'s report, no array read whole (the limit set to nothing): the whole recording's, with the
    lines that say how the run was recorded."""
    from rnntui.render.report import ReportOptions, write_report

    sc = {"many-to-one": lambda: many_to_one(kind="lstm", bidir=True, lengths=[150, 70, 1]),
          "encoder-decoder": lambda: encoder_decoder(kind="lstm", decoder="lstm", layers=2, lengths=[150, 70, 1]),
          "graph": lambda: graph(kind="bidirectional-packed"), "graph-recurrence": lambda: graph(kind="cell-two-states"),
          "training": training}[kind]()
    full = fresh_training(sc, "full", tmp_path, monkeypatch, "full")
    ck = fresh_training(sc, "checkpointed", tmp_path, monkeypatch, "ck")
    ck.limit = 0
    opts = ReportOptions.parse(steps=None, step=None, entry=None, width=None, iteration=None)
    write_report(full, tmp_path / "full.txt", "txt", opts)
    write_report(ck, tmp_path / "ck.txt", "txt", opts)
    a, lines = (tmp_path / "full.txt").read_text().splitlines(), (tmp_path / "ck.txt").read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if "recording: checkpointed" in line)
    j = i + len(lines) - len(a)   # the recording's lines, wrapped at the report's width
    assert lines[:i] + lines[j:] == a
    assert "3 segments of 64 steps" in " ".join(line.strip() for line in lines[i:j])


# --- shown before the sweep is done (run.SweepingRun.preview: the first screen comes first) ------------------------

def previews_are_the_finished_runs(sc) -> tuple[list, int]:
    """Drive *sc*'s checkpointed sweep piece by piece; at every piece its preview (a SweepingTrace) holds only the
    finished run's bits, reads the finished run's bits at every forward step it says is ready (NotReady at the
    first it does not), says of no key the finished run holds that it is missing (it holds it, or NotReady with
    the sweep's fraction), and holds the kind's own pass's record (`tail_of`: a many-to-one's head, a decoder)
    exactly once that pass is done, the loss with it. (phase, ready steps, loss held) per piece, and the segments."""
    from rnntui.engine.run import SweepingRun, start_run

    def same_bits(a, b) -> bool:
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()

    swept = run_scenario(sc, recording="checkpointed")
    run = start_run(sc, recording="checkpointed")
    assert isinstance(run, SweepingRun)
    names = set(swept)
    seen = []
    more = True
    while more:
        more = run.advance()
        preview, p = run.preview(), run.progress
        assert preview.progress == p
        for key in names:
            try:
                assert key in preview, key
            except checkpoint.NotReady as wait:
                assert wait.fraction == p.fraction
                with pytest.raises(checkpoint.NotReady):
                    preview[key]
        held = [key for key in preview if key in preview._arrays]
        for key in held:
            assert key in names and same_bits(preview[key], swept[key]), key
        a, b = preview.forward_steps()
        for key in preview.big:
            assert preview.big[key] == swept.big[key], key
            if b > a:
                assert same_bits(preview.steps(key, a, b), swept.steps(key, a, b)), key
            if b < run.segments.T:
                with pytest.raises(checkpoint.NotReady, match="the forward pass"):
                    preview.steps(key, b, b + 1)
        tail = {key for key in names if run.segments.tail_of(key)}
        if p.own_done and p.own_total:
            assert tail <= set(held) and keys.LOSS in held
        else:
            assert not tail & set(held)
        seen.append((p.phase, (a, b), keys.LOSS in held))
    assert seen[-1][0] == "done"
    return seen, len(run.segments.bounds)


@pytest.mark.parametrize("build, case", [(many_to_one, c) for c in M2O] + [(encoder_decoder, c) for c in ED]
                         + [(graph, c) for c in GRAPHS], ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_every_kinds_previews_are_the_finished_runs_bits(build, case):
    cases = {many_to_one: M2O, encoder_decoder: ED, graph: GRAPHS}[build]
    seen, K = previews_are_the_finished_runs(build(**cases[case]))
    if build is not graph:     # the head, or the decoder, and the loss shown while the backward sweep runs
        assert [loss for phase, _, loss in seen] == [phase not in ("forward", "own") for phase, _, _ in seen]


@pytest.mark.parametrize("build, case", [(many_to_one, "lstm-bidirectional-mul-packed"),
                                         (encoder_decoder, "gru-bidirectional-concat-mse")],
                         ids=["many-to-one", "encoder-decoder"])
def test_a_bidirectional_kinds_steps_are_ready_once_its_own_pass_found_the_states(build, case):
    """A bidirectional many-to-one's (encoder-decoder's) own pass finds the backward direction's states from the
    last segment down before its head (decoder): from then on the steps those states enter are ready forward, to
    the finished run's bits (they waited for the sweep's "states" phase, which finds the same states again)."""
    from rnntui.engine.checkpoint import SweepProgress

    cases = {many_to_one: M2O, encoder_decoder: ED}[build]
    sc = build(**cases[case])
    seen, K = previews_are_the_finished_runs(sc)
    T = seen[-1][1][1]
    bounds = [(a, min(a + S, T)) for a in range(0, T, S)]
    assert len(bounds) == K
    own = [ready for phase, ready, _ in seen[K:2 * K + 1]]   # after each piece of the own pass
    assert own == [(bounds[K - n][0], T) for n in range(1, K + 1)] + [(0, T)]
    assert all(ready == (0, T) for _, ready, _ in seen[2 * K:])
    p = SweepProgress(K, True, K, 0, 0, own=K, own_total=K + 1, own_states=K)
    assert p.phase == "own" and all(p.forward_ready(k) for k in range(K))
