"""A recurrence over an input whose samples have lengths of their own, against PyTorch (float64, 1e-10): past
its length a sample's states stay as they were (nn.LSTM over a packed sequence: h_n is the last real step's
state) and it emits zeros (pad_packed_sequence's padding); attention over a padded source gives its padded
steps no weight (scores -inf, a key padding mask)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import rnntui
from tests.engine.test_graph_whatif import leaves

TOL = dict(rtol=1e-10, atol=1e-10)
RNG = np.random.default_rng(3)
XA = RNG.normal(size=(6, 3)).round(3).tolist()
XB = RNG.normal(size=(3, 3)).round(3).tolist()

PACKED = f"""inputs:
  x: {{batch: [{XA}, {XB}]}}
model:
  - id: rec
    type: recurrence
    from: x
    state: {{h: 4, c: 4}}
    step:
      - {{id: cell, type: lstm_cell, hidden_size: 4, from: [x, h, c]}}
    next: {{h: cell, c: cell.c}}
    emit: cell
  - {{id: last, op: last}}
  - {{id: head, type: dense, units: 2}}
  - {{id: both, op: add, from: [rec, rec]}}
  - {{id: per_step, type: dense, units: 1, from: both}}
loss: {{kind: sum}}
"""


def test_a_recurrence_over_a_packed_batch_matches_nn_lstm_over_a_packed_sequence(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(PACKED)
    trace = rnntui.run(path)
    P = leaves(trace)
    lstm = torch.nn.LSTM(3, 4).double()
    with torch.no_grad():
        for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, f"{s}_l0").copy_(P[f"0.cell.{s}"])
    x = torch.tensor(np.asarray(trace["input.x"]), requires_grad=True)
    assert x.shape == (6, 2, 3)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor([6, 3]), enforce_sorted=False)
    y, (h_n, c_n) = lstm(packed)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(y)
    y.retain_grad()
    last = h_n[0] @ P["2.weight"].T + P["2.bias"]     # op last: each sample's own last real step, head on it
    per_step = (y + y) @ P["4.weight"].T + P["4.bias"]
    real = torch.tensor([[True, t < 3] for t in range(6)])
    loss = per_step[real].sum()
    loss.backward()
    np.testing.assert_allclose(trace["model.0.out"], y.detach().numpy(), **TOL)   # zeros past each length
    np.testing.assert_allclose(trace["model.2.out"], last.detach().numpy(), **TOL)
    np.testing.assert_allclose(trace["output"][real.numpy()], per_step[real].detach().numpy(), **TOL)
    np.testing.assert_allclose(trace["loss"], loss.item(), **TOL)
    h = np.asarray(trace["model.0.h"])
    np.testing.assert_allclose(h[-1], h_n[0].detach().numpy(), **TOL)   # the states stayed as they were
    np.testing.assert_allclose(np.asarray(trace["model.0.c"])[-1], c_n[0].detach().numpy(), **TOL)
    assert (h[3:, 1] == h[2, 1]).all()
    for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(trace[f"grad.param.0.cell.{s}"], getattr(lstm, f"{s}_l0").grad.numpy(), **TOL,
                                   err_msg=s)
    np.testing.assert_allclose(trace["grad.input.x"], x.grad.numpy(), **TOL)
    np.testing.assert_allclose(trace["grad.model.0.out"], y.grad.numpy(), **TOL)
    # nothing was computed or reaches a padded step: gates, gradients and step Jacobian zero there
    assert not np.asarray(trace["model.0.cell.gates.f"])[3:, 1].any()
    assert not np.asarray(trace["grad.model.0.h"])[3:, 1].any()
    jac = np.asarray(trace["diag.model.0.jacnorm"])
    assert not jac[3:, 1].any() and (jac[:3] > 0).all() and (jac[:, 0] > 0).all()
    assert trace.info.packs(trace.info.entries[0])
    # each sample's own one-term gradient: from its last real step
    assert np.asarray(trace["diag.model.0.term_step"]).tolist() == [5, 2]


ATTENTION = """inputs:
  src: {{batch: {src}}}
  tgt: {{batch: {tgt}}}
model:
  - {{id: enc, type: gru, hidden_size: 4, from: src}}
  - id: dec
    type: recurrence
    from: tgt
    state: {{h: 4}}
    step:
      - {{id: ctx, type: attention, kind: {kind}, size: 3, from: [h, enc]}}
      - {{id: xin, op: cat, from: [x, ctx]}}
      - {{id: cell, type: gru_cell, hidden_size: 4, from: [xin, h]}}
    next: {{h: cell}}
    emit: cell
  - {{id: head, type: dense, units: 2}}
