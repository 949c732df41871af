"""Checkpointed traces (engine/checkpoint.py): a long run kept as segment boundaries, any segment recomputed.

The same scenario recorded whole and checkpointed must give every key equal bit for bit (np.array_equal,
never allclose): states, gates and gradients recomputed from the boundaries, the kept per-step diagnostics
against the whole recording's derived ones, the Jacobian norms through windows of segments, the one-term
gradients of the lean sweep. The segmented whole recording itself is checked against the engine's plain
one-piece run (the same equations, rounding aside) and PyTorch elsewhere (test_against_torch covers short runs).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from rnntui.engine import checkpoint
from rnntui.engine.checkpoint import NotInMemory
from rnntui.engine.scenario_run import run_scenario
from rnntui.errors import ScenarioError
from rnntui.scenario.loader import load_scenario

T, D, H, B, S = 150, 3, 5, 3, 64


@pytest.fixture(autouse=True)
def short_segments(monkeypatch):
    """Segments of 64 steps: a run of 150 steps is three of them (the last one short)."""
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)


def scenario(kind="lstm", layers=1, bidir=False, merge="concat", loss="sum", lengths=None, dense=False,
             initial=False, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    entry = {"type": kind, "hidden_size": H, "num_layers": layers, "bidirectional": bidir, "merge": merge}
    if initial:
        n = layers * (2 if bidir else 1)
        entry["initial_state"] = {s: rng.normal(size=(n, B, H)).round(3).tolist()
                                  for s in (("h", "c") if kind == "lstm" else ("h",))}
    x = rng.normal(size=(B, T, D)).round(3)
    inp: dict = {"batch": x.tolist()}
    if lengths is not None:
        inp["lengths"] = lengths
    model = [entry]
    out = (2 * H if bidir and merge == "concat" else H)
    if dense:
        model.append({"type": "dense", "units": 4, "activation": "softmax" if loss == "cross_entropy" else "tanh"})
        out = 4
    doc = {"version": 1, "seed": seed, "dtype": dtype, "mode": "many-to-many", "input": inp, "model": model,
           "weights": {"init": "uniform", "low": -0.6, "high": 0.6}}
    if loss == "mse":
        doc["loss"] = {"kind": "mse", "target": rng.normal(size=(B, T, out)).round(3).tolist()}
    elif loss == "cross_entropy":
        doc["loss"] = {"kind": "cross_entropy", "target": rng.integers(0, out, (B, T)).tolist()}
    else:
        doc["loss"] = {"kind": "sum"}
    return load_scenario("ckpt.yaml", json.dumps(doc))


def assert_bit_equal(full, ck, extra=()):
    """Every array of *full* in *ck*, the same bits; *ck* holds nothing else but the keys *extra*."""
    assert set(full) | set(extra) == set(ck)
    for key in full:
        a, b = np.asarray(full[key]), np.asarray(ck[key])
        assert a.shape == b.shape and a.dtype == b.dtype, key
        if a.dtype.kind in "fc":
            assert np.array_equal(a, b, equal_nan=True), key
        else:
            assert (a == b).all(), key


CASES = {
    "rnn": dict(kind="rnn"),
    "lstm": dict(kind="lstm"),
    "gru": dict(kind="gru"),
    "lstm-stacked": dict(kind="lstm", layers=3),
    "gru-bidirectional": dict(kind="gru", bidir=True),
    "lstm-bidirectional-mul": dict(kind="lstm", bidir=True, merge="mul"),
    "rnn-packed-mse": dict(kind="rnn", lengths=[150, 70, 1], loss="mse", dense=True),
    "lstm-packed-bidirectional-ce": dict(kind="lstm", bidir=True, lengths=[20, 150, 129], loss="cross_entropy",
                                         dense=True),
    "gru-stacked-initial": dict(kind="gru", layers=2, initial=True, loss="mse"),
    "lstm-float32": dict(kind="lstm", layers=2, dtype="float32", dense=True, loss="cross_entropy"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_checkpointed_equals_full_bit_for_bit(case):
    sc = scenario(**CASES[case])
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    assert type(ck).__name__ == "CheckpointedTrace" and type(full).__name__ == "Trace"
    assert ck.recording.mode == "checkpointed" and ck.recording.segments == 3
    # nothing big is held: the states, gates and gradients are recomputed when read
    assert not any(ck.is_computed(k) for k in ck.big) and "grad.model.0.l0.fwd.h" in ck.big
    assert_bit_equal(full, ck)


def test_steps_recompute_only_the_segments_read_and_equal_the_whole():
    sc = scenario(kind="lstm", layers=2, dense=True, loss="mse")
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    segs = ck.segments
    calls = []
    forward = segs._forward
    segs._forward = lambda k: (calls.append(k), forward(k))[1]
    got = ck.steps("model.0.l1.fwd.gates.f", 60, 70)      # steps 60..69: segments 0 and 1
    assert np.array_equal(got, full["model.0.l1.fwd.gates.f"][60:70])
    assert calls == [0, 1]
    ck.steps("grad.model.0.l0.fwd.c", 100, 101)           # a gradient: segment 1, forward and backward
    assert calls == [0, 1, 1]
    ck.steps("grad.model.0.l0.fwd.c", 64, 128)            # now cached (LRU)
    assert calls == [0, 1, 1]
    assert ck.is_ready("grad.model.0.l0.fwd.c", 100) and not ck.is_ready("grad.model.0.l0.fwd.c", 140)
    # the verdict's one-term gradients, computed in the sweep, are what a pass of their own recomputes
    again = segs.term_gradnorms("fwd")
    assert again.keys() == {"diag.model.0.l0.fwd.term_gradnorm", "diag.model.0.l1.fwd.term_gradnorm"}
    assert all(np.array_equal(v, ck[k]) for k, v in again.items())
    assert np.array_equal(ck.steps("grad.input", 0, T), full["grad.input"])


def test_a_whole_array_over_the_memory_limit_says_to_read_steps():
    sc = scenario()
    ck = run_scenario(sc, recording="checkpointed", max_memory=4000)
    with pytest.raises(NotInMemory, match=r"trace\.steps\(key, a, b\)"):
        ck["model.0.l0.fwd.h"]
    assert ck.steps("model.0.l0.fwd.h", 149, 150).shape == (1, B, H)


def test_the_segmented_whole_recording_is_the_plain_run(monkeypatch):
    """Recorded in segments or in one piece (segments longer than the run): the same numbers, rounding aside."""
    sc = scenario(kind="lstm", layers=2, bidir=False, dense=True, loss="cross_entropy", lengths=[150, 90, 3])
    segmented = run_scenario(sc, recording="full")
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", 4096)
    monkeypatch.setattr(checkpoint, "SEGMENT_MIN", 4096)
    plain = run_scenario(sc, recording="full")
    assert plain.recording.segments == 0 and segmented.recording.segments == 3
    assert set(plain) == set(segmented)
    for key in plain:
        if key.startswith("meta.") or key in ("tokens",):
            continue
        a, b = np.asarray(plain[key]), np.asarray(segmented[key])
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14, err_msg=key)


def test_the_memory_limit_chooses_and_says_why():
    sc = scenario()
    whole = run_scenario(sc)
    assert whole.recording.mode == "full" and "within the memory limit (--max-memory)" in whole.recording.words()
    need = whole.recording.need
    ck = run_scenario(sc, max_memory=need - 1)
    assert ck.recording.mode == "checkpointed"
    assert "more than the memory limit" in ck.recording.words() and "3 segments of 64 steps" in ck.recording.words()


def test_the_recording_words_say_the_peak_not_the_record():
    """`need` is what a whole recording holds at its peak, well over the record it keeps (which `export --full`
    says it writes): the words say so; they called it "the whole record", twice what --full then wrote."""
    from rnntui.sizes import format_size

    sc = scenario()
    whole = run_scenario(sc)
    need = whole.recording.need
    record = sum(np.asarray(whole[k]).nbytes for k in whole)
    assert need > 1.3 * record
    assert f"about {format_size(need)} at its peak" in whole.recording.words()
    words = run_scenario(sc, max_memory=need - 1).recording.words()
    assert "whole record" not in words and f"would hold about {format_size(need)} at its peak" in words


def test_what_cannot_be_checkpointed_says_why():
    rng = np.random.default_rng(1)
    doc = {"version": 1, "mode": "many-to-one", "input": {"batch": rng.normal(size=(2, T, D)).round(3).tolist()},
           "model": [{"type": "lstm", "hidden_size": H}], "loss": {"kind": "sum"}}
    sc = load_scenario("m2o.yaml", json.dumps(doc))
    assert checkpoint.why_whole(sc) is None     # many-to-one: tests/engine/test_checkpoint_kinds.py
    assert run_scenario(sc, max_memory=1000).recording.mode == "checkpointed"
    short = load_scenario("m2o.yaml", json.dumps({**doc, "input": {"batch": [[[0.0] * D] * 20] * 2}}))
    with pytest.raises(ScenarioError, match="cannot be checkpointed: 20 steps are one segment of 64"):
        run_scenario(short, max_memory=100)
    stacked_bidir = scenario(kind="gru", layers=2, bidir=True)
    assert "bidirectional layer with another recurrent layer" in checkpoint.why_whole(stacked_bidir)
    with pytest.raises(ValueError, match="bidirectional"):
        run_scenario(stacked_bidir, recording="checkpointed")


@pytest.mark.parametrize("case", ["lstm-packed-bidirectional-ce", "gru-stacked-initial"])
def test_a_saved_checkpointed_trace_reopens_to_the_same_numbers(tmp_path, case):
    from rnntui.engine.load import load_trace

    sc = scenario(**CASES[case])
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    ck.save(tmp_path / "long.npz")
    with np.load(tmp_path / "long.npz") as z:   # the checkpoints and small arrays, no state of every step
        assert "meta.checkpoint" in z.files and not any(k in z.files for k in ck.big)
        saved = sum(z[k].nbytes for k in z.files)
    assert saved < sum(full[k].nbytes for k in ck.big)
    back = load_trace(tmp_path / "long.npz")
    assert type(back).__name__ == "CheckpointedTrace" and back.recording.mode == "checkpointed"
    assert back.path == tmp_path / "long.npz"      # the file it was read from
    assert_bit_equal(full, back)
    # --full: every array whole, as a full recording saves it
    ck.save(tmp_path / "whole.npz", full=True)
    whole = load_trace(tmp_path / "whole.npz")
    assert type(whole).__name__ == "Trace"
    assert_bit_equal(full, whole)


def test_check_streams_through_the_segments_and_finds_what_the_whole_run_finds():
    from rnntui.expr.check import check_trace

    sc = scenario(kind="lstm", layers=2, lengths=[150, 100, 40], dense=True, loss="mse")
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    asserts = ["norm(dh) > 0.02", "max(abs(gates.f)) < 0.8 or t < 10", "mean(c) * T > -30 @model.0.l1.fwd",
               "norm(out) < 1.2 @model.1"]
    # the step Jacobian norms, derived over chunks of up to 2**23 numbers (as a whole run derives them)
    assert check_trace(ck, ["jacnorm[0] < 0.9"]).to_dict() == check_trace(full, ["jacnorm[0] < 0.9"]).to_dict()
    whole = check_trace(full, asserts).to_dict()
    assert any(not a["ok"] for a in whole["assertions"])   # something fails, at a step found in both
    reads = []
    steps = type(ck).steps
    type(ck).steps = lambda self, key, a, b, **kw: (reads.append(b - a), steps(self, key, a, b, **kw))[1]
    try:
        streamed = check_trace(ck, asserts).to_dict()
    finally:
        type(ck).steps = steps
    assert streamed == whole
    assert max(reads) <= S   # never a whole array: a segment at a time


def test_the_report_of_a_checkpointed_run_is_the_whole_runs_and_says_how_it_was_recorded(tmp_path):
    from rnntui.render.report import ReportOptions, write_report

    sc = scenario(kind="gru", layers=2, dense=True, loss="cross_entropy", lengths=[150, 99, 12])
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    ck.limit = 0    # a whole read of a recomputed array now raises: the report reads segments
    opts = ReportOptions.parse(steps=None, step=None, entry=None, width=None, iteration=None)
    write_report(full, tmp_path / "full.txt", "txt", opts)
    write_report(ck, tmp_path / "ck.txt", "txt", opts)
    a, b = (tmp_path / "full.txt").read_text(), (tmp_path / "ck.txt").read_text()
    lines = b.splitlines()
    i = next(k for k, line in enumerate(lines) if "recording: checkpointed" in line)
    j = next(j for j in range(i + 1, i + 5) if lines[:i] + lines[j:] == a.splitlines())   # the rest: the same
    assert "3 segments of 64 steps" in " ".join(" ".join(lines[i:j]).split())


@pytest.mark.parametrize("name, why", [
    ("graph-attention-reverse", "a graph whose inputs have different numbers of steps is recorded whole"),
    ("sine-generator", "a generator"),
    ("crnn", "mixes steps"),
])
def test_runs_recorded_whole_say_why(name, why):
    from pathlib import Path

    import rnntui

    sc = load_scenario(Path(rnntui.__file__).parent / "bundled" / f"{name}.yaml")
    assert why in checkpoint.why_whole(sc)
    with pytest.raises(ScenarioError, match="cannot be checkpointed: .*" + why.replace("(", r"\(").replace(")", r"\)")):
        run_scenario(sc, max_memory=1000)   # over the limit: refused, with the reason


@pytest.mark.parametrize("case", ["lstm-stacked", "lstm-packed-bidirectional-ce", "gru-stacked-initial"])
def test_a_sweep_driven_in_pieces_is_the_sweep_bit_for_bit(case):
    """`Sweep` one segment at a time (the debugger drives it so, showing the first segment first): between
    pieces a segment is recomputed only once its boundaries are known (equal to the whole recording's), any
    other raises NotReady with the fraction done; at the end every boundary, gradient, diagnostic and the loss
    are the one-go sweep's, bit for bit."""
    sc = scenario(**CASES[case])
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    ref = ck.segments
    segs = checkpoint.Segments(ref.layout, ref.params, ref.x, ref.loss_kind, ref.target, ref.lengths, ref.initial,
                               ref.S)
    sweep = checkpoint.Sweep(segs, cache_first=True)
    K, seen, pieces = len(segs.bounds), [], 0
    forward_keys = [k for k in ck.big if not k.startswith("grad.")]
    while sweep.advance():
        pieces += 1
        p = segs.progress
        seen.append((p.phase, p.forward, p.states, p.backward))
        assert p.done == pieces and 0 < p.fraction < 1
        for k, (a, b) in enumerate(segs.bounds):
            for backward in (False, True):
                ready = p.backward_ready(k) if backward else p.forward_ready(k)
                if not ready:
                    with pytest.raises(checkpoint.NotReady, match=f"{p.fraction:.0%} of the sweep done"):
                        segs.segment(k, backward)
                    continue
                rec = segs.segment(k, backward)
                for key in (ck.big if backward else forward_keys):
                    assert np.array_equal(rec[key], full[key][a:b], equal_nan=True), (key, k, p)
        segs.cache.__init__(8)      # read again from the boundaries at the next pause, never from an earlier one
        segs.forward_cache.__init__(8)
    bidir = CASES[case].get("bidir", False)
    assert pieces == K * (3 if bidir else 2) - 1 and seen[0][:2] == ("forward", 1)
    if not bidir:
        assert seen[0] == ("forward", 1, 0, 0) and seen[K] == ("backward", K, 0, 1)
    assert segs.progress.complete and segs.progress.phase == "done" and segs.swept
    got, want = sweep.result, ref
    for which in ("starts", "gins"):
        for i, st in getattr(want, which).items():
            for s, v in st.items():
                assert np.array_equal(getattr(segs, which)[i][s], v), (which, i, s)
    again = checkpoint.Segments(ref.layout, ref.params, ref.x, ref.loss_kind, ref.target, ref.lengths,
                                ref.initial, ref.S).sweep()
    assert np.array_equal(got.loss, again.loss) and np.array_equal(got.loss, ck["loss"])
    for field in ("diag", "grads", "rows", "terms"):
        a, b = getattr(got, field), getattr(again, field)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a), field
    assert got.big == again.big and list(got.arrays) == list(again.arrays)


