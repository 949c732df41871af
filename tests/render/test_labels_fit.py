"""Labels are never cut: every row a view lays out (the cell panel's unit rows, the heatmaps' titles, the
timeline's rows and notes) fits the width it is drawn at, over the bundled models, every place, both passes,
at the widths of an 80-column and a 120-column terminal; and the RNN's `a pre-activation` is whole on screen."""
from __future__ import annotations

import pytest
from rich.console import Group

from rnntui.render.cursor import Cursor
from rnntui.render.parts import for_place
from rnntui.render.segments import Cells
from rnntui.render.timeline import timeline
from rnntui.render.views import view_for
from rnntui.scenario.bundled import bundled
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

# (cell and states panels, timeline) as the app lays them out at 100, 120, 80 and 160 columns (the narrowest
# panel is at 100: two columns begin there)
WIDTHS = ((56, 98), (68, 118), (76, 78), (94, 158))


def laid_out_rows(renderable):
    """The rows of every Cells inside *renderable* (Groups opened), as plain text."""
    if isinstance(renderable, Cells):
        yield from renderable.plain.splitlines()
    elif isinstance(renderable, Group):
        for r in renderable.renderables:
            yield from laid_out_rows(r)


@pytest.mark.parametrize("name", sorted(n for n in bundled() if not n.startswith("training-")))
def test_no_laid_out_row_is_wider_than_its_panel(traces, name):
    trace = traces[name]
    info = trace.info
    for k, place in enumerate(info.places):
        view = view_for(info, place)
        t = view.length(info, place) - 1
        for phase in ("forward", "backward"):
            c = Cursor(phase=phase, place_index=k, t=t)
            here = for_place(trace, place)
            for w, tw in WIDTHS:
                panels = [(view.cell(here, c, w), w), (view.states(here, c, w, 12), w), (timeline(trace, c, {}, tw), tw)]
                for p, most in panels:
                    for row in laid_out_rows(p):
                        assert len(row.rstrip()) <= most, (place, phase, most, row)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_rnn_pre_activation_label_is_whole(traces, size):
    app = RnntuiApp(traces["rnn-sine"])
    async with app.run_test(size=size):
        text = screen_text(app)
    assert " a pre-activation " in text


def test_a_heatmap_title_that_does_not_fit_says_it_shorter(traces):
    trace = traces["bilstm-lengths"]  # sample 0 has 4 of 6 steps: its backward direction starts at t=3
    info = trace.info
    k = next(k for k, p in enumerate(info.places) if p.entry == 1 and p.direction == "bwd")
    view = view_for(info, info.places[k])
    c = Cursor(place_index=k, t=3)
    wide = "\n".join(laid_out_rows(view.states(trace, c, 158, 12)))
    narrow = "\n".join(laid_out_rows(view.states(trace, c, 68, 12)))
    assert "▸ h bwd (reads from this sample's end: t=3 first) t 0..5" in wide
    assert "▸ h bwd (reads t=3 first) t 0..5" in narrow and "reads from" not in narrow