loss: {{kind: sum}}
"""


def test_attention_over_a_padded_source_gives_its_padded_steps_no_weight(tmp_path):
    src = [RNG.normal(size=(5, 2)).round(3).tolist(), RNG.normal(size=(2, 2)).round(3).tolist()]
    tgt = RNG.normal(size=(2, 3, 2)).round(3).tolist()
    for kind in ("additive", "dot"):
        path = tmp_path / f"{kind}.yaml"
        path.write_text(ATTENTION.format(src=src, tgt=tgt, kind=kind))
        trace = rnntui.run(path)
        P = leaves(trace)
        gru = torch.nn.GRU(2, 4).double()
        with torch.no_grad():
            for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                getattr(gru, s).copy_(P[f"0.{s}"])
        cell = torch.nn.GRUCell(6, 4).double()
        with torch.no_grad():
            for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, s).copy_(P[f"1.cell.{s}"])
        xs = torch.tensor(np.asarray(trace["input.src"]))
        xt = torch.tensor(np.asarray(trace["input.tgt"]))
        K, _ = torch.nn.utils.rnn.pad_packed_sequence(gru(torch.nn.utils.rnn.pack_padded_sequence(
            xs, torch.tensor([5, 2]), enforce_sorted=False))[0])
        pad = torch.tensor([[False, s >= 2] for s in range(5)])          # (S, B): the padded source steps
        h = torch.zeros(2, 4, dtype=torch.float64)
        hs, ws = [], []

        def step(h, t):
            if kind == "dot":
                score = torch.einsum("sbh,bh->sb", K.detach(), h)
            else:
                e = torch.tanh(h @ P["1.ctx.Wa.weight"].detach().T + P["1.ctx.Wa.bias"].detach()
                               + K.detach() @ P["1.ctx.Ua.weight"].detach().T + P["1.ctx.Ua.bias"].detach())
                score = (e @ P["1.ctx.Va.weight"].detach().T)[..., 0] + P["1.ctx.Va.bias"].detach()
            w = F.softmax(score.masked_fill(pad, float("-inf")), dim=0)
            return cell(torch.cat([xt[t], torch.einsum("sb,sbh->bh", w, K.detach())], dim=-1), h)

        for t in range(3):
            if kind == "dot":
                score = torch.einsum("sbh,bh->sb", K, h)
            else:
                e = torch.tanh(h @ P["1.ctx.Wa.weight"].T + P["1.ctx.Wa.bias"] + K @ P["1.ctx.Ua.weight"].T
                               + P["1.ctx.Ua.bias"])
                score = (e @ P["1.ctx.Va.weight"].T)[..., 0] + P["1.ctx.Va.bias"]
            w = F.softmax(score.masked_fill(pad, float("-inf")), dim=0)
            ws.append(w.T)
            ctx = torch.einsum("sb,sbh->bh", w, K)
            h = cell(torch.cat([xt[t], ctx], dim=-1), h)
            hs.append(h)
        out = torch.stack(hs) @ P["2.weight"].T + P["2.bias"]
        out.sum().backward()
        np.testing.assert_allclose(trace["model.1.ctx.weights"], torch.stack(ws).detach().numpy(), **TOL)
        assert not np.asarray(trace["model.1.ctx.weights"])[:, 1, 2:].any()
        np.testing.assert_allclose(trace["output"], out.detach().numpy(), **TOL)
        for name, p in P.items():
            if name.startswith("1.cell"):
                p = getattr(cell, name.rsplit(".", 1)[1])
            if name.startswith(("1.cell", "2.")) or (kind == "additive" and name.startswith("1.ctx") and
                                                      not name.endswith("Va.bias")):
                np.testing.assert_allclose(trace[f"grad.param.{name}"], p.grad.numpy(), **TOL, err_msg=name)
        for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            np.testing.assert_allclose(trace[f"grad.param.0.{s}"], getattr(gru, s).grad.numpy(), **TOL,
                                       err_msg=f"{kind} {s}")
        # the step Jacobian through the masked attention and the cell, w.r.t. h, as autograd gives it
        for t in (1, 2):
            prev = torch.stack(hs)[t - 1].detach()
            J = torch.autograd.functional.jacobian(lambda v, t=t: step(v, t), prev)
            ref = torch.linalg.matrix_norm(torch.stack([J[b, :, b, :] for b in range(2)]), ord=2).detach().numpy()
            np.testing.assert_allclose(np.asarray(trace["diag.model.1.jacnorm"])[t], ref, rtol=1e-12, atol=1e-13)
