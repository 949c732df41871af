"""spectral.step_spectral_norms against numpy's dense SVD of explicitly formed Jacobians."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnntui.engine import spectral

RTOL = 1e-10  # the documented bound is rtol/2 on sigma; compare against rtol plus rounding


def dense_norms(a, D, blocks):
    k, H, _ = blocks.shape
    S, B, _ = D.shape
    out = np.empty((S, B))
    for s in range(S):
        for b in range(B):
            J = sum(D[s, b, i * H:(i + 1) * H, None] * blocks[i] for i in range(k))
            if a is not None:
                J = J + np.diag(a[s, b])
            out[s, b] = np.linalg.svd(J, compute_uv=False)[0] if np.isfinite(J).all() else np.nan
    return out


def factors(rng, kind, S, B, H):
    k = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    blocks = rng.uniform(-1, 1, (k, H, H)) / np.sqrt(H)
    D = rng.uniform(-1, 1, (S, B, k * H))
    a = rng.uniform(0, 1, (S, B, H)) if kind == "gru" else None
    return a, D, blocks


def assert_close(got, ref):
    assert got.shape == ref.shape
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(got[ok], ref[ok], rtol=RTOL, atol=1e-300)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("S,B,H", [(5, 3, 40), (3, 1, 1), (2, 2, 2), (4, 2, 70)])
def test_matches_dense_svd(kind, S, B, H):
    a, D, blocks = factors(np.random.default_rng(H * 7 + S), kind, S, B, H)
    assert_close(spectral.step_spectral_norms(a, D, blocks), dense_norms(a, D, blocks))


def test_repeated_and_clustered_top_singular_values():
    rng = np.random.default_rng(1)
    H = 48
    U, _ = np.linalg.qr(rng.standard_normal((H, H)))
    V, _ = np.linalg.qr(rng.standard_normal((H, H)))
    cases = []
    for top in ([2.0, 2.0, 2.0], [2.0, 2.0 - 1e-3], [2.0, 1.999, 1.998, 1.997], [1.0] * H):
        s = np.sort(np.concatenate([top, rng.uniform(0, 1.5, H - len(top))]))[::-1][:H]
        cases.append(((U * s) @ V.T, s[0]))
    # one RNN-shaped block per case, D = 1: J is the block itself
    for J, sigma in cases:
        got = spectral.step_spectral_norms(None, np.ones((1, 1, H)), J[None])
        np.testing.assert_allclose(got[0, 0], sigma, rtol=RTOL)


def test_zero_and_non_finite_steps():
    rng = np.random.default_rng(2)
    a, D, blocks = factors(rng, "gru", 6, 2, 16)
    a[0, 0] = 0
    D[0, 0] = 0          # step 0, sample 0: the zero Jacobian
    D[1, 1, 5] = np.inf  # an overflowed step
    a[2, 0, 3] = np.nan
    D[3, 0] *= 1e200     # huge but finite: JᵀJ would overflow without scaling
    D[4, 1] *= 1e-200    # tiny: would underflow
    a[3, 0] *= 1e200
    a[4, 1] *= 1e-200
    got = spectral.step_spectral_norms(a, D, blocks)
    assert got[0, 0] == 0
    assert np.isnan(got[1, 1]) and np.isnan(got[2, 0])
    assert np.isfinite(np.delete(got.ravel(), [3, 4])).all()
    np.testing.assert_allclose(got[3, 0], dense_norms(a[3:4, :1] / 1e200, D[3:4, :1] / 1e200, blocks)[0, 0] * 1e200,
                               rtol=RTOL)
    np.testing.assert_allclose(got[4, 1], dense_norms(a[4:5, 1:] * 1e200, D[4:5, 1:] * 1e200, blocks)[0, 0] / 1e200,
                               rtol=RTOL)
    bad = blocks.copy()
    bad[0, 0, 0] = np.nan
    assert np.isnan(spectral.step_spectral_norms(a, D, bad)).all()


def test_chunks_and_the_dense_fallback_agree(monkeypatch):
    a, D, blocks = factors(np.random.default_rng(3), "lstm", 7, 3, 24)
    ref = dense_norms(a, D, blocks)
    monkeypatch.setattr(spectral, "ROW_BUDGET", 1)  # one row per chunk
    seen = []
    assert_close(spectral.step_spectral_norms(a, D, blocks, progress=seen.append), ref)
    assert sum(seen) == 21 and len(seen) == 21
    monkeypatch.setattr(spectral, "MAX_ITERATIONS", 2)  # Lanczos cannot certify: every row falls back
    assert_close(spectral.step_spectral_norms(a, D, blocks), ref)


def test_a_looser_tolerance_stops_sooner_but_holds():
    a, D, blocks = factors(np.random.default_rng(4), "lstm", 4, 2, 64)
    ref = dense_norms(a, D, blocks)
    got = spectral.step_spectral_norms(a, D, blocks, rtol=1e-4)
    assert np.all(np.abs(got - ref) <= 0.5e-4 * ref * (1 + 1e-9))
    assert np.all(got <= ref * (1 + 1e-12))  # Ritz values never exceed the top eigenvalue


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(["lstm", "gru", "rnn"]), S=st.integers(1, 3), B=st.integers(1, 3),
       H=st.integers(1, 12), seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_small_shapes(kind, S, B, H, seed, scale):
    a, D, blocks = factors(np.random.default_rng(seed), kind, S, B, H)
    D *= scale
    assert_close(spectral.step_spectral_norms(a, D, blocks), dense_norms(a, D, blocks))


def test_real_lstm_cell_against_autograd():
    import torch
    torch.manual_seed(0)
    H = 20
    cell = torch.nn.LSTMCell(5, H).double()
    x, h0, c0 = torch.randn(1, 5, dtype=torch.float64), torch.randn(1, H, dtype=torch.float64), torch.randn(
        1, H, dtype=torch.float64)

    def step(h):
        return cell(x, (h[None], c0))[0][0]

    J = torch.autograd.functional.jacobian(step, h0[0])
    ref = torch.linalg.matrix_norm(J, ord=2).item()
    # the factors of dh/dh_prev with c_prev held: h = o*tanh(c), c = f*c0 + i*g
    with torch.no_grad():
        gates = x @ cell.weight_ih.T + h0 @ cell.weight_hh.T + cell.bias_ih + cell.bias_hh
        i, f, g, o = (torch.sigmoid(gates[0, :H]), torch.sigmoid(gates[0, H:2 * H]), torch.tanh(gates[0, 2 * H:3 * H]),
                      torch.sigmoid(gates[0, 3 * H:]))
        c = f * c0[0] + i * g
        tc = torch.tanh(c)
        kc = o * (1 - tc * tc)
        D = torch.cat([kc * g * i * (1 - i), kc * c0[0] * f * (1 - f), kc * i * (1 - g * g), tc * o * (1 - o)])
    got = spectral.step_spectral_norms(None, D.numpy()[None, None], cell.weight_hh.detach().numpy().reshape(4, H, H))
    np.testing.assert_allclose(got[0, 0], ref, rtol=RTOL)


def _two_families(H, top_a, top_b, rows_a, rows_b, seed=5):
    """Rows whose Jacobians share singular vectors U, V: rows_a of them are U diag(top_a) Vᵀ, rows_b U diag(top_b)
    Vᵀ (two blocks, D selecting one), so the rows' mean JᵀJ has V's columns as eigenvectors."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((H, H)))
    V, _ = np.linalg.qr(rng.standard_normal((H, H)))
    rest = rng.uniform(0, 0.9, H - len(top_a))
    blocks = np.stack([(U * np.concatenate([top_a, rest])) @ V.T, (U * np.concatenate([top_b, rest])) @ V.T])
    D = np.zeros((rows_a + rows_b, 1, 2 * H))
    D[:rows_a, 0, :H] = 1
    D[rows_a:, 0, H:] = 1
    return D, blocks


