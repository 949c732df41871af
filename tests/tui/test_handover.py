"""An encoder-decoder in the TUI: the forward pass steps through the encoder's steps, the hand-over
(its own moment: which final state went where) and the decoder's steps; BPTT the other way round."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from rich.console import Console

import rnntui
from rnntui.render.views import cell_panel, gradients
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

DATA = Path(__file__).parent.parent / "data"
SIZE = (120, 40)


def _text(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(renderable)
    return out.getvalue()


def _where(app):
    p = app.cursor.place(app.info)
    return (p.entry, p.layer, p.direction, app.cursor.t, app.cursor.handover)


async def test_the_forward_pass_runs_from_the_encoder_through_the_handover_into_the_decoder():
    trace = rnntui.run(DATA / "seq2seq-small.yaml")
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket", "end")
        assert _where(app) == (1, 0, "fwd", 3, False)
        await pilot.press("right")
        assert _where(app) == (1, 0, "fwd", 3, True)
        assert "hand-over model.1 → model.3, layer 0" in screen_text(app)
        text = _text(cell_panel(app.run_state.trace, app.cursor, 200))
        h = trace["handover.h"][0, 0]
        f, b = trace["model.1.l0.fwd.h"][-1, 0], trace["model.1.l0.bwd.h"][0, 0]
        np.testing.assert_array_equal(h, np.concatenate([f, b]))  # what the words below say
        assert f"= fwd h[3] ({np.linalg.norm(f):.4f}) and bwd h[0] ({np.linalg.norm(b):.4f}), merged by concat" in text
        await pilot.press("right")
        assert _where(app) == (3, 0, "fwd", 0, False)
        await pilot.press("left")
        assert _where(app) == (1, 0, "fwd", 3, True)
        await pilot.press("left")
        assert _where(app) == (1, 0, "fwd", 3, False)


async def test_bptt_runs_from_the_decoder_through_the_handover_into_the_encoder():
    trace = rnntui.run(DATA / "seq2seq-small.yaml")
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(6):
            await pilot.press("right_square_bracket")
        assert _where(app)[:3] == (3, 0, "fwd")
        await pilot.press("b", "home")
        assert app.cursor.t == 2  # the decoder's BPTT starts at its last step
        await pilot.press("end", "right")
        assert _where(app) == (1, 0, "fwd", 3, True)
        text = _text(cell_panel(app.run_state.trace, app.cursor, 200))
        g = trace["grad.handover.h"][0, 0]
        assert f"dL/dh_0 of model.3 l0 ({np.linalg.norm(g):.4f}) goes back to the encoder" in text
        reach = _text(gradients(app.run_state.trace, app.cursor, 200))
        assert "how much of the decoder's gradient reaches each source step" in reach
        # the norm drawn is the batch's (every sample's dL/dh_t together), and said so where there are several
        B = trace.info.B
        gh = trace["grad.model.1.l0.fwd.h"]
        batch_norm = np.sqrt((gh[0] ** 2).sum())
        assert B > 1 and not np.isclose(batch_norm, np.linalg.norm(gh[0, 0]))
        assert f"‖dL/dh_t‖ fwd over the batch's {B} samples, t=0..{gh.shape[0] - 1}: {batch_norm:.4f} at t=0" in reach
        await pilot.press("right")
        assert _where(app) == (1, 0, "fwd", 3, False)
        assert "through time here: the decoder's gradient through the hand-over; from the output: from layer 1 " \
            "above" in _text(cell_panel(app.run_state.trace, app.cursor, 200))
        await pilot.press("right_square_bracket", "right_square_bracket")  # layer 1, forward direction
        assert _where(app) == (1, 1, "fwd", 3, False)
        assert "the encoder's BPTT starts here, from the decoder" in _text(cell_panel(app.run_state.trace,
                                                                                     app.cursor, 200))
        assert not trace["grad.model.1.l1.fwd.h.from_output"].any()  # what those words claim
        # what reaches the encoder's last step is what the hand-over split off for it
        np.testing.assert_allclose(trace["grad.model.1.l0.fwd.h.through_time"][-1, 0], g[:3], rtol=0, atol=0)


async def test_play_runs_on_through_the_handover():
    app = RnntuiApp(rnntui.run(DATA / "seq2seq-small.yaml"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket", "end")
        assert app.check_action("step", (1,)) is True
        await pilot.press("space")
        for _ in range(20):
            await pilot.pause(0.1)
            if app.cursor.place(app.info).entry == 3:
                break
        assert app.cursor.place(app.info).entry == 3
        await pilot.press("space")


async def test_a_packed_source_hands_over_from_its_own_last_step(tmp_path):
    p = tmp_path / "packed.yaml"
    p.write_text((DATA / "seq2seq-small.yaml").read_text().replace(
        "input: {tokens: [[3, 1, 4, 1], [2, 7, 1, 8]]}", "input: {tokens: [[3, 1, 4, 1], [2, 7]]}"))
    trace = rnntui.run(p)
    assert trace.info.lengths == (4, 2)
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "right_square_bracket", "end")
        assert _where(app) == (1, 0, "fwd", 1, False)  # sample 1 ends at t=1
        await pilot.press("right")
        assert _where(app) == (1, 0, "fwd", 1, True) and not list(app._notifications)
        text = _text(cell_panel(app.run_state.trace, app.cursor, 200))
        f = trace["model.1.l0.fwd.h"][1, 1]
        np.testing.assert_array_equal(trace["handover.h"][0, 1][:3], f)
        assert f"= fwd h[1] ({np.linalg.norm(f):.4f})" in text
        await pilot.press("right", "left", "left")
        assert _where(app) == (1, 0, "fwd", 1, False)
