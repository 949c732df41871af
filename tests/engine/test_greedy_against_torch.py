"""Greedy decoding as a graph: a recurrence whose step embeds x (`type: embedding` reading the step's token id),
runs a GRU cell and an output layer, and feeds the argmax of its own scores back as the next step's x
(`op: argmax`, `feed`). Against a PyTorch module of the same structure, float64 to 1e-10: the output, the
loss, every parameter gradient and dL/dh at every step. The argmax passes no gradient (autograd gives none
through an index), so the gradients flow only through the scores that reach the loss."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnntui
from rnntui.engine.whatif import WhatIfError, what_if
from rnntui.errors import ScenarioError

TOL = dict(rtol=1e-10, atol=1e-10)

SCENARIO = """inputs:
  src: {tokens: [[1, 4, 2, 5, 3], [2, 2, 6, 1, 0]]}
  go: {tokens: [[1, 0, 0, 0, 0], [4, 0, 0, 0, 0]]}
model:
  - {id: emb_src, type: embedding, num_embeddings: 7, embedding_dim: 4, from: src}
  - {id: enc, type: gru, hidden_size: 5}
  - {id: enc_last, op: last, from: enc}
  - id: dec
    type: recurrence
    from: go                      # the first step reads GO; the steps after it read the id chosen before
    state: {h: 5}
    start: {h: enc_last}
    step:
      - {id: emb, type: embedding, num_embeddings: 7, embedding_dim: 4, from: x}
      - {id: cell, type: gru_cell, hidden_size: 5, from: [emb, h]}
      - {id: out, type: dense, units: 7, from: cell}
      - {id: logp, op: log_softmax, dim: -1, from: out}
      - {id: tok, op: argmax, dim: -1, keepdim: true, from: logp}
    next: {h: cell}
    emit: logp
    feed: tok
loss: {kind: nll, target: [[3, 1, 4, 1, 5], [2, 6, 5, 3, 5]]}
"""


class Greedy(torch.nn.Module):
    """An encoder GRU over the source; a decoder that embeds GO, then the argmax of its own output."""

    def __init__(self):
        super().__init__()
        self.emb_src = torch.nn.Embedding(7, 4)
        self.enc = torch.nn.GRU(4, 5)
        self.emb = torch.nn.Embedding(7, 4)
        self.cell = torch.nn.GRUCell(4, 5)
        self.out = torch.nn.Linear(5, 7)

    def forward(self, src, go, steps, force=None):   # (T, B) ids, (B,) ids; force: {step: the id it chooses}
        _, h = self.enc(self.emb_src(src))
        h, tok, outs, self.hs, self.toks = h[-1], go, [], [], [go]
        for _ in range(steps):
            h = self.cell(self.emb(tok), h)
            h.retain_grad()
            self.hs.append(h)
            o = F.log_softmax(self.out(h), dim=-1)
            outs.append(o)
            tok = o.argmax(-1)
            if force and len(outs) - 1 in force:
                tok = torch.full_like(tok, force[len(outs) - 1])
            self.toks.append(tok)
        return torch.stack(outs)


def _torch_twin(trace) -> Greedy:
    P = {k[len("param."):]: np.asarray(trace[k]) for k in trace.keys() if k.startswith("param.")}
    m = Greedy().double()
    names = {"emb_src.weight": "0.weight", "emb.weight": "3.emb.weight", "out.weight": "3.out.weight",
             "out.bias": "3.out.bias", **{f"enc.{s}_l0": f"1.{s}_l0" for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")},
             **{f"cell.{s}": f"3.cell.{s}" for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}}
    assert set(names.values()) == set(P), sorted(P)
    with torch.no_grad():
        for tn, p in m.named_parameters():
            p.copy_(torch.from_numpy(P[names[tn]].copy()))
    m.names = names
    return m


def test_greedy_decoding_matches_torch(tmp_path):
    path = tmp_path / "greedy.yaml"
    path.write_text(SCENARIO)
    trace = rnntui.run(path)
    m = _torch_twin(trace)
    src = torch.from_numpy(np.asarray(trace["input.src"])[..., 0].astype(np.int64))
    go = torch.from_numpy(np.asarray(trace["input.go"])[0, :, 0].astype(np.int64))
    out = m(src, go, 5)
    target = torch.tensor([[3, 1, 4, 1, 5], [2, 6, 5, 3, 5]]).T
    loss = F.nll_loss(out.reshape(-1, 7), target.reshape(-1))
    loss.backward()
    np.testing.assert_allclose(trace["output"], out.detach().numpy(), **TOL)
    np.testing.assert_allclose(trace["loss"], loss.item(), **TOL)
    # what each step read: GO, then the id the step before chose (not the input's padding)
    read = np.asarray(trace["model.3.x"])[..., 0]
    np.testing.assert_array_equal(read, torch.stack(m.toks[:-1]).numpy())
    assert read[1:].any(), "the chosen ids differ from the input's padding (0), so the test sees the feedback"
    np.testing.assert_array_equal(np.asarray(trace["model.3.tok.out"])[..., 0], torch.stack(m.toks[1:]).numpy())
    for tn, p in m.named_parameters():
        np.testing.assert_allclose(trace[f"grad.param.{m.names[tn]}"], p.grad.numpy(), **TOL, err_msg=tn)
    for t, h in enumerate(m.hs):
        np.testing.assert_allclose(trace["grad.model.3.h"][t], h.grad.numpy(), **TOL, err_msg=f"dL/dh_{t}")
    # the choice passes no gradient: none reaches the fed ids, the scores get only the loss's
    assert not np.asarray(trace["grad.model.3.tok.out"]).any()
    assert not np.asarray(trace["grad.input.go"]).any()


def test_argmax_op_ties_and_no_gradient(tmp_path):
    """op argmax on a top-level node: the first of equal values (as torch.argmax), the ids as floats, and
    no gradient back to what it reads; the gradient reaches x only through the other branch."""
    path = tmp_path / "a.yaml"
    path.write_text("""inputs:
  x: {batch: [[[1.0, 3.0, 3.0], [2.0, 0.5, 1.0]], [[0.0, 0.0, -1.0], [4.0, 4.0, 5.0]]]}
