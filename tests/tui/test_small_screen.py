"""What a student sees on a small terminal (80x24) and a common one (120x40): the prediction with its target
and ✓/✗ whole in the header, Help and Quit in the footer, and every panel of the middle brought into view by
keyboard (Tab) with the line it leads with, the gradient panel's verdict, on screen."""
from __future__ import annotations

import numpy as np
import pytest

from rnntui.render.analysis import verdict
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_lines


def expected_prediction(trace, sample: int) -> str:
    """The end of the header's first line, from the output and the target directly: the top class and ✓/✗."""
    p = np.asarray(trace["output"], dtype=float)[sample]
    names = list(trace.info.class_names or [str(k) for k in range(p.size)])
    target = int(np.asarray(trace["meta.target"])[sample])
    best = int(np.argmax(p))
    return f"target {names[target]} {'✓' if best == target else '✗'}"


def words_of(sentence: str, n: int = 6) -> str:
    return " ".join(sentence.split()[:n])


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_header_keeps_the_prediction_and_footer_keeps_help_and_quit(traces, size):
    trace = traces["lstm-delayed-recall"]  # many-to-one, a batch of 4
    app = RnntuiApp(trace)
    async with app.run_test(size=size) as pilot:
        for sample in range(2):
            await pilot.pause()
            lines = screen_lines(app)
            assert lines[0].endswith(expected_prediction(trace, sample)), lines[0]
            assert len(lines[0]) <= size[0]
            await pilot.press("s")
        footer = lines[-1]
        for key in ("? Help", "q Quit", "tab Panel", "b Fwd/BPTT"):
            assert key in footer, footer


async def test_header_at_80_columns_keeps_a_token_models_target(traces):
    trace = traces["bilstm-apple"]  # many-to-many over words, class names
    app = RnntuiApp(trace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("right", "right")
        top = screen_lines(app)[0]
        p = np.asarray(trace["output"], dtype=float)[2, 0]
        target = int(np.asarray(trace["meta.target"])[2, 0])
        names = list(trace.info.class_names)
        assert top.endswith(f"target {names[target]} {'✓' if int(np.argmax(p)) == target else '✗'}"), top
        assert "predicted at t=2: " in top


async def test_every_panel_is_brought_into_view_by_tab_at_80x24(traces):
    """At 80x24 the panels stack below the timeline and most are below the fold: Tab brings each into view,
    its first line on screen; the gradient panel leads with the verdict. Shift+Tab goes back."""
    trace = traces["lstm-delayed-recall"]
    place = trace.info.places[0]
    sentence = verdict(trace, place).sentence
    app = RnntuiApp(trace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert words_of(sentence) not in " ".join(screen_lines(app))  # below the fold at first
        panels = app._panels()
        assert [p.id for p in panels] == ["cell", "states", "gradients", "details"]
        seen = []
        for panel in panels:
            await pilot.press("tab")
            await pilot.pause()
            lines = screen_lines(app)
            first = panel._strips(panel.size.width)[0].text.strip()
            assert any(first in ln for ln in lines[3:-1]), (panel.id, first)  # below the header, above the footer
            seen.append(panel.id)
            if panel.id == "gradients":
                screen = " ".join(" ".join(lines).split())
                assert words_of(sentence) in screen
        assert seen == ["cell", "states", "gradients", "details"]
        await pilot.press("shift+tab")
        await pilot.pause()
        assert words_of(sentence) in " ".join(" ".join(screen_lines(app)).split())


async def test_at_120x40_the_verdict_is_on_the_first_screen(traces):
    trace = traces["lstm-delayed-recall"]
    sentence = verdict(trace, trace.info.places[0]).sentence
    app = RnntuiApp(trace)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert words_of(sentence) in " ".join(" ".join(screen_lines(app)).split())


async def test_tab_in_a_dialog_still_moves_between_its_fields(traces):
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w")  # the watch dialog: an input
        await pilot.pause()
        await pilot.press("tab")
        assert app.screen is not app.screen_stack[0]
        assert getattr(app, "_panel", -1) == -1  # the debugger's panels did not move
