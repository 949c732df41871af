"""Editing a weight live (p), what-if over ranges of steps and units, and choosing what BPTT traces back (o):
keys pressed, the recomputed run and the screen asserted."""
from __future__ import annotations

import numpy as np

import rnntui
from rnntui.engine.attribution import Seed, backprop
from rnntui.tui.app import RnntuiApp
from rnntui.tui.seed_screen import SeedScreen
from rnntui.tui.weight_screen import WeightScreen
from tests.tui.screen import screen_text

SIZE = (120, 40)


def last_notice(app) -> str:
    return list(app._notifications)[-1].message


async def settle(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_the_homework_turn_vanishing_into_exploding_by_editing_W_hh(traces, tmp_path):
    original = traces["vanishing-gradient"]
    T = original.info.T
    app = RnntuiApp(original, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        assert isinstance(app.screen, WeightScreen)
        assert "W_hh / weight_hh_l0: 0.weight_hh_l0 1×1 = 0.5000" in screen_text(app)
        await pilot.press(*"W_hh = 1.5x")
        assert "expected a number" in screen_text(app)
        await pilot.press("backspace", "enter")
        await settle(app, pilot)
        new = app.run_state.trace.whole
        assert float(new["param.0.weight_hh_l0"][0, 0]) == 1.5
        # h_t = 1.5^t (a pulse at t=0 through identity), L = h_{T-1}: dL/dh_t = 1.5^(T-1-t), closed form
        np.testing.assert_allclose(new["grad.model.0.l0.fwd.h"][:, 0, 0], 1.5 ** np.arange(T - 1, -1, -1), rtol=1e-13)
        np.testing.assert_allclose(float(new["loss"]), 1.5 ** (T - 1), rtol=1e-13)
        assert app.run_state.other.whole is original and app.run_state.labels == ("what-if", "original")
        await pilot.press("b", "home")
        text = screen_text(app)
        assert "exploding" in text and "what-if" in text
        await pilot.press("W")
        written = tmp_path / "vanishing-gradient-whatif.yaml"
        assert written.exists()
        await pilot.press("u")
        await settle(app, pilot)
        assert app.run_state.trace.whole is original and app.run_state.other is None
        assert "vanishing" in screen_text(app)
    rerun = rnntui.run(written)   # the written scenario runs to the edited run's numbers
    np.testing.assert_array_equal(rerun["grad.model.0.l0.fwd.h"], new["grad.model.0.l0.fwd.h"])
    assert float(rerun["param.0.weight_hh_l0"][0, 0]) == 1.5


async def test_a_weight_edit_and_an_intervention_add_up_and_undo_in_order(traces, tmp_path):
    original = traces["lstm-delayed-recall"]
    app = RnntuiApp(original, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p", *"W_hh[0:4, 1] *= 3", "enter")
        await pilot.press("right", "right", "i", *"h[2:6, 1:3] = 0", "enter")
        await settle(app, pilot)
        new = app.run_state.trace.whole
        params = {k[len("param."):]: np.asarray(original[k]).copy() for k in original if k.startswith("param.")}
        params["0.weight_hh_l0"][0:4, 1] *= 3
        # the reference: the scenario rerun with the edited weight and the intervention in its own text
        want_h = new["model.0.l0.fwd.h"]
        assert np.all(want_h[2:6, :, 1:3] == 0) and np.any(want_h[6:, :, 1:3] != 0)
        np.testing.assert_array_equal(new["param.0.weight_hh_l0"], params["0.weight_hh_l0"])
        await pilot.press("W")
        written = tmp_path / "lstm-delayed-recall-whatif.yaml"
        rerun = rnntui.run(written)
        for key in ("loss", "model.0.l0.fwd.c", "grad.param.0.weight_ih_l0", "grad.model.0.l0.fwd.h"):
            np.testing.assert_array_equal(rerun[key], new[key], err_msg=key)
        await pilot.press("u")  # the intervention goes first; the weight edit stays
        await settle(app, pilot)
        now = app.run_state.trace.whole
        np.testing.assert_array_equal(now["param.0.weight_hh_l0"], params["0.weight_hh_l0"])
        assert "intervened" not in " ".join(now)
        await pilot.press("u")
        await settle(app, pilot)
        assert app.run_state.trace.whole is original


async def test_weight_edits_that_do_not_fit_are_refused_in_the_dialog(traces):
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p", *"W_hh[99, 0] = 1")
        assert "found index 99 on axis 0 of size 24" in screen_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, WeightScreen)
        await pilot.press("escape", "p", *"W_zz = 1", "enter")
        assert "found 'W_zz'" in screen_text(app)


async def test_a_large_run_is_recomputed_in_a_worker(traces):
    original = traces["vanishing-gradient"]
    app = RnntuiApp(original)
    app.INLINE_ELEMENTS = 0
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p", *"W_hh = 1.5", "enter")
        await settle(app, pilot)
        assert float(app.run_state.trace.whole["param.0.weight_hh_l0"][0, 0]) == 1.5


async def test_o_traces_back_one_steps_loss_term_in_a_many_to_many_run(traces):
    original = traces["bilstm-apple"]
    app = RnntuiApp(original)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "o")
        assert isinstance(app.screen, SeedScreen)
        T = original["output"].shape[0]
        await pilot.press(*"loss", "space", *str(T), "enter")
        assert f"steps 0..{T - 1}" in screen_text(app)  # refused: past the output's last step
        await pilot.press(*["backspace"] * (len(str(T)) - 1))
        await pilot.press("backspace", "2", "enter")
        await settle(app, pilot)
        shown = app.run_state.trace.whole
        want = backprop(original, Seed("loss", t=2))
        np.testing.assert_array_equal(shown["grad.model.0.l0.fwd.h"], want["grad.model.0.l0.fwd.h"])
        # what the cursor's gradient panel says is this term's gradient: dL_2/dh at t=5 is zero (after step 2)
        await pilot.press("b", "end")
        text = screen_text(app)
        assert "BPTT of the loss term of step 2 alone" in text
        assert "verdict measures the" in text
        assert float(np.abs(shown["grad.model.0.l0.fwd.h"][3:]).max()) == 0
        await pilot.press("O")
        await settle(app, pilot)
        assert app.run_state.trace.whole is original and "BPTT of" not in screen_text(app)


async def test_o_logp_of_a_class_by_name_shows_the_attribution(traces):
    original = traces["bilstm-apple"]
    app = RnntuiApp(original)
    names = original.info.class_names
    assert names
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "o", *f"logp {names[1]}", "enter")
        await settle(app, pilot)
        want = backprop(original, Seed("logp", t=2, sample=0, unit=1))
        np.testing.assert_array_equal(app.run_state.trace.whole["grad.input"], want["grad.input"])
        assert f"log p(class 1 ({names[1]})) at t=2 of sample 0" in screen_text(app)