model:
  - {id: pick, op: argmax, dim: -1, keepdim: true, from: x}
  - {id: both, op: mul, from: [pick, x]}
loss: {kind: sum}
""")
    trace = rnntui.run(path)
    x = torch.tensor(np.asarray(trace["input.x"]), requires_grad=True)
    pick = x.argmax(-1, keepdim=True)
    (pick * x).sum().backward()
    np.testing.assert_array_equal(np.asarray(trace["model.0.out"]), pick.numpy())
    np.testing.assert_allclose(trace["grad.input.x"], x.grad.numpy(), **TOL)


def test_a_fed_value_that_is_no_id_is_refused(tmp_path):
    bad = SCENARIO.replace("feed: tok", "feed: out")
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(ScenarioError) as exc:
        rnntui.run(path)
    msg = str(exc.value)
    assert "gives no ids" in msg and "op argmax" in msg and "feed" in msg, msg


def test_an_argmax_over_more_scores_than_rows_is_refused(tmp_path):
    bad = SCENARIO.replace("{id: out, type: dense, units: 7", "{id: out, type: dense, units: 9")
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(ScenarioError) as exc:
        rnntui.run(path)
    msg = str(exc.value)
    assert "argmax over 9 scores" in msg and "7 rows" in msg, msg


def test_a_step_embedding_reads_token_ids(tmp_path):
    bad = SCENARIO.replace("go: {tokens: [[1, 0, 0, 0, 0], [4, 0, 0, 0, 0]]}",
                           "go: {batch: [[[1.0], [0.0], [0.0], [0.0], [0.0]], [[4.0], [0.0], [0.0], [0.0], [0.0]]]}")
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(ScenarioError) as exc:
        rnntui.run(path)
    assert "reads token ids" in str(exc.value), str(exc.value)
    bad = SCENARIO.replace("go: {tokens: [[1, 0, 0, 0, 0], [4, 0, 0, 0, 0]]}",
                           "go: {tokens: [[1, 0, 0, 0, 0], [9, 0, 0, 0, 0]]}")
    path.write_text(bad)
    with pytest.raises(ScenarioError) as exc:
        rnntui.run(path)
    assert "9" in str(exc.value), str(exc.value)


def test_an_argmax_without_keepdim_fed_back_is_refused_saying_so(tmp_path):
    bad = SCENARIO.replace("op: argmax, dim: -1, keepdim: true", "op: argmax, dim: -1")
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(ScenarioError) as exc:
        rnntui.run(path)
    msg = str(exc.value)
    assert "feed" in msg and "keepdim: true" in msg, msg


def test_a_what_if_on_the_chosen_token_against_torch(tmp_path):
    """`set: tok` at step 1: what if the decoder had chosen id 3 there; step 2 reads it. Against the torch loop
    that overrides its choice; a value that is no id the argmax could give is refused, naming the range."""
    path = tmp_path / "greedy.yaml"
    path.write_text(SCENARIO)
    trace = rnntui.run(path)
    new = what_if(trace, [{"at": "model.3", "set": "tok", "t": 1, "value": 3}])
    m = _torch_twin(trace)
    src = torch.from_numpy(np.asarray(trace["input.src"])[..., 0].astype(np.int64))
    go = torch.from_numpy(np.asarray(trace["input.go"])[0, :, 0].astype(np.int64))
    out = m(src, go, 5, force={1: 3})
    loss = F.nll_loss(out.reshape(-1, 7), torch.tensor([[3, 1, 4, 1, 5], [2, 6, 5, 3, 5]]).T.reshape(-1))
    loss.backward()
    assert (np.asarray(new["model.3.x"])[2, :, 0] == 3).all()
    assert not np.allclose(new["output"], trace["output"])   # the choice changed what followed
    np.testing.assert_allclose(new["output"], out.detach().numpy(), **TOL)
    np.testing.assert_allclose(new["loss"], loss.item(), **TOL)
    for tn, p in m.named_parameters():
        np.testing.assert_allclose(new[f"grad.param.{m.names[tn]}"], p.grad.numpy(), **TOL, err_msg=tn)
    for bad in (7, 2.5, -1):
        with pytest.raises(WhatIfError) as exc:
            what_if(trace, [{"at": "model.3", "set": "tok", "t": 1, "value": bad}])
        assert "expected a whole number in 0..6" in str(exc.value), str(exc.value)


def test_the_model_map_says_what_is_fed_back(tmp_path):
    import io

    from rich.console import Console

    from rnntui.render.model_map import model_map

    path = tmp_path / "greedy.yaml"
    path.write_text(SCENARIO)
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(model_map(rnntui.run(path).info))
    text = out.getvalue()
    assert "tok   argmax     logp → (B, 1)" in text and "emb   embedding  x → (B, 4)" in text, text
    assert "next: h ← cell; emit logp; x ← tok from step 1" in text, text


def test_the_timeline_says_what_a_fed_step_reads(tmp_path):
    from rnntui.render.timeline import graph_steps_words

    path = tmp_path / "greedy.yaml"
    path.write_text(SCENARIO)
    trace = rnntui.run(path)
    words = graph_steps_words(trace.info, 3, trace)
    assert words == ("model.3 runs over 5 steps: it reads input 'go' (5 steps); from step 1 on, its x is tok of "
                     "the step before, fed back, not the input's step"), words


def test_a_step_embedding_of_something_else_than_token_ids_is_refused(tmp_path):
    """In a step graph an embedding reads x (ids), not a state; and the recurrence then reads an input of tokens,
    not another node's floats: each refused at its key with one clear message."""
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.replace("embedding_dim: 4, from: x}", "embedding_dim: 4, from: h}"))
    with pytest.raises(ScenarioError) as exc:
        rnntui.run(path)
    msg = str(exc.value)
    assert "model[3].step[0].from" in msg, msg
    assert "found 'h'; in a step graph embedding reads token ids, the step's x" in msg, msg
    path.write_text(SCENARIO.replace("    from: go ", "    from: enc "))
    with pytest.raises(ScenarioError) as exc:
        rnntui.run(path)
    assert "an embedding reads token ids, one per step" in str(exc.value), str(exc.value)
    path.write_text(SCENARIO.replace("  - id: dec\n", "  - {id: one, type: dense, units: 1, from: enc}\n  - id: dec\n")
                    .replace("    from: go ", "    from: one "))
    with pytest.raises(ScenarioError) as exc:
        rnntui.run(path)
    msg = str(exc.value)
    assert "reads x as token ids, so the recurrence reads an input of tokens directly" in msg, msg
