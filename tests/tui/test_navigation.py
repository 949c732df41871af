"""Sample navigation (S, g with s/u/t), muting kinds of built-in event (m), and continue honouring a
breakpoint pinned to another place: keys pressed, the cursor and the screen asserted."""
from __future__ import annotations

import re
import textwrap

import numpy as np

import rnntui
from rnntui.tui.app import RnntuiApp
from rnntui.tui.mute import MuteScreen
from rnntui.tui.screens import GotoScreen
from tests.tui.screen import screen_text

SIZE = (120, 40)

WIDE = textwrap.dedent("""\
    version: 1
    name: wide rnn
    seed: 3
    input:
      generate: {kind: noise, length: 12, features: 2, batch: 3}
    model:
      - {type: rnn, hidden_size: 64}
      - {type: dense, units: 1}
    loss: {kind: sum}
    """)


def last_notice(app) -> str:
    return list(app._notifications)[-1].message


async def test_S_goes_to_the_previous_sample_and_wraps(traces):
    app = RnntuiApp(traces["lstm-delayed-recall"])
    B = app.info.B
    assert B == 4
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("S")
        assert app.cursor.sample == B - 1
        assert f"sample {B - 1} of {B}" in screen_text(app)
        await pilot.press("S", "S")
        assert app.cursor.sample == B - 3
        await pilot.press("s")
        assert app.cursor.sample == B - 2


