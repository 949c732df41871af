"""TUI crashes of issue 28: Enter then Escape in a dialog, watches that look like markup from a saved
trace, option lists in tiny terminals."""
from __future__ import annotations

import pytest
from textual import events

from rnntui.tui.app import RnntuiApp
from rnntui.tui.screens import DebugListScreen, ExpressionScreen, GotoScreen, WhatIfScreen
from tests.tui.screen import screen_text


@pytest.mark.parametrize("keys", [("g", "3"), ("w", "h"), ("a", "t", ">", "2")])
async def test_enter_then_escape_closes_the_dialog_once(traces, keys):
    app = RnntuiApp(traces["bptt"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*keys)
        assert isinstance(app.screen, (GotoScreen, ExpressionScreen))
        dialog = app.screen
        # Enter then Escape typed quickly: the Escape's binding runs before the pop that Enter started is done
        await pilot.press("enter")  # noqa: the pop is scheduled, not awaited, by the dialog's own handler
        dialog.action_cancel()
        await pilot.pause()
        assert app.is_running and len(app.screen_stack) == 1
        await pilot.press("right")
        assert app.is_running and len(app.screen_stack) == 1
