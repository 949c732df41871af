"""Keys over a training run's iterations, pressed, and the screen and notice that result: `j`/`J` land
where a run of iteration events begins and say how far it goes; `c`/`C` continue across iterations in
either direction, name the key pressed, and a stop on an event of the other pass switches to it; `e`
names the iteration in the file; the expressions' `iteration` is the iteration shown; the training
pane draws every iteration with the loss's range and a legend for the gradient picture."""
from __future__ import annotations

import numpy as np

import rnntui
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text
from tests.tui.test_watches import _panel

SIZE = (120, 40)


def _notice(app) -> str:
    return list(app._notifications)[-1].message


async def test_j_lands_where_a_run_of_iteration_events_begins_and_says_how_far_it_goes(traces):
    """training-exploding: ‖dL/dh_0‖ stays above 1e6 for a long run of iterations; `j` once went one
    iteration at a time through it (158 presses to the overflow). Now two."""
    t = traces["training-exploding"]
    at0 = t["train.bptt.model.0.l0.fwd"][:, 0]
    above = np.isfinite(at0) & (at0 > 1e6)
    first = int(np.argmax(above))
    last = first + int(np.argmin(above[first:])) - 1
    bad = int(t["train.nonfinite.iteration"])
    from rnntui.render.training import iteration_events

    starts = sorted({e.iteration for e in iteration_events(t)})
    app = RnntuiApp(t)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("left_curly_bracket")
        landed = []
        while app.iteration < first:   # big updates and loss rises begin earlier: j stops at each run's start
            await pilot.press("j")
            landed.append(app.iteration)
        assert landed == [k for k in starts if 0 < k <= first]
        assert f"rises above 1e+06 at iteration {first}" in _notice(app)
        assert f"stays above through iteration {last}" in _notice(app)
        while app.iteration < bad:
            await pilot.press("j")
        assert app.iteration == bad and f"values stop being finite at iteration {bad}" in _notice(app)
        await pilot.press("j")
        assert app.iteration == bad and _notice(app) == f"j: no run of iteration events begins after iteration {bad}"
        await pilot.press("less_than_sign", "J")   # from inside the run: back to where it begins
        assert app.iteration == first


async def test_j_and_J_between_runs_of_clipping(traces):
    t = traces["training-exploding-clipped"]
    clipped = t["train.clipped"]
    starts = [k for k in range(len(clipped)) if clipped[k] and (k == 0 or not clipped[k - 1])]
    from rnntui.render.training import iteration_events

    every = sorted({e.iteration for e in iteration_events(t)})   # big updates begin in between
    app = RnntuiApp(t)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("left_curly_bracket")
        while app.iteration < starts[1]:
            await pilot.press("j")
            assert app.iteration in every
        assert app.iteration == starts[1]
        assert "clipping acted at iteration" in _notice(app)
        await pilot.press("j", "J")
        assert app.iteration == starts[1]


async def test_C_names_itself_and_searches_the_earlier_iterations(traces):
    """training-lstm-memory from iteration 0: `c`, `c` land at iteration 67, t=5. `C` once said "c searches
    the next ones", and at iteration 17 did not say it had searched 0..16."""
    app = RnntuiApp(traces["training-lstm-memory"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("left_curly_bracket", "c")
        assert _notice(app) == "c: nothing in iterations 1..50; c again searches the later ones"
        await pilot.press("c")
        assert (app.iteration, app.cursor.t) == (67, 5)
        await pilot.press("C")
        assert app.iteration == 17
        assert _notice(app) == "C: nothing in iterations 17..66; C again searches the earlier ones"
        await pilot.press("C")
        assert app.iteration == 17
        assert _notice(app).startswith("C: no breakpoint holds and no event begins before iteration 17, t=5")
        assert _notice(app).endswith("(searched back through iteration 0)")


async def test_C_lands_on_the_last_stop_of_an_earlier_iteration_beyond_one_keys_reach(tmp_path):
    """A breakpoint that holds in iteration 5 only (the expressions' `iteration` is the iteration shown),
    at t = 3 and 7: from iteration 60, `C` searches 59..10, says so, and the next `C` lands on iteration
    5 at the last such step in this pass's order (the forward pass: t=7)."""
    from rnntui.scenario.bundled import bundled

    p = tmp_path / "gru.yaml"
    p.write_text(bundled()["training-gru-memory"].read_text()
                 + "events: {vanishing: 1.0e-300, saturated: 1.0, exploding: 1.0e+300}\n")
    app = RnntuiApp(rnntui.run(p))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("left_curly_bracket", *["greater_than_sign"] * 6)
        assert app.iteration == 60
        await pilot.press("a", *"iteration == 5 and (t == 3 or t == 7)", "enter", "C")
        assert app.iteration == 10 and _notice(app) == "C: nothing in iterations 10..59; C again searches the earlier ones"
        await pilot.press("C")
        assert (app.iteration, app.cursor.t, app.cursor.phase) == (5, 7, "forward")
        assert "iteration 5, t=7: breakpoint iteration == 5 and (t == 3 or t == 7)" in _notice(app)
        await pilot.press("C")
        assert (app.iteration, app.cursor.t) == (5, 3)
        await pilot.press("c")
        assert (app.iteration, app.cursor.t) == (5, 7)


async def test_a_stop_on_an_event_of_the_other_pass_switches_to_it_and_says_so(traces):
    """training-lstm-memory at iteration 299, forward pass, t=0: `C` stops at iteration 298, t=22, where
    a vanishing-gradient run begins in BPTT's order. The forward pass's event row would show its `S` and
    hide why: the cursor goes to BPTT, as `n` does, and the notice says which pass the event is in."""
    app = RnntuiApp(traces["training-lstm-memory"])
    async with app.run_test(size=SIZE) as pilot:
        assert (app.iteration, app.cursor.phase, app.cursor.t) == (299, "forward", 0)
        await pilot.press("C")
        assert (app.iteration, app.cursor.t, app.cursor.phase) == (298, 22, "backward")
        assert _notice(app).startswith("iteration 298, t=22: ||dL/dh|| = ")
        assert "(an event of BPTT (the backward pass): switched to that pass)" in _notice(app)
        assert "backward pass (BPTT)" in screen_text(app)


async def test_e_names_the_iteration_so_exports_of_two_iterations_are_two_files(traces, tmp_path):
    app = RnntuiApp(traces["training-lstm-memory"], export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e", "left_curly_bracket", "e")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["training-lstm-memory-iteration0-forward-t0.svg", "training-lstm-memory-iteration299-forward-t0.svg"]
    assert "iteration&#160;0,&#160;forward&#160;t=0" in (tmp_path / names[0]).read_text()   # the title


async def test_the_watch_iteration_is_the_iteration_shown(traces):
    app = RnntuiApp(traces["training-gru-memory"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", *"iteration + 0", "enter")
        assert "= 299.00 at t=0" in _panel(app)
        await pilot.press("less_than_sign")
        assert "= 289.00 at t=0" in _panel(app)


async def test_the_pane_draws_every_iteration_with_the_loss_range_and_a_legend(traces):
    t = traces["training-lstm-memory"]
    loss = t["train.loss"]
    app = RnntuiApp(t)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
    assert f"└ 0: {loss[0]:.4f}" in text and f"299: {loss[-1]:.2e} ┘" in text
    assert f"min {loss.min():.2e} at {int(loss.argmin())}" in text and "3 iterations a column" in text
    assert "· no gradient (zero)" in text and "! not finite" in text
