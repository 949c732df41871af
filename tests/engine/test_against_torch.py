"""The engine against PyTorch: every family x layers x direction/merge x mode x loss.

Values, states, gates, total dL/dh_t and dL/dc_t per step, every entry's output gradient and
every parameter gradient, float64 to 1e-9 and float32 to 1e-5.
"""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402
from tests.torch_ref import manual, modules  # noqa: E402

FAMILIES = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "identity"), ("lstm", None), ("gru", None)]
DIRECTIONS = [(False, "concat"), (True, "concat"), (True, "sum"), (True, "mean"), (True, "mul")]
MODES = ["many-to-many", "many-to-one", "one-to-many"]
LOSSES = ["sum", "mse", "cross_entropy"]
T, B, D, H, OUT = 5, 2, 3, 4, 3


def scenario_text(kind, nl, layers, bidir, merge, mode, loss, dtype="float64", softmax_head=False, seed=0):
    rng = np.random.default_rng(seed)
    steps = 1 if mode == "one-to-many" else T
    x = rng.normal(size=(B, steps, D)).round(3).tolist()
    entry = {"type": kind, "hidden_size": H, "num_layers": layers, "bidirectional": bidir, "merge": merge}
    if nl:
        entry["nonlinearity"] = nl
    head = {"type": "dense", "units": OUT, "activation": "softmax" if softmax_head else "tanh"}
    doc = {
        "version": 1, "name": f"{kind} grid", "seed": seed, "dtype": dtype, "mode": mode,
        "input": {"batch": x}, "model": [entry, head],
        "weights": {"init": "uniform", "low": -0.6, "high": 0.6},
    }
    if mode == "one-to-many":
        doc["length"] = T
    seq_out = mode != "many-to-one"
    if loss == "mse":
        shape = (B, T, OUT) if seq_out else (B, OUT)
        doc["loss"] = {"kind": "mse", "target": rng.normal(size=shape).round(3).tolist()}
    elif loss == "cross_entropy":
        shape = (B, T) if seq_out else (B,)
        doc["loss"] = {"kind": "cross_entropy", "target": rng.integers(0, OUT, size=shape).tolist()}
    else:
        doc["loss"] = {"kind": "sum"}
    return json.dumps(doc)  # JSON is YAML


