"""What-if in the TUI: set the selected unit of a state or gate at a step, see the run recomputed beside
the original (values, difference, loss change), undo it, write it back as a scenario."""
from __future__ import annotations

import numpy as np

import rnntui
from rnntui.tui.app import RnntuiApp
from rnntui.tui.screens import WhatIfScreen
from tests.tui.screen import screen_text

SIZE = (120, 40)


async def test_a_what_if_is_recomputed_shown_beside_the_original_and_undone(traces, tmp_path):
    original = traces["lstm-delayed-recall"]
    app = RnntuiApp(original, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "right", "down", "down", "i")
        assert isinstance(app.screen, WhatIfScreen)
        await pilot.press(*"gates.f = 1.5x")
        assert "expected a number" in screen_text(app)
        await pilot.press("backspace", "enter")
        assert (app.cursor.t, app.cursor.unit) == (3, 2)  # the cursor stays where it was
        new = app.run_state.trace.whole
        expected = rnntui.what_if(original, [{"at": "model.0.l0.fwd", "t": 3, "set": "gates.f", "units": [2],
                                              "value": 1.5}])
        for key in ("loss", "model.0.l0.fwd.c", "grad.param.0.weight_hh_l0"):
            np.testing.assert_array_equal(new[key], expected[key])
        assert new["model.0.l0.fwd.gates.f"][3, :, 2].tolist() == [1.5] * 4
        text = screen_text(app)
        change = float(new["loss"]) - float(original["loss"])
        assert f"change {change:+.4g}" in text and "what-if vs original at model.0 lstm l0 fwd, t=3" in text
        await pilot.press("W")
        written = tmp_path / "lstm-delayed-recall-whatif.yaml"
        assert written.exists()
        await pilot.press("u")
        assert app.run_state.trace.whole is original and app.run_state.other is None
        assert app.cursor.t == 3
    # the written scenario (no file paths in this one) runs to the what-if's numbers
    assert "interventions:" in written.read_text()
    np.testing.assert_array_equal(rnntui.run(written)["loss"], expected["loss"])


async def test_what_if_refuses_where_it_cannot_act(traces):
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket", "i")  # the dense head: no state or gate
        assert not isinstance(app.screen, WhatIfScreen)
        assert "what-if sets a state or gate" in list(app._notifications)[-1].message
        await pilot.press("u")
        assert "no what-if to undo" in list(app._notifications)[-1].message


async def test_a_what_if_at_a_training_iteration_changes_that_iteration_and_W_writes_it(traces, tmp_path):
    """At iteration 3 of training-lstm-memory the what-if runs iteration 3's parameters, and W writes a
    scenario that reproduces it: those parameters (a weights file beside it), no train:, the intervention;
    the description says which iteration it is."""
    training = traces["training-lstm-memory"]
    record = training.iteration(3)
    app = RnntuiApp(training, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("left_curly_bracket", "full_stop", "full_stop", "full_stop")
        assert app.iteration == 3
        await pilot.press("right", "right", "i", *"h = 0.25", "enter")
        new = app.run_state.trace.whole
        expected = rnntui.what_if(record, [{"at": "model.0.l0.fwd", "t": 2, "set": "h", "units": [0], "value": 0.25}])
        np.testing.assert_array_equal(new["loss"], expected["loss"])
        np.testing.assert_array_equal(new["param.0.weight_hh_l0"], record["param.0.weight_hh_l0"])
        await pilot.press("W")
    written = tmp_path / "training-lstm-memory-iteration3-whatif.yaml"
    text = written.read_text()
    assert "\ntrain:" not in text and "Iteration 3 of 300" in text and "interventions:" in text
    again = rnntui.run(written)
    # the written scenario is a plain run (the NumPy loops); a training replay takes the fused loops where numba is
    # installed (rnntui/engine/families/fused), which agree with them to 1e-12, not always to the bit
    np.testing.assert_allclose(again["loss"], expected["loss"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(again["grad.param.0.weight_hh_l0"], expected["grad.param.0.weight_hh_l0"], rtol=1e-12,
                               atol=0)
