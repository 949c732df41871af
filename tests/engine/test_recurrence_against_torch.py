"""The `recurrence` node against PyTorch loops, float64 to 1e-10: a step graph of nn.LSTMCell,
nn.GRUCell, nn.RNNCell, and a cell written from ops and Linear layers, run once per step. Output, loss,
every parameter gradient (summed over the steps) and dL/d(state_t) at every step with its split."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import rnntui

TOL = dict(rtol=1e-10, atol=1e-10)

HEAD = """inputs:
  x: {generate: {kind: noise, length: 7, features: 3, batch: 2}}
model:
  - id: rec
    type: recurrence
    from: x
"""
TAIL = """  - {id: head, type: dense, units: 2}
loss: {kind: mse, target: %s}
"""
TARGET = np.round(np.random.default_rng(1).normal(size=(2, 7, 2)), 2).tolist()

CELLS = {
    "lstm": ("""    state: {h: 4, c: 4}
    step:
      - {id: cell, type: lstm_cell, hidden_size: 4, from: [x, h, c]}
    next: {h: cell, c: cell.c}
    emit: cell
""", torch.nn.LSTMCell),
    "gru": ("""    state: {h: 4}
    step:
      - {id: cell, type: gru_cell, hidden_size: 4, from: [x, h]}
    next: {h: cell}
    emit: cell
""", torch.nn.GRUCell),
    "rnn": ("""    state: {h: 4}
    step:
      - {id: cell, type: rnn_cell, hidden_size: 4, nonlinearity: relu, from: [x, h]}
    next: {h: cell}
    emit: cell
""", lambda i, h: torch.nn.RNNCell(i, h, nonlinearity="relu")),
}


def run(tmp_path, body: str):
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + body + TAIL % TARGET)
    return rnntui.run(path)


def head_and_loss(trace, hs, P):
    out = torch.stack(hs) @ P["1.weight"].T + P["1.bias"]
    loss = torch.nn.functional.mse_loss(out, torch.tensor(np.asarray(trace["meta.target"])))
    return out, loss


def check_states(trace, name: str, steps: list, through: list | None = None):
    for t, v in enumerate(steps):
        np.testing.assert_allclose(trace[f"grad.model.0.{name}"][t], v.grad.numpy(), **TOL, err_msg=f"{name} t={t}")
    g = np.asarray(trace[f"grad.model.0.{name}"])
    np.testing.assert_allclose(trace[f"grad.model.0.{name}.from_output"] + trace[f"grad.model.0.{name}.through_time"], g,
                               **TOL)
    assert not np.asarray(trace[f"grad.model.0.{name}.through_time"])[-1].any()   # nothing after the last step


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_a_cell_stepped_in_a_recurrence_matches_torchs_cell_in_a_loop(tmp_path, kind):
    body, make = CELLS[kind]
    trace = run(tmp_path, body)
    P = {k[len("param."):]: torch.tensor(np.asarray(trace[k]), requires_grad=True)
         for k in trace.keys() if k.startswith("param.")}
    cell = make(3, 4).double()
    with torch.no_grad():
        for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, s).copy_(P[f"0.cell.{s}"])
    x = torch.tensor(np.asarray(trace["input.x"]))
    h = torch.zeros(2, 4, dtype=torch.float64)
    c = torch.zeros_like(h)
    hs, cs = [], []
    for t in range(7):
        if kind == "lstm":
            h, c = cell(x[t], (h, c))
            c.retain_grad()
            cs.append(c)
        else:
            h = cell(x[t], h)
        h.retain_grad()
        hs.append(h)
    out, loss = head_and_loss(trace, hs, P)
    loss.backward()
    np.testing.assert_allclose(trace["output"], out.detach().numpy(), **TOL)
    np.testing.assert_allclose(trace["loss"], loss.item(), **TOL)
    for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(trace[f"grad.param.0.cell.{s}"], getattr(cell, s).grad.numpy(), **TOL, err_msg=s)
    for s in ("1.weight", "1.bias"):
        np.testing.assert_allclose(trace[f"grad.param.{s}"], P[s].grad.numpy(), **TOL)
    check_states(trace, "h", hs)
    if kind == "lstm":
        check_states(trace, "c", cs)
        np.testing.assert_allclose(trace["model.0.cell.gates.f"], np.stack(
            [torch.sigmoid(x[t] @ cell.weight_ih[4:8].T + cell.bias_ih[4:8] + (hs[t - 1] if t else torch.zeros(2, 4,
             dtype=torch.float64)) @ cell.weight_hh[4:8].T + cell.bias_hh[4:8]).detach().numpy() for t in range(7)]),
            **TOL)


CUSTOM = """    state: {h: 5}
    step:
      - {id: xh, op: cat, from: [x, h]}
      - {id: z, type: dense, units: 5, activation: sigmoid, from: xh}
      - {id: cand, type: dense, units: 5, activation: tanh, from: xh}
      - {id: diff, op: sub, from: [cand, h]}
      - {id: upd, op: mul, from: [z, diff]}
      - {id: hn, op: add, from: [h, upd]}
    next: {h: hn}
    emit: hn
