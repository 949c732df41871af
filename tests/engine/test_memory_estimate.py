"""The memory estimate (engine/run.py `estimate_bytes`, from each handler's `footprint`) against the
peak a run really reaches: tracemalloc sees every NumPy buffer, so its peak over the run and the
lazily derived diagnostics (every key read, as a save does) is what the run held at once. Too low
and a run the check let through can be killed; too high and runs that fit are refused.
benchmarks/memory.py measures the same over a larger grid."""
from __future__ import annotations

import tracemalloc

import pytest

from rnntui.engine import run_scenario
from rnntui.engine.run import estimate_bytes
from rnntui.scenario import load_scenario

BAND = (0.7, 1.25)  # peak / estimate


def _recurrent(kind, layers=1, bidirectional=False, mode="many-to-many", B=8, T=60, H=64):
    return (f"mode: {mode}\ninput: {{generate: {{kind: noise, length: {T}, features: 16, batch: {B}}}}}\n"
            f"model:\n  - {{type: {kind}, hidden_size: {H}, num_layers: {layers}, "
            f"bidirectional: {str(bidirectional).lower()}}}\n  - {{type: dense, units: 4}}\nloss: {{kind: sum}}\n")


CNN = ("input: {generate: {kind: digit, size: 28, batch: 8}}\nmodel:\n"
       "  - {type: conv2d, out_channels: 8, kernel_size: 3, padding: 1, activation: relu}\n"
       "  - {type: maxpool2d, kernel_size: 2}\n  - {type: conv2d, out_channels: 8, kernel_size: 5, activation: relu}\n"
       "  - {type: avgpool2d, kernel_size: 2}\n  - {type: flatten}\n  - {type: dense, units: 10, activation: softmax}\n"
       "loss: {kind: sum}\n")
DENSE = ("input: {generate: {kind: noise, length: 60, features: 32, batch: 8}}\nmodel:\n"
         "  - {type: dense, units: 256, activation: tanh}\n  - {type: dense, units: 256, activation: relu}\n"
         "  - {type: dense, units: 4}\nloss: {kind: sum}\n")

CELL = ("inputs:\n  x: {generate: {kind: sine, length: 600, features: 1, batch: 2}}\nmodel:\n"
        "  - id: cell\n    type: recurrence\n    from: x\n    state: {h: 6}\n    step:\n"
        "      - {id: xh, op: cat, from: [x, h]}\n      - {id: z, type: dense, units: 6, activation: sigmoid, from: xh}\n"
        "      - {id: cand, type: dense, units: 6, activation: tanh, from: xh}\n      - {id: diff, op: sub, from: [cand, h]}\n"
        "      - {id: upd, op: mul, from: [z, diff]}\n      - {id: hn, op: add, from: [h, upd]}\n"
        "    next: {h: hn}\n    emit: hn\n  - {id: head, type: dense, units: 1}\nloss: {kind: sum}\n")

CASES = {
    "rnn": _recurrent("rnn", H=128),
    "rnn 2 layers bidirectional": _recurrent("rnn", layers=2, bidirectional=True),
    "lstm many-to-one": _recurrent("lstm", mode="many-to-one"),
    "lstm 2 layers bidirectional": _recurrent("lstm", layers=2, bidirectional=True),
    "gru": _recurrent("gru"),
    "gru bidirectional many-to-one": _recurrent("gru", bidirectional=True, mode="many-to-one", H=128),
    "cnn": CNN,
    "dense": DENSE,
    # a graph's custom cell: its step graph's small arrays, per step, outweigh their numbers (the estimate was a
    # quarter of the peak)
    "graph recurrence": CELL,
}


def _peak(path) -> tuple[int, int]:
    sc = load_scenario(path)
    held = sc.x.nbytes + sum(p.nbytes for p in sc.params.values())  # made by the loader, held by the run
    tracemalloc.start()
    try:
        trace = run_scenario(sc)
        for key in list(trace):
            trace[key]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return held + peak, estimate_bytes(sc)


@pytest.fixture(scope="module")
def warm():
    """Imports and caches that only a process's first run pays are not the run's."""
    import rnntui

    for name in ("bilstm-apple", "cnn-digit", "stacked-lstm"):
        trace = rnntui.run(name)
        for key in list(trace):
            trace[key]


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_estimate_is_the_peak(tmp_path, warm, name):
    path = tmp_path / "s.yaml"
    path.write_text(CASES[name])
    peak, estimate = _peak(path)
    assert BAND[0] <= peak / estimate <= BAND[1], (
        f"{name}: peak {peak / 2**20:.1f} MiB, estimate {estimate / 2**20:.1f} MiB, ratio {peak / estimate:.2f}")
