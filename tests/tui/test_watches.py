"""Watches and breakpoints in the TUI: added with keys (checked as typed), listed, turned off, removed;
continue and reverse-continue land where a breakpoint holds; the timeline marks those steps; the
scenario's debug: section opens with them."""
from __future__ import annotations

import numpy as np

import rnntui
from rnntui.tui.app import RnntuiApp
from rnntui.tui.screens import DebugListScreen, ExpressionScreen
from tests.tui.screen import screen_text

SIZE = (120, 40)


async def test_a_watch_shows_its_value_at_the_cursors_step(traces):
    trace = traces["lstm-delayed-recall"]
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", *"mean(gates.f)")
        await pilot.pause()
        assert isinstance(app.screen, ExpressionScreen)
        await pilot.press("enter")
        assert app.debugging.watches == ("mean(gates.f) @model.0.l0.fwd",)
        await pilot.press("right", "right", "right")
        f = trace["model.0.l0.fwd.gates.f"][3]
        assert "mean(gates.f) @model.0.l0.fwd" in screen_text(app)
        assert f"= {f.mean():.4f} at t=3" in _panel(app)


def _panel(app) -> str:
    """The watch panel's text, unwrapped (the screen wraps it in its column)."""
    import io

    from rich.console import Console

    from rnntui.render.watches import watch_panel

    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(
        watch_panel(app.run_state.trace, app.cursor, app.debugging, 200))
    return out.getvalue()


async def test_a_bad_expression_is_explained_as_it_is_typed_and_never_added(traces):
    app = RnntuiApp(traces["gru-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", *"norm(c) <")
        await pilot.pause()
        text = screen_text(app)
        assert "column" in text and "^" in text
        await pilot.press("enter")
        assert isinstance(app.screen, ExpressionScreen)  # refused: the dialog stays
        await pilot.press("ctrl+u", *"mean(h)", "enter")  # a value, not a condition
        assert isinstance(app.screen, ExpressionScreen) and "not a condition" in screen_text(app)
        await pilot.press("escape")
        assert app.debugging.breakpoints == ()


async def test_continue_and_reverse_continue_land_where_a_breakpoint_holds(traces):
    trace = traces["vanishing-gradient"]
    g = np.linalg.norm(trace["grad.model.0.l0.fwd.h"][:, 0], axis=-1)
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", *"norm(dh) < 1e-7", "enter")
        hits = sorted(int(t) for t in np.flatnonzero(g < 1e-7))  # 0.5^(29-t) < 1e-7: t <= 5
        assert hits == list(range(6))
        await pilot.press("b", "home")  # BPTT from t=29 down
        await pilot.press("c")
        assert app.cursor.t == 9  # the built-in vanishing event (below 1e-6) begins first
        await pilot.press("c")
        assert app.cursor.t == 5  # then the breakpoint
        await pilot.press("c")
        assert app.cursor.t == 4
        await pilot.press("C", "C")
        assert app.cursor.t == 9


async def test_the_list_turns_breakpoints_off_and_removes_them(traces):
    trace = traces["vanishing-gradient"]
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", *"norm(h)", "enter", "a", *"norm(h) > 0.5", "enter")
        assert len(app.debugging.watches) == 1 and len(app.debugging.breakpoints) == 1
        await pilot.press("L")
        assert isinstance(app.screen, DebugListScreen)
        await pilot.press("down", "space")  # the breakpoint (second line): off
        await pilot.press("escape")
        assert app.debugging.breakpoints[0].enabled is False
        await pilot.press("end")
        await pilot.press("C")  # the breakpoint is off: only the built-in vanishing event's start, t=9
        assert app.cursor.t == 9
        await pilot.press("L", "x", "escape")  # the watch removed
        assert app.debugging.watches == () and len(app.debugging.breakpoints) == 1


async def test_the_timeline_marks_where_a_breakpoint_holds(traces):
    trace = traces["lstm-delayed-recall"]
    h = trace["model.0.l0.fwd.h"]
    holds = [bool((np.abs(h[t]) < 0.3).all()) for t in range(h.shape[0])]
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", *"abs(h) < 0.3", "enter")
        line = next(ln for ln in screen_text(app).splitlines() if ln.lstrip().startswith("event"))
        marks = line.split()[1:]
        events = app.run_state.marks.get(app.cursor.place(app.info), {})  # a built-in event keeps its mark
        assert any(m == "●" for m in marks)
        assert [m == "●" for m in marks] == [holds[t] and t not in events for t in range(len(marks))]


async def test_the_scenarios_debug_section_opens_with_its_watches_and_breakpoints(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("input: {values: [[1], [0], [0], [0]]}\nmodel: [{type: rnn, hidden_size: 2}]\n"
                 "debug: {watch: [norm(h)], break: ['norm(dh) < 1']}\n")
    app = RnntuiApp(rnntui.run(p))
    async with app.run_test(size=SIZE):
        assert app.debugging.watches == ("norm(h)",)
        assert [b.text for b in app.debugging.breakpoints] == ["norm(dh) < 1"]
        assert "watches (w adds, L lists)" in screen_text(app)


async def test_a_watch_is_edited_from_the_list(traces):
    trace = traces["lstm-delayed-recall"]
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", *"mean(h)", "enter", "L", "enter")
        assert isinstance(app.screen, ExpressionScreen)
        await pilot.press("ctrl+u", *"max(h)", "enter")  # replaced, checked as it is typed
        assert isinstance(app.screen, DebugListScreen)
        await pilot.press("escape")
        assert app.debugging.watches == ("max(h) @model.0.l0.fwd",)
        assert f"= {trace['model.0.l0.fwd.h'][0].max():.4f} at t=0" in _panel(app)
