"""Every action of the debugger, driven by keys through Pilot, asserting the app's state."""
from __future__ import annotations

import numpy as np
import pytest

import rnntui
from rnntui.tui.app import RnntuiApp

SIZE = (100, 30)


async def test_steps_forward_and_back(traces):
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        assert app.cursor.t == 0 and app.cursor.phase == "forward"
        await pilot.press("right", "right", "l")
        assert app.cursor.t == 3
        await pilot.press("left", "h")
        assert app.cursor.t == 1
        await pilot.press("end")
        assert app.cursor.t == 24
        await pilot.press("right")  # clamped at the last step
        assert app.cursor.t == 24
        assert app.check_action("step", (1,)) is None  # dimmed
        await pilot.press("home")
        assert app.cursor.t == 0
        assert app.check_action("step", (-1,)) is None
        await pilot.press("pagedown")
        assert app.cursor.t == 10
        await pilot.press("pageup")
        assert app.cursor.t == 0


async def test_backward_pass_runs_from_last_step(traces):
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        assert app.cursor.phase == "backward"
        await pilot.press("home")
        assert app.cursor.t == 24  # BPTT starts at T-1
        await pilot.press("right")
        assert app.cursor.t == 23  # and walks down
        await pilot.press("end")
        assert app.cursor.t == 0
        await pilot.press("b")
        assert app.cursor.phase == "forward" and app.cursor.t == 0


async def test_entries_directions_units_samples(traces):
    app = RnntuiApp(traces["stacked-lstm"])
    ps = app.info.places
    async with app.run_test(size=SIZE) as pilot:
        assert app.check_action("place", (-1,)) is None
        await pilot.press("right_square_bracket")
        assert ps[app.cursor.place_index].layer == 1
        await pilot.press("right_square_bracket")
        assert ps[app.cursor.place_index].entry == 1  # the dense head
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.cursor.place_index == 0
        assert app.check_action("direction", ()) is False  # no entry has two directions: d is hidden
        await pilot.press("down", "down")
        assert app.cursor.unit == 2
        await pilot.press("up")
        assert app.cursor.unit == 1
        assert app.check_action("sample", ()) is None  # batch of one

    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "s")
        assert app.cursor.sample == 2
        await pilot.press("s", "s")
        assert app.cursor.sample == 0
        for _ in range(10):
            await pilot.press("down")
        assert app.cursor.unit == 5  # hidden_size 6


