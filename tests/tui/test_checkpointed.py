"""The debugger on a checkpointed trace (engine/checkpoint.py): every screen is the whole recording's, while no
array of every step is ever read whole (the memory limit set to nothing: such a read would raise)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rnntui.engine import checkpoint
from rnntui.engine.scenario_run import run_scenario
from rnntui.scenario.loader import load_scenario
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_lines, screens_after

SIZE = (120, 40)


@pytest.fixture
def traces(monkeypatch):
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", 64)
    rng = np.random.default_rng(3)
    doc = {"version": 1, "name": "long", "mode": "many-to-many",
           "input": {"batch": rng.normal(size=(2, 300, 3)).round(3).tolist(), "lengths": [300, 170]},
           "model": [{"type": "lstm", "hidden_size": 6, "num_layers": 2}, {"type": "dense", "units": 3}],
           "loss": {"kind": "cross_entropy", "target": rng.integers(0, 3, (2, 300)).tolist()},
           "weights": {"init": "uniform", "low": -0.9, "high": 0.9}}
    sc = load_scenario("long.yaml", json.dumps(doc))
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    ck.limit = 0   # any whole read of a recomputed array now raises NotInMemory
    return full, ck


KEYS = [[], ["end"], ["right"] * 3 + ["b"], ["b", "end", "left"], ["n"], ["n", "n", "N"], ["s", "b", "pageup"],
        ["right_square_bracket", "b", "home"], ["g", "1", "5", "0", "enter", "down", "down"],
        ["right_square_bracket", "right_square_bracket", "right", "b"]]


@pytest.mark.parametrize("keys", KEYS, ids=["open"] + ["-".join(k[:4]) for k in KEYS[1:]])
async def test_every_screen_is_the_whole_recordings(traces, keys):
    full, ck = traces
    shots = []
    for trace in (full, ck):
        shot, cursor = await screens_after(trace, keys, SIZE)
        shots.append(shot)
    assert cursor.t != 0 or not keys or keys == ["b", "end", "left"]
    assert shots[0] == shots[1]
    assert ck.segments.cache.capacity >= 2


async def test_help_says_how_the_run_was_recorded(traces):
    full, ck = traces
    from textual.widgets import Static

    for trace, words in ((full, "recorded whole: about"), (ck, "checkpointed: recording it whole would hold about")):
        app = RnntuiApp(trace)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            text = str(app.screen.query_one("#recording", Static).content)
            assert words in text


@pytest.mark.parametrize("keys", [
    ["a", *"norm(dh) > 0.01 and t < 200", "enter", "b", "end", "c"],
    ["a", *"t == 137 or t == 13", "enter", "c", "c"],
    ["w", *"mean(gates.f)", "enter", "a", *"max(c) > 0.4", "enter", "c", "c", "C"],
    ["right_square_bracket", "a", *"t % 70 == 0 or norm(h) < 0.05", "enter", "end", "C", "C"],
], ids=["backward", "steps", "watch-and-forward", "other-place"])
async def test_breakpoints_and_watches_are_evaluated_segment_by_segment(traces, keys):
    """`c` / `C` with breakpoints, and a watch: evaluated a segment at a time in a worker (never a whole array),
    landing where they land on the whole recording, with the same screens."""
    full, ck = traces
    (shot_full, cursor_full), (shot_ck, cursor_ck) = [await screens_after(t, keys, SIZE) for t in (full, ck)]
    shots, cursors = [shot_full, shot_ck], [cursor_full, cursor_ck]
    assert cursors[0] == cursors[1]
    assert shots[0] == shots[1]   # the same landing, watch values and notices (a failed evaluation would show)


def _gated(ck):
    """A gate the debugger's workers wait at before they recompute a segment of *ck* (the UI thread does not)."""
    import threading

    gate = threading.Event()
    segment = ck.segments.segment

    def gated(k, backward=False):
        if threading.current_thread() is not threading.main_thread():
            gate.wait(10) or gate.set()   # a failing test does not wait on every segment
        return segment(k, backward)

    ck.segments.segment = gated
    return gate


async def test_continue_pressed_while_the_breakpoints_are_evaluated_waits_for_them(traces):
    """`c` pressed while the worker still evaluates a breakpoint segment by segment waits for it (the header says
    so) and then lands where the whole recording's `c` lands: the first step where it holds. It jumped to the
    next stop of what was already known (another breakpoint, an event) and passed over every step before."""
    from rnntui.expr import bind

    full, ck = traces
    holds = np.flatnonzero(bind("max(c) > 0.4", full, full.info.places[0]).holds)
    first = int(holds[holds > 0][0])
    assert first < 250            # the cheap breakpoint (it reads no array: known at once) holds later
    gate = _gated(ck)
    app = RnntuiApp(ck)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a", *"t == 250", "enter")
        await pilot.pause()
        await pilot.press("a", *"max(c) > 0.4", "enter", "c")
        await pilot.pause()
        assert app.cursor.t == 0                                   # not on at t=250: waiting
        header = "\n".join(screen_lines(app)[:4])
        assert "c waits for it" in header, header
        gate.set()
        for _ in range(2):
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert app.cursor.t == first
        assert "max(c) > 0.4" in " ".join(str(n.message) for n in app._notifications)


async def test_esc_drops_a_continue_that_waits_for_the_breakpoints(traces):
    full, ck = traces
    gate = _gated(ck)
    app = RnntuiApp(ck)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a", *"max(c) > 0.4", "enter", "c")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        gate.set()
        for _ in range(2):
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert app.cursor.t == 0
        said = " ".join(str(n.message) for n in app._notifications)
        assert "c (waiting for the breakpoints)" in said, said
        assert "c waits for it" not in "\n".join(screen_lines(app)[:4])
        await pilot.press("c")          # searches what is known (the events), and says what it could not
        await pilot.pause()
        await app.workers.wait_for_complete()
        said = str(list(app._notifications)[-1].message)
        assert "not searched: max(c) > 0.4 @model.0.l0.fwd" in said, said
        assert "breakpoint max(c) > 0.4" not in said    # never said to hold where it was not searched


async def test_a_watch_of_a_whole_state_shows_its_value_at_the_cursor(traces):
    """`w h`: a watch whose value at a step is more than one number, on a checkpointed run: its value at the
    cursor's step, read from that step's segment (no sparkline: its values over every step are not held). Once
    the worker had evaluated the watches it said `cannot be computed: index 2 is out of bounds`."""
    full, ck = traces
    app = RnntuiApp(ck)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("right", "right", "w", "h", "enter")
        for _ in range(2):
            await app.workers.wait_for_complete()
            await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "cannot be computed" not in text, text
        h = np.asarray(full["model.0.l0.fwd.h"][2]).reshape(-1)
        panel = " ".join(line.split("│")[-1].strip() for line in screen_lines(app))   # the right column, unwrapped
        assert f"h @model.0.l0.fwd = [{h[0]:.4f}, {h[1]:.4f}, {h[2]:.4f}, {h[3]:.4f}, …] (2, 6) at t=2" in \
            " ".join(panel.split()), panel
