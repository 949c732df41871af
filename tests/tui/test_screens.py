"""Properties of the screen itself (the SVG snapshots are in tests/snapshots)."""
from __future__ import annotations

import numpy as np
import pytest

import rnntui
from rnntui.render.cursor import Cursor
from rnntui.render.views import states
from rnntui.tui.app import RnntuiApp
from tests.colors_ref import shade


async def test_right_then_left_gives_back_the_same_screen(traces):
    app = RnntuiApp(traces["bilstm-apple"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("right", "right")
        await pilot.pause()
        before = app.export_screenshot()
        await pilot.press("right")
        await pilot.pause()
        middle = app.export_screenshot()
        await pilot.press("left")
        await pilot.pause()
        after = app.export_screenshot()
    assert before == after
    assert middle != before


def test_backward_direction_shows_states_in_reading_order(traces):
    trace = traces["bilstm-apple"]
    h = trace["model.0.l0.bwd.h"][:, 0]
    text = states(trace, Cursor(place_index=1, t=3), width=60, height=40).renderables
    bwd = next(t for t in text if "h bwd" in t.plain)
    assert "h bwd (reads t=8 first)" in bwd.plain  # the long title does not fit in 60 columns
    lines = bwd.plain.splitlines()
    scale = float(np.abs(h[:, :8]).max())
    for u in range(8):
        row = next(line for line in lines if line[1:5].strip() == str(u))
        cells = row[6:6 + h.shape[0]]
        expected = "".join(shade(float(v), scale) for v in h[:, u]).replace(" ", "·")
        assert cells == expected, f"unit {u}: column t must show the state at index t"


async def test_resizes_keep_every_key_and_give_back_the_same_screen(traces):
    """Keys pressed between resizes (down to 20x8) all act, and back at 80x24 the screen is the one an
    app that stayed at 80x24 shows after the same keys: a resize changes nothing but the drawing."""
    from tests.tui.screen import screen_text

    keys, sizes = ("right", "b", "right_square_bracket"), [(80, 24), (40, 12), (20, 8), (160, 50), (80, 24)]
    app = RnntuiApp(traces["stacked-lstm"])
    async with app.run_test(size=(100, 30)) as pilot:
        for size in sizes:
            await pilot.resize_terminal(*size)
            await pilot.press(*keys)
            await pilot.pause()
            assert tuple(app.size) == size
        resized, cursor, text = app.export_screenshot(), app.cursor, screen_text(app)
    steady = RnntuiApp(traces["stacked-lstm"])
    async with steady.run_test(size=(80, 24)) as pilot:
        await pilot.press(*keys * len(sizes))
        await pilot.pause()
        assert steady.cursor == cursor
        assert screen_text(steady) == text
        assert steady.export_screenshot() == resized
    # five times: one step on, the other pass, the next place (stacked-lstm has three: it stays on the last)
    assert len(app.info.places) == 3 and (cursor.phase, cursor.place_index) == ("backward", 2)


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"COLORTERM": "", "TERM": "xterm-256color"}])
def test_runs_in_other_colour_modes(tmp_path, env):
    """The real command under tmux-like conditions: starts, paints, quits on q."""
    import os
    import subprocess
    import sys

    code = (
        "import asyncio, rnntui\nfrom rnntui.tui.app import RnntuiApp\n"
        "async def main():\n"
        "    app = RnntuiApp(rnntui.run('lstm-delayed-recall'))\n"
        "    async with app.run_test(size=(80, 24)) as pilot:\n"
        "        await pilot.press('right', 'b', 'right')\n"
        "        svg = app.export_screenshot()\n"
        "        print('forget gate' in svg.replace('&#160;', ' ') or 'dL/dh' in svg)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


@pytest.mark.parametrize("name,keys", [("bilstm-apple", ["right", "b", "right", "d"]),
                                       ("cnn-digit", ["right"] * 5 + ["down", "right_square_bracket"])])
async def test_saved_trace_reopens_with_the_same_screen(tmp_path, name, keys, monkeypatch, traces):
    live = traces[name]
    live.save(tmp_path / "t.npz")

    # reopening must not run the engine: patched where the engine looks it up, and checked that
    # running a scenario does reach the patch (else the check below could not fail)
    import rnntui.engine.network as engine_network

    class EngineRan(Exception):
        pass

    def engine(*args, **kwargs):
        raise EngineRan

    monkeypatch.setattr(engine_network, "run_network", engine)
    with pytest.raises(EngineRan):
        rnntui.run(name)
    saved = rnntui.load_trace(tmp_path / "t.npz")
    screens = []
    for trace in (live, saved):
        app = RnntuiApp(trace)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press(*keys)
            await pilot.pause()
            screens.append(app.export_screenshot())
    assert screens[0] == screens[1]
