"""Graph models in the debugger: `]` moves through the nodes in the model's order, `m` draws the model
map with the cursor's node marked, an op node's view shows its value and gradient at the cursor's step."""
from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from rnntui.numfmt import fmt
from rnntui.render.model_map import model_map
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text


def map_text(info, current=None) -> str:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(model_map(info, current))
    return out.getvalue()


def test_the_model_map_draws_every_node_with_what_it_reads_and_what_it_shares(traces):
    info = traces["graph-shared-encoder"].info
    text = map_text(info, 3)
    lines = [ln for ln in text.splitlines() if "model." in ln]
    assert len(lines) == len(info.entries)
    for e, line in zip(info.entries, lines):
        assert f"model.{e.index}" in line and e.id in line and e.type in line
    assert "inputs: premise, hypothesis" in text
    assert "emb_h embedding   hypothesis → (T, B, 5)  = module of emb_p (shared)" in text
    assert "enc_p, enc_h → (B, 12)" in text                      # cat reads both encodings
    marked = [ln for ln in text.splitlines() if ln.startswith("▶")]
    assert len(marked) == 1 and "model.3" in marked[0] and "final state" in marked[0]
    tied = map_text(traces["graph-tied-lm"].info)
    assert "weight = encoder.weight (tied)" in tied


def test_a_recurrence_is_a_box_with_its_step_graph(traces):
    info = traces["graph-custom-cell"].info
    text = map_text(info)
    assert "│ once per step: reads x, states h (6) │" in text
    assert "│ hn    add        h, upd → (B, 6)     │" in text
    assert "next: h ← hn; emit hn" in text
    assert text.count("┌") == 1 and text.count("└") == 1


async def test_m_opens_the_map_at_the_node_that_brackets_reach(traces):
    app = RnntuiApp(traces["graph-shared-encoder"])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket", "M")
        await pilot.pause()
        text = screen_text(app)
        assert "Model map" in text
        assert "▶ model.3   enc_h" in text and "▶ model.2" not in text, text
        await pilot.press("escape", "left_square_bracket", "M")
        await pilot.pause()
        text = screen_text(app)
        assert "▶ model.2   enc_p" in text and "▶ model.3" not in text, text
        await pilot.press("M")
        await pilot.pause()
        assert "Model map" not in screen_text(app)


async def test_an_op_node_shows_its_value_and_gradient_at_the_cursors_step(traces):
    trace = traces["graph-residual-lstm"]
    app = RnntuiApp(trace)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right_square_bracket", "right_square_bracket", "right", "right", "right")
        await pilot.pause()
        text = screen_text(app)
        assert "model.2 skip add · t=3 · sample 0 · unit 0" in text
        assert f"unit 0: out={trace['model.2.out'][3, 0, 0]:.4f}" in text
        assert f"max {trace['model.2.out'][3, 0].max():.4f}" in text
        await pilot.press("b")
        await pilot.pause()
        text = screen_text(app)
        assert "model.2 skip add · t=3 · sample 0 · unit 0" in text
        assert f"unit 0: dL/dout={trace['grad.model.2.out'][3, 0, 0]:.4f}" in text
        assert f"min {trace['grad.model.2.out'][3, 0].min():.4f}" in text


def test_a_layernorm_view_names_the_statistics_of_the_cursors_step(traces):
    from rnntui.render.cursor import Cursor
    from rnntui.render.views import cell_panel

    trace = traces["graph-layernorm-lstm"]
    k = next(k for k, p in enumerate(trace.info.places) if trace.info.entries[p.entry].type == "layernorm")
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(cell_panel(trace, Cursor(place_index=k, t=4, sample=1), 200))
    text = out.getvalue()
    mean, var = float(trace["model.1.mean"][4, 1]), float(trace["model.1.var"][4, 1])
    assert f"mean {mean:.4g} and variance {var:.4g} over its 8 features" in text
    assert f"/ {np.sqrt(var + 1e-5):.4g}" in text


def test_the_recurrence_view_shows_every_step_value_and_the_attention_peak(traces):
    from rnntui.render.cursor import Cursor
    from rnntui.render.views import cell_panel, states

    trace = traces["graph-attention-reverse"]
    k = next(k for k, p in enumerate(trace.info.places) if trace.info.entries[p.entry].type == "recurrence")
    out = io.StringIO()
    c = Cursor(place_index=k, t=2, sample=3)
    console = Console(file=out, width=200, color_system=None)
    console.print(cell_panel(trace, c, 200))
    console.print(states(trace, c, 120, 12))
    text = out.getvalue()
    for name in ("ctx", "xin", "cell", "h_t"):
        assert f"\n{name} " in text
    w = np.asarray(trace["model.4.ctx.weights"])[:, 3]
    # sample 3 reads "6 6 0 3 8": writing it back, step t looks at source step 4 - t, named by its token
    assert f"attention at t=2: source step 2 '0' most ({w[2].max():.0%})" in text and w[2].argmax() == 2
    assert "every step's peak: 4 '8' 3 '3' 2 '0' 1 '6' 0 '6' 0 '6'" in " ".join(text.split())
    assert "t 0..5  units 0..4" in text   # decoder steps x source steps
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(cell_panel(trace, Cursor(place_index=k, t=2, sample=3,
                                                                                   phase="backward"), 200))
    back = out.getvalue()
    assert "from out" in back and "thru time" in back and "dL/dh" in back


def test_expressions_read_a_graph_nodes_own_input(traces):
    """`x` at a graph node is what it reads (another input, a node that is not the one above); an op that
    reads several values has no single x."""
    from rnntui.expr.names import entry_input_key

    info = traces["graph-shared-encoder"].info
    assert entry_input_key(info, 1) == "input.hypothesis"      # emb_h reads the second input
    assert entry_input_key(info, 3) == "model.1.out"           # enc_h reads emb_h, not model.2
    assert entry_input_key(info, 4) == ""                      # cat reads enc_p and enc_h


async def test_what_if_sets_a_value_of_a_recurrences_step_graph_and_W_writes_it(traces, tmp_path):
    """`i` on a recurrence node: `z[*] = 0.5` at the cursor's step sets every unit of the step node z there;
    the run is recomputed beside the original (the what-if engine's result, to the bit), and `W` writes a
    scenario whose interventions run to the same numbers."""
    import rnntui
    from rnntui.tui.screens import WhatIfScreen

    original = traces["graph-custom-cell"]
    app = RnntuiApp(original, export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right", "right", "right", "i")
        assert isinstance(app.screen, WhatIfScreen)
        text = screen_text(app)
        assert "What-if at model.0, t=3" in text and "h xh z cand diff upd hn" in text, text
        await pilot.press(*"gate = 1")
        assert "found 'gate'; expected one of h, xh, z" in screen_text(app)
        for _ in range(8):
            await pilot.press("backspace")
        await pilot.press(*"z[*] = 0.5", "enter")
        await pilot.pause()
        new = app.run_state.trace.whole
        expected = rnntui.what_if(original, [{"at": "model.0", "t": 3, "set": "z", "value": 0.5}])
        for key in ("loss", "model.0.h", "grad.param.0.z.weight", "grad.model.0.h"):
            np.testing.assert_array_equal(new[key], expected[key], err_msg=key)
        assert new["loss"] != original["loss"] and (new["model.0.z.out"][3] == 0.5).all()
        assert "what-if vs original" in screen_text(app)
        await pilot.press("W")
    written = tmp_path / "graph-custom-cell-whatif.yaml"
    assert "interventions:" in written.read_text()
    np.testing.assert_array_equal(rnntui.run(written)["loss"], expected["loss"])
