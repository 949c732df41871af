"""Backpropagating one loss term or one output (engine/attribution.py): every gradient the run records,
exact against torch autograd of the same quantity (tests/torch_ref.manual with that quantity as the loss)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rnntui.engine.attribution import Seed, SeedError, backprop, seed_of
from tests.torch_ref import manual


def logits_of(info, out, pre):
    last = info.entries[-1]
    return pre if last.activation == "softmax" else out


def quantity(seed: Seed, stepped: bool):
    """The torch scalar the seed names, as a loss_fn for torch_ref.manual."""
    def fn(info, out, pre, trace, dtype):
        at = (seed.t, seed.sample) if stepped else (seed.sample,)
        if seed.kind == "loss":
            from tests.torch_ref import step_losses
            return step_losses(info, out, pre, trace, dtype)[seed.t]
        if seed.kind == "out":
            return out[at].reshape(-1)[seed.unit]
        z = logits_of(info, out, pre)[at]
        lp = torch.log_softmax(z, -1)[seed.unit]
        return lp if seed.kind == "logp" else torch.exp(lp)
    return fn


def assert_gradients_match(trace, seed):
    stepped = bool(trace.info.seq and trace.info.entries[-1].seq_out)
    got = backprop(trace, seed)
    assert seed_of(got) == seed
    _, want = manual(trace, loss_fn=quantity(seed, stepped))
    assert want, "the reference has gradients"
    for key, value in want.items():
        scale = max(float(np.abs(value).max()), 1e-300)
        np.testing.assert_allclose(got[key], value, rtol=0, atol=1e-12 * scale, err_msg=key)
    # the forward pass is the run's own, untouched
    np.testing.assert_array_equal(got["output"], trace["output"])
    np.testing.assert_array_equal(got["loss"], trace["loss"])
    return got


@pytest.mark.parametrize("name, seed", [
    ("bilstm-apple", Seed("loss", t=2)),                          # many-to-many, final softmax
    ("bilstm-apple", Seed("logp", t=2, sample=0, unit=1)),
    ("bilstm-apple", Seed("p", t=5, sample=0, unit=0)),
    ("bilstm-apple", Seed("out", t=4, sample=0, unit=1)),
    ("many-to-one", Seed("out", sample=0, unit=2)),               # logits out: the class score
    ("many-to-one", Seed("logp", sample=0, unit=0)),
    ("lstm-delayed-recall", Seed("out", sample=2, unit=0)),       # a batch: one sample's output
    ("stacked-lstm", Seed("loss", t=11)),                         # loss: sum
    ("cnn-digit", Seed("logp", sample=0, unit=7)),                # pixel saliency of a class
    ("cnn-digit", Seed("p", sample=0, unit=3)),
])
def test_backprop_matches_torch_autograd(traces, name, seed):
    assert_gradients_match(traces[name], seed)


def test_a_loss_term_alone_is_the_total_minus_the_other_terms(traces):
    """dL/dθ = Σ_t dL_t/dθ: the terms' gradients add up to the run's own."""
    trace = traces["bilstm-apple"]
    total = sum(np.asarray(backprop(trace, Seed("loss", t=t))["grad.model.0.l0.fwd.h"]) for t in range(trace.info.T))
    np.testing.assert_allclose(total, trace["grad.model.0.l0.fwd.h"], rtol=0, atol=1e-14)


def test_one_samples_output_leaves_the_other_samples_without_gradient(traces):
    trace = traces["lstm-delayed-recall"]
    got = backprop(trace, Seed("out", sample=2, unit=0))
    h = np.asarray(got["grad.model.0.l0.fwd.h"])
    assert np.abs(h[:, [0, 1, 3]]).max() == 0 and np.abs(h[:, 2]).max() > 0
    with pytest.raises(SeedError, match="no steps"):
        backprop(trace, Seed("out", t=7, sample=2, unit=0))


def test_nothing_after_the_chosen_step_reaches_it(traces):
    got = backprop(traces["stacked-lstm"], Seed("out", t=7, sample=0, unit=0))
    h = np.asarray(got["grad.model.0.l0.fwd.h"])
    assert np.abs(h[8:]).max() == 0 and np.abs(h[:8]).min() >= 0 and np.abs(h[7]).max() > 0


def test_what_cannot_be_backpropagated_is_refused_with_reasons(traces):
    with pytest.raises(SeedError, match="one term"):
        backprop(traces["many-to-one"], Seed("loss", t=0))
    with pytest.raises(SeedError, match="distribution over classes"):
        backprop(traces["stacked-lstm"], Seed("logp", t=0, sample=0, unit=0))
    T = traces["bilstm-apple"]["output"].shape[0]
    with pytest.raises(SeedError, match=f"steps 0..{T - 1}"):
        backprop(traces["bilstm-apple"], Seed("out", t=T, sample=0, unit=0))
    F = traces["bilstm-apple"]["output"].shape[-1]
    with pytest.raises(SeedError, match=f"0..{F - 1}"):
        backprop(traces["bilstm-apple"], Seed("out", t=0, sample=0, unit=F))
    with pytest.raises(SeedError, match="encoder-decoder"):
        backprop(traces["seq2seq-reverse"], Seed("loss", t=0))


@pytest.mark.parametrize("name", ["char-embedding", "tests/data/packed-bilstm.yaml"])
def test_the_step_terms_gradients_add_up_to_the_losss(traces, name):
    """Embeddings and packed batches (no torch reference in torch_ref.manual): the loss is the sum of its
    step terms, so the terms' gradients add up to the run's own (itself exact against torch elsewhere)."""
    import rnntui

    trace = traces[name] if "/" not in name else rnntui.run(name)
    T = trace["output"].shape[0]
    keys = [k for k in trace if k.startswith("grad.") and trace.is_computed(k)]
    terms = [backprop(trace, Seed("loss", t=t)) for t in range(T)]
    for key in keys:
        total = sum(np.asarray(s[key], dtype=float) for s in terms)
        scale = max(float(np.abs(trace[key]).max()), 1e-300)
        np.testing.assert_allclose(total, trace[key], rtol=0, atol=1e-13 * scale, err_msg=key)
