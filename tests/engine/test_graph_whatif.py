"""What-if on graph models against PyTorch loops that overwrite the same values (a `torch.where` on the value,
as a forward hook replacing a module's output does), float64 to 1e-10: output, loss, every parameter gradient,
dL/d(input), the recorded dL/d(state_t) of the new value, and the mask the trace records. A recurrence's step
graph values (a state, a step node's value, a cell's c'), and a recurrent module node of a graph."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import rnntui
from rnntui.engine.edits import Change, apply_changes
from rnntui.engine.whatif import WhatIfError, what_if

TOL = dict(rtol=1e-10, atol=1e-10)


def leaves(trace) -> dict:
    return {k[len("param."):]: torch.tensor(np.asarray(trace[k]), requires_grad=True)
            for k in trace.keys() if k.startswith("param.")}


def put(v: torch.Tensor, units, value: float) -> torch.Tensor:
    """*v* with *units* (None: all) replaced by *value*: what follows reads the new value; no gradient reaches
    what computed the old one's replaced units."""
    mask = torch.zeros(v.shape[-1], dtype=torch.bool)
    mask[list(range(v.shape[-1])) if units is None else list(units)] = True
    return torch.where(mask, torch.full_like(v, value), v)


def custom_cell(trace, P, z_at: dict, h_at: dict):
    """graph-custom-cell's loop with z and h overwritten at the steps given (t -> (units, value))."""
    x = torch.tensor(np.asarray(trace["input.x"]), requires_grad=True)
    h = torch.zeros(1, 6, dtype=torch.float64)
    hs = []
    for t in range(16):
        xh = torch.cat([x[t], h], dim=-1)
        z = torch.sigmoid(xh @ P["0.z.weight"].T + P["0.z.bias"])
        if t in z_at:
            z = put(z, *z_at[t])
        h = h + z * (torch.tanh(xh @ P["0.cand.weight"].T + P["0.cand.bias"]) - h)
        if t in h_at:
            h = put(h, *h_at[t])
        h.retain_grad()
        hs.append(h)
    out = torch.stack(hs) @ P["1.weight"].T + P["1.bias"]
    loss = out.sum()
    loss.backward()
    return x, out, loss, hs


def check(new, P, x, out, loss):
    np.testing.assert_allclose(new["output"], out.detach().numpy(), **TOL)
    np.testing.assert_allclose(new["loss"], loss.item(), **TOL)
    for name, p in P.items():
        np.testing.assert_allclose(new[f"grad.param.{name}"], p.grad.numpy(), **TOL, err_msg=name)
    np.testing.assert_allclose(new[f"grad.input.{new.info.inputs[0]}"], x.grad.numpy(), **TOL)


ITEMS = [{"at": "model.0", "t": 3, "set": "z", "units": [1], "value": 0.5},
         {"at": "model.0", "t": 5, "set": "h", "value": 0.0}]


def test_setting_a_step_nodes_value_and_a_state_matches_torch():
    trace = rnntui.run("graph-custom-cell")
    new = what_if(trace, ITEMS)
    P = leaves(trace)
    x, out, loss, hs = custom_cell(trace, P, {3: ([1], 0.5)}, {5: (None, 0.0)})
    check(new, P, x, out, loss)
    for t, h in enumerate(hs):   # dL/dh_t of the new value is recorded whole
        np.testing.assert_allclose(new["grad.model.0.h"][t], h.grad.numpy(), **TOL, err_msg=f"t={t}")
    assert new["model.0.z.out"][3, 0, 1] == 0.5 and not new["model.0.h"][5].any()
    assert new["loss"] != trace["loss"]
    mask = np.asarray(new["model.0.intervened.z"])
    assert mask.shape == (16, 1, 6) and mask.sum() == 1 and mask[3, 0, 1]
    assert np.asarray(new["model.0.intervened.h"])[5].all()
    # undone: the original run again, to the bit
    back = what_if(new, [])
    np.testing.assert_array_equal(back["grad.param.0.z.weight"], trace["grad.param.0.z.weight"])


def test_the_debuggers_stack_and_the_scenarios_interventions_give_the_same_run(tmp_path):
    trace = rnntui.run("graph-custom-cell")
    run, other = apply_changes(trace, (Change("intervention", ITEMS[0]), Change("intervention", ITEMS[1])))
    assert other is trace
    text = trace["meta.scenario"].item() + "interventions:\n" + "".join(
        f"  - {{at: {d['at']}, t: {d['t']}, set: {d['set']}, value: {d['value']}"
        + (f", units: {d['units']}" if "units" in d else "") + "}\n" for d in ITEMS)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    direct = rnntui.run(path)
    for key in ("loss", "grad.param.0.cand.weight", "grad.model.0.h", "model.0.intervened.z"):
        np.testing.assert_array_equal(direct[key], run[key], err_msg=key)


