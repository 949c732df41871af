"""`run A --compare B` of two training runs: A and B stay together through every iteration move (, . < > { }
j and continue), and the training pane draws both runs' curves."""
from __future__ import annotations

import numpy as np

from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

SIZE = (120, 40)


async def test_b_moves_with_a_through_every_iteration_key(traces):
    a, b = traces["training-exploding"], traces["training-exploding-clipped"]
    loss_b = np.asarray(b["train.loss"], dtype=float)
    app = RnntuiApp(a, other=b)
    async with app.run_test(size=SIZE) as pilot:
        for keys, k in ((("left_curly_bracket",), 0), (("full_stop",), 1), (("greater_than_sign",), 11),
                        (("comma",), 10), (("right_curly_bracket",), 199)):
            await pilot.press(*keys)
            await pilot.pause()
            assert app.iteration == k
            run = app.run_state
            assert run.other is not None and run.labels == ("A", "B")  # the compare panel's run B is there
            assert float(run.other["loss"]) == loss_b[k]                 # and it is B's own iteration k
            np.testing.assert_equal(float(run.trace["loss"]), float(np.asarray(a["train.loss"])[k]))  # nan at 199
            assert app.query_one("#compare").display
            text = screen_text(app)
            assert "A Training: exploding gradients, unclipped" in text
            assert "A vs B at model.0 rnn l0 fwd, t=0, sample 0" in text
            assert "A loss " in text and "B loss " in text and "A ‖g‖ " in text and "B ‖g‖ " in text


async def test_continue_into_another_iteration_keeps_b(traces, monkeypatch):
    a, b = traces["training-exploding"], traces["training-exploding-clipped"]
    app = RnntuiApp(a, other=b)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("left_curly_bracket")
        app._continue_in_iterations(1)  # on into later iterations: wherever it stops, B is beside A
        await pilot.pause()
        k = app.iteration
        assert k > 0 and app.run_state.other is not None
        assert float(app.run_state.other["loss"]) == float(np.asarray(b["train.loss"])[k])
