"""Panels stay where they are while the user steps and switches pass, and grow when a step needs
more lines: nothing is cut, and the screen is laid out again only when it must be."""
from __future__ import annotations

import pytest
from rich.text import Text

from rnntui.tui.app import RnntuiApp
from rnntui.tui.strips import to_strips
from rnntui.tui.widgets.base import TraceView
from rnntui.tui.widgets.details_pane import DetailsPane
from tests.tui.screen import screen_text


def regions(app) -> dict[str, tuple]:
    return {view.id: tuple(view.region) for view in app.query(TraceView)}


# an LSTM cell says more in the forward pass; a vanilla RNN's says more in BPTT
@pytest.mark.parametrize("name", ["lstm-delayed-recall", "vanishing-gradient"])
async def test_switching_pass_keeps_every_panel_in_place(traces, name):
    app = RnntuiApp(traces[name])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("right", "right")
        before, screen = regions(app), app.export_screenshot()
        await pilot.press("b")
        assert app.cursor.phase == "backward"
        assert regions(app) == before
        assert app.export_screenshot() != screen
        await pilot.press("right", "b", "left")
        assert regions(app) == before


async def test_both_passes_fit_in_the_height_a_panel_keeps(traces):
    app = RnntuiApp(traces["gru-delayed-recall"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("right")
        for phase in ("forward", "backward"):
            assert app.cursor.phase == phase
            for view in app.query(TraceView):
                if not view.display:   # a panel this run does not show (a graph model's map)
                    continue
                width = view.size.width
                drawn = to_strips(view.render_view(app.cursor, width), width, view.rich_style, app)
                assert len(drawn) <= view.size.height, (phase, view.id)
            await pilot.press("b")


async def test_a_panel_grows_when_a_step_needs_more_lines(traces, monkeypatch):
    # a details pane whose text has t+1 lines at step t
    monkeypatch.setattr(DetailsPane, "render_view",
                        lambda self, cursor, width: Text("\n".join(f"line {k}" for k in range(cursor.t + 1))))
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=(100, 40)) as pilot:
        details = app.query_one("#details")
        assert details.region.height == 1
        await pilot.press("right", "right", "right")
        assert details.region.height == 4
        await pilot.pause()
        assert "line 3" in screen_text(app) and "line 4" not in screen_text(app)
        # going back keeps the height (no relayout, the last lines are blank), and never cuts a line
        await pilot.press("left")
        assert details.region.height == 4
