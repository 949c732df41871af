"""TUI crashes of issue 28: Enter then Escape in a dialog, watches that look like markup from a saved
trace, option lists in tiny terminals."""
from __future__ import annotations

import pytest
from textual import events

from rnntui.tui.app import RnntuiApp
from rnntui.tui.screens import DebugListScreen, Dialog, ExpressionScreen, GotoScreen, WhatIfScreen
from tests.tui.screen import screen_text


@pytest.mark.parametrize("keys", [("g", "3"), ("w", "h"), ("a", "t", ">", "2"), ("p", "W"), ("o", "l")])
async def test_enter_then_escape_closes_the_dialog_once(traces, keys):
    app = RnntuiApp(traces["bptt"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*keys)
        assert isinstance(app.screen, Dialog)   # every dialog, those added beside the fix too (weight, seed)
        dialog = app.screen
        # Enter then Escape typed quickly: the Escape's binding runs before the pop that Enter started is done
        await pilot.press("enter")  # noqa: the pop is scheduled, not awaited, by the dialog's own handler
        dialog.action_cancel()
        await pilot.pause()
        assert app.is_running and len(app.screen_stack) == 1
        await pilot.press("right")
        assert app.is_running and len(app.screen_stack) == 1


def _with_debug(trace, watches=(), breakpoints=()):
    from dataclasses import replace

    from rnntui.engine.trace import Trace

    info = replace(trace.info, watch=tuple(watches), breakpoints=tuple(breakpoints))
    return Trace({k: trace[k] for k in trace}, info)


async def test_watches_that_look_like_markup_are_listed_as_typed(traces):
    trace = _with_debug(traces["bptt"], watches=("h[0]", "h[/]", "mean(h) [bold red]x"), breakpoints=("t > 2 [/b]",))
    app = RnntuiApp(trace)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("L")
        assert isinstance(app.screen, DebugListScreen)
        text = screen_text(app)
        assert "watch  h[0]" in text and "watch  h[/]" in text and "watch  mean(h) [bold red]x" in text
        assert "break ● t > 2 [/b]" in text


def test_a_saved_trace_with_a_watch_that_is_no_expression_is_one_line(traces, tmp_path):
    import json

    import numpy as np
    from typer.testing import CliRunner

    from rnntui.cli import app as cli

    arrays = {k: np.asarray(v) for k, v in ((k, traces["bptt"][k]) for k in traces["bptt"])}
    layout = json.loads(str(arrays["meta.layout"]))
    layout["watch"] = ["mean(h)", "mean(h) [/]"]
    arrays["meta.layout"] = np.asarray(json.dumps(layout))
    path = tmp_path / "t.npz"
    np.savez(path, **arrays)
    result = CliRunner().invoke(cli, ["show", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "meta.layout.watch[1]" in lines[0] and str(path) in lines[0], lines


@pytest.mark.parametrize("size", [(10, 4), (1, 1), (3, 2)])
async def test_option_lists_page_in_a_tiny_terminal(traces, size):
    trace = _with_debug(traces["bptt"], watches=tuple(f"mean(h) + {k}" for k in range(12)), breakpoints=("t > 2",))
    app = RnntuiApp(trace)
    async with app.run_test(size=size) as pilot:
        await pilot.press("L")
        assert isinstance(app.screen, DebugListScreen)
        await pilot.press("pagedown", "pagedown", "end", "pageup", "home", "down", "up", "pageup", "pagedown")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, DebugListScreen)
        await pilot.press("escape")
        assert app.is_running and len(app.screen_stack) == 1


@pytest.mark.parametrize("size", [(10, 4), (1, 1)])
@pytest.mark.parametrize("opener", ["question_mark", "g", "w", "a", "W"])
async def test_every_dialog_opens_and_pages_in_a_tiny_terminal(traces, size, opener):
    app = RnntuiApp(traces["bptt"])
    async with app.run_test(size=size) as pilot:
        await pilot.press(opener)
        await pilot.press("pagedown", "pageup", "down", "end", "home")
        await pilot.pause()
        assert app.is_running
        await pilot.press("escape")
        assert app.is_running and len(app.screen_stack) == 1


async def test_w_never_replaces_an_earlier_what_if_file(traces, tmp_path):
    import rnntui
    from rnntui.tui.screens import WhatIfScreen

    earlier = tmp_path / "lstm-delayed-recall-whatif.yaml"
    earlier.write_text("# the user's own\n")
    (tmp_path / "lstm-delayed-recall-whatif-2.yaml").write_text("# and another\n")
    app = RnntuiApp(traces["lstm-delayed-recall"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.press("right", "right", "right", "down", "down", "i")
        assert isinstance(app.screen, WhatIfScreen)
        await pilot.press(*"gates.f = 1.5", "enter")
        await pilot.press("W")
        await pilot.press("W")
    assert earlier.read_text() == "# the user's own\n"
    assert (tmp_path / "lstm-delayed-recall-whatif-2.yaml").read_text() == "# and another\n"
    third, fourth = tmp_path / "lstm-delayed-recall-whatif-3.yaml", tmp_path / "lstm-delayed-recall-whatif-4.yaml"
    assert "interventions:" in third.read_text() and third.read_text() == fourth.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["lstm-delayed-recall-whatif.yaml"] + [f"lstm-delayed-recall-whatif-{k}.yaml" for k in (2, 3, 4)])
    messages = [n.message for n in app._notifications]
    assert any(str(third) in m for m in messages)
    np_loss = rnntui.run(third)["loss"]
    assert float(np_loss) != float(traces["lstm-delayed-recall"]["loss"])
