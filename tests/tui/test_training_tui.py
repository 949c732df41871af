"""Training in the TUI: the training pane (curves, the iterations x steps gradient picture), keys that
move between iterations while the place, pass and step stay, iteration events; the report's training
section and --iteration."""
from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app as cli
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

SIZE = (120, 40)


async def test_iterations_change_the_step_view_and_keep_the_place_pass_and_step(traces):
    training = traces["training-lstm-memory"]
    N = training.iterations
    app = RnntuiApp(training)
    async with app.run_test(size=SIZE) as pilot:
        assert app.iteration == N - 1 and f"training: iteration {N - 1} of 0..{N - 1}" in screen_text(app)
        await pilot.press("right", "right", "right", "b")
        where = (app.cursor.place_index, app.cursor.phase, app.cursor.t)
        await pilot.press("left_curly_bracket", "full_stop", "full_stop", "greater_than_sign", "comma")
        assert app.iteration == 11
        assert (app.cursor.place_index, app.cursor.phase, app.cursor.t) == where
        shown = app.run_state.trace.whole
        assert float(shown["loss"]) == float(training["train.loss"][11])
        np.testing.assert_array_equal(shown["model.0.l0.fwd.gates.f"], training.iteration(11)["model.0.l0.fwd.gates.f"])
        text = screen_text(app)
        assert "training: iteration 11 of" in text and "▶    11" in text
        await pilot.press("right_curly_bracket")
        assert app.iteration == N - 1 and app.run_state.trace.whole is training


async def test_a_run_without_training_has_no_pane_and_says_so(traces):
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        assert "training:" not in screen_text(app)
        await pilot.press("full_stop")
        assert "has no train: section" in list(app._notifications)[-1].message


def test_the_report_has_a_training_section_and_any_iterations_step_report(traces):
    training = traces["training-exploding"]
    result = CliRunner().invoke(cli, ["show", "training-exploding", "--iteration", "3"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert f"Training: {training.iterations} iterations" in text and "Events over iterations" in text
    bad = int(training["train.nonfinite.iteration"])
    assert f"non-finite: values stop being finite at iteration {bad}" in text
    assert f"iteration 3: loss: mse = {float(training['train.loss'][3]):.6g}" in " ".join(text.split())
    refused = CliRunner().invoke(cli, ["show", "rnn-sine", "--iteration", "1"])
    assert refused.exit_code == 2 and "has no train: section" in refused.output


async def test_continue_runs_on_into_later_iterations(tmp_path):
    """A breakpoint that holds nowhere in iteration 0: continue crosses iterations to the first one where
    it holds, landing on the first such step in the current pass's order (BPTT: from t=T-1 down). The
    built-in events stop continue too; thresholds no run reaches keep them out of the way here."""
    from rnntui.scenario.bundled import bundled

    p = tmp_path / "gru.yaml"
    p.write_text(bundled()["training-gru-memory"].read_text()
                 + "events: {vanishing: 1.0e-300, saturated: 1.0, exploding: 1.0e+300}\n")
    training = rnntui.run(p)
    b = training["train.bptt.model.0.l0.fwd"]  # ‖dL/dh_t‖ over the batch, every iteration and step
    thr = float(b[0, 0]) * 100  # the gradient reaching step 0 grows as the GRU learns
    first = next(k for k in range(training.iterations) if b[k, 0] > thr)
    t_first = 0
    assert 0 < first < 50
    app = RnntuiApp(training)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("left_curly_bracket", "b", "home")  # iteration 0, BPTT from t=29
        await pilot.press("a", *f"norm(dh) > {thr!r} and t == 0", "enter")
        await pilot.press("c")
        assert (app.iteration, app.cursor.t, app.cursor.phase) == (first, t_first, "backward")


async def test_a_saved_training_trace_shows_its_curves_and_says_which_iterations_it_keeps(traces, tmp_path):
    training = traces["training-exploding-clipped"]
    path = tmp_path / "t.npz"
    training.save(path)
    saved = rnntui.load_trace(path)
    N = training.iterations
    assert saved.iterations == N and saved.iteration(N - 1) is saved
    np.testing.assert_array_equal(saved["train.loss"], training["train.loss"])
    app = RnntuiApp(saved)
    async with app.run_test(size=SIZE) as pilot:
        assert f"training: iteration {N - 1} of 0..{N - 1}" in screen_text(app)
        await pilot.press("comma")
        assert app.iteration == N - 1   # nothing made up: the record of iteration N - 2 is not in the file
        assert f"keeps the record of iteration {N - 1} only" in list(app._notifications)[-1].message
    shown = CliRunner().invoke(cli, ["show", str(path)])
    assert shown.exit_code == 0 and f"Iteration {N - 1}" in shown.output
    refused = CliRunner().invoke(cli, ["show", str(path), "--iteration", "3"])
    assert refused.exit_code == 2 and "run the scenario" in refused.output and "Traceback" not in refused.output