def test_the_what_if_ranges_parse_to_steps_and_units(traces):
    from rnntui.tui.screens import WhatIfScreen

    info = traces["lstm-delayed-recall"].info
    place = info.places[0]
    screen = WhatIfScreen(info.entries[0], place, t=4, unit=2)
    H, T = info.entries[0].hidden_size, info.entries[0].steps
    at = {"at": "model.0.l0.fwd"}
    assert screen.parse("h = 0") == {**at, "set": "h", "value": 0.0, "t": 4, "units": [2]}
    assert screen.parse("h[0:10] = 1") == {**at, "set": "h", "value": 1.0, "steps": "0:10", "units": [2]}
    assert screen.parse("c[*] = 0") == {**at, "set": "c", "value": 0.0, "t": 4}
    assert screen.parse("h[0:10, 3:5] = 0") == {**at, "set": "h", "value": 0.0, "steps": "0:10", "units": [3, 4]}
    assert screen.parse("h[*, *] = 0") == {**at, "set": "h", "value": 0.0, "steps": f"0:{T}"}
    assert screen.parse("h[7, 1] = 0") == {**at, "set": "h", "value": 0.0, "t": 7, "units": [1]}
    assert screen.parse("h[20:, :2] = 0") == {**at, "set": "h", "value": 0.0, "steps": f"20:{T}", "units": [0, 1]}
    assert "units within 0..5" in screen.parse(f"h[0, 0:{H + 1}] = 0")
    assert "steps within" in screen.parse("h[5:3, 0] = 0")
    assert "expected [STEPS] or [STEPS, UNITS]" in screen.parse("h[1, 2, 3] = 0")


async def test_in_a_training_run_a_what_if_acts_on_the_iteration_shown(traces):
    from rnntui.engine.edits import WeightEdit, reweighted

    training = traces["training-lstm-memory"]
    app = RnntuiApp(training)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("left_curly_bracket", "greater_than_sign")
        assert app.iteration == 10
        await pilot.press("p", *"W_hh *= 2", "enter")
        await settle(app, pilot)
        iteration = training.iteration(10)
        want = reweighted(iteration, [WeightEdit("0.weight_hh_l0", None, "*=", 2.0)])
        shown = app.run_state.trace.whole
        np.testing.assert_array_equal(shown["param.0.weight_hh_l0"], want["param.0.weight_hh_l0"])
        np.testing.assert_array_equal(shown["grad.model.0.l0.fwd.h"], want["grad.model.0.l0.fwd.h"])
        np.testing.assert_array_equal(app.run_state.other.whole["loss"], iteration["loss"])
        await pilot.press("full_stop")   # another iteration: the what-if was of iteration 10
        assert app.iteration == 11 and app.run_state.other is None and app.changes == ()


def test_bptt_of_a_chosen_step_starts_at_that_step_in_the_cells_words(traces):
    import io

    from rich.console import Console

    from rnntui.render.cursor import Cursor
    from rnntui.render.views import cell_panel

    seeded = backprop(traces["bilstm-apple"], Seed("logp", t=4, sample=0, unit=1))

    def words(t, place_index=0):
        out = io.StringIO()
        Console(file=out, width=200, color_system=None).print(
            cell_panel(seeded, Cursor(phase="backward", t=t, place_index=place_index), 120))
        return out.getvalue()

    assert "BPTT starts here" in words(4) and "BPTT starts here" not in words(8)
    assert "BPTT starts here" in words(4, place_index=1)   # the backward direction: from the same step
    assert float(np.abs(seeded["grad.model.0.l0.fwd.h"][5:]).max()) == 0


async def test_changes_made_while_a_worker_recomputes_build_on_it(traces):
    original = traces["vanishing-gradient"]
    app = RnntuiApp(original)
    app.INLINE_ELEMENTS = 0
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p", *"W_hh = 1.5", "enter", "p", *"W_ih = 2", "enter")
        await settle(app, pilot)
        new = app.run_state.trace.whole
        assert [c.words() for c in app.changes] == ["0.weight_hh_l0 = 1.5", "0.weight_ih_l0 = 2"]
        assert float(new["param.0.weight_hh_l0"][0, 0]) == 1.5 and float(new["param.0.weight_ih_l0"][0, 0]) == 2
        np.testing.assert_allclose(float(new["loss"]), 2 * 1.5 ** 29, rtol=1e-13)
