"""A heatmap's title says its colour scale as the values it draws span it: ±s where a drawn value is
negative, 0..s where none is (an attention's softmax weights were titled 'scale ±0.986', as if some were
negative). Decided from the values drawn (the window, the sample's real steps), never from the op's name."""
from __future__ import annotations

import numpy as np

import rnntui
from rnntui.render.cursor import Cursor
from rnntui.render.heatmap import state_heatmap
from rnntui.render.views import view_for


def _scale_words(cells) -> str:
    title = next(line for line in cells.plain.splitlines() if "scale " in line)   # the title, on 1 or 2 lines
    return title.rsplit("scale ", 1)[1].strip()


def test_the_attention_heatmap_says_its_weights_range_from_zero():
    trace = rnntui.run("graph-attention-reverse")
    w = np.asarray(trace["model.4.ctx.weights"])[:, 0]     # (T_dec, T_src) of sample 0: a softmax's weights
    assert (w >= 0).all() and np.allclose(w.sum(1), 1, rtol=1e-12)
    place = next(k for k, p in enumerate(trace.info.places) if p.entry == 4)
    cursor = Cursor(t=2, place_index=place, unit=0)
    drawn = view_for(trace.info, trace.info.places[place]).states(trace, cursor, 60, 20).renderables
    heat = next(x for x in drawn if hasattr(x, "rows") and "attention (columns" in x.plain)
    assert _scale_words(heat) == f"0..{w.max():.3g}"           # every weight is drawn (6 x 5): the largest, from 0
    assert "±" not in heat.plain


def test_signed_values_keep_plus_minus_and_the_decision_is_the_drawn_windows():
    rng = np.random.default_rng(0)
    signed = rng.normal(size=(8, 3))
    assert (signed < 0).any()
    assert _scale_words(state_heatmap(signed, 0, 0, 40, 3, "h")) == f"±{np.abs(signed).max():.3g}"
    # a negative value only on steps the window leaves out, or on the sample's padding: none drawn
    far = np.abs(rng.normal(size=(200, 2)))
    far[150:, 0] = -5.0
    assert _scale_words(state_heatmap(far, 0, 0, 40, 2, "h")) == f"0..{np.abs(far[:34]).max():.3g}"
    padded = np.abs(signed)
    padded[5:] = -1.0
    assert _scale_words(state_heatmap(padded, 0, 0, 40, 3, "h", length=5)) == f"0..{padded[:5].max():.3g}"
    assert _scale_words(state_heatmap(padded, 0, 0, 40, 3, "h")).startswith("±")
