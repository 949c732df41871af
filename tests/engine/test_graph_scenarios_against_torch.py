"""The bundled graph scenarios against PyTorch modules of the same structure, float64 to 1e-10: the
output, the loss, every parameter's gradient (a shared one summed over its uses by autograd) and the
per-step dL/dh of each recurrence (the total: from the output and through time)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnntui

TOL = dict(rtol=1e-10, atol=1e-10)


def leaves(trace) -> dict[str, torch.Tensor]:
    return {k[len("param."):]: torch.tensor(np.asarray(trace[k]), requires_grad=True)
            for k in trace.keys() if k.startswith("param.")}


def lstm(x: torch.Tensor, P: dict, node: int, hs: list) -> torch.Tensor:
    """nn.LSTM's single layer stepped by hand, each h_t kept (retain_grad) for its total gradient."""
    W_ih, W_hh, b_ih, b_hh = (P[f"{node}.{s}_l0"] for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    H = W_hh.shape[1]
    h = torch.zeros(x.shape[1], H, dtype=x.dtype)
    c = torch.zeros_like(h)
    out = []
    for t in range(x.shape[0]):
        i, f, g, o = (x[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        h.retain_grad()
        out.append(h)
    hs.append(out)
    return torch.stack(out)


def check(trace, P, out, loss, hs: dict):
    loss.backward()
    np.testing.assert_allclose(trace["output"], out.detach().numpy(), **TOL)
    np.testing.assert_allclose(trace["loss"], loss.item(), **TOL)
    assert P, "the scenario has parameters"
    for name, p in P.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], p.grad.numpy(), **TOL, err_msg=name)
    for node, steps in hs.items():
        ours = trace[f"grad.model.{node}.l0.fwd.h"]
        assert ours.shape[0] == len(steps)
        for t, h in enumerate(steps):
            np.testing.assert_allclose(ours[t], h.grad.numpy(), **TOL, err_msg=f"node {node}, step {t}")


def nll(logp: torch.Tensor, target) -> torch.Tensor:
    return F.nll_loss(logp.reshape(-1, logp.shape[-1]), torch.tensor(np.asarray(target)).reshape(-1))


def test_residual_stacked_lstm():
    trace = rnntui.run("graph-residual-lstm")
    P = leaves(trace)
    x = torch.tensor(np.asarray(trace["input.x"]))
    h1s, h2s = [], []
    h1 = lstm(x, P, 0, h1s)
    h2 = lstm(h1, P, 1, h2s)
    out = (h1 + h2) @ P["3.weight"].T + P["3.bias"]
    loss = F.mse_loss(out, torch.tensor(np.asarray(trace["meta.target"])))
    check(trace, P, out, loss, {0: h1s[0], 1: h2s[0]})
    # the first LSTM's output gradient is two paths: straight through the add (the add's own gradient),
    # and back through the second LSTM, which torch gives with the skip path held constant
    h1_leaf = h1.detach().requires_grad_()
    through = (h1.detach() + lstm(h1_leaf, P, 1, [])) @ P["3.weight"].T + P["3.bias"]
    F.mse_loss(through, torch.tensor(np.asarray(trace["meta.target"]))).backward()
    np.testing.assert_allclose(trace["grad.model.2.out"], trace["grad.model.3.out"] @ np.asarray(trace["param.3.weight"]),
                               **TOL)
    np.testing.assert_allclose(np.asarray(trace["grad.model.0.out"]) - trace["grad.model.2.out"], h1_leaf.grad.numpy(),
                               **TOL)


def test_layernorm_lstm():
    trace = rnntui.run("graph-layernorm-lstm")
    P = leaves(trace)
    x = torch.tensor(np.asarray(trace["input.x"]))
    hs = []
    h = lstm(x, P, 0, hs)
    n = F.layer_norm(h, (h.shape[-1],), P["1.weight"], P["1.bias"], eps=1e-5)
    np.testing.assert_allclose(trace["model.1.mean"], h.mean(-1).detach().numpy(), **TOL)
    np.testing.assert_allclose(trace["model.1.var"], h.var(-1, unbiased=False).detach().numpy(), **TOL)
    logp = F.log_softmax(n @ P["2.weight"].T + P["2.bias"], dim=-1)
    check(trace, P, logp, nll(logp, trace["meta.target"]), {0: hs[0]})


def test_language_model_with_tied_weights():
    trace = rnntui.run("graph-tied-lm")
    P = leaves(trace)
    assert "2.weight" not in P and "0.weight" in P   # one table, read twice
    ids = torch.tensor(np.asarray(trace["input.words"])[..., 0].astype(np.int64))
    W = P["0.weight"]
    hs = []
    h = lstm(W[ids], P, 1, hs)
    logp = F.log_softmax(h @ W.T + P["2.bias"], dim=-1)
    check(trace, P, logp, nll(logp, trace["meta.target"]), {1: hs[0]})


def test_two_inputs_one_shared_encoder():
    trace = rnntui.run("graph-shared-encoder")
    P = leaves(trace)
    assert not any(k.startswith(("1.", "3.")) for k in P)  # the second reads own no parameters
    W = P["0.weight"]
    prem = torch.tensor(np.asarray(trace["input.premise"])[..., 0].astype(np.int64))
    hyp = torch.tensor(np.asarray(trace["input.hypothesis"])[..., 0].astype(np.int64))
    hp, hq = [], []
    enc_p = lstm(W[prem], P, 2, hp)[-1]
    enc_q = lstm(W[hyp], P, 2, hq)[-1]
    logp = F.log_softmax(torch.cat([enc_p, enc_q], dim=-1) @ P["5.weight"].T + P["5.bias"], dim=-1)
    check(trace, P, logp, nll(logp, trace["meta.target"]), {2: hp[0], 3: hq[0]})
    # the same module: node 3's own records, the parameters of node 2
    assert trace["model.3.l0.fwd.h"].shape[0] == 4 and trace["model.2.l0.fwd.h"].shape[0] == 5


def test_the_graph_scenarios_descriptions_are_true_of_their_numbers():
    """Each bundled graph scenario's description states numbers of its own run: checked here."""
    t = rnntui.run("graph-residual-lstm")
    skip = np.asarray(t["grad.model.2.out"])
    through = np.asarray(t["grad.model.0.out"]) - skip
    assert f"{np.linalg.norm(skip):.2f}" == "0.28" and f"{np.linalg.norm(through):.2g}" == "0.067"
    assert (np.linalg.norm(skip.reshape(12, -1), axis=1) > np.linalg.norm(through.reshape(12, -1), axis=1)).all()
    assert "0.28 against 0.067" in t.info.description

    t = rnntui.run("graph-layernorm-lstm")
    var = np.asarray(t["model.1.var"])
    assert var.max() < 0.04 and round(1 / np.sqrt(var.min() + 1e-5)) == 15
    g = np.asarray(t["grad.model.0.out"])
    assert np.abs(g.sum(-1)).max() < 1e-12 * np.abs(g).max() * g.shape[-1] * 10
    assert "below 0.04" in t.info.description and "15 times" in t.info.description

    t = rnntui.run("graph-tied-lm")
    ids = np.asarray(t["input.words"])[..., 0]
    assert 8 not in ids and t["meta.vocab"][8] == "."
    g_out = np.asarray(t["grad.model.2.out"])          # dL/d(logits): the decoder has no activation
    h = np.asarray(t["model.1.out"])
    from_output = np.einsum("tbv,tbe->ve", g_out, h)
    np.testing.assert_allclose(t["grad.param.0.weight"][8], from_output[8], rtol=1e-12, atol=1e-15)
    assert np.abs(t["grad.param.0.weight"][:8] - from_output[:8]).max() > 1e-6   # the input's reads add to those

    t = rnntui.run("graph-shared-encoder")
    p = np.exp(np.asarray(t["output"]))
    assert p.min() >= 0.31 and p.max() < 0.375
    assert "between 0.31 and 0.37" in t.info.description


def test_inputs_with_lengths_of_their_own(tmp_path):
    """Input a's samples have lengths 3 and 2 (packed, as pack_padded_sequence), b's are whole: op last takes
    each sample's own last step of a's LSTM, b's LSTM hands on its final state; gradients as PyTorch's."""
    path = tmp_path / "g.yaml"
    path.write_text("""
inputs:
  a: {batch: [[[1.0], [2.0], [3.0]], [[1.0], [0.5]]]}
  b: {batch: [[[1.0], [2.0], [3.0]], [[1.0], [0.5], [0.2]]]}
model:
  - {id: ea, type: lstm, hidden_size: 3, from: a}
  - {id: la, op: last, from: ea}
  - {id: eb, type: lstm, hidden_size: 3, from: b, take: final}
  - {id: both, op: add, from: [la, eb]}
  - {type: dense, units: 2}
loss: {kind: sum}
""")
    trace = rnntui.run(path)
    assert trace.info.packs(trace.info.entries[0]) and not trace.info.packs(trace.info.entries[2])
    P = leaves(trace)
    mods = []
    for i in (0, 2):
        m = torch.nn.LSTM(1, 3).double()
        with torch.no_grad():
            for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                getattr(m, s).copy_(P[f"{i}.{s}"])
        mods.append(m)
    a = torch.tensor(np.asarray(trace["input.a"]))
    b = torch.tensor(np.asarray(trace["input.b"]))
    packed = torch.nn.utils.rnn.pack_padded_sequence(a, torch.tensor([3, 2]), enforce_sorted=False)
    _, (h_a, _) = mods[0](packed)
    _, (h_b, _) = mods[1](b)
    out = (h_a[0] + h_b[0]) @ P["4.weight"].T + P["4.bias"]
    out.sum().backward()
    np.testing.assert_allclose(trace["output"], out.detach().numpy(), **TOL)
    for i, m in ((0, mods[0]), (2, mods[1])):
        for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            np.testing.assert_allclose(trace[f"grad.param.{i}.{s}"], getattr(m, s).grad.numpy(), **TOL)
    np.testing.assert_allclose(trace["grad.param.4.weight"], P["4.weight"].grad.numpy(), **TOL)


def test_nll_over_a_padded_batch_counts_the_real_steps_only(tmp_path):
    """loss nll per step with samples of lengths 4 and 2: F.nll_loss over the real steps (the padded ones
    have no target), log_softmax as an op; output, loss and gradients as PyTorch's."""
    path = tmp_path / "g.yaml"
    path.write_text("""
inputs:
  x: {batch: [[[0.5, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 0.5], [0.2, 0.1]]]}
model:
  - {id: rnn, type: gru, hidden_size: 3, from: x}
  - {id: head, type: dense, units: 4}
  - {id: logp, op: log_softmax}
loss: {kind: nll, target: [[0, 3, 1, 2], [2, 1]]}
""")
    trace = rnntui.run(path)
    P = leaves(trace)
    gru = torch.nn.GRU(2, 3).double()
    with torch.no_grad():
        for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(gru, s).copy_(P[f"0.{s}"])
    x = torch.tensor(np.asarray(trace["input.x"]))
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor([4, 2]), enforce_sorted=False)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(gru(packed)[0])
    logp = F.log_softmax(y @ P["1.weight"].T + P["1.bias"], dim=-1)
    real = torch.tensor([[True, True], [True, True], [True, False], [True, False]])
    target = torch.tensor([[0, 2], [3, 1], [1, 0], [2, 0]])
    loss = F.nll_loss(logp[real], target[real])
    loss.backward()
    np.testing.assert_allclose(trace["loss"], loss.item(), **TOL)
    np.testing.assert_allclose(np.asarray(trace["output"])[real.numpy()], logp[real].detach().numpy(), **TOL)
    for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        np.testing.assert_allclose(trace[f"grad.param.0.{s}"], getattr(gru, s).grad.numpy(), **TOL, err_msg=s)
    for name in ("1.weight", "1.bias"):
        np.testing.assert_allclose(trace[f"grad.param.{name}"], P[name].grad.numpy(), **TOL, err_msg=name)


