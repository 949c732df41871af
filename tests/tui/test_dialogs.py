"""Dialogs own the keys; text from the user's files and folders is shown, never interpreted or
drawn whole; a crash ends `rnntui run` with a non-zero status."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
from typer.testing import CliRunner

from rnntui.cli import app as cli
from rnntui.engine.trace import Trace
from rnntui.tui.app import RnntuiApp
from rnntui.tui.screens import GotoScreen, HelpScreen
from rnntui.tui.state import open_run
from rnntui.tui.widgets.base import TraceView
from tests.tui.screen import screen_lines, screen_text


def with_arrays(trace, **changed) -> Trace:
    """A copy of *trace* with some arrays replaced (what a crafted .npz would hold)."""
    arrays = {k: trace[k] for k in trace}
    arrays.update(changed)
    return Trace(arrays, trace.info)


def last_binding_row() -> str:
    b = RnntuiApp.BINDINGS[-1]
    return f"{b.key}            {b.description}"


async def test_help_owns_the_keys_and_scrolls_to_the_last_binding(traces):
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("right", "question_mark")
        before = app.cursor
        help_scroll = app.screen.query_one("#help")
        assert isinstance(app.screen, HelpScreen) and help_scroll.scroll_y == 0
        assert help_scroll.max_scroll_y > 0  # at 120x36 the key list does not fit
        assert not any(last_binding_row() in line for line in screen_lines(app))
        await pilot.press("right", "left", "up", "b", "space", "s", "n", "d", "right_square_bracket")
        assert app.cursor == before and not app.playing  # nothing moved behind the help
        await pilot.press("down")
        assert help_scroll.scroll_y == 1
        for _ in range(10):  # a page at a time, to the end of the key list
            await pilot.press("pagedown")
            await pilot.pause()
            if help_scroll.scroll_y == help_scroll.max_scroll_y:
                break
        assert help_scroll.scroll_y == help_scroll.max_scroll_y
        assert any(last_binding_row() in line for line in screen_lines(app))
        assert app.cursor == before
        await pilot.press("escape")
        assert len(app.screen_stack) == 1
        await pilot.press("right")
        assert app.cursor.t == before.t + 1  # and the keys come back to the debugger


async def test_export_into_a_folder_whose_name_looks_like_markup(traces, tmp_path):
    folder = tmp_path / "x[" / "]y[b]"  # the path holds "[/]" and "[b]"
    folder.mkdir(parents=True)
    app = RnntuiApp(traces["bptt"], export_dir=folder)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("right", "e")
        await pilot.pause()
        assert app.is_running
        assert "x[/]y[b]" in screen_text(app)  # the toast says where, as written
    assert [f.name for f in folder.iterdir()] == ["bptt-forward-t1.svg"]


async def test_an_event_key_that_looks_like_markup(traces):
    live = traces["gru-delayed-recall"]  # a scenario without events of its own
    key = "model.0.l0.fwd.h[/][bold red]"
    crafted = with_arrays(live, **{"diag.nonfinite.keys": np.array([key]),
                                   "diag.nonfinite.key_first_step": np.array([3])})
    app = RnntuiApp(crafted)
    assert [ev.t for ev in app.run_state.events] == [3]
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and app.cursor.t == 3
        assert f"{key} is not finite from step 3" in screen_text(app)


def run_cli_with_keys(monkeypatch, keys: list[str]):
    """`rnntui run bptt` in this process, headless, with *keys* pressed by Textual's auto pilot."""
    real_run = RnntuiApp.run

    async def press(pilot):
        await pilot.press(*keys)

    monkeypatch.setattr(RnntuiApp, "run", lambda self, **kw: real_run(self, headless=True, size=(100, 30),
                                                                       auto_pilot=press))
    return CliRunner().invoke(cli, ["run", "bptt"])


def test_quit_exits_zero(monkeypatch):
    assert run_cli_with_keys(monkeypatch, ["right", "q"]).exit_code == 0


def test_a_crash_exits_non_zero(monkeypatch):
    def crash(self):
        raise RuntimeError("a bug in an action")

    monkeypatch.setattr(RnntuiApp, "action_export", crash)
    assert run_cli_with_keys(monkeypatch, ["right", "e"]).exit_code == 1


