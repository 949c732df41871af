"""Per-step gradient norms (engine/stepnorms.py) in bounded memory: the same values as forming each step's
product A_t^T X_t, float32 inputs summed in float64, and a batch of 10,000 in megabytes, not gigabytes."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from rnntui.engine import stepnorms
from rnntui.engine import run_scenario
from rnntui.engine.run import estimate_bytes
from rnntui.engine.stepnorms import step_bias_norms, step_outer_norms, temp_floats
from rnntui.scenario import load_scenario


def reference(A, X) -> np.ndarray:
    """Each step's product formed, in float64."""
    A, X = A.astype(np.float64), X.astype(np.float64)
    return np.array([np.linalg.norm(A[t].T @ X[t]) for t in range(len(A))])


def gram(A, X) -> np.ndarray:
    """What the engine computed before (two B x B Gram matrices per step)."""
    ga = A @ A.transpose(0, 2, 1)
    ga *= X @ X.transpose(0, 2, 1)
    return np.sqrt(np.maximum(ga.sum(axis=(1, 2)), 0))


SHAPES = [(7, 1, 3, 5), (6, 2, 40, 30), (5, 50, 3, 2), (9, 13, 13, 13), (4, 300, 8, 1), (3, 3, 1, 1)]


@pytest.mark.parametrize("chunk", [stepnorms.CHUNK, 7, 1])
@pytest.mark.parametrize("T,B,m,n", SHAPES)
def test_the_same_norms_as_the_products(monkeypatch, chunk, T, B, m, n):
    """Both ways (Gram matrices for a small batch, the product for a large one), in blocks of any size."""
    monkeypatch.setattr(stepnorms, "CHUNK", chunk)
    rng = np.random.default_rng([T, B, m, n])
    A, X = rng.standard_normal((T, B, m)), rng.standard_normal((T, B, n))
    got = step_outer_norms(A, X)
    assert got.dtype == np.float64 and got.shape == (T,)
    np.testing.assert_allclose(got, reference(A, X), rtol=1e-12, atol=0)
    np.testing.assert_allclose(got, gram(A, X), rtol=1e-11, atol=0)
    np.testing.assert_allclose(step_bias_norms(A), np.linalg.norm(A.sum(axis=1), axis=-1), rtol=1e-12)


def test_float32_is_summed_in_float64():
    """float32 arguments: only the result is rounded to float32 (float32 Gram matrices over a batch of
    3,000 lose digits to cancellation)."""
    rng = np.random.default_rng(3)
    T, B = 4, 3000
    A = rng.standard_normal((T, B, 2))
    A = (A - A.mean(axis=1, keepdims=True)).astype(np.float32)     # sums to about 0 over the batch, and
    X = (rng.standard_normal((T, B, 2)) + 100).astype(np.float32)  # X's large common part cancels: in float32
    assert np.max(np.abs(gram(A, X) / reference(A, X) - 1)) > 1e-3  # Gram matrices lose 2 of 7 digits
    exact = reference(A, X)
    got = step_outer_norms(A, X)
    assert got.dtype == np.float32
    assert np.max(np.abs(got / exact - 1)) < 2e-7
    bias = step_bias_norms(X)
    assert bias.dtype == np.float32
    np.testing.assert_allclose(bias, np.linalg.norm(X.astype(np.float64).sum(axis=1), axis=-1), rtol=2e-7)


def test_a_large_batch_takes_megabytes():
    """B = 10,000 on a 2-unit layer: B x B Gram matrices would take 1.6 GB a step."""
    rng = np.random.default_rng(4)
    A, X = rng.standard_normal((20, 10_000, 2)), rng.standard_normal((20, 10_000, 2))
    tracemalloc.start()
    try:
        got = step_outer_norms(A, X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(got, reference(A, X), rtol=1e-12)
    assert peak < 8 * (temp_floats(20, 10_000, 2, 2) + 20 * 10_000 * 4) + (1 << 20), peak
    assert peak < 40 << 20


def test_a_2_unit_rnn_with_batch_10000_runs_in_its_estimate(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text("mode: many-to-many\ninput: {generate: {kind: noise, length: 20, features: 2, batch: 10000}}\n"
                    "model:\n  - {type: rnn, hidden_size: 2}\nloss: {kind: sum}\n")
    sc = load_scenario(path)
    need = estimate_bytes(sc)
    assert need < 200 << 20, need   # was 32 GiB (2 B x B Gram matrices per step), refused
    tracemalloc.start()
    try:
        trace = run_scenario(sc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.25 * need
    # step t's term of dW_hh is (dL/da_t)^T h_{t-1}, with dL/da_t = dL/dh_t (1 - h_t^2) (tanh) and h_{-1} = 0
    h, dh = trace["model.0.l0.fwd.h"], trace["grad.model.0.l0.fwd.h"]
    da = dh * (1 - h ** 2)
    h_prev = np.concatenate([np.zeros_like(h[:1]), h[:-1]])
    np.testing.assert_allclose(trace["gradnorm.step.0.weight_hh_l0"], reference(da, h_prev), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(trace["gradnorm.step.0.weight_ih_l0"], reference(da, trace["input"]), rtol=1e-10)


@pytest.mark.parametrize("kind, calls", [("rnn", 1), ("lstm", 1), ("gru", 2)])
def test_a_bias_gradient_shared_by_both_biases_is_normed_once(tmp_path, monkeypatch, kind, calls):
    """RNN and LSTM give b_ih and b_hh one gradient a step: its norms are computed once and recorded for both
    (issue 27: step_bias_norms ran twice on the same gradient); a GRU's differ (r scales b_hn's), so twice.
    Each recorded norm is the sum over the batch of its own bias gradient's step term."""
    import rnntui.engine.entries.base as base

    p = tmp_path / "s.yaml"
    p.write_text(f"input: {{generate: {{kind: noise, length: 6, features: 3, batch: 4}}}}\n"
                 f"model: [{{type: {kind}, hidden_size: 5}}]\nloss: {{kind: sum}}\n")
    seen = []
    original = base.step_bias_norms
    monkeypatch.setattr(base, "step_bias_norms", lambda A: seen.append(A) or original(A))
    trace = run_scenario(load_scenario(p))
    assert len(seen) == calls
    ih, hh = (np.asarray(trace[f"gradnorm.step.0.{b}_l0"]) for b in ("bias_ih", "bias_hh"))
    totals = [np.asarray(trace[f"grad.param.0.{b}_l0"]) for b in ("bias_ih", "bias_hh")]
    for norms, total, A in zip((ih, hh), totals, seen + seen[:1] if calls == 1 else seen):
        np.testing.assert_allclose(norms, np.linalg.norm(A.sum(axis=1), axis=-1), rtol=1e-12)
        # the rows normed are that bias's gradient a step (an LSTM's in its internal gate order)
        np.testing.assert_allclose(np.sort(A.sum(axis=(0, 1))), np.sort(total), rtol=1e-12, atol=1e-14)
