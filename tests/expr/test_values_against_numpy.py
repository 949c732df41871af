"""Every name and function of the language against NumPy computed directly on the trace's arrays."""
from __future__ import annotations

import numpy as np
import pytest

from rnntui.engine.keys import Place
from rnntui.expr import ExprError, bind

FAMILIES = ("rnn", "lstm", "gru")
PLACES = [Place(0, 0, "fwd"), Place(0, 1, "bwd")]   # the first place, and the top layer's backward direction


def value(trace, place, text):
    return np.asarray(bind(text, trace, place).values)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.prefix)
def test_names_read_the_trace(family_runs, family, place):
    trace = family_runs[family]
    e = trace.info.entries[0]
    T = trace[place.key("h")].shape[0]
    expected = {
        "h": trace[place.key("h")],
        "dh": trace[place.grad_key("h")],
        "jacnorm": trace[place.diag_key("jacnorm")],
        "out": trace["model.0.out"],
        "loss_t": trace["loss.step"],
        "t": np.arange(T),
        "T": np.full(T, T),
        "iteration": np.zeros(T),
        # l0 reads the model's input; l1 reads both directions of l0, concatenated (as PyTorch does)
        "x": trace["input"] if place.layer == 0 else np.concatenate(
            [trace[Place(0, 0, d).key("h")] for d in ("fwd", "bwd")], axis=-1),
    }
    if "c" in e.family.states:
        expected["c"] = trace[place.key("c")]
        expected["dc"] = trace[place.grad_key("c")]
    for g in e.family.gates:
        expected[f"gates.{g}"] = trace[place.key(f"gates.{g}")]
    for name, want in expected.items():
        np.testing.assert_array_equal(value(trace, place, name), want, err_msg=name)


@pytest.mark.parametrize("family", FAMILIES)
def test_functions_reduce_each_step(family_runs, family):
    trace = family_runs[family]
    place = Place(0, 1, "bwd")
    h = np.asarray(trace[place.key("h")])
    dh = np.asarray(trace[place.grad_key("h")])
    T = h.shape[0]
    cases = {
        "mean(h)": h.mean(axis=(1, 2)),
        "min(h)": h.min(axis=(1, 2)),
        "max(h)": h.max(axis=(1, 2)),
        "sum(dh)": dh.sum(axis=(1, 2)),
        "norm(dh)": np.array([np.linalg.norm(dh[t]) for t in range(T)]),
        "abs(h)": np.abs(h),
        "any(h > 0.1)": np.array([(h[t] > 0.1).any() for t in range(T)]),
        "all(h > -0.5)": np.array([(h[t] > -0.5).all() for t in range(T)]),
        "isnan(h)": np.isnan(h),
        "isfinite(dh)": np.isfinite(dh),
        "mean(h > 0)": (h > 0).mean(axis=(1, 2)),
        "norm(h[1])": np.array([np.linalg.norm(h[t, 1]) for t in range(T)]),
    }
    for text, want in cases.items():
        np.testing.assert_allclose(value(trace, place, text), want, rtol=1e-12, atol=0, err_msg=text)


def test_indexing_arithmetic_and_comparisons(family_runs):
    trace = family_runs["lstm"]
    place = Place(0, 0, "fwd")
    h, c = (np.asarray(trace[place.key(k)]) for k in ("h", "c"))
    jn = np.asarray(trace[place.diag_key("jacnorm")])
    T = h.shape[0]
    t = np.arange(T)
    cases = {
        "h[1]": h[:, 1],
        "h[:, 0:2]": h[:, :, 0:2],
        "h[-1, ::2]": h[:, -1, ::2],
        "h[0, 3]": h[:, 0, 3],
        "h * 2 + c / 3 - 1": h * 2 + c / 3 - 1,
        "-h ** 2": -(h ** 2),
        "(h - c) * t": (h - c) * t[:, None, None],
        "h * jacnorm": h * jn[:, :, None],            # per-sample values combine sample by sample
        "jacnorm - h": jn[:, :, None] - h,
        "h > c": h > c,
        "-0.5 < h <= 0.5": (-0.5 < h) & (h <= 0.5),
        "h[0, 0] != h[1, 0]": h[:, 0, 0] != h[:, 1, 0],
        "t >= 3 and t < 5": (t >= 3) & (t < 5),
        "t < 2 or t == T - 1": (t < 2) | (t == T - 1),
        "not t == 4": t != 4,
        # an array in a condition holds when every element does; any(...) when one does
        "not h > 0": ~(h > 0).reshape(T, -1).all(axis=1),
        "h > 0 or c > 0": (h > 0).reshape(T, -1).all(axis=1) | (c > 0).reshape(T, -1).all(axis=1),
    }
    for text, want in cases.items():
        got = value(trace, place, text)
        assert got.shape == want.shape, text
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=text)