LSTM_CELL = """inputs:
  x: {generate: {kind: noise, length: 6, features: 3, batch: 2}}
model:
  - id: rec
    type: recurrence
    from: x
    state: {h: 4, c: 4}
    step:
      - {id: cell, type: lstm_cell, hidden_size: 4, from: [x, h, c]}
    next: {h: cell, c: cell.c}
    emit: cell
  - {id: head, type: dense, units: 2}
loss: {kind: sum}
"""


def test_setting_a_cells_c_at_a_step_matches_torchs_lstmcell_loop(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(LSTM_CELL)
    trace = rnntui.run(path)
    new = what_if(trace, [{"at": "model.0", "t": 2, "set": "cell.c", "units": [0, 3], "value": 1.5}])
    P = leaves(trace)
    cell = torch.nn.LSTMCell(3, 4).double()
    with torch.no_grad():
        for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, s).copy_(P[f"0.cell.{s}"])
    x = torch.tensor(np.asarray(trace["input.x"]), requires_grad=True)
    h = torch.zeros(2, 4, dtype=torch.float64)
    c = torch.zeros_like(h)
    hs = []
    for t in range(6):
        h, c = cell(x[t], (h, c))
        if t == 2:
            c = put(c, [0, 3], 1.5)   # h' was computed from the old c' (a hook on the cell's output tuple)
        h.retain_grad()
        hs.append(h)
    out = torch.stack(hs) @ P["1.weight"].T + P["1.bias"]
    out.sum().backward()
    np.testing.assert_allclose(new["output"], out.detach().numpy(), **TOL)
    for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(new[f"grad.param.0.cell.{s}"], getattr(cell, s).grad.numpy(), **TOL, err_msg=s)
    np.testing.assert_allclose(new["grad.input.x"], x.grad.numpy(), **TOL)
    for t, hv in enumerate(hs):
        np.testing.assert_allclose(new["grad.model.0.h"][t], hv.grad.numpy(), **TOL, err_msg=f"t={t}")
    np.testing.assert_array_equal(new["model.0.c"][2][:, [0, 3]], 1.5)


