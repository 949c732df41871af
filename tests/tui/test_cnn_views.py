"""The CNN in the TUI: kernels, pixel saliency (of the loss, then of one class via o), the dense layer's
softmax step and class bars, reached with keys."""
from __future__ import annotations

import numpy as np

from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

SIZE = (120, 60)


async def test_a_cnn_shows_kernels_saliency_and_class_probabilities(traces):
    trace = traces["cnn-digit"]
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "kernels (weights) of all 8 output channels" in screen_text(app)
        await pilot.press("b")
        text = screen_text(app)
        mag = np.abs(np.asarray(trace["grad.input"][0, 0]))
        r, c = np.unravel_index(int(np.argmax(mag)), mag.shape)
        assert "pixel saliency" in text and f"|dL/dx| {mag[r, c]:.3g} at" in text
        await pilot.press("o", *"logp 3", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert "BPTT of log p(class 3) of sample 0" in text
        g = np.abs(np.asarray(app.run_state.trace["grad.input"][0, 0]))
        r, c = np.unravel_index(int(np.argmax(g)), g.shape)
        assert f"|dL/dx| {g[r, c]:.3g} at" in text
        await pilot.press("b", *["right_square_bracket"] * 5)
        text = screen_text(app)
        assert "softmax: p_0 = exp(z_0 - max z)" in text and "class probabilities: predicted" in text
        await pilot.press("g", *"u 7", "enter")
        assert "z_7 = W[7]·x + b_7" in screen_text(app)