def run_text(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return rnntui.run(p)


def compare(trace, dtype, tol):
    vals, grads = manual(trace, dtype)
    np.testing.assert_allclose(trace["loss"], vals["loss"], rtol=tol, atol=tol, err_msg="loss")
    for key, ref in {**vals, **grads}.items():
        if key == "loss":
            continue
        assert key in trace, f"trace lacks {key}"
        np.testing.assert_allclose(trace[key], ref, rtol=tol, atol=tol, err_msg=key)
    return vals, grads


GRID = list(itertools.product(FAMILIES, [1, 3], DIRECTIONS, MODES, LOSSES))


@pytest.mark.parametrize("family,layers,direction,mode,loss", GRID,
                         ids=[f"{f[0]}-{f[1] or ''}-l{l}-{'bi-' + d[1] if d[0] else 'uni'}-{m}-{lo}"
                              for f, l, d, m, lo in GRID])
def test_float64_matches_torch(tmp_path, family, layers, direction, mode, loss):
    (kind, nl), (bidir, merge) = family, direction
    trace = run_text(tmp_path, scenario_text(kind, nl, layers, bidir, merge, mode, loss,
                                             softmax_head=(loss == "cross_entropy" and layers == 1)))
    compare(trace, torch.float64, 1e-9)
    if nl != "identity":  # torch.nn.RNN has no identity nonlinearity; the manual reference covers it
        out, loss_value, pgrads = modules(trace, torch.float64)
        np.testing.assert_allclose(trace["output"], out, rtol=1e-9, atol=1e-9, err_msg="output vs nn module")
        np.testing.assert_allclose(trace["loss"], loss_value, rtol=1e-9, atol=1e-9)
        for name, g in pgrads.items():
            np.testing.assert_allclose(trace[f"grad.param.{name}"], g, rtol=1e-9, atol=1e-9,
                                       err_msg=f"grad.param.{name} vs nn module")


@pytest.mark.parametrize("family,layers,direction,mode,loss", GRID,
                         ids=[f"{f[0]}-{f[1] or ''}-l{l}-{'bi-' + d[1] if d[0] else 'uni'}-{m}-{lo}"
                              for f, l, d, m, lo in GRID])
def test_float32_matches_torch(tmp_path, family, layers, direction, mode, loss):
    (kind, nl), (bidir, merge) = family, direction
    trace = run_text(tmp_path, scenario_text(kind, nl, layers, bidir, merge, mode, loss, dtype="float32",
                                             softmax_head=(loss == "cross_entropy" and layers == 1)))
    assert trace["model.0.l0.fwd.h"].dtype == np.float32 and trace["loss"].dtype == np.float32
    compare(trace, torch.float32, 1e-5)


@pytest.mark.parametrize("kind,nl", FAMILIES)
def test_step_gradnorms_sum_to_total(tmp_path, kind, nl):
    """The per-step contributions' norms: recomputed by forming each step's matrix here."""
    trace = run_text(tmp_path, scenario_text(kind, nl, 1, True, "concat", "many-to-many", "mse"))
    vals, grads = manual(trace, torch.float64)
    for name in trace.info.entries[0].params:
        norms = trace[f"gradnorm.step.{name}"]
        assert norms.shape == (T,)
        assert np.all(norms >= 0) and norms.sum() >= np.linalg.norm(trace[f"grad.param.{name}"]) - 1e-12
    # step t's weight_ih_l0 contribution is dZ_t^T x_t: check against torch by differentiating
    # the loss with the input projection of one step at a time
    x = torch.tensor(trace["input"])
    for t in range(T):
        P = {k: torch.tensor(trace[k]) for k in trace if k.startswith("param.")}
        W = P["param.0.weight_ih_l0"]
        Wt = W.clone().requires_grad_(True)
        h_ref = _replay_with_step_weight(trace, t, Wt, x)
        h_ref.backward()
        np.testing.assert_allclose(trace["gradnorm.step.0.weight_ih_l0"][t], Wt.grad.norm().item(), rtol=1e-9,
                                   err_msg=f"step {t}")


def _replay_with_step_weight(trace, step, Wt, x):
    """The loss, with weight_ih_l0 replaced by Wt only where forward step `step` reads it."""
    from tests import torch_ref

    info = trace.info
    e = info.entries[0]
    P = {k[len("param.0."):]: torch.tensor(trace[k]) for k in trace if k.startswith("param.0.")}
    Tn, Bn, _ = x.shape
    outs = []
    for d in e.directions:
        sfx = "_l0" + ("_reverse" if d == "bwd" else "")
        h = torch.zeros(Bn, e.hidden_size, dtype=torch.float64)
        c = torch.zeros_like(h)
        hs = [None] * Tn
        for t in (range(Tn - 1, -1, -1) if d == "bwd" else range(Tn)):
            Pt = dict(P)
            if t == step and d == "fwd":
                Pt["weight_ih_l0"] = Wt
            h, c2, _ = torch_ref._cell_step(e.type, e.nonlinearity, x[t], h, c, Pt, sfx)
            c = c2 if c2 is not None else c
            hs[t] = h
        outs.append(torch.stack(hs))
    out = torch.cat(outs, -1)
    head = info.entries[1]
    pre = out @ torch.tensor(trace["param.1.weight"]).T + torch.tensor(trace["param.1.bias"])
    y = torch_ref._act(head.activation, pre)
    return torch.nn.functional.mse_loss(y, torch.tensor(trace["meta.target"]))