def test_an_initial_state_on_a_graph_node(tmp_path):
    """`initial_state` on a graph's recurrent node: PyTorch's (h_0, c_0), and what reaches them."""
    path = tmp_path / "g.yaml"
    path.write_text("""
inputs:
  x: {generate: {kind: noise, length: 4, features: 2, batch: 2}}
model:
  - {id: enc, type: lstm, hidden_size: 3, from: x, initial_state: {h: [[[0.1, -0.2, 0.3], [0.0, 0.5, -0.5]]],
                                                                    c: [[[1.0, 0.0, -1.0], [0.2, 0.2, 0.2]]]}}
  - {id: skip, op: add, from: [enc, enc]}
  - {type: dense, units: 1}
loss: {kind: sum}
""")
    trace = rnntui.run(path)
    P = leaves(trace)
    m = torch.nn.LSTM(2, 3).double()
    with torch.no_grad():
        for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(m, s).copy_(P[f"0.{s}"])
    h0 = torch.tensor([[[0.1, -0.2, 0.3], [0.0, 0.5, -0.5]]], dtype=torch.float64, requires_grad=True)
    c0 = torch.tensor([[[1.0, 0.0, -1.0], [0.2, 0.2, 0.2]]], dtype=torch.float64, requires_grad=True)
    y, _ = m(torch.tensor(np.asarray(trace["input.x"])), (h0, c0))
    out = (y + y) @ P["2.weight"].T + P["2.bias"]
    out.sum().backward()
    np.testing.assert_allclose(trace["output"], out.detach().numpy(), **TOL)
    np.testing.assert_allclose(trace["grad.model.0.l0.fwd.h0"], h0.grad.numpy()[0], **TOL)
    np.testing.assert_allclose(trace["grad.model.0.l0.fwd.c0"], c0.grad.numpy()[0], **TOL)
    np.testing.assert_allclose(trace["grad.param.0.weight_hh_l0"], m.weight_hh_l0.grad.numpy(), **TOL)


