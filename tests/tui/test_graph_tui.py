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
    assert "t 0..5  source steps 0..4" in text   # decoder steps x source steps
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
        text = screen_text(app)
        assert "what-if vs original at model.0 cell recurrence, t=3" in text
        assert "set by the what-if at t=3: z (every unit)" in text
        za, zb = np.asarray(new["model.0.z.out"])[3, 0], np.asarray(original["model.0.z.out"])[3, 0]
        assert f"z          ‖what-if‖ {np.linalg.norm(za):.4f}  ‖original‖ {np.linalg.norm(zb):.4f}" in text, text
        await pilot.press("W")
    written = tmp_path / "graph-custom-cell-whatif.yaml"
    assert "interventions:" in written.read_text()
    np.testing.assert_array_equal(rnntui.run(written)["loss"], expected["loss"])


async def test_watches_and_breakpoints_at_a_recurrence_read_its_step_graph(traces):
    """`w mean(z)` at the recurrence shows the step node z's mean at the cursor's step; `a norm(dh) < 1.405` (the
    state's gradient) and `c` in BPTT land on the steps where it holds, in the order BPTT meets them."""
    from tests.tui.test_watches import _panel

    trace = traces["graph-custom-cell"]
    g = np.linalg.norm(np.asarray(trace["grad.model.0.h"])[:, 0], axis=-1)
    hits = [int(t) for t in np.flatnonzero(g < 1.405)][::-1]   # BPTT's order, t = 15 .. 0
    assert len(hits) >= 3 and hits[0] == 15
    app = RnntuiApp(trace)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w", *"mean(z)", "enter")
        assert app.debugging.watches == ("mean(z) @model.0",)
        await pilot.press("right", "right", "right")
        assert f"= {np.asarray(trace['model.0.z.out'])[3].mean():.4f} at t=3" in _panel(app)
        await pilot.press("a", *"norm(dh) < 1.405", "enter")
        assert len(app.debugging.breakpoints) == 1
        await pilot.press("b", "home")
        assert app.cursor.t == 15
        assert 11 not in hits and 10 in hits   # the breakpoint skips step 11
        for t in hits[1:5]:
            await pilot.press("c")
            assert app.cursor.t == t


async def test_two_graph_runs_stepped_side_by_side(traces):
    """`run graph-residual-lstm --compare graph-layernorm-lstm`: the compare panel at the first LSTM node, both
    losses and each value of the two runs at the cursor's step (here of different widths, which it says)."""
    a, b = traces["graph-residual-lstm"], traces["graph-layernorm-lstm"]
    app = RnntuiApp(a, other=b)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right", "right")
        await pilot.pause()
        text = screen_text(app)
        assert f"loss A {float(a['loss']):.4f}, B {float(b['loss']):.4f}" in text, text
        ha = np.asarray(a["model.0.l0.fwd.h"])[2, 0]
        assert f"A vs B at model.0 lstm1 lstm l0 fwd, t=2" in text
        assert f"h          ‖A‖ {np.linalg.norm(ha):.4f}  shapes differ: A (6,), B (8,)" in text   # 6 and 8 units


async def test_the_model_map_is_a_panel_beside_the_views_where_it_fits(traces):
    """At 160x48 a graph model's map sits beside the views, the cursor's node marked and following `]`; below 150
    columns (or 40 lines) it is not there (M opens it), and a chain never has it."""
    app = RnntuiApp(traces["graph-shared-encoder"])
    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.query_one("#map")
        assert panel.display and panel.size.width > 0
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        await pilot.pause()
        text = screen_text(app)
        assert "Model map" in text and "▶ 3 enc_h lstm" in text and "▶ 2" not in text, text
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert "▶ 4 both  cat" in screen_text(app)
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not panel.display and "Model map" not in screen_text(app)
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=(160, 48)) as pilot:
        assert not app.query_one("#map").display


async def test_n_lands_on_a_recurrences_own_events(traces):
    """graph-attention-reverse: the decoder's GRU cell saturates its gates; at the recurrence, N from the last step
    lands where that run of events begins and says so, as at a chain's recurrent place."""
    from rnntui.engine.keys import Place
    from rnntui.render.analysis import event_runs, events

    trace = traces["graph-attention-reverse"]
    runs = [r for r in event_runs(trace.info, events(trace)) if r.place == Place(4)]
    assert runs and all(r.kind == "saturated" for r in runs)
    app = RnntuiApp(trace)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*["right_square_bracket"] * 4, "end", "N")
        await pilot.pause()
        message = list(app._notifications)[-1].message
        assert app.cursor.place(trace.info) == Place(4) and app.cursor.t == runs[0].start, message
        assert any(r.text in message for r in runs) and "cell.gates." in message
