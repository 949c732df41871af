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


async def test_the_expression_dialog_points_into_what_was_typed(traces):
    """`w`, `mean(gates.f) +`: the expression ends after the '+', at column 16 of what was typed; the
    `@place` the dialog pins a kept watch with is nobody's typing, so it is never 'found'."""
    from rnntui.tui.screens import ExpressionScreen

    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", *"mean(gates.f) +")
        await pilot.pause()
        assert isinstance(app.screen, ExpressionScreen)
        shown = str(app.screen.query_one("#expression-error").content)
        assert shown == "mean(gates.f) +\n               ^\ncolumn 16: the expression ends here; expected a value " \
                        "(a number, a name, a function call or '(')"
        assert "@" not in shown
        await pilot.press("ctrl+u", *"mean(gates.q)")
        await pilot.pause()
        assert "column 6: found gates.q" in screen_text(app)
        await pilot.press("ctrl+u", *"mean(gates.f)", "enter")
        assert app.debugging.watches == ("mean(gates.f) @model.0.l0.fwd",)