def _tampered(tmp_path, name: str, change) -> str:
    """A saved checkpointed trace with *change(arrays, meta)* applied (a file someone edited or a disk damaged)."""
    sc = scenario(dense=True, loss="cross_entropy")
    ck = run_scenario(sc, recording="checkpointed")
    ck.save(tmp_path / "long.npz")
    with np.load(tmp_path / "long.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta.checkpoint"]))
    change(arrays, meta)
    arrays["meta.checkpoint"] = np.asarray(json.dumps(meta))
    np.savez(tmp_path / name, **arrays)
    return str(tmp_path / name)


def _set(d: dict, key: str, value):
    d[key] = value


@pytest.mark.parametrize("change,expected", [
    (lambda a, m: _set(m["recording"], "need", "lots"), "recording's need: expected a whole number from 0"),
    (lambda a, m: _set(m["recording"], "mode", "bogus"), "recording's mode: expected full or checkpointed"),
    (lambda a, m: _set(m, "segment_steps", 0), "segment_steps: expected a whole number from 1, found 0"),
    (lambda a, m: _set(a, "checkpoint.rows.gradnorm:model.0.l0.fwd", a["checkpoint.rows.gradnorm:model.0.l0.fwd"][:100]),
     "checkpoint.rows.gradnorm:model.0.l0.fwd: expected float (150, 3); found float64 (100, 3)"),
    (lambda a, m: _set(a, "checkpoint.rows.argmax", a["checkpoint.rows.argmax"] + 7),
     "checkpoint.rows.argmax: expected class indices 0..3"),
    (lambda a, m: _set(a, "checkpoint.rows.top:grad.model.0.l0.fwd.h", np.zeros((3, 2))),
     "checkpoint.rows.top:grad.model.0.l0.fwd.h: expected float (3,); found float64 (3, 2)"),
    (lambda a, m: _set(a, "checkpoint.rows.other", np.zeros(3)), "checkpoint.rows.other: not a row rnntui keeps"),
], ids=["need", "mode", "segment-steps", "rows-cut", "argmax", "top", "unknown-row"])
def test_a_tampered_saved_checkpointed_trace_is_refused_with_what_is_wrong(tmp_path, change, expected):
    """Every command that opens it: one message naming the field, exit status 2, no traceback (a bad recording
    field crashed `show` with a TypeError; rows cut short were taken as they were, and the verdict read them)."""
    from typer.testing import CliRunner

    from rnntui.cli import app

    path = _tampered(tmp_path, "bad.npz", change)
    for args in (["show", path], ["check", path, "--assert", "norm(h) < 10"], ["export", path, "-o",
                                                                               str(tmp_path / "r.html")]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.output and "Traceback" not in result.output, result.output
        assert f"{path}: cannot read this checkpointed trace" in result.output   # the file, not the run's path
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


def test_a_what_if_on_a_run_checkpointed_for_its_size_is_refused_before_it_is_computed():
    """A what-if (an intervention, a weight edit) is recorded whole: over the memory limit it is refused with both
    sizes, as a scenario with interventions is; it was recorded whole whatever the limit."""
    from rnntui.engine.edits import Change, WeightEdit, apply_changes
    from rnntui.errors import RnntuiError
    from rnntui.sizes import format_size

    sc = scenario()
    need = run_scenario(sc).recording.need
    ck = run_scenario(sc, max_memory=need - 1)
    assert type(ck).__name__ == "CheckpointedTrace"
    reads = []
    segment = ck.segments.segment
    ck.segments.segment = lambda k, backward=True: (reads.append(k), segment(k, backward))[1]
    for change in (Change("weight", WeightEdit("0.weight_hh_l0", None, "*=", 0.5)),
                   Change("intervention", {"at": "model.0.l0.fwd", "t": 3, "set": "h", "value": 0.0})):
        with pytest.raises(RnntuiError, match="a what-if is recorded whole") as info:
            apply_changes(ck, (change,))
        assert f"about {format_size(need)} at its peak, more than the memory limit of {format_size(need - 1)}" \
            in str(info.value)
    assert reads == []          # refused before any segment was recomputed
    # within the limit it is computed (whole), as before
    roomy = run_scenario(sc, max_memory=need)
    run, other = apply_changes(roomy, (Change("weight", WeightEdit("0.weight_hh_l0", None, "*=", 0.5)),))
    assert other is roomy and not np.array_equal(run["model.0.l0.fwd.h"], roomy["model.0.l0.fwd.h"])


def test_tracing_back_another_quantity_on_a_checkpointed_run():
    """`o` (engine/attribution.backprop) recomputes the run whole: on a run checkpointed for its size it is refused
    with both sizes before anything is computed; on one within the limit its forward arrays are read whole and its
    gradients are the whole recording's. It crashed the debugger with KeyError: 'model.0.l0.fwd.gates.i' (the
    forward arrays a checkpointed trace recomputes were left out)."""
    from rnntui.engine.attribution import Seed, backprop
    from rnntui.errors import RnntuiError

    sc = scenario(dense=True, loss="cross_entropy")
    full = run_scenario(sc)
    need = full.recording.need
    seed = Seed("out", t=100, sample=1, unit=2)
    over = run_scenario(sc, max_memory=need - 1)
    reads = []
    segment = over.segments.segment
    over.segments.segment = lambda k, backward=True: (reads.append(k), segment(k, backward))[1]
    with pytest.raises(RnntuiError, match=r"tracing back another quantity \(o\) is recorded whole"):
        backprop(over, seed)
    assert reads == []
    within = run_scenario(sc, recording="checkpointed")      # checkpointed, with the default (ample) limit
    assert type(within).__name__ == "CheckpointedTrace" and within.recording.need < within.limit
    a, b = backprop(full, seed), backprop(within, seed)
    for key in ("model.0.l0.fwd.gates.i", "model.0.l0.fwd.h", "grad.model.0.l0.fwd.h", "grad.param.0.weight_hh_l0",
                "diag.model.0.l0.fwd.gradnorm"):
        assert np.array_equal(a[key], b[key]), key