@pytest.mark.parametrize("top_a,top_b", [([2.0, 1.0], [1.999, 2.0]), ([2.0, 2.0 - 1e-4], [2.0 - 1e-4, 2.0]),
                                         ([2.0, 2.0], [2.0, 2.0])])
def test_the_shared_start_does_not_hide_a_rows_own_top(top_a, top_b):
    """The float32 phase starts every row near the rows' mean JᵀJ's top eigenvector (spectral._shared_start). Here
    that is v_1 to 1e-11, the minority rows' second singular vector (their top is v_2, 1e-3 or 1e-4 above, or
    equal): each row still gets its own top value to rtol. (Started at v_1 alone, float64 Lanczos would stay in
    v_1's invariant line; the start's random part, and float32 rounding, put v_2 in the Krylov space.)"""
    H = 48
    assert H > spectral.SINGLE_BELOW
    D, blocks = _two_families(H, top_a, top_b, rows_a=7, rows_b=2)
    got = spectral.step_spectral_norms(None, D, blocks)
    np.testing.assert_allclose(got[:, 0], [max(top_a)] * 7 + [max(top_b)] * 2, rtol=RTOL)
    assert_close(got, dense_norms(None, D, blocks))


def test_the_shared_start_is_the_mean_top_eigenvector():
    D, blocks = _two_families(48, [2.0, 1.0], [1.999, 2.0], rows_a=7, rows_b=2)
    f = spectral._shared_start(None, D[:, 0].reshape(9, 2, 48), blocks.reshape(96, 48), np.random.default_rng(0))
    mean = sum(J.T @ J for J in [blocks[0]] * 7 + [blocks[1]] * 2) / 9
    top = np.linalg.eigh(mean)[1][:, -1]
    assert abs(f @ top) > 1 - 1e-9


