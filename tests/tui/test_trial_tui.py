"""Findings of the new-user trial in the TUI's dialogs and files: a saved iteration opens at itself, the
expression dialog points into what the user typed, `W` writes a scenario that runs where it is written."""
from __future__ import annotations

import rnntui
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

SIZE = (120, 40)


async def test_a_trace_exported_at_an_iteration_opens_at_that_iteration(traces, tmp_path):
    from rnntui.engine.train import with_record_of

    training = traces["training-exploding-clipped"]
    N = training.iterations
    path = tmp_path / "it5.npz"
    with_record_of(training, 5).save(path)
    app = RnntuiApp(rnntui.load_trace(path))
    async with app.run_test(size=SIZE) as pilot:
        assert app.iteration == 5 and f"training: iteration 5 of 0..{N - 1}" in screen_text(app)
        assert float(app.run_state.trace.whole["loss"]) == float(training["train.loss"][5])
        await pilot.press("full_stop")
        assert app.iteration == 5
        assert "keeps the record of iteration 5 only" in list(app._notifications)[-1].message
