"""A graph's recurrence node records what a built-in recurrent entry does, against PyTorch (float64): the step
Jacobian's spectral norm (`diag.model.{i}.jacnorm`: autograd's Jacobian of one step of the step graph w.r.t.
the carried states, every state together), each step's term of every parameter gradient
(`gradnorm.step.*`), the one-term gradient the verdict measures, ||dL/ds_t||, a cell's gate saturation, and
the events and verdict built on them."""
from __future__ import annotations

import numpy as np
import torch

import rnntui
from rnntui.engine.graph_diag import jacobian_norms
from rnntui.engine.keys import Place
from rnntui.engine.whatif import what_if
from rnntui.render.analysis import events, verdicts
from tests.engine.test_graph_whatif import LSTM_CELL, leaves

TOL = dict(rtol=1e-12, atol=1e-13)


def per_sample_norms(f, s: torch.Tensor) -> np.ndarray:
    """(B,) the spectral norm of each sample's block of the Jacobian of *f* (B, S) -> (B, S) at *s*."""
    J = torch.autograd.functional.jacobian(f, s)   # (B, S, B, S); samples never mix
    B = s.shape[0]
    blocks = torch.stack([J[b, :, b, :] for b in range(B)])
    return torch.linalg.matrix_norm(blocks, ord=2).numpy()


def custom_step(P, x_t, z_put=None):
    def f(h):
        xh = torch.cat([x_t, h], dim=-1)
        z = torch.sigmoid(xh @ P["0.z.weight"].T + P["0.z.bias"])
        if z_put is not None:
            z = torch.full_like(z, z_put)
        return h + z * (torch.tanh(xh @ P["0.cand.weight"].T + P["0.cand.bias"]) - h)
    return f


def test_the_step_jacobians_norm_of_a_cell_written_from_ops_matches_torch():
    trace = rnntui.run("graph-custom-cell")
    P = {k: v.detach() for k, v in leaves(trace).items()}
    x = torch.tensor(np.asarray(trace["input.x"]))
    hs = torch.tensor(np.asarray(trace["model.0.h"]))
    ours = np.asarray(trace["diag.model.0.jacnorm"])
    assert ours.shape == (16, 1)
    for t in range(16):
        prev = hs[t - 1] if t else torch.zeros(1, 6, dtype=torch.float64)
        np.testing.assert_allclose(ours[t], per_sample_norms(custom_step(P, x[t]), prev), **TOL, err_msg=f"t={t}")
    # a what-if that sets z at step 3 cuts z's dependence on h there: the Jacobian of the step as it ran
    new = what_if(trace, [{"at": "model.0", "t": 3, "set": "z", "value": 0.5}])
    hs2 = torch.tensor(np.asarray(new["model.0.h"]))
    np.testing.assert_allclose(np.asarray(new["diag.model.0.jacnorm"])[3],
                               per_sample_norms(custom_step(P, x[3], 0.5), hs2[2]), **TOL)
    assert not np.allclose(new["diag.model.0.jacnorm"][3], ours[3])


def test_an_lstm_cells_step_jacobian_is_over_h_and_c_together(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(LSTM_CELL)
    trace = rnntui.run(path)
    P = {k: v.detach() for k, v in leaves(trace).items()}
    cell = torch.nn.LSTMCell(3, 4).double()
    with torch.no_grad():
        for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, s).copy_(P[f"0.cell.{s}"])
    x = torch.tensor(np.asarray(trace["input.x"]))
    h, c = torch.tensor(np.asarray(trace["model.0.h"])), torch.tensor(np.asarray(trace["model.0.c"]))
    ours = np.asarray(trace["diag.model.0.jacnorm"])
    for t in range(6):
        prev = torch.cat([h[t - 1], c[t - 1]], dim=-1) if t else torch.zeros(2, 8, dtype=torch.float64)
        ref = per_sample_norms(lambda s, t=t: torch.cat(cell(x[t], (s[:, :4], s[:, 4:])), dim=-1), prev)
        np.testing.assert_allclose(ours[t], ref, **TOL, err_msg=f"t={t}")
    # the same numbers for a few steps alone (what a view asks for), and a cell's gate saturation
    np.testing.assert_array_equal(jacobian_norms(trace.info, trace.info.entries[0], trace, dict(
        (k[6:], trace[k]) for k in trace if k.startswith("param.")), steps=[4, 1]), ours[[4, 1]])
    f = np.asarray(trace["model.0.cell.gates.f"])
    np.testing.assert_array_equal(trace["diag.model.0.sat.cell.gates.f"],
                                  ((f < 0.05) | (f > 0.95)).reshape(6, -1).mean(axis=1))
    gn = np.linalg.norm(np.concatenate([trace["grad.model.0.h"], trace["grad.model.0.c"]], -1).reshape(6, -1), axis=1)
    np.testing.assert_allclose(trace["diag.model.0.gradnorm"], gn, **TOL)