def test_a_recurrent_module_node_of_a_graph_takes_its_interventions():
    """graph-residual-lstm: the second LSTM's h at step 2, unit 1 set to 0 (an nn.LSTM module node)."""
    from tests.engine.test_graph_scenarios_against_torch import lstm

    trace = rnntui.run("graph-residual-lstm")
    new = what_if(trace, [{"at": "model.1.l0.fwd", "t": 2, "set": "h", "units": [1], "value": 0.0}])
    P = leaves(trace)
    x = torch.tensor(np.asarray(trace["input.x"]), requires_grad=True)
    h1 = lstm(x, P, 0, [])
    # the second LSTM stepped by hand with its h_2 overwritten
    W_ih, W_hh, b_ih, b_hh = (P[f"1.{s}_l0"] for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    h = torch.zeros(x.shape[1], W_hh.shape[1], dtype=x.dtype)
    c = torch.zeros_like(h)
    h2 = []
    for t in range(x.shape[0]):
        i, f, g, o = (h1[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        if t == 2:
            h = put(h, [1], 0.0)
        h2.append(h)
    out = (h1 + torch.stack(h2)) @ P["3.weight"].T + P["3.bias"]
    loss = torch.nn.functional.mse_loss(out, torch.tensor(np.asarray(trace["meta.target"])))
    loss.backward()
    check(new, P, x, out, loss)


def test_what_a_recurrence_node_cannot_set_is_named():
    trace = rnntui.run("graph-custom-cell")
    with pytest.raises(WhatIfError, match=r"'gate'; model.0 \(cell\) has h, xh, z, cand, diff, upd, hn"):
        what_if(trace, [{"at": "model.0", "t": 3, "set": "gate", "value": 0.5}])
    with pytest.raises(WhatIfError, match="found unit 6; z of model.0 has units 0..5"):
        what_if(trace, [{"at": "model.0", "t": 3, "set": "z", "units": [6], "value": 0.5}])
    with pytest.raises(WhatIfError, match="model.1 is not a recurrent entry.*model.0"):
        what_if(trace, [{"at": "model.1.l0.fwd", "t": 3, "set": "h", "value": 0.5}])


def test_a_weight_edit_on_a_graph_is_the_scenario_with_that_weight(tmp_path):
    """`p` on a graph (engine/edits.py): the run recomputed with an edited step-graph weight, then a what-if on
    top, equals the scenario run with that weight under weights.set and the intervention."""
    import json

    from rnntui.engine.edits import WeightEdit, set_values

    trace = rnntui.run("graph-custom-cell")
    run, _ = apply_changes(trace, (Change("weight", WeightEdit("0.z.weight", "0:2, :", "*=", 3.0)),
                                   Change("intervention", ITEMS[0])))
    values = set_values(run, trace)
    assert list(values) == ["0.z.weight"]
    text = trace["meta.scenario"].item() + "weights:\n  set: " + json.dumps(values) + "\ninterventions:\n  - " + \
        json.dumps(ITEMS[0]) + "\n"
    path = tmp_path / "s.yaml"
    path.write_text(text)
    direct = rnntui.run(path)
    for key in ("loss", "grad.param.0.z.weight", "grad.param.0.cand.bias", "grad.model.0.h", "model.0.z.out"):
        np.testing.assert_allclose(direct[key], run[key], rtol=1e-13, atol=1e-15, err_msg=key)
    assert direct["loss"] != trace["loss"]


GRU_CELL = LSTM_CELL.replace("state: {h: 4, c: 4}", "state: {h: 4}").replace(
    "{id: cell, type: lstm_cell, hidden_size: 4, from: [x, h, c]}", "{id: cell, type: gru_cell, hidden_size: 4, from: [x, h]}"
).replace("next: {h: cell, c: cell.c}", "next: {h: cell}")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_setting_a_cells_gate_matches_torch(tmp_path, kind):
    """`cell.gates.f` (LSTM) / `cell.gates.r` and `cell.gates.n` (GRU) set at a step: the cell's own equations
    in torch with the gate replaced after its nonlinearity."""
    path = tmp_path / "s.yaml"
    path.write_text(LSTM_CELL if kind == "lstm" else GRU_CELL)
    trace = rnntui.run(path)
    items = ([{"at": "model.0", "t": 2, "set": "cell.gates.f", "units": [1], "value": 0.9},
              {"at": "model.0", "steps": "3:5", "set": "cell.gates.o", "value": 0.3}] if kind == "lstm" else
             [{"at": "model.0", "t": 1, "set": "cell.gates.r", "units": [0, 2], "value": 0.2},
              {"at": "model.0", "t": 3, "set": "cell.gates.n", "value": -0.5}])
    new = what_if(trace, items)
    P = leaves(trace)
    W_ih, W_hh, b_ih, b_hh = (P[f"0.cell.{s}"] for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    x = torch.tensor(np.asarray(trace["input.x"]), requires_grad=True)
    h = torch.zeros(2, 4, dtype=torch.float64)
    c = torch.zeros_like(h)
    hs = []

    def gate(name, t, v):
        for it in items:
            steps = range(it["t"], it["t"] + 1) if "t" in it else range(*map(int, it["steps"].split(":")))
            if it["set"] == f"cell.gates.{name}" and t in steps:
                v = put(v, it.get("units"), it["value"])
        return v

    for t in range(6):
        if kind == "lstm":
            i, f, g, o = (x[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=-1)
            i, f, g, o = (gate(n, t, v) for n, v in zip("ifgo", (torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g),
                                                                  torch.sigmoid(o))))
            c = f * c + i * g
            h = o * torch.tanh(c)
        else:
            a, b = x[t] @ W_ih.T + b_ih, h @ W_hh.T + b_hh
            r = gate("r", t, torch.sigmoid(a[:, :4] + b[:, :4]))
            z = gate("z", t, torch.sigmoid(a[:, 4:8] + b[:, 4:8]))
            n = gate("n", t, torch.tanh(a[:, 8:] + r * b[:, 8:]))
            h = (1 - z) * n + z * h
        h.retain_grad()
        hs.append(h)
    out = torch.stack(hs) @ P["1.weight"].T + P["1.bias"]
    out.sum().backward()
    check(new, P, x, out, out.sum())
    for t, hv in enumerate(hs):
        np.testing.assert_allclose(new["grad.model.0.h"][t], hv.grad.numpy(), **TOL, err_msg=f"t={t}")
    first = items[0]
    assert (np.asarray(new[f"model.0.{first['set']}"])[first["t"]][:, first["units"]] == first["value"]).all()
    assert new["loss"] != trace["loss"]