def test_the_verdicts_one_term_gradient_on_a_graph():
    """diag.*.term_gradnorm (what the vanishing/exploding verdict measures) on a graph: ‖dL_s/dh_t‖ with only
    the last step's loss term kept, at both LSTMs of the residual graph, as torch gives it."""
    trace = rnntui.run("graph-residual-lstm")
    P = leaves(trace)
    x = torch.tensor(np.asarray(trace["input.x"]))
    h1s, h2s = [], []
    h1 = lstm(x, P, 0, h1s)
    h2 = lstm(h1, P, 1, h2s)
    out = (h1 + h2) @ P["3.weight"].T + P["3.bias"]
    target = torch.tensor(np.asarray(trace["meta.target"]))
    T = out.shape[0]
    # the last step's own term of the mse (mean over every element)
    ((out[-1] - target[-1]) ** 2).sum().div(out.numel()).backward()
    for node, hs in ((0, h1s[0]), (1, h2s[0])):
        ref = np.array([np.linalg.norm(h.grad.numpy()[0]) for h in hs])
        np.testing.assert_allclose(np.asarray(trace[f"diag.model.{node}.l0.fwd.term_gradnorm"])[:, 0], ref,
                                   rtol=1e-10, atol=1e-14, err_msg=f"node {node}")
    assert (np.asarray(trace["diag.model.0.l0.fwd.term_step"]) == T - 1).all()