async def test_g_goes_to_a_unit_a_sample_and_a_step_in_one_answer(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text(WIDE)
    app = RnntuiApp(rnntui.run(path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", *"u 45", "enter")
        assert app.cursor.unit == 45 and app.cursor.t == 0 and len(app.screen_stack) == 1
        assert "unit 45" in screen_text(app)  # the cell panel's title names the selected unit
        await pilot.press("g", *"s2 t7 u3", "enter")
        assert (app.cursor.sample, app.cursor.t, app.cursor.unit) == (2, 7, 3)
        await pilot.press("g", *"u 64", "enter")  # out of range: refused, said, the dialog stays
        assert isinstance(app.screen, GotoScreen)
        assert "expected a unit from 0 to 63" in screen_text(app)
        await pilot.press("escape")
        assert app.cursor.unit == 3
        await pilot.press("g", *"s 3", "enter")
        assert isinstance(app.screen, GotoScreen) and "expected a sample from 0 to 2" in screen_text(app)
        await pilot.press("escape", "g", *"t 3 t 4", "enter")
        assert "t is given twice" in screen_text(app)


async def test_g_checks_a_step_against_the_sample_it_goes_to(traces):
    trace = traces["bilstm-lengths"]
    lengths = trace.info.lengths
    short = int(np.argmin(lengths))
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket", "g", *f"s {short} t {lengths[short]}", "enter")
        assert isinstance(app.screen, GotoScreen)
        assert f"expected a step from 0 to {lengths[short] - 1} (sample {short}'s steps)" in screen_text(app)
        await pilot.press("escape", "g", *f"s {short} t {lengths[short] - 1}", "enter")
        assert (app.cursor.sample, app.cursor.t) == (short, lengths[short] - 1)


async def test_m_mutes_saturation_marks_so_n_and_the_timeline_pass_them_by(traces):
    trace = traces["tanh-saturation"]
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        place = app.cursor.place(app.info)
        saturated = sorted(t for t, k in app.run_state.marks.get(place, {}).items() if k == "saturated")
        assert len(saturated) > 10
        assert app.run_state.kinds["saturated"] >= len(saturated)
        await pilot.press("m")
        assert isinstance(app.screen, MuteScreen)
        assert "S saturated" in screen_text(app)
        await pilot.press("down", "space", "escape")  # the second kind is "saturated"
        assert app.muted == {"saturated"}
        assert all(k != "saturated" for k in app.run_state.marks.get(place, {}).values())
        row = next(line for line in screen_text(app).splitlines() if line.lstrip().startswith("event"))
        assert "S" not in row.split("event", 1)[1]
        assert "muted (m): S saturated" in screen_text(app)   # the timeline says what its row leaves out
        before = app.cursor
        await pilot.press("n")  # n passes the saturated steps by (it stays, or lands on another kind of event)
        assert app.cursor == before or not (app.cursor.phase == "forward" and app.cursor.t in saturated)
        await pilot.press("m", "down", "space", "escape")
        assert app.muted == frozenset()
        await pilot.press("home", "n")
        assert app.cursor.t in saturated


async def test_mute_survives_a_what_if(traces):
    app = RnntuiApp(traces["tanh-saturation"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m", "down", "space", "escape", "i", *"h = 0", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.run_state.other is not None
        assert "saturated" not in {k for m in app.run_state.marks.values() for k in m.values()}


async def test_c_goes_on_to_a_breakpoint_pinned_to_a_later_place(traces):
    trace = traces["stacked-lstm"]
    l1 = "model.0.l1.fwd"
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", *f"t == 5 @{l1}", "enter")
        assert app.cursor.place(app.info).prefix == "model.0.l0.fwd"
        await pilot.press("c")
        assert app.cursor.place(app.info).prefix == l1 and app.cursor.t == 5
        assert "moved from model.0.l0.fwd" in last_notice(app) and "t == 5" in last_notice(app)
        await pilot.press("c")  # nothing more holds anywhere after it: said, the cursor stays
        assert app.cursor.place(app.info).prefix == l1 and app.cursor.t == 5
        await pilot.press("left_square_bracket", "end")  # back at l0's last step
        await pilot.press("C")  # reverse: l1 comes after l0 in the forward pass, so C does not go there
        assert app.cursor.place(app.info).prefix == "model.0.l0.fwd"
        await pilot.press("b", "end", "c")  # BPTT computes l1 before l0: from l0, c says it is elsewhere
        assert app.cursor.place(app.info).prefix == "model.0.l0.fwd"
        assert f"is pinned to {l1} and holds there at no step after this one" in last_notice(app)
        await pilot.press("C")  # ... and C goes back to it
        assert app.cursor.place(app.info).prefix == l1 and app.cursor.t == 5


async def test_help_lists_every_new_key_with_its_description(traces):
    from rnntui.tui.screens import HelpScreen

    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=(140, 120)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for key, words in (("S", "Prev sample"), ("g", "Go to"), ("m", "Mute events"),
                           ("o", "Backprop of"), ("O", "Backprop loss"), ("p", "Edit weight")):
            assert re.search(rf"[█ ]{re.escape(key)} +{re.escape(words)}", text), key
        assert "a unit (`u 45`)" in text


async def test_m_names_the_norm_a_recurrence_nodes_marks_measure(tmp_path):
    """A recurrence carrying h and c: its vanishing / exploding marks measure ‖dL/ds_t‖ over both states (the
    run's gradnorm is that of h and c together); the `m` dialog said ‖dL/dh_t‖."""
    from tests.render.test_graph_words import LSTM_CELL_LOOP

    path = tmp_path / "loop.yaml"
    path.write_text(LSTM_CELL_LOOP)
    trace = rnntui.run(path)
    dh, dc = np.asarray(trace["grad.model.0.h"]), np.asarray(trace["grad.model.0.c"])
    assert np.allclose(trace["diag.model.0.gradnorm"], np.sqrt((dh ** 2).sum((1, 2)) + (dc ** 2).sum((1, 2))),
                       rtol=1e-12)
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        assert isinstance(app.screen, MuteScreen)
        text = screen_text(app)
        assert "v vanishing: ‖dL/ds_t‖ below the vanishing threshold" in text
        assert "^ exploding: ‖dL/ds_t‖ above the exploding threshold" in text
        assert "dL/dh_t" not in text
