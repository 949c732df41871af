"""The first screen comes first: the vanishing/exploding verdict's one-term gradient (a lean backward pass,
`diag.*.term_gradnorm`) is measured in a worker after the first paint of a run where it costs more than a few
ms; meanwhile the gradient panel says it is measuring, the keys answer, and then the verdict shows the
engine's own numbers. The measuring is held on a gate here, so "before" is not a matter of the machine's speed."""
from __future__ import annotations

import threading

import rnntui
from rnntui.render.analysis import VERDICT_AT_ONCE, verdict_cost, verdicts
from rnntui.render.views.recurrent import MEASURING
from rnntui.tui.app import RnntuiApp
from rnntui.tui.widgets.gradient_plot import GradientPlot
from tests.tui.screen import screen_text

SIZE = (120, 40)
# two directions (each its own lean pass) and two samples (each its own verdict); over VERDICT_AT_ONCE
LONG = ("name: long\ninput: {generate: {kind: noise, length: 500, features: 4, batch: 2}}\n"
        "model:\n  - {type: lstm, hidden_size: 48, bidirectional: true}\n  - {type: dense, units: 1}\n"
        "loss: {kind: sum}\n")


def _run(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(LONG)
    return rnntui.run(path)


def _panel(app) -> str:
    """The gradient panel's lines as they are on screen, joined: the verdict unwrapped."""
    return " ".join(" ".join(s.text.split()) for s in app.query_one(GradientPlot)._frame or [])


def _gate(trace, gate: threading.Event, started: threading.Event, threads: list) -> list[str]:
    """Every one-term gradient of *trace* waits for *gate* (at most 5 s) before it is computed, noting the thread."""
    keys = [k for k in trace if k.endswith(".term_gradnorm")]
    for key in keys:
        real = trace._derived[key]

        def slow(real=real):
            threads.append(threading.current_thread())
            started.set()
            gate.wait(5)
            return real()

        trace._derived[key] = slow
    return keys


async def test_the_first_screen_comes_before_the_verdicts_measuring_which_then_shows_the_engines_numbers(tmp_path):
    trace = _run(tmp_path)
    assert verdict_cost(trace) > VERDICT_AT_ONCE
    gate, started, threads = threading.Event(), threading.Event(), []
    keys = _gate(trace, gate, started, threads)
    assert len(keys) == 2
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert started.wait(5)  # the worker began, after the first paint: the screen is up without it
        await pilot.pause()
        assert threads and all(t is not threading.main_thread() for t in threads)
        assert not any(trace.is_computed(k) for k in keys)
        text = screen_text(app)
        assert "LSTM l0 fwd · t=0" in text and "forward pass" in text   # the first screen, whole
        assert " ".join(MEASURING.split()) in _panel(app)
        await pilot.press("right", "right", "escape")   # the keys answer; Esc leaves the verdict's measuring be
        assert app.cursor.t == 2
        gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert all(trace.is_computed(k) for k in keys)
        panel = _panel(app)
        assert "measuring" not in panel
        # the engine's own verdict, from a run of its own measured at once (no TUI, no worker)
        fresh = _run(tmp_path)
        place = app.cursor.place(app.info)
        want = verdicts(fresh, place)
        assert want.of(0).kind in ("vanishing", "exploding", "healthy")
        assert f"sample 0: {want.of(0).sentence}" in panel
        assert f"batch: {want.summary}" in panel
        await pilot.press("s", "d")   # the other sample, the other direction: its own numbers, no measuring
        await pilot.pause()
        place = app.cursor.place(app.info)
        assert place.direction == "bwd"
        assert f"sample 1: {verdicts(fresh, place).of(1).sentence}" in _panel(app)


async def test_a_small_run_shows_its_verdict_in_the_first_screen(tmp_path):
    """Below VERDICT_AT_ONCE the measuring costs a few ms: it is done before the first paint, so the first screen
    (and every snapshot) has the verdict, never the measuring line."""
    trace = rnntui.run("bilstm-apple")
    assert 0 < verdict_cost(trace) <= VERDICT_AT_ONCE
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        place = app.cursor.place(app.info)
        assert verdicts(rnntui.run("bilstm-apple"), place).of(0).sentence in _panel(app)
        assert "measuring" not in _panel(app)