def test_map_chunks_keeps_order_and_context_and_stops_with_its_caller():
    import contextvars
    import threading
    import time

    var = contextvars.ContextVar("v", default="unset")
    var.set("caller's")
    started, seen = [], set()
    lock = threading.Lock()

    def work(i):
        with lock:
            started.append(i)
        seen.add((var.get(), threading.current_thread() is threading.main_thread()))
        time.sleep(0.02)   # long enough that a pool fed every item at once would have started more of them
        return i * i

    assert list(spectral.map_chunks(work, range(9), workers=2)) == [i * i for i in range(9)]
    assert seen == {("caller's", False)}   # on the pool's threads, in a copy of the caller's context
    started.clear()
    got = spectral.map_chunks(work, range(9), workers=2)
    assert next(got) == 0
    got.close()                            # the caller stops (a cancelled progress bar): nothing more starts
    assert len(started) <= 2   # the one it waited for and the one running beside it
    seen.clear()
    assert list(spectral.map_chunks(work, range(3), workers=1)) == [0, 1, 4]
    assert seen == {("caller's", True)}


def test_two_workers_give_the_same_norms_as_one(monkeypatch):
    from rnntui.engine import diagnostics
    from rnntui.engine.keys import Place

    a, D, blocks = factors(np.random.default_rng(6), "gru", 12, 2, 40)
    ref = dense_norms(a, D, blocks)
    monkeypatch.setattr(diagnostics, "STEP_CHUNK_ELEMENTS", 2 * 2 * 3 * 40)   # two steps per chunk: six chunks
    calls = []

    class Family:   # hands jacobian_factors' chunks of the factors above to diagnostics.jacobian_norms
        @staticmethod
        def jacobian_factors(entry, arrays, place, params, steps):
            import threading
            calls.append(threading.current_thread().name)
            return a[steps], D[steps]

    class Entry:
        family, aliases, steps, part = Family, {}, 12, None

    arrays = {Place(0, 0, "fwd").key("h"): np.zeros((12, 2, 40))}
    params = {Place(0, 0, "fwd").param("weight_hh"): blocks.reshape(120, 40)}
    got = {}
    monkeypatch.setattr(spectral, "usable_cores", lambda: 2)
    monkeypatch.setattr(spectral.os, "getloadavg", lambda: (0.3, 0.3, 0.3))   # an idle machine
    for workers in (1, 2):
        monkeypatch.setattr(spectral, "WORKERS", workers)
        calls.clear()
        got[workers] = diagnostics.jacobian_norms(Entry, arrays, params, Place(0, 0, "fwd"))
        assert len(calls) == 6
        assert any(name.startswith("rnntui-jacnorm") for name in calls) == (workers == 2)
    assert np.array_equal(got[1], got[2])
    assert_close(got[2], ref)