GOTO_40_DIGITS = """
import asyncio, rnntui
from rnntui.tui.app import RnntuiApp

async def main():
    app = RnntuiApp(rnntui.run("bptt"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("g", *("9" * 40), "x")
        typed = app.screen.query_one("#goto-input").value
        await pilot.press("enter")
        refused = len(app.screen_stack) == 2
        await pilot.press("escape", "b")
        print(typed == "9" * 40, refused, len(app.screen_stack), app.cursor.phase)

asyncio.run(main())
"""


def test_goto_answers_at_once_after_40_digits_and_a_letter():
    """Textual's integer input checked its value with a backtracking pattern: 40 digits and a
    letter took the app's core for good. In a child process, so a regression fails by timeout
    instead of hanging the suite."""
    out = subprocess.run([sys.executable, "-c", GOTO_40_DIGITS], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "1", "backward"]


async def test_goto_takes_digits_only(traces):
    app = RnntuiApp(traces["bptt"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("g", "1", "x", "-", "1", "enter")
        assert not isinstance(app.screen, GotoScreen) and app.cursor.t == 11


def help_scroll_lines(app) -> int:
    return app.screen.query_one("#help").virtual_size.height


async def test_huge_user_text_is_cut_and_the_keys_stay_quick(traces):
    live = traces["bilstm-apple"]
    name, description = "N" * 5_000_000, "word [/] " * 500_000
    tokens = np.array(["T" * 100_000 + str(t) for t in range(live.info.T)])
    crafted = Trace({**{k: live[k] for k in live}, "tokens": tokens},
                    replace(live.info, name=name, description=description))
    app = RnntuiApp(crafted)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("right", "b", "d", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "NNN…" in text and "word [/] word" in text
        # a cut description: a few screens, not 4.5 MB of text (the keys take ~200 lines with their owners' headings)
        assert help_scroll_lines(app) < 220
        await pilot.press("escape", "left")
        assert app.is_running and app.cursor.phase == "backward"
    shown = app.run_state.trace
    assert len(shown.info.name) <= 120 and len(shown.info.description) <= 2000
    assert max(len(t) for t in shown["tokens"]) <= 16
    assert crafted.info.name == name and crafted["tokens"][0] == tokens[0]  # the trace keeps them whole


async def test_swapping_the_open_run_redraws_every_panel(traces):
    first, second = traces["gru-delayed-recall"], traces["bilstm-apple"]
    fresh = RnntuiApp(second)
    async with fresh.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        expected = {view.id: [view.render_line(y).text for y in range(view.size.height)]
                    for view in fresh.query(TraceView)}
    app = RnntuiApp(first)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("right", "right", "b", "down")
        before = {view.id: [view.render_line(y).text for y in range(view.size.height)]
                  for view in app.query(TraceView)}
        app.run_state = open_run(second)
        await pilot.pause()
        after = {view.id: [view.render_line(y).text for y in range(view.size.height)]
                 for view in app.query(TraceView)}
        assert app.cursor == app.run_state.start()
        for view_id, lines in after.items():
            if not lines and not before[view_id]:
                continue  # a panel with nothing to show in either run (no --compare, no watches)
            assert lines != before[view_id], view_id
        # the details pane is compared on the screen (next test): right after the swap its own lines are
        # still wrapped for the old run's scroll column
        assert {k: v for k, v in after.items() if k != "details"} == \
            {k: v for k, v in expected.items() if k != "details"}
        await pilot.press("right", "d")  # and the keys work in the new run
        assert app.cursor.t == 1 and app.run_state.places[app.cursor.place_index].direction == "bwd"


async def test_a_swapped_run_looks_exactly_like_a_fresh_start(traces):
    first, second = traces["gru-delayed-recall"], traces["bilstm-apple"]
    fresh = RnntuiApp(second)
    async with fresh.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        expected_screen = screen_text(fresh)
    app = RnntuiApp(first)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("right", "right", "b", "down")
        app.run_state = open_run(second)
        await pilot.pause()
        assert screen_text(app) == expected_screen
