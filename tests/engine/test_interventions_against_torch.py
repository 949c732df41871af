"""Interventions against a PyTorch unroll that overwrites the same values (`v = v.clone(); v[:, units] = x`),
float64 to 1e-9: loss, outputs, every parameter gradient, dL/d(input) and each step's dL/dh_t (dL/dc_t), the
recorded values themselves, and the mask the trace records."""
from __future__ import annotations

import json

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402
from rnntui.engine.whatif import what_if  # noqa: E402

T, B, D, H, OUT = 7, 2, 3, 4, 2


def scenario(kind, interventions, layers=1, bidir=False, seed=0, **entry):
    rng = np.random.default_rng(seed)
    return {"version": 1, "seed": seed, "input": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()},
            "model": [{"type": kind, "hidden_size": H, "num_layers": layers, "bidirectional": bidir, **entry},
                      {"type": "dense", "units": OUT, "activation": "tanh"}],
            "weights": {"init": "uniform", "low": -0.6, "high": 0.6},
            "loss": {"kind": "mse", "target": rng.normal(size=(B, T, OUT)).round(3).tolist()},
            "interventions": interventions}


def run_doc(tmp_path, doc):
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(doc))
    return rnntui.run(p)


class Overwrites:
    """The interventions as PyTorch overwrites: a clone with the units set, so no gradient reaches the old value."""

    def __init__(self, items):
        self.items = items

    def __call__(self, prefix, name, t, v):
        for it in self.items:
            start, stop = (it["t"], it["t"] + 1) if "t" in it else map(int, it["steps"].split(":"))
            if it["at"] == prefix and it["set"] == name and start <= t < stop:
                v = v.clone()
                v[:, it.get("units", slice(None))] = it["value"]
        return v


def cell(kind, nl, x, h, c, P, sfx, put):
    W_ih, W_hh, b_ih, b_hh = (P[f"weight_ih{sfx}"], P[f"weight_hh{sfx}"], P[f"bias_ih{sfx}"], P[f"bias_hh{sfx}"])
    if kind == "rnn":
        pre = put("pre", x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        return put("h", {"tanh": torch.tanh, "relu": torch.relu}[nl](pre)), None
    if kind == "lstm":
        i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, -1)
        i, f = put("gates.i", torch.sigmoid(i)), put("gates.f", torch.sigmoid(f))
        g, o = put("gates.g", torch.tanh(g)), put("gates.o", torch.sigmoid(o))
        c = put("c", f * c + i * g)
        return put("h", o * torch.tanh(c)), c
    ir, iz, in_ = (x @ W_ih.T + b_ih).chunk(3, -1)
    hr, hz, hn = (h @ W_hh.T + b_hh).chunk(3, -1)
    r, z = put("gates.r", torch.sigmoid(ir + hr)), put("gates.z", torch.sigmoid(iz + hz))
    n = put("gates.n", torch.tanh(in_ + r * hn))
    return put("h", (1 - z) * n + z * h), None


def torch_unroll(trace, doc):
    e = trace.info.entries[0]
    put = Overwrites(doc["interventions"])
    P = {k.split(".", 2)[2]: torch.tensor(trace[k], requires_grad=True) for k in trace
         if k.startswith("param.0.")}
    x = torch.tensor(trace["input"], requires_grad=True)
    kept, inp = {}, x
    for j in range(e.num_layers):
        outs = []
        for d in e.directions:
            prefix, sfx = f"model.0.l{j}.{d}", f"_l{j}" + ("_reverse" if d == "bwd" else "")
            h = torch.zeros(B, H, dtype=torch.float64)
            c = torch.zeros(B, H, dtype=torch.float64)
            hs, cs = [None] * T, [None] * T
            for t in (range(T - 1, -1, -1) if d == "bwd" else range(T)):
                h, c = cell(e.type, e.nonlinearity, inp[t], h, c, P, sfx,
                            lambda name, v, t=t, prefix=prefix: put(prefix, name, t, v))
                h.retain_grad()
                hs[t] = h
                if c is not None:
                    c.retain_grad()
                    cs[t] = c
            kept[f"{prefix}.h"] = hs
            if c is not None:
                kept[f"{prefix}.c"] = cs
            outs.append(torch.stack(hs))
        inp = torch.cat(outs, -1)
    W, b = torch.tensor(trace["param.1.weight"], requires_grad=True), torch.tensor(trace["param.1.bias"], requires_grad=True)
    y = torch.tanh(inp @ W.T + b)
    loss = ((y - torch.tensor(trace["meta.target"])) ** 2).mean()
    loss.backward()
    grads = {f"grad.param.0.{k}": v.grad.numpy() for k, v in P.items()}
    grads.update({"grad.param.1.weight": W.grad.numpy(), "grad.param.1.bias": b.grad.numpy(),
                  "grad.input": x.grad.numpy()})
    values = {"loss": loss.item(), "output": y.detach().numpy()}
    for k, seq in kept.items():
        values[k] = torch.stack(seq).detach().numpy()
        grads[f"grad.{k}"] = torch.stack([s.grad for s in seq]).numpy()
    return values, grads