def test_a_second_thread_only_on_a_free_core(monkeypatch):
    monkeypatch.setattr(spectral, "usable_cores", lambda: 2)
    for load, want in [(0.2, 2), (1.0, 2), (1.4, 2), (1.6, 1), (2.0, 1), (7.5, 1)]:
        monkeypatch.setattr(spectral.os, "getloadavg", lambda load=load: (load, load, load))
        assert spectral.spare_workers(2) == want, load
        assert spectral.spare_workers(1) == 1
    import threading

    names = set()
    monkeypatch.setattr(spectral, "WORKERS", 2)
    list(spectral.map_chunks(lambda i: names.add(threading.current_thread().name), range(4)))   # load 7.5
    assert names == {threading.main_thread().name}
    monkeypatch.setattr(spectral.os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    names.clear()
    list(spectral.map_chunks(lambda i: names.add(threading.current_thread().name), range(4)))
    assert all(n.startswith("rnntui-jacnorm") for n in names)


def _lanczos_tridiagonals(rng, rows, m, H=60, cluster=None):
    """(alphas, betas) of m Lanczos steps (float64, no reorthogonalisation, as `spectral._lanczos` runs them) on
    random symmetric matrices: uniform spectra, or with their top *cluster* eigenvalues within 1e-3 .. 1e-9 of each
    other, so some tridiagonals carry near-double top values (and, past convergence, copies of the top)."""
    alphas, betas = np.zeros((rows, m)), np.zeros((rows, m))
    for i in range(rows):
        ev = np.sort(rng.uniform(0, 1, H))
        if cluster:
            ev[-cluster:] = ev[-1] * (1 - np.arange(cluster)[::-1] * 10.0 ** -rng.integers(3, 10))
        Q, _ = np.linalg.qr(rng.standard_normal((H, H)))
        A = (Q * ev) @ Q.T
        q, q_prev, b_prev = rng.standard_normal(H), np.zeros(H), 0.0
        q /= np.linalg.norm(q)
        for j in range(m):
            w = A @ q
            alphas[i, j] = w @ q
            w -= alphas[i, j] * q + b_prev * q_prev
            betas[i, j] = np.linalg.norm(w)
            q_prev, q, b_prev = q, w / betas[i, j], betas[i, j]
    return alphas, betas


@pytest.mark.parametrize("m", [4, 9, 20, 35, 60])
@pytest.mark.parametrize("cluster", [None, 2, 3])
def test_the_batched_tridiagonal_check_matches_eigvalsh(m, cluster, monkeypatch):
    """spectral._laguerre_top / _laguerre_second (the certificate checks of many rows at once) against eigvalsh of
    the same tridiagonals: the top to rounding, the second from above within SECOND_RTOL of the gap; started cold,
    from a previous check's values, and from guesses on the wrong side (which the pivots' count must catch). Rows
    they are not sure of go to eigvalsh (`_batched_top_two`); from a previous check's values they must be sure of
    most (cold, a near-double top, as past convergence at m = 60 of a 60 x 60 matrix, converges slowly)."""
    rng = np.random.default_rng(m * 10 + (cluster or 0))
    alphas, betas = _lanczos_tridiagonals(rng, 40, m, cluster=cluster)
    vals = np.linalg.eigvalsh(spectral._tridiagonal(alphas, betas))
    top, second = vals[:, -1], vals[:, -2]
    gap = top - second
    separate = gap > 1e-12 * top

    def second_ok(got, rows):
        rows = rows & separate
        return (np.all(got[rows] >= second[rows] - 1e-14 * top[rows])
                and np.all(got[rows] <= second[rows] + spectral.SECOND_RTOL * gap[rows] + 1e-14 * top[rows]))

    good = (top + 1e-6 * top, second - 0.01 * gap)     # a previous check's top plus residual, and its second
    wrong = (top - 0.3 * gap, second - 3 * gap)         # below the top; a start below the second
    for above, below in [(None, None), good, wrong]:
        monkeypatch.setattr(spectral, "LAGUERRE_LEFT", 0)   # iterate every row, however few are left
        prepared = spectral._laguerre_prepared(alphas, betas)
        theta, sure = spectral._laguerre_top(alphas, betas, prepared, above)
        sec = np.full(len(theta), np.nan)
        rows = np.flatnonzero(sure)
        sec[rows], sure[rows] = spectral._laguerre_second(tuple(p[:, rows] for p in prepared), theta[rows],
                                                          None if below is None else below[rows])
        if above is good[0]:
            assert sure.mean() > 0.8
        elif above is None and m < 60:
            assert sure.mean() > 0.5
        np.testing.assert_allclose(theta[sure], top[sure], rtol=4e-15, atol=0)
        assert second_ok(sec, sure)
        monkeypatch.undo()
        t, s2, res = spectral._batched_top_two(alphas, betas, above, below)
        np.testing.assert_allclose(t, top, rtol=4e-15, atol=0)
        assert second_ok(s2, np.ones(len(t), dtype=bool))
        ref = np.abs(betas[:, -1]) * spectral._last_component(alphas, betas, top)
        if m < 60:   # (past convergence, with copies of the top in T, as sensitive to theta's last bit as to T's)
            big = ref > 1e-6 * top   # (and a residual far below that)
            np.testing.assert_allclose(res[big], ref[big], rtol=1e-3)


def test_many_rows_with_a_clustered_top_take_the_batched_checks(monkeypatch):
    """A GRU-like batch (J = diag(z) + smaller terms, the largest z's nearly equal: the top of JᵀJ a cluster) large
    enough that the certificate checks run batched (`_laguerre_top`), against numpy's dense SVD."""
    rng = np.random.default_rng(7)
    S, B, H = 150, 2, 40
    a, D, blocks = factors(rng, "gru", S, B, H)
    a[..., :4] = 0.97 + rng.uniform(0, 1e-4, (S, B, 4))   # four near-equal largest z
    D *= 0.05
    calls = []
    real = spectral._laguerre_top
    monkeypatch.setattr(spectral, "_laguerre_top", lambda *x: calls.append(len(x[0])) or real(*x))
    assert_close(spectral.step_spectral_norms(a, D, blocks), dense_norms(a, D, blocks))
    assert calls and max(calls) >= 100


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_a_real_runs_step_jacobian_norms_against_autograd(kind, tmp_path):
    """diag.*.jacnorm of a real run (the family's factors, then spectral) against torch's autograd Jacobian of one
    step of the same cell at the recorded states, at every step."""
    import torch

    import rnntui

    H, T, B = 40, 60, 3
    yaml = (f"name: t\ninput: {{generate: {{kind: noise, length: {T}, features: 6, batch: {B}}}}}\n"
            f"model:\n  - {{type: {kind}, hidden_size: {H}}}\nloss: {{kind: sum}}\n")
    (tmp_path / "s.yaml").write_text(yaml)
    trace = rnntui.run(tmp_path / "s.yaml")
    got = trace["diag.model.0.l0.fwd.jacnorm"]
    p = {k: torch.tensor(np.asarray(trace[f"param.0.{k}"])) for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                                      "bias_hh_l0")}
    x = torch.tensor(np.asarray(trace["input"]))
    h = torch.tensor(np.asarray(trace["model.0.l0.fwd.h"]))
    cell = (torch.nn.GRUCell if kind == "gru" else torch.nn.LSTMCell)(6, H).double()
    with torch.no_grad():
        cell.weight_ih.copy_(p["weight_ih_l0"]), cell.weight_hh.copy_(p["weight_hh_l0"])
        cell.bias_ih.copy_(p["bias_ih_l0"]), cell.bias_hh.copy_(p["bias_hh_l0"])
    c = torch.tensor(np.asarray(trace["model.0.l0.fwd.c"])) if kind == "lstm" else None
    ref = np.empty((T, B))
    for t in range(T):
        for b in range(B):
            h_prev = h[t - 1, b] if t else torch.zeros(H, dtype=torch.float64)
            if kind == "gru":
                def step(v):
                    return cell(x[t, b][None], v[None])[0]
            else:
                c_prev = c[t - 1, b] if t else torch.zeros(H, dtype=torch.float64)

                def step(v):   # dh_t/dh_{t-1} with c_{t-1} held (the step Jacobian rnntui reports)
                    return cell(x[t, b][None], (v[None], c_prev[None]))[0][0]
            J = torch.autograd.functional.jacobian(step, h_prev)
            ref[t, b] = torch.linalg.matrix_norm(J, ord=2).item()
    np.testing.assert_allclose(got, ref, rtol=RTOL)
