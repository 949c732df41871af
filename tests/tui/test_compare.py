"""`--compare`: two runs stepped in lockstep; the compare panel shows A, B and A - B at the cursor and
says what cannot be compared."""
from __future__ import annotations

import numpy as np

import rnntui
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

SIZE = (120, 40)


async def test_compare_panel_follows_the_cursor_and_shows_the_difference():
    a, b = rnntui.run("lstm-delayed-recall"), rnntui.run("gru-delayed-recall")
    app = RnntuiApp(a, other=b)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "right")
        text = screen_text(app)
        assert "A LSTM gates on delayed recall" in text and "B GRU gates on delayed recall" in text
        assert "A vs B at model.0 lstm l0 fwd, t=3, sample 0" in text
        assert "only in A: c, gates.i, gates.f, gates.g, gates.o" in text
        ha, hb = a["model.0.l0.fwd.h"][3, 0], b["model.0.l0.fwd.h"][3, 0]
        # an LSTM's h and a GRU's are not the same quantity: their sizes, not their difference
        assert f"‖A‖ {np.linalg.norm(ha):.4f}  ‖B‖ {np.linalg.norm(hb):.4f}" in text and "‖A-B‖" not in text
        assert "their h are not the same quantity" in text
        await pilot.press("b")
        text = screen_text(app)
        ga, gb = a["grad.model.0.l0.fwd.h"][3, 0], b["grad.model.0.l0.fwd.h"][3, 0]
        assert "dL/dh" in text and f"‖B‖ {np.linalg.norm(gb):.2e}" in text
        await pilot.press("right_square_bracket")  # the dense head: its output (the same two classes) compared
        text = screen_text(app)
        oa, ob = a["grad.model.1.out"][0], b["grad.model.1.out"][0]
        assert "A vs B at model.1 dense" in text and f"‖A-B‖ {np.linalg.norm(oa - ob):.4f}" in text


async def test_a_place_only_one_run_has_is_said(tmp_path):
    a, b = rnntui.run("stacked-lstm"), rnntui.run("lstm-delayed-recall")
    app = RnntuiApp(a, other=b)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket")
        assert "B has no model.0 lstm l1 fwd: nothing to compare here" in screen_text(app)