def test_each_steps_parameter_gradient_term_and_the_one_term_gradient_match_torch():
    trace = rnntui.run("graph-custom-cell")
    P = leaves(trace)
    x = torch.tensor(np.asarray(trace["input.x"]))
    names = ("0.z.weight", "0.z.bias", "0.cand.weight", "0.cand.bias")
    per_step = [{n: P[n].detach().clone().requires_grad_() for n in names} for _ in range(16)]
    h = torch.zeros(1, 6, dtype=torch.float64)
    hs = []
    for t in range(16):
        Q = per_step[t]
        xh = torch.cat([x[t], h], dim=-1)
        z = torch.sigmoid(xh @ Q["0.z.weight"].T + Q["0.z.bias"])
        h = h + z * (torch.tanh(xh @ Q["0.cand.weight"].T + Q["0.cand.bias"]) - h)
        h.retain_grad()
        hs.append(h)
    out = torch.stack(hs) @ P["1.weight"].T + P["1.bias"]
    out[-1].sum().backward(retain_graph=True)   # the last step's loss term alone: what the verdict measures
    term = np.array([np.linalg.norm(h.grad.numpy()) for h in hs])
    np.testing.assert_allclose(np.asarray(trace["diag.model.0.term_gradnorm"])[:, 0], term, rtol=1e-10, atol=1e-14)
    assert (np.asarray(trace["diag.model.0.term_step"]) == 15).all()
    for Q in per_step:
        for q in Q.values():
            q.grad = None
    out.sum().backward()
    for n in names:
        ref = np.array([np.linalg.norm(per_step[t][n].grad.numpy()) for t in range(16)])
        np.testing.assert_allclose(trace[f"gradnorm.step.{n}"], ref, rtol=1e-10, atol=1e-14, err_msg=n)
    # the verdict reads that one-term gradient: its end-to-end ratio, in the words of the run's own numbers
    v = verdicts(trace, Place(0)).of(0)
    assert v.kind == "vanishing" and np.isclose(v.ratio, term[0] / term[-1], rtol=1e-12)
    assert f"{v.ratio:.2g} of its size at step 15" in v.sentence
    assert np.isclose(v.jacobian, np.median(trace["diag.model.0.jacnorm"][:, 0]))


def test_vanishing_and_exploding_events_at_a_recurrence(tmp_path):
    """With thresholds between the run's own smallest and largest ||dL/dh_t||, the events name the steps past them."""
    trace = rnntui.run("graph-custom-cell")
    gn = np.asarray(trace["diag.model.0.gradnorm"])
    lo, hi = float(np.sort(gn)[1]) * 1.0000001, float(np.sort(gn)[-2]) * 0.9999999
    text = trace["meta.scenario"].item() + f"events: {{vanishing: {lo!r}, exploding: {hi!r}}}\n"
    path = tmp_path / "s.yaml"
    path.write_text(text)
    found = [e for e in events(rnntui.run(path)) if e.place == Place(0)]
    order = np.argsort(gn)
    assert {(e.kind, e.t) for e in found} == {("vanishing", int(order[0])), ("vanishing", int(order[1])),
                                              ("exploding", int(order[-1])), ("exploding", int(order[-2]))}
    assert all("||dL/dh||" in e.text for e in found)


def test_a_saved_trace_derives_the_recurrences_jacobian_norms_it_deferred(tmp_path):
    trace = rnntui.run("graph-attention-reverse")
    trace.save(tmp_path / "t.npz", jacobian=False)
    again = rnntui.load_trace(tmp_path / "t.npz")
    assert "diag.model.4.jacnorm" in np.load(tmp_path / "t.npz")["meta.not_computed"].tolist()
    np.testing.assert_array_equal(again["diag.model.4.jacnorm"], trace["diag.model.4.jacnorm"])
    assert verdicts(again, Place(4)).summary == verdicts(trace, Place(4)).summary
