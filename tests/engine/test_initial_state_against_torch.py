"""`initial_state:` against PyTorch's (h_0, c_0): every family x layers x direction x mode, float64
to 1e-9 (loss, output, every parameter gradient, dL/d(input), dL/dh_0 and dL/dc_0), the first step's
Jacobian read at h_0, and the refusals."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402
from rnntui.errors import ScenarioError  # noqa: E402

FAMILIES = ["rnn", "lstm", "gru"]
T, B, D, H, OUT = 4, 2, 3, 3, 2


def scenario(kind, layers, bidir, mode, seed=0, **extra):
    rng = np.random.default_rng(seed)
    n = layers * (2 if bidir else 1)
    state = {"h": rng.normal(size=(n, B, H)).round(3).tolist()}
    if kind == "lstm":
        state["c"] = rng.normal(size=(n, B, H)).round(3).tolist()
    entry = {"type": kind, "hidden_size": H, "num_layers": layers, "bidirectional": bidir, "initial_state": state}
    seq_out = mode == "many-to-many"
    doc = {"version": 1, "seed": seed, "mode": mode, "input": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()},
           "model": [entry, {"type": "dense", "units": OUT, "activation": "tanh"}],
           "weights": {"init": "uniform", "low": -0.6, "high": 0.6},
           "loss": {"kind": "mse", "target": rng.normal(size=(B, T, OUT) if seq_out else (B, OUT)).round(3).tolist()}}
    doc.update(extra)
    return doc


def run_doc(tmp_path, doc):
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(doc))
    return rnntui.run(p)


def torch_run(trace, doc):
    rec = trace.info.entries[0]
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[rec.type]
    mod = cls(D, H, num_layers=rec.num_layers, bidirectional=len(rec.directions) == 2).double()
    fc = torch.nn.Linear(rec.out_shape[0], OUT).double()
    with torch.no_grad():
        for name, p in mod.named_parameters():
            p.copy_(torch.tensor(trace[f"param.0.{name}"]))
        fc.weight.copy_(torch.tensor(trace["param.1.weight"]))
        fc.bias.copy_(torch.tensor(trace["param.1.bias"]))
    state = doc["model"][0]["initial_state"]
    h0 = torch.tensor(state["h"], dtype=torch.float64, requires_grad=True)
    c0 = torch.tensor(state["c"], dtype=torch.float64, requires_grad=True) if "c" in state else None
    x = torch.tensor(trace["input"], requires_grad=True)
    out, final = mod(x, (h0, c0) if c0 is not None else h0)
    h_n = final[0] if c0 is not None else final
    bi = len(rec.directions) == 2
    if trace.info.mode == "many-to-one":
        out = torch.cat([h_n[-2], h_n[-1]], -1) if bi else h_n[-1]
    y = torch.tanh(fc(out))
    loss = ((y - torch.tensor(trace["meta.target"])) ** 2).mean()
    loss.backward()
    grads = {f"0.{n}": p.grad.numpy() for n, p in mod.named_parameters()}
    grads.update({"1.weight": fc.weight.grad.numpy(), "1.bias": fc.bias.grad.numpy()})
    return float(loss.detach()), y.detach().numpy(), grads, x.grad.numpy(), h0.grad.numpy(), \
        None if c0 is None else c0.grad.numpy()


GRID = list(itertools.product(FAMILIES, [1, 2], [False, True], ["many-to-many", "many-to-one"]))


@pytest.mark.parametrize("kind,layers,bidir,mode", GRID,
                         ids=[f"{k}-l{n}-{'bi' if b else 'uni'}-{m}" for k, n, b, m in GRID])
def test_initial_state_matches_torch(tmp_path, kind, layers, bidir, mode):
    doc = scenario(kind, layers, bidir, mode)
    trace = run_doc(tmp_path, doc)
    loss, out, grads, dx, dh0, dc0 = torch_run(trace, doc)
    np.testing.assert_allclose(trace["loss"], loss, rtol=1e-9)
    np.testing.assert_allclose(trace["output"], out, rtol=1e-9, atol=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], g, rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(trace["grad.input"], dx, rtol=1e-9, atol=1e-12)
    dirs = trace.info.entries[0].directions
    places = [f"model.0.l{j}.{d}" for j in range(layers) for d in dirs]  # PyTorch's h_0 order
    np.testing.assert_allclose(np.stack([trace[f"grad.{p}.h0"] for p in places]), dh0, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(np.stack([trace[f"{p}.h0"] for p in places]), doc["model"][0]["initial_state"]["h"])
    if dc0 is not None:
        np.testing.assert_allclose(np.stack([trace[f"grad.{p}.c0"] for p in places]), dc0, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", FAMILIES)
def test_the_first_steps_jacobian_reads_the_initial_state(tmp_path, kind):
    """dh_0/dh_{-1} at step 0 is taken at h_0 (and c_0), not at zero: against torch's own Jacobian."""
    doc = scenario(kind, 1, False, "many-to-many")
    trace = run_doc(tmp_path, doc)
    P = {n: torch.tensor(trace[f"param.0.{n}_l0"]) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    cell = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind](D, H).double()
    with torch.no_grad():
        for n, v in P.items():
            getattr(cell, n).copy_(v)
    state = doc["model"][0]["initial_state"]
    for b in range(B):
        x0 = torch.tensor(trace["input"][0, b])
        h0 = torch.tensor(state["h"][0][b], dtype=torch.float64)
        if kind == "lstm":
            c0 = torch.tensor(state["c"][0][b], dtype=torch.float64)
            J = torch.autograd.functional.jacobian(lambda h: cell(x0[None], (h[None], c0[None]))[0][0], h0)
        else:
            J = torch.autograd.functional.jacobian(lambda h: cell(x0[None], h[None])[0], h0)
        expected = float(torch.linalg.matrix_norm(J, ord=2))
        assert trace["diag.model.0.l0.fwd.jacnorm"][0, b] == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("change,said", [
    (lambda d: d["model"][0]["initial_state"].update(h=[[[0.0] * H] * B]), "initial_state.h: found shape (1, 2, 3); "
     "expected (2, 2, 3)"),
    (lambda d: d["model"][0]["initial_state"].update(c=[[[0.0] * H] * B] * 2), "expected a map with h"),
    (lambda d: d["model"][1].update(initial_state={"h": [[0.0]]}), "found an initial state on a dense entry"),
    (lambda d: d["input"].update(lengths=[4, 2]), "initial state beside sequences of different lengths"),
])
def test_initial_states_that_cannot_be_used_are_refused(tmp_path, change, said):
    doc = scenario("gru", 2, False, "many-to-many")
    change(doc)
    with pytest.raises(ScenarioError, match="model\\[\\d\\]\\.initial_state") as exc:
        run_doc(tmp_path, doc)
    assert said in str(exc.value)


def test_an_initial_state_from_an_npz_file(tmp_path):
    doc = scenario("lstm", 1, True, "many-to-one")
    state = doc["model"][0]["initial_state"]
    np.savez(tmp_path / "state.npz", h=np.array(state["h"]), c=np.array(state["c"]))
    same = run_doc(tmp_path, doc)
    doc["model"][0]["initial_state"] = {"h": "state.npz", "c": "state.npz"}
    from_file = run_doc(tmp_path, doc)
    assert from_file["loss"] == same["loss"]