async def test_direction_switch_reverses_step_order(traces):
    app = RnntuiApp(traces["bilstm-apple"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        assert app.info.places[app.cursor.place_index].direction == "bwd"
        await pilot.press("home")
        assert app.cursor.t == 8  # the backward direction reads from the end
        await pilot.press("right")
        assert app.cursor.t == 7
        await pilot.press("b", "home")
        assert app.cursor.t == 0  # its BPTT runs from t=0 upwards
        await pilot.press("d")
        assert app.info.places[app.cursor.place_index].direction == "fwd"


async def test_goto(traces):
    app = RnntuiApp(traces["bptt"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        await pilot.press("7", "enter")
        assert app.cursor.t == 7
        await pilot.press("g", "9", "9", "enter")  # out of range: refused, screen stays
        assert app.cursor.t == 7
        await pilot.press("escape")
        assert app.cursor.t == 7 and len(app.screen_stack) == 1


async def test_play_steps_until_the_end(traces):
    app = RnntuiApp(traces["bptt"])
    last = app.info.T - 1
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        assert app.playing
        await pilot.pause(0.5)
        assert app.cursor.t >= 1
        await pilot.press("space")
        assert not app.playing
        t = app.cursor.t
        await pilot.pause(0.4)
        assert app.cursor.t == t
        # from three steps before the end, play reaches the last step and stops there by itself
        await pilot.press("end", "left", "left", "left")
        assert app.cursor.t == last - 3
        await pilot.press("space")   # on a loaded machine a step may already have been played here
        assert app.playing and last - 3 <= app.cursor.t <= last
        for _ in range(40):  # a step every 0.2 s: up to 4 s for the three
            await pilot.pause(0.1)
            if not app.playing:
                break
        assert app.cursor.t == last and not app.playing
        await pilot.pause(0.3)
        assert app.cursor.t == last


async def test_events_jump_and_switch_phase(traces):
    trace = traces["vanishing-gradient"]
    app = RnntuiApp(trace)
    g = trace["diag.model.0.l0.fwd.gradnorm"]
    small = sorted(int(t) for t in np.flatnonzero(g < 1e-6))
    assert small == list(range(10))  # 0.5^(29-t) < 1e-6 for t <= 9
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("end")
        await pilot.press("N")  # previous event from t=29 in forward order: t=9
        assert app.cursor.t == 9 and app.cursor.phase == "backward"
        # t=9..0 is one run of vanishing gradients met in BPTT order: n skips the rest of it
        assert app.check_action("event", (1,)) is None
        await pilot.press("n")
        assert app.cursor.t == 9


async def test_next_event_skips_a_run_of_consecutive_steps(traces):
    trace = traces["tanh-saturation"]
    app = RnntuiApp(trace)
    share = trace["diag.model.0.l0.fwd.sat.h"]
    # two runs of saturated steps: 0..6 (the cursor opens inside it) and 8..39
    assert [int(t) for t in np.flatnonzero(share >= 0.5)] == list(range(0, 7)) + list(range(8, 40))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert app.cursor.t == 8
        toast = list(app._notifications)[-1].message
        assert "at step 8" in toast and "and 31 steps on, to step 39" in toast
        await pilot.press("n")  # the rest of the run is skipped: no event after it
        assert app.cursor.t == 8
        await pilot.press("end", "N")  # backwards: where the run begins, not its last step
        assert app.cursor.t == 8


async def test_one_to_one_has_nothing_to_step(traces):
    app = RnntuiApp(traces["one-to-one"])
    async with app.run_test(size=SIZE) as pilot:
        assert app.check_action("step", (1,)) is None
        assert app.check_action("play", ()) is None
        await pilot.press("right")
        assert app.cursor.t == 0


async def test_help_lists_every_binding_and_equations(traces):
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        import io

        from rich.console import Console
        from textual.widgets import Static

        out = io.StringIO()
        console = Console(file=out, width=400, color_system=None)  # no tooltip wraps in its column
        for widget in app.screen.query(Static):
            console.print(widget.content)
        text = out.getvalue()
        from textual.actions import parse

        for b in RnntuiApp.BINDINGS:  # every key that acts here; those hidden here are not offered
            hidden = app.check_action(*parse(b.action)[1:]) is False
            assert (b.description in text and b.tooltip in text) != hidden, b
        assert "Fwd/BPTT" in text and "Fwd/Backprop" not in text
        assert "The other direction of a bidirectional entry" not in text
        assert "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t" in text
        await pilot.press("escape")
        assert len(app.screen_stack) == 1


async def test_export_writes_the_current_view(traces, tmp_path):
    app = RnntuiApp(traces["bptt"], export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "e")
        await pilot.pause()
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == ["bptt-forward-t2.svg"]
    assert files[0].read_text().startswith("<svg") and "Backpropagation" in files[0].read_text()


async def test_quit(traces):
    app = RnntuiApp(traces["bptt"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
    assert app.return_code == 0


async def test_feature_map_positions_and_channels(traces):
    trace = traces["cnn-digit"]
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        assert app.cursor.t == 0
        await pilot.press("end")
        assert app.cursor.t == 12 * 12 - 1  # conv output positions, row by row
        await pilot.press("home", "right", "pagedown")
        assert app.cursor.t == 11
        for _ in range(10):
            await pilot.press("down")
        assert app.cursor.unit == 7  # 8 channels
        await pilot.press("right_square_bracket")  # the max pool: 8 x 6 x 6
        assert app.cursor.t == 0 and app.cursor.unit == 0
        await pilot.press("end")
        assert app.cursor.t == 35
        for _ in range(4):
            await pilot.press("right_square_bracket")
        assert app.info.entries[app.info.places[app.cursor.place_index].entry].type == "dense"
        assert app.check_action("step", (1,)) is None  # one vector per image


async def test_receptive_field_explanation_line_is_an_honest_sum():
    import io

    from rich.console import Console

    from rnntui.render.views import cell_panel
    from rnntui.render.cursor import Cursor

    trace = rnntui.run("sobel-edges")
    pre = trace["model.0.out"][0, 0]
    y, x = np.unravel_index(np.argmax(np.abs(pre)), pre.shape)
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(cell_panel(trace, Cursor(t=int(y * 14 + x)), 100))
    text = out.getvalue()
    assert f"position ({y}, {x})" in text
    # the explanation line itself (the title prints the value too): bias + Σ w×x = the output, with
    # the sum taken here from the weights and the padded input window
    line = next(ln.strip() for ln in text.splitlines() if ln.strip().startswith("value = bias"))
    image = np.pad(np.asarray(trace["input"][0, 0], dtype=float), 1)
    products = np.asarray(trace["param.0.weight"][0, 0], dtype=float) * image[y:y + 3, x:x + 3]
    bias = float(trace["param.0.bias"][0])
    assert line == f"value = bias {bias:.4f} + Σ w×x {products.sum():.4f} = {pre[y, x]:.4f}"
    assert abs(bias + products.sum() - pre[y, x]) < 1e-9


async def test_receptive_field_on_screen_matches_the_output(traces):
    """The nine products and their sum the cell panel shows at an output position, against the
    Sobel kernel times the zero-padded input patch computed here."""
    trace = traces["sobel-edges"]
    image = np.pad(trace["input"][0, 0], 1)  # padding 1: the patch of output (y, x) is image[y:y+3, x:x+3]
    kernel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)  # channel 0, set by hand in the scenario
    expected = np.array([[(image[y:y + 3, x:x + 3] * kernel).sum() for x in range(14)] for y in range(14)])
    y, x = (int(v) for v in np.unravel_index(np.argmax(np.abs(expected)), expected.shape))
    products = image[y:y + 3, x:x + 3] * kernel
    assert np.count_nonzero(products) >= 4  # a position where the products say something
    app = RnntuiApp(trace)
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.press("g", *str(y * 14 + x), "enter")
        await pilot.pause()
        cell = app.query_one("#cell")
        text = "\n".join(cell.render_line(k).text for k in range(cell.size.height))
    assert f"position ({y}, {x})" in text
    shown = text[text.index("w×x"):]
    for p in products.ravel():
        assert f"{p:.4f}" in shown
    assert f"Σ {products.sum():.4f}" in shown
    assert f"= {expected[y, x]:.4f}" in shown


async def test_collector_threshold_is_raised_while_running_and_given_back(traces):
    import gc

    from rnntui.tui.app import GC_THRESHOLD

    before = gc.get_threshold()
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right")
        assert gc.get_threshold() == GC_THRESHOLD
    assert gc.get_threshold() == before


async def test_one_blas_thread_while_running_and_the_count_given_back(traces):
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    if not blas_threads():
        pytest.skip("threadpoolctl finds no BLAS under NumPy here")
    with threadpool_limits(2, user_api="blas"):   # the caller's own limit, whatever ran before in this process
        app = RnntuiApp(traces["lstm-delayed-recall"])
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("b", "right")
            assert blas_threads() == {1}
        assert blas_threads() == {2}


def test_timeline_marks_the_events_of_the_current_place(traces):
    from rnntui.render.analysis import event_marks, events
    from rnntui.render.cursor import Cursor
    from rnntui.render.timeline import EVENT_MARKS, timeline

    trace = traces["vanishing-gradient"]
    found = events(trace)
    place = trace.info.places[0]
    steps = {ev.t for ev in found if ev.place == place}
    assert steps, "the scenario is chosen for its vanishing-gradient events"
    rows = timeline(trace, Cursor(t=0), event_marks(found), width=400).plain.splitlines()
    marks = rows[[r.startswith("event") for r in rows].index(True)][len("event "):]
    cells = [marks[k * 7: k * 7 + 6].strip() for k in range(trace.info.T)]
    expected = {t: EVENT_MARKS[next(ev.kind for ev in found if ev.place == place and ev.t == t)][0] for t in steps}
    assert cells == [expected.get(t, "·") for t in range(trace.info.T)]
