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


def flat(lines) -> str:
    return " ".join(" ".join(lines).split())


async def tab_through(app, pilot, verdict_words: str) -> list[str]:
    """Press Tab until every panel has been brought into view; each time, the panel's first line is on the
    screen below the header and above the footer, and the gradient panel's verdict with it. The ids seen."""
    panels = app._panels()
    seen = [panels[0].id]
    for panel in panels[1:] + panels[:1]:
        await pilot.press("tab")
        await pilot.pause()
        lines = screen_lines(app)
        first = panel._strips(panel.size.width)[0].text.strip()
        assert any(first in ln for ln in lines[3:-1]), (panel.id, first)
        if panel.id == "gradients":
            assert verdict_words in flat(lines)
        seen.append(panel.id)
    return seen


async def test_every_panel_is_brought_into_view_by_tab_at_80x24(traces):
    """At 80x24 everything under the header scrolls and most panels are below the fold: Tab brings each
    into view, its first line on screen; the gradient panel leads with the verdict. Shift+Tab goes back."""
    trace = traces["lstm-delayed-recall"]
    sentence = words_of(verdict(trace, trace.info.places[0]).sentence)
    app = RnntuiApp(trace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert sentence not in flat(screen_lines(app))  # below the fold at first
        seen = await tab_through(app, pilot, sentence)
        assert seen[:-1] == ["timeline", "cell", "states", "gradients", "details"] and seen[-1] == "timeline"
        await pilot.press("shift+tab", "shift+tab")  # back past details to the gradients
        await pilot.pause()
        assert sentence in flat(screen_lines(app))


async def test_at_80x24_a_training_run_compared_leaves_every_panel_reachable(traces):
    """Two training runs compared: the training and compare panes take the whole of a 24-line screen; Tab
    still brings every panel, the middle's included, into view with its first line."""
    a, b = traces["training-exploding"], traces["training-exploding-clipped"]
    app = RnntuiApp(a, other=b)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("left_curly_bracket")  # iteration 0: finite, with a verdict
        await pilot.pause()
        shown = app.run_state.trace.whole  # iteration 0's record
        sentence = words_of(verdict(shown, shown.info.places[0]).sentence)
        seen = await tab_through(app, pilot, sentence)
        assert {"timeline", "training", "compare", "cell", "states", "gradients", "details"} <= set(seen)


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
        assert app._panel == 0  # the debugger's panels did not move
