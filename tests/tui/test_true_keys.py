"""Keys and prompts that say only what is true where the cursor is (issue 19): the footer names `b` as
the place's own backward pass and hides `d` where no entry has two directions; `?` prints the equations
of the direction under the cursor; the what-if prompt suggests only names the place has."""
from __future__ import annotations

import re

import numpy as np
import pytest
from textual.widgets import Input, Static

from rnntui.tui.app import RnntuiApp
from rnntui.tui.screens import HelpScreen, WhatIfScreen
from tests.tui.screen import screen_lines, screen_text

SIZE = (160, 40)


def footer(app) -> str:
    return screen_lines(app)[-1]


async def test_a_cnn_footer_offers_backprop_and_no_direction(traces):
    app = RnntuiApp(traces["cnn-digit"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        keys = footer(app)
        assert "b Fwd/Backprop" in keys and "BPTT" not in keys and "d Dir" not in keys, keys
        await pilot.press("b")
        assert app.cursor.phase == "backward"
        assert "backward pass" in screen_text(app) and "BPTT" not in screen_text(app)
        await pilot.press("left_square_bracket")  # the dense head of a CNN: no steps in time either
        assert app.cursor.place(app.info).layer is None and "Fwd/Backprop" in footer(app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = screen_text(app)
        assert "Fwd/Backprop" in shown and "Fwd/BPTT" not in shown
        assert "The other direction of a bidirectional entry" not in shown


@pytest.mark.parametrize("name,direction", [("lstm-delayed-recall", False), ("bilstm-apple", True)])
async def test_a_recurrent_footer_offers_bptt_and_direction_only_with_two(traces, name, direction):
    app = RnntuiApp(traces[name])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        keys = footer(app)
        assert "b Fwd/BPTT" in keys and "Backprop" not in keys
        assert ("d Dir" in keys) == direction, keys
        before = app.cursor.place_index
        await pilot.press("d")
        assert (app.cursor.place_index != before) == direction


async def test_help_on_the_backward_direction_prints_its_own_equations(traces):
    app = RnntuiApp(traces["bilstm-apple"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        fwd = screen_text(app)
        assert "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t" in fwd and "c_{t+1} + i_t" not in fwd
        await pilot.press("escape", "d", "question_mark")
        assert app.cursor.place(app.info).direction == "bwd"
        bwd = screen_text(app)
        assert "model.0 lstm l0 bwd" in bwd
        assert "c_t = f_t ⊙ c_{t+1} + i_t ⊙ g_t" in bwd and "c_{t-1} + i_t" not in bwd
        assert "backward direction: runs from t = T-1 down to 0" in bwd


@pytest.mark.parametrize("name", ["lstm-delayed-recall", "gru-delayed-recall", "bptt"])
async def test_every_what_if_example_is_one_the_place_takes(traces, name):
    trace = traces[name]
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "i")
        assert isinstance(app.screen, WhatIfScreen)
        prompt = str(app.screen.query(Static).first().content)
        examples = re.findall(r"`([^`]+)`", prompt)
        assert len(examples) == 3, prompt
        names = trace.info.entries[0].family.settable(trace.info.entries[0])
        for example in examples:
            assert example.split("[")[0].split("=")[0].strip() in names, (example, names)
            box = app.screen.query_one("#whatif-input", Input)
            box.value = ""
            await pilot.press(*example)
            assert str(app.screen.query_one("#whatif-error", Static).content) == "", example
        await pilot.press("enter")  # the last example (every unit, this step) is applied
        assert app.run_state.other is not None
        state = trace.info.entries[0].family.states[-1]
        assert np.all(app.run_state.trace.whole[f"model.0.l0.fwd.{state}"][2] == 0)
