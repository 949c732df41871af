"""What the user sees, as SVG snapshots at fixed sizes (pytest-textual-snapshot).

The images depend on the exact Textual version (pinned in pyproject.toml). After a deliberate
change, check each image in snapshot_report.html, then regenerate with --snapshot-update.
Each snapshot's numbers are also read from the trace (tests/snapshots/numbers.py) and must be on the
screen that was compared, so a regenerated image cannot carry a wrong number.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import rnntui
from rnntui.tui.app import RnntuiApp
from tests.snapshots.numbers import NUMBERS, missing
from tests.tui.screen import svg_lines

DATA = Path(__file__).parent.parent / "data"
SNAPSHOTS = {
    "lstm": ("lstm-delayed-recall", ["right", "right", "right", "down"]),
    "gru": ("gru-delayed-recall", ["right", "right", "b"]),
    "bilstm-text": ("bilstm-apple", ["right", "right", "d"]),
    "cnn": ("cnn-digit", ["right"] * 17 + ["down"]),
    # sample 1 (5 of 6 steps) at its end: the padded step drawn as padding
    "packed-end": ("bilstm-lengths", ["right_square_bracket", "s", "end", "right"]),
    # sample 0 (4 of 6 steps), backward direction in BPTT: it starts at t=0 and ends at the sample's t=3
    "packed-bwd": ("bilstm-lengths", ["right_square_bracket", "d", "b", "end"]),
    # an encoder-decoder's hand-over: which final state went where, and in BPTT where its gradient goes
    "handover": (DATA / "seq2seq-small.yaml", ["right_square_bracket", "end", "right"]),
    "handover-bptt": (DATA / "seq2seq-small.yaml", ["right_square_bracket", "end", "right", "b"]),
    # --compare: an LSTM (A) and a GRU (B) on the same input, at t=3 and then in BPTT
    "compare": ("lstm-vs-gru", ["right", "right", "right"]),
    # training: iteration 10 of the LSTM learning delayed recall, in BPTT at t=29
    "training": ("training-lstm-memory", ["left_curly_bracket", "greater_than_sign", "b"]),
    # a what-if: the cell state of unit 2 set to 0 at t=3, beside the original
    "whatif": ("lstm-delayed-recall", ["right", "right", "right", "down", "down", "i", *"c = 0", "enter"]),
    # a watch and a breakpoint added with keys, then continue in BPTT
    "watches": ("vanishing-gradient", ["w", *"norm(h)", "enter", "a", *"norm(dh) < 1e-7", "enter", "b", "home", "c",
                                       "c"]),
    "compare-bptt": ("lstm-vs-gru", ["right", "right", "right", "b"]),
    "embedding": ("char-embedding", ["right", "right", "right", "b"]),  # the vector's gradient at t=3 ("l", id 7)
    # graph models: the model map at the second encoder call (M), an op node (add) in BPTT at t=3
    "model-map": ("graph-shared-encoder", ["right_square_bracket"] * 3 + ["M"]),
    "op-view": ("graph-residual-lstm", ["right_square_bracket"] * 2 + ["right"] * 3 + ["b"]),
    # a recurrence's step graph at t=3 in BPTT (each value's gradient, the state's split)
    "steps-view": ("graph-custom-cell", ["right"] * 3 + ["b"]),
    # the attention of the trained reverser at decoder step 2: the heatmap and each step's peak
    "attention": ("graph-attention-reverse", ["right_square_bracket"] * 4 + ["right"] * 2),
    # the homework: W_hh edited from 0.5 to 1.5 (p), BPTT at the start: exploding beside the original
    "weight-edit": ("vanishing-gradient", ["p", *"W_hh = 1.5", "enter", "b"]),
    # o: BPTT of one class's log-probability at t=2 (attribution), not of the loss
    "seed": ("bilstm-apple", ["right", "right", "o", *"logp fruit", "enter", "b"]),
    # a CNN's pixel saliency (grad.input) in the first conv's backward view, and its dense layer's softmax
    "cnn-saliency": ("cnn-digit", ["b"]),
    "cnn-dense": ("cnn-digit", ["right_square_bracket"] * 5 + ["down"] * 7),
    # Tab three times: at 80x24 (timeline, cell, states, gradients) the gradient panel brought to the top, led
    # by its verdict (below the fold before); at 100x30 the right column scrolled to the details
    "panel-tab": ("lstm-delayed-recall", ["tab", "tab", "tab"]),
}


@pytest.mark.parametrize("size", [(100, 30), (80, 24)], ids=["100x30", "80x24"])
@pytest.mark.parametrize("case", sorted(SNAPSHOTS))
def test_snapshot(snap_compare, case, size):
    name, keys = SNAPSHOTS[case]
    trace = rnntui.run(name)
    other = rnntui.run(trace.info.compare) if trace.info.compare else None  # a bundled pair opens side by side
    app, shots = RnntuiApp(trace, other=other), []
    export = app.export_screenshot
    app.export_screenshot = lambda *a, **k: shots.append(export(*a, **k)) or shots[-1]   # the image compared
    assert snap_compare(app, press=keys, terminal_size=size)
    assert missing(svg_lines(shots[-1]), case, trace, other, wide=size[0] >= 100) == []


def test_every_snapshot_checks_its_numbers():
    assert sorted(NUMBERS) == sorted(SNAPSHOTS)


def test_snapshot_samples_pane(snap_compare):
    """`rnntui run scan-gradient-health --scan`, then `)`: the ranking's pane with the second worst sample open,
    the header's words and the rows' numbers read from the scan."""
    from rnntui.render.samples import sample_words
    from rnntui.samples.axis import open_axis
    from rnntui.samples.table import cell
    from rnntui.scenario.bundled import resolve

    axis = open_axis(str(resolve("scan-gradient-health")))
    k = axis.at_rank(0)
    axis.run(axis.at_rank(1))   # opened before: `)` shows it at once (no "running" notice however slow the machine)
    app, shots = RnntuiApp(axis.run(k), samples=axis, sample=k), []
    export = app.export_screenshot
    app.export_screenshot = lambda *a, **kw: shots.append(export(*a, **kw)) or shots[-1]

    async def second(pilot):
        await pilot.press("right", "right", "b", "right_parenthesis")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, run_before=second, terminal_size=(100, 30))
    lines = svg_lines(shots[-1])
    k1 = axis.at_rank(1)
    assert any(sample_words(k1, 200, 1, axis.row(k1)) in line for line in lines)
    for r in axis.ranked[:6]:
        shown = [cell(r[c]) for c in ("sample", "verdict", "rate", "length", "loss")]
        assert any(line.split()[:5] == shown for line in lines), shown


GRAPH_CASES = ("model-map", "op-view", "steps-view", "attention")


@pytest.mark.parametrize("case", GRAPH_CASES)
def test_graph_snapshot_160x48(snap_compare, case):
    """The graph views at 160x48 too (the attention heatmap and the step graph have room there)."""
    name, keys = SNAPSHOTS[case]
    trace = rnntui.run(name)
    app, shots = RnntuiApp(trace), []
    export = app.export_screenshot
    app.export_screenshot = lambda *a, **k: shots.append(export(*a, **k)) or shots[-1]
    assert snap_compare(app, press=keys, terminal_size=(160, 48))
    assert missing(svg_lines(shots[-1]), case, trace, None, wide=True) == []
