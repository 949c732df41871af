"""Under a header that names one sample ("sample k of B"), every number is that sample's or says it is the
batch's: the right panel's ‖dL/dh_t‖ (the sample's own rows of the recorded dL/dh_t, against numpy), the weight
terms and the verdict (labelled as the batch's), the details panel (named by the direction the cursor is on)."""
from __future__ import annotations

import re

import numpy as np

from rnntui.engine.keys import Place
from rnntui.numfmt import fmt
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

SIZE = (160, 50)


def right_panel(text: str) -> str:
    """The words of the panels right of the divider, joined (a long line wraps there)."""
    return " ".join(" ".join(line.split("│", 1)[1].split()) for line in text.splitlines() if "│" in line)


def shown_gradnorm(text: str) -> tuple[str, str, str]:
    m = re.search(r"‖dL/dh_t‖ of sample (\d+) \(log scale\) at t=(\d+): (\S+)", text)
    assert m, text
    return m.groups()


async def test_pressing_s_shows_the_next_samples_own_gradient_norm(traces):
    trace = traces["lstm-delayed-recall"]  # B = 4, many-to-one
    dh = np.asarray(trace[Place(0, 0, "fwd").grad_key("h")], dtype=float)  # (T, B, H)
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b", "end")  # BPTT's end, t=0: the gradient farthest from the loss
        seen = set()
        for b in range(trace.info.B):
            text = screen_text(app)
            sample, t, value = shown_gradnorm(text)
            assert (int(sample), int(t)) == (b, 0) and f"sample {b} of {trace.info.B}" in text
            assert value == fmt(float(np.sqrt((dh[0, b] ** 2).sum())), 0), (value, b)  # sample b's own, not the batch's
            seen.add(value)
            right = right_panel(text)
            assert "‖step t's term of dW_hh‖ (batch of 4)" in right and "‖step t's term of dW_ih‖ (batch of 4)" in right
            # the verdict is this sample's own (its own dL/dh_t rows), then the batch summed up
            assert f"sample {b}: " in right and "batch: " in right
            assert f"measured on sample {b}'s ‖dL/dh_t‖" in right
            await pilot.press("s")
        assert len(seen) > 1  # the samples differ (two bits: two values): a batch number would repeat
        assert fmt(float(np.sqrt((dh[0] ** 2).sum())), 0) not in seen


async def test_the_details_panel_names_the_direction_the_cursor_is_on(traces):
    trace = traces["bilstm-apple"]
    h = {d: trace[Place(0, 0, d).key("h")] for d in ("fwd", "bwd")}
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("home")
        for d in ("fwd", "bwd"):
            text = screen_text(app)
            assert f"h {d} at t=0, sample 0" in text
            assert f"unit 0: h={fmt(float(h[d][0, 0, 0]), 0)}" in text  # the numbers are that direction's
            await pilot.press("d")