"""


def test_a_cell_written_from_ops_matches_the_same_loop_in_torch(tmp_path):
    trace = run(tmp_path, CUSTOM)
    P = {k[len("param."):]: torch.tensor(np.asarray(trace[k]), requires_grad=True)
         for k in trace.keys() if k.startswith("param.")}
    x = torch.tensor(np.asarray(trace["input.x"]))
    h = torch.zeros(2, 5, dtype=torch.float64)
    hs = []
    for t in range(7):
        xh = torch.cat([x[t], h], dim=-1)
        z = torch.sigmoid(xh @ P["0.z.weight"].T + P["0.z.bias"])
        cand = torch.tanh(xh @ P["0.cand.weight"].T + P["0.cand.bias"])
        h = h + z * (cand - h)
        h.retain_grad()
        hs.append(h)
    out, loss = head_and_loss(trace, hs, P)
    loss.backward()
    np.testing.assert_allclose(trace["output"], out.detach().numpy(), **TOL)
    for name, p in P.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], p.grad.numpy(), **TOL, err_msg=name)
    check_states(trace, "h", hs)
    np.testing.assert_allclose(trace["grad.input.x"], _dx(trace, P), **TOL)


def _dx(trace, P):
    x = torch.tensor(np.asarray(trace["input.x"]), requires_grad=True)
    h = torch.zeros(2, 5, dtype=torch.float64)
    hs = []
    for t in range(7):
        xh = torch.cat([x[t], h], dim=-1)
        z = torch.sigmoid(xh @ P["0.z.weight"].T + P["0.z.bias"])
        h = h + z * (torch.tanh(xh @ P["0.cand.weight"].T + P["0.cand.bias"]) - h)
        hs.append(h)
    head_and_loss(trace, hs, P)[1].backward()
    return x.grad.numpy()


def test_the_custom_cell_scenario_against_torch_and_its_description():
    trace = rnntui.run("graph-custom-cell")
    P = {k[len("param."):]: torch.tensor(np.asarray(trace[k]), requires_grad=True)
         for k in trace.keys() if k.startswith("param.")}
    x = torch.tensor(np.asarray(trace["input.x"]))
    h = torch.zeros(1, 6, dtype=torch.float64)
    hs = []
    for t in range(16):
        xh = torch.cat([x[t], h], dim=-1)
        z = torch.sigmoid(xh @ P["0.z.weight"].T + P["0.z.bias"])
        h = h + z * (torch.tanh(xh @ P["0.cand.weight"].T + P["0.cand.bias"]) - h)
        h.retain_grad()
        hs.append(h)
    out = torch.stack(hs) @ P["1.weight"].T + P["1.bias"]
    out.sum().backward()
    np.testing.assert_allclose(trace["output"], out.detach().numpy(), **TOL)
    np.testing.assert_allclose(trace["loss"], out.sum().item(), **TOL)
    for name, p in P.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], p.grad.numpy(), **TOL, err_msg=name)
    check_states(trace, "h", hs)
    # the description's numbers
    z = np.asarray(trace["model.0.z.out"])
    assert 0.38 <= z.min() < 0.39 and 0.59 < z.max() <= 0.6   # bounds that hold, as tight as the words say
    n = np.linalg.norm(np.asarray(trace["grad.model.0.h"]).reshape(16, -1), axis=1)
    assert f"{n[-1]:.2f}" == "0.78" and 1.1 <= n[:-1].min() and n[:-1].max() < 1.5
    assert f"{np.linalg.norm(trace['grad.model.0.h0']):.2f}" == "0.74"
    for words in ("between 0.38 and 0.6", "0.78 at the last step", "1.1 to 1.5", "0.74 reaches"):
        assert words in trace.info.description


FEED = """inputs:
  x: {generate: {kind: sine, length: 8, features: 1, batch: 2, period: 6}}
model:
  - id: gen
    type: recurrence
    state: {h: 5, c: 5}
    step:
      - {id: cell, type: lstm_cell, hidden_size: 5, from: [x, h, c]}
      - {id: out, type: dense, units: 1, from: cell}
    next: {h: cell, c: cell.c}
    emit: out
    feed: out
    feed_after: 3
loss: {kind: mse, target: %s}
"""


def test_feeding_the_output_back_matches_torchs_time_sequence_prediction_loop(tmp_path):
    """PyTorch's time_sequence_prediction example: an LSTMCell and a Linear read the input for 3 steps,
    then their own output (`feed: out`, `feed_after: 3`); the gradient flows back through what was fed."""
    target = np.round(np.random.default_rng(2).normal(size=(2, 8, 1)), 2).tolist()
    path = tmp_path / "f.yaml"
    path.write_text(FEED % target)
    trace = rnntui.run(path)
    P = {k[len("param."):]: torch.tensor(np.asarray(trace[k]), requires_grad=True)
         for k in trace.keys() if k.startswith("param.")}
    cell = torch.nn.LSTMCell(1, 5).double()
    with torch.no_grad():
        for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, s).copy_(P[f"0.cell.{s}"])
    x = torch.tensor(np.asarray(trace["input.x"]), requires_grad=True)
    h = c = torch.zeros(2, 5, dtype=torch.float64)
    outs, hs = [], []
    for t in range(8):
        xt = x[t] if t < 3 else outs[-1]
        h, c = cell(xt, (h, c))
        h.retain_grad()
        hs.append(h)
        outs.append(h @ P["0.out.weight"].T + P["0.out.bias"])
    out = torch.stack(outs)
    loss = torch.nn.functional.mse_loss(out, torch.tensor(np.asarray(trace["meta.target"])))
    loss.backward()
    np.testing.assert_allclose(trace["output"], out.detach().numpy(), **TOL)
    np.testing.assert_allclose(trace["model.0.x"][3:], out.detach().numpy()[2:-1], **TOL)   # what was fed
    for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(trace[f"grad.param.0.cell.{s}"], getattr(cell, s).grad.numpy(), **TOL)
    for s in ("0.out.weight", "0.out.bias"):
        np.testing.assert_allclose(trace[f"grad.param.{s}"], P[s].grad.numpy(), **TOL)
    check_states(trace, "h", hs)
    np.testing.assert_allclose(trace["grad.input.x"], x.grad.numpy(), **TOL)   # zero from step 3 on
    assert not np.asarray(trace["grad.input.x"])[3:].any()
