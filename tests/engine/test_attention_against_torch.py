"""A seq2seq with attention written as a graph (an encoder, a recurrence whose step attends over the
encoder's outputs and starts from its last state) against PyTorch's tutorial structure, float64 to
1e-10: output, loss, every parameter gradient (the encoder's receive both the attention's and the
start state's), the decoder's per-step dL/dh, the encoder's per-step dL/dh and the attention weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnntui

TOL = dict(rtol=1e-10, atol=1e-10)

SCENARIO = """
inputs:
  src: {tokens: [[1, 2, 3, 4, 2], [4, 3, 2, 1, 1]]}
  tgt_in: {tokens: [[0, 2, 4, 3], [0, 1, 1, 2]]}
model:
  - {id: emb_s, type: embedding, num_embeddings: 5, embedding_dim: 4, from: src}
  - {id: enc, type: gru, hidden_size: 6}
  - {id: enc_last, op: last, from: enc}
  - {id: emb_t, type: embedding, num_embeddings: 5, embedding_dim: 4, from: tgt_in}
  - id: dec
    type: recurrence
    from: emb_t
    state: {h: 6}
    start: {h: enc_last}
    step:
      - {id: ctx, type: attention, kind: KIND, size: 5, from: [h, enc]}
      - {id: xin, op: cat, from: [x, ctx]}
      - {id: cell, type: gru_cell, hidden_size: 6, from: [xin, h]}
    next: {h: cell}
    emit: cell
  - {id: out, type: dense, units: 5}
  - {id: logp, op: log_softmax}
loss: {kind: nll, target: [[2, 4, 3, 1], [1, 1, 2, 4]]}
"""


def gru_step(x, h, P, pre):
    W_ih, W_hh, b_ih, b_hh = (P[f"{pre}{s}"] for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    a, b = x @ W_ih.T + b_ih, h @ W_hh.T + b_hh
    H = h.shape[-1]
    r = torch.sigmoid(a[:, :H] + b[:, :H])
    z = torch.sigmoid(a[:, H:2 * H] + b[:, H:2 * H])
    n = torch.tanh(a[:, 2 * H:] + r * b[:, 2 * H:])
    return (1 - z) * n + z * h


@pytest.mark.parametrize("kind", ["additive", "dot"])
def test_attention_seq2seq_matches_torch(tmp_path, kind):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("KIND", kind))
    compare(rnntui.run(path), kind)


def test_the_bundled_attention_reverser_matches_torch_and_its_description():
    trace = rnntui.run("graph-attention-reverse")
    compare(trace, "additive")
    w = np.asarray(trace["model.4.ctx.weights"])                       # (6 decoder steps, B, 5 source steps)
    assert (w[:5].argmax(-1) == (4 - np.arange(5))[:, None]).all()      # step t attends to source step 4 - t
    assert f"{w[:5].max(-1).min():.0%}" == "69%" and f"{w[:5].max(-1).max():.0%}" == "99%"
    assert (w[5].argmax(-1) == 0).all()
    assert (np.asarray(trace["output"]).argmax(-1) == np.asarray(trace["meta.target"])).all()
    assert f"{float(trace['loss']):.3f}" == "0.005"
    for words in ("loss 0.005", "source step 4 - t", "69% to 99%", "rests on source step 0"):
        assert words in trace.info.description


def compare(trace, kind: str):
    P = {k[len("param."):]: torch.tensor(np.asarray(trace[k]), requires_grad=True)
         for k in trace.keys() if k.startswith("param.")}
    src = torch.tensor(np.asarray(trace["input.src"])[..., 0].astype(np.int64))
    tgt = torch.tensor(np.asarray(trace["input.tgt_in"])[..., 0].astype(np.int64))
    # the encoder: nn.GRU's equations stepped by hand, each h_t kept for its total gradient
    es = P["0.weight"][src]
    H = P["1.weight_hh_l0"].shape[1]
    V = P["5.weight"].shape[0]
    P1 = {s: P[f"1.{s}_l0"] for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    he = torch.zeros(es.shape[1], H, dtype=torch.float64)
    enc_h = []
    for t in range(es.shape[0]):
        he = gru_step(es[t], he, P1, "")
        he.retain_grad()
        enc_h.append(he)
    keys = torch.stack(enc_h)
    keys.retain_grad()
    h = keys[-1]
    hs, weights = [], []
    x = P["3.weight"][tgt]
    for t in range(x.shape[0]):
        if kind == "additive":   # PyTorch's tutorial BahdanauAttention: Va(tanh(Wa(q) + Ua(k)))
            e = torch.tanh(h @ P["4.ctx.Wa.weight"].T + P["4.ctx.Wa.bias"] + keys @ P["4.ctx.Ua.weight"].T
                           + P["4.ctx.Ua.bias"])
            score = (e @ P["4.ctx.Va.weight"].T)[..., 0] + P["4.ctx.Va.bias"]
        else:
            score = torch.einsum("sbh,bh->sb", keys, h)
        w = torch.softmax(score, dim=0)
        weights.append(w.T)
        ctx = torch.einsum("sb,sbh->bh", w, keys)
        h = gru_step(torch.cat([x[t], ctx], dim=-1), h, P, "4.cell.")
        h.retain_grad()
        hs.append(h)
    logits = torch.stack(hs) @ P["5.weight"].T + P["5.bias"]
    target = torch.tensor(np.asarray(trace["meta.target"])).reshape(-1)
    if trace.info.loss == "nll":
        logp = F.log_softmax(logits, dim=-1)
        loss = F.nll_loss(logp.reshape(-1, V), target)
    else:
        logp = logits
        loss = F.cross_entropy(logits.reshape(-1, V), target)
    loss.backward()
    np.testing.assert_allclose(trace["output"], logp.detach().numpy(), **TOL)
    np.testing.assert_allclose(trace["loss"], loss.item(), **TOL)
    np.testing.assert_allclose(trace["model.4.ctx.weights"], torch.stack(weights).detach().numpy(), **TOL)
    for name, p in P.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], p.grad.numpy(), **TOL, err_msg=name)
    for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        np.testing.assert_allclose(trace[f"grad.param.1.{s}"], P[f"1.{s}"].grad.numpy(), **TOL, err_msg=s)
    for t, v in enumerate(enc_h):   # the encoder's total dL/dh_t: attention, the start state and through time
        np.testing.assert_allclose(trace["grad.model.1.l0.fwd.h"][t], v.grad.numpy(), **TOL, err_msg=f"enc t={t}")
    for t, v in enumerate(hs):
        np.testing.assert_allclose(trace["grad.model.4.h"][t], v.grad.numpy(), **TOL, err_msg=f"dec t={t}")
    # what reaches the encoder's outputs from outside it: the attention at every decoder step, and the start state
    np.testing.assert_allclose(trace["grad.model.1.out"], keys.grad.numpy(), **TOL)