# Gate values inside (0, 1) (and (-1, 1) for a candidate): at 0 or 1 a sigmoid's derivative is 0 anyway, so
# a missing gradient cut would go unseen; the clamp at 1.0 is its own case.
CASES = {
    "lstm-forget-gate-held-open": ("lstm", [{"at": "model.0.l0.fwd", "steps": "2:6", "set": "gates.f", "value": 1.0}], {}),
    "rnn-h-unit-one-step": ("rnn", [{"at": "model.0.l0.fwd", "t": 3, "set": "h", "units": [1], "value": 0.0}], {}),
    "rnn-relu-pre-range": ("rnn", [{"at": "model.0.l0.fwd", "steps": "2:5", "set": "pre", "units": [0, 2],
                                    "value": 0.7}], {"nonlinearity": "relu"}),
    "gru-h-unit-one-step": ("gru", [{"at": "model.0.l0.fwd", "t": 4, "set": "h", "units": [2], "value": 0.5}], {}),
    "lstm-cell-state": ("lstm", [{"at": "model.0.l0.fwd", "t": 2, "set": "c", "units": [1, 3], "value": 2.0}], {}),
    "lstm-forget-gate-range-bidirectional": (
        "lstm", [{"at": "model.0.l0.bwd", "steps": "1:5", "set": "gates.f", "value": 0.7},
                 {"at": "model.0.l1.fwd", "t": 3, "set": "gates.o", "units": [0], "value": 0.4}],
        {"bidirectional": True, "num_layers": 2}),
    "gru-update-gate-range-bidirectional": (
        "gru", [{"at": "model.0.l0.fwd", "steps": "2:6", "set": "gates.z", "units": [1], "value": 0.3},
                {"at": "model.0.l0.bwd", "t": 4, "set": "gates.r", "value": 0.5},
                {"at": "model.0.l0.bwd", "t": 1, "set": "gates.n", "units": [3], "value": -0.5}],
        {"bidirectional": True}),
    "lstm-input-candidate-h": (
        "lstm", [{"at": "model.0.l0.fwd", "steps": "0:3", "set": "gates.i", "value": 0.2},
                 {"at": "model.0.l0.fwd", "t": 5, "set": "gates.g", "units": [2], "value": 0.6},
                 {"at": "model.0.l0.fwd", "t": 5, "set": "h", "units": [0], "value": -1.0}], {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_intervention_matches_torch(tmp_path, name):
    kind, items, entry = CASES[name]
    doc = scenario(kind, items, **entry)
    trace = run_doc(tmp_path, doc)
    values, grads = torch_unroll(trace, doc)
    np.testing.assert_allclose(trace["loss"], values["loss"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(trace["output"], values["output"], rtol=1e-9, atol=1e-12)
    for k, v in values.items():
        if k.startswith("model."):
            np.testing.assert_allclose(trace[k], v, rtol=1e-9, atol=1e-12, err_msg=k)
    for k, v in grads.items():
        np.testing.assert_allclose(trace[k], v, rtol=1e-9, atol=1e-12, err_msg=k)
    # the overwritten values are there, and the mask says where
    for it in items:
        key = f"{it['at']}.{it['set']}"
        mask = trace[f"{it['at']}.intervened.{it['set']}"]
        start, stop = (it["t"], it["t"] + 1) if "t" in it else map(int, it["steps"].split(":"))
        units = it.get("units", list(range(H)))
        assert mask.shape == (T, B, H) and mask[start:stop][:, :, units].all()
        assert np.all(trace[key][start:stop][:, :, units] == it["value"])
    assert json.loads(str(trace["meta.interventions"])) == items


@pytest.mark.parametrize("name", list(CASES))
def test_intervention_changes_the_run(tmp_path, name):
    """Not a no-op: the run without the interventions differs (and what_if(trace, []) is that run)."""
    kind, items, entry = CASES[name]
    with_them = run_doc(tmp_path, scenario(kind, items, **entry))
    without = run_doc(tmp_path, scenario(kind, [], **entry))
    assert with_them["loss"] != without["loss"]
    undone = what_if(with_them, [])
    assert undone["loss"] == without["loss"]
    assert not any(".intervened." in k for k in undone) and "meta.interventions" not in undone
    np.testing.assert_array_equal(undone["grad.model.0.l0.fwd.h"], without["grad.model.0.l0.fwd.h"])
