"""Sequences of different lengths in the TUI: the sample's length in the header, padding drawn as
padding, a step past a sample's end refused with words, the backward direction starting at the
sample's own last step, and where a many-to-one output's final states came from."""
from __future__ import annotations

from pathlib import Path

import rnntui
from rnntui.render.views import view_for
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

DATA = Path(__file__).parent.parent / "data"
SIZE = (120, 40)


async def test_a_short_sample_stops_at_its_end_and_shows_its_padding():
    trace = rnntui.run(DATA / "packed-bilstm.yaml")
    assert trace.info.lengths == (3, 1, 2)
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        assert "sample 0 of 3 (length 3 of 3)" in screen_text(app)
        await pilot.press("end", "s")  # sample 1 has one step: the cursor moves back to it
        assert (app.cursor.sample, app.cursor.t) == (1, 0)
        text = screen_text(app)
        assert "sample 1 of 3 (length 1 of 3)" in text
        assert "sample 1 has 1 step: t=1..2 are padding (╌)" in text
        assert "▶   0 █╌╌" in text or "╌╌" in text.split("h fwd")[1].splitlines()[2]
        await pilot.press("right")
        assert app.cursor.t == 0
        assert "sample 1 ends at t=0 (length 1); t=1..2 are padding" in list(app._notifications)[-1].message


async def test_the_backward_direction_starts_at_each_samples_own_end():
    app = RnntuiApp(rnntui.run(DATA / "packed-bilstm.yaml"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "home")
        assert app.cursor.place(app.info).direction == "bwd" and app.cursor.t == 2
        await pilot.press("s", "s", "home")  # sample 2: length 2
        assert app.cursor.t == 1
        assert "h bwd (reads t=1 first)" in screen_text(app)  # the short title: the long one does not fit
        await pilot.press("b", "home")  # its BPTT starts at step 0 and ends at its last step
        assert app.cursor.t == 0
        await pilot.press("end")
        assert app.cursor.t == 1


async def test_bptt_of_a_short_sample_starts_at_its_last_step():
    app = RnntuiApp(rnntui.run(DATA / "packed-bilstm.yaml"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "s", "b", "home")
        assert app.cursor.t == 1
        assert "BPTT starts here: only the output at this step contributes (sample 2's last step: length 2)" \
            in _panel(app, "cell")


async def test_many_to_one_says_which_step_each_final_state_came_from():
    app = RnntuiApp(rnntui.run(DATA / "packed-bigru-many-to-one.yaml"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        assert ("many-to-one output of model.0, sample 1: fwd h at t=0 (its own last step of 3) and bwd h at t=0 "
                "merged by concat") in _panel(app, "details")


def _panel(app, which: str) -> str:
    """The text of one panel of the view the cursor is at, unwrapped (the screen wraps it in columns)."""
    import io

    from rich.console import Console

    c = app.cursor
    view = view_for(app.info, c.place(app.info))
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None)
    trace = app.run_state.trace
    console.print(view.cell(trace, c, 120) if which == "cell" else view.details(trace, c))
    return out.getvalue()


async def test_n_never_lands_on_the_open_samples_padding(tmp_path):
    """Events are measured over the batch; at a step past the open sample's end `n` shows a sample whose
    own steps reach it (the one with the largest ‖dL/dh_t‖ there for a gradient event) and says so."""
    import numpy as np

    text = (DATA / "packed-bilstm.yaml").read_text() + "events: {exploding: 1e-12}\n"
    (tmp_path / "s.yaml").write_text(text)
    trace = rnntui.run(tmp_path / "s.yaml")
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")   # sample 1 (one step); the batch's gradient events run from t=2 down
        assert (app.cursor.sample, app.cursor.phase, app.cursor.t) == (1, "forward", 0)
        await pilot.press("n")
        t = app.cursor.t
        assert app.cursor.phase == "backward" and t >= 1 and app.cursor.sample != 1
        g = np.linalg.norm(np.asarray(trace["grad.model.0.l0.fwd.h"][t], dtype=float), axis=1)
        real = [b for b, n in enumerate(trace.info.lengths) if t < n]
        assert app.cursor.sample == max(real, key=lambda b: g[b])
        said = list(app._notifications)[-1].message
        assert said.startswith(f"sample 1 ends before t={t}: showing sample {app.cursor.sample}")
