"""Work too long for a key runs in a worker, never on the UI thread: the key returns at once (the header
says what is computed), the other keys still answer, the value arrives, and Esc cancels it. Each slow
computation is held on a gate here, so "at once" is not a matter of the machine's speed."""
from __future__ import annotations

import threading

import numpy as np

import rnntui
from rnntui.tui.app import RnntuiApp
from rnntui.tui.widgets.header_bar import HeaderBar
from rnntui.tui.widgets.watch_pane import WatchPane

SIZE = (120, 40)
KEY = "diag.model.0.l0.fwd.jacnorm"


def _panel(app) -> str:
    """The watch pane's text as it draws it (never computing what it waits for), unwrapped."""
    import io

    from rich.console import Console

    from rnntui.render.watches import watch_panel

    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(watch_panel(
        app.run_state.trace, app.cursor, app.debugging, 200, defer=app.query_one(WatchPane).waiting_words))
    return out.getvalue()


def _busy(app) -> str:
    return app.query_one(HeaderBar).busy


# long enough that no view computes its Jacobian norms by itself (the verdict leaves them out above 4M)
LONG = ("name: long\ninput: {generate: {kind: noise, length: 1100, features: 4}}\n"
        "model:\n  - {type: lstm, hidden_size: 64}\n  - {type: dense, units: 1}\nloss: {kind: sum}\n")


def _long(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(LONG)
    return rnntui.run(path)


def _gated_jacnorm(trace, gate: threading.Event, started: threading.Event) -> None:
    """The trace's Jacobian norms wait for *gate* before they are computed."""
    real = trace._derived[KEY]

    def slow():
        started.set()
        gate.wait(20)
        return real()

    trace._derived[KEY] = slow


async def test_a_watch_of_jacnorm_is_computed_in_a_worker_and_arrives(tmp_path):
    trace = _long(tmp_path)
    gate, started = threading.Event(), threading.Event()
    _gated_jacnorm(trace, gate, started)
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", *"max(jacnorm)", "enter")
        assert started.wait(5)  # the worker began; the key came back without waiting for it
        await pilot.pause()
        assert "computing" in _panel(app) and "Esc cancels" in _busy(app)
        assert "Jacobian norms of model.0.l0.fwd" in _busy(app)
        await pilot.press("right", "right")  # the keys still answer
        assert app.cursor.t == 2 and not trace.is_computed(KEY)
        gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        want = float(np.max(trace[KEY][2]))
        assert f"= {want:.4f} at t=2" in _panel(app)
        assert _busy(app) == ""


async def test_esc_cancels_a_watchs_jacnorm_and_nothing_is_kept(tmp_path):
    trace = _long(tmp_path)
    gate, started = threading.Event(), threading.Event()
    _gated_jacnorm(trace, gate, started)
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", *"max(jacnorm)", "enter")
        assert started.wait(5)
        await pilot.press("escape")
        gate.set()  # the computation goes on to its first progress report, and stops there
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "cancelled with Esc" in _panel(app) and _busy(app) == ""
        assert "cancelled: computing the step Jacobian norms" in list(app._notifications)[-1].message
        assert not trace.is_computed(KEY)
        assert KEY in trace  # still derivable: a stopped derivation is not lost
        # the list changed: the watch is computed again
        await pilot.press("w", *"mean(h)", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert trace.is_computed(KEY) and "cancelled" not in _panel(app)


def _training():
    return rnntui.run("training-exploding")


async def test_an_iteration_not_in_the_cache_is_recomputed_in_a_worker(monkeypatch):
    t = _training()
    assert not t.is_cached(0)
    gate = threading.Event()
    real = t._trainer.iteration

    def slow(k):
        gate.wait(20)
        return real(k)

    monkeypatch.setattr(t._trainer, "iteration", slow)
    app = RnntuiApp(t)
    last = t.iterations - 1
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("left_curly_bracket")  # iteration 0: recomputed from its checkpoint
        assert app.iteration == last and "computing iteration 0" in _busy(app)
        t0 = app.cursor.t
        await pilot.press("right")  # the keys still answer, on the iteration shown
        assert app.cursor.t == t0 + 1
        gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.iteration == 0 and _busy(app) == ""
        assert app.run_state.trace.whole is real(0)


async def test_esc_cancels_an_iteration_on_its_way(monkeypatch):
    t = _training()
    gate = threading.Event()
    real = t._trainer.iteration
    monkeypatch.setattr(t._trainer, "iteration", lambda k: (gate.wait(20), real(k))[1])
    app = RnntuiApp(t)
    last = t.iterations - 1
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("left_curly_bracket")
        await pilot.press("escape")
        assert _busy(app) == "" and "cancelled: computing iteration 0" in list(app._notifications)[-1].message
        gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.iteration == last  # nothing moved


async def test_bptts_step_jacobian_norms_are_computed_ahead_so_a_step_key_finds_them(tmp_path, monkeypatch):
    """The cell in BPTT shows the step's ‖dh_t/dh_prev‖ (~10 ms a step at H=256 when the run's whole array is
    not computed): a worker computes the steps around the cursor ahead, the same numbers as the cell's own."""
    from rnntui.engine.diagnostics import jacobian_norm_at
    from rnntui.render.views import recurrent

    trace = _long(tmp_path)
    asked = []
    real = recurrent.jacobian_norm_at
    monkeypatch.setattr(recurrent, "jacobian_norm_at", lambda *a: asked.append(a[2]) or real(*a))
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()
        place = app.cursor.place(app.info)
        asked.clear()
        await pilot.press("b", "home")  # BPTT's first step t=T-1: far from t=1, computed ahead once there
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()
        t0 = app.cursor.t
        asked.clear()
        await pilot.press("right", "right", "right")  # BPTT's order: t0-1, t0-2, t0-3
        assert app.cursor.t == t0 - 3
        assert asked == []  # each step's norms were there: none computed on a key
        for t in range(t0 - 3, t0 + 1):
            shown = recurrent.step_jacobian_norms(app.run_state.trace, place, t)
            assert np.array_equal(shown, jacobian_norm_at(trace, place, t))
        assert not trace.is_computed(KEY)  # step by step, never the whole array