def test_holds_and_next_true_follow_the_pass_order(family_runs):
    trace = family_runs["gru"]
    fwd, bwd = Place(0, 0, "fwd"), Place(0, 0, "bwd")
    b = bind("t == 2 or t == 5", trace, fwd)
    np.testing.assert_array_equal(b.holds, np.isin(np.arange(7), [2, 5]))
    assert b.phase == "forward"
    assert b.next_true(None, "forward") == 2 and b.next_true(2, "forward") == 5 and b.next_true(5, "forward") is None
    assert b.next_true(6, "forward", backwards=True) == 5 and b.next_true(2, "forward", backwards=True) is None
    # BPTT runs a fwd direction from T-1 down: the next step after 6 is 5, then 2
    assert b.next_true(None, "backward") == 5 and b.next_true(5, "backward") == 2
    # a backward direction's forward pass runs T-1 .. 0 too
    assert bind("t == 2 or t == 5", trace, bwd).next_true(None, "forward") == 5
    g = bind("norm(dh) >= 0", trace, fwd)
    assert g.phase == "backward" and list(g.order()) == list(range(6, -1, -1))
    assert g.value_at(3) == True  # noqa: E712 - a NumPy bool


def test_names_a_place_does_not_have_list_the_ones_it_has(family_runs):
    with pytest.raises(ExprError) as e:
        bind("max(c) > 1", family_runs["gru"], Place(0, 0, "fwd"))
    assert e.value.column == 5
    assert "c, which model.0.l0.fwd (gru) does not have" in e.value.message
    assert "h, gates.r, gates.z, gates.n, x, out, dh, jacnorm, loss_t, loss, t, T, iteration" in e.value.message
    with pytest.raises(ExprError) as e:
        bind("mean(gates.f)", family_runs["rnn"], Place(0, 1, "bwd"))
    assert e.value.column == 6 and "gates.f" in e.value.message and "it has h, x, out, dh, jacnorm" in e.value.message
    with pytest.raises(ExprError) as e:
        bind("hh > 0", family_runs["rnn"], Place(0, 0, "fwd"))
    assert "unknown name 'hh' (did you mean h?)" in e.value.message


def test_non_recurrent_place_has_out_x_and_loss_t(family_runs):
    trace = family_runs["rnn"]
    dense = Place(1)
    np.testing.assert_array_equal(value(trace, dense, "out"), trace["model.1.out"])
    np.testing.assert_array_equal(value(trace, dense, "x"), trace["model.0.out"])
    np.testing.assert_array_equal(value(trace, dense, "loss_t"), trace["loss.step"])
    with pytest.raises(ExprError, match="model.1 \\(dense\\) does not have; it has x, out, loss_t, loss, t, T, iteration"):
        bind("h", trace, dense)


def test_shape_errors_and_bad_indices_point_at_their_column(family_runs):
    trace = family_runs["lstm"]
    place = Place(0, 0, "fwd")
    for text, col, words in [("h[2]", 2, "index 2 on axis 0 of size 2"), ("h[0, 0, 0]", 2, "3 indices"),
                             ("h + x", 3, "do not combine"), ("min(h[:, 3:1])", 1, "empty selection"),
                             ("norm(h) and t > 1", 1, "found a number where a condition was expected")]:
        with pytest.raises(ExprError) as e:
            bind(text, trace, place)
        assert (e.value.column, words in e.value.message) == (col, True), (text, e.value)


def test_jacnorm_is_computed_only_when_its_value_is_asked_for(tmp_path):
    import rnntui
    from tests.expr.conftest import family_text

    p = tmp_path / "lstm.yaml"
    p.write_text(family_text("lstm"))
    trace = rnntui.run(str(p))
    key = Place(0, 0, "fwd").diag_key("jacnorm")
    b = bind("max(jacnorm) < 100", trace, Place(0, 0, "fwd"))
    assert not trace.is_computed(key)   # binding checked the shapes without it
    b.holds
    assert trace.is_computed(key)
