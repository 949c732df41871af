"""Sequences of different lengths against PyTorch's packed sequences.

Every family x layers (1, 2) x direction/merge x mode x loss, with lengths that include 1 and T:
torch runs `pack_padded_sequence(enforce_sorted=False)` through nn.RNN/LSTM/GRU, a Linear on
`pad_packed_sequence`'s output, and the loss over real steps only. Compared: loss, output,
every parameter gradient and dL/d(input); float64 to 1e-9, float32 to 1e-5. Central differences on
a small case check the same gradients without torch.
"""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

FAMILIES = [("rnn", "tanh"), ("lstm", None), ("gru", None)]
DIRECTIONS = [(False, "concat"), (True, "concat"), (True, "sum"), (True, "mean"), (True, "mul")]
MODES = ["many-to-many", "many-to-one"]
LOSSES = ["sum", "mse", "cross_entropy"]
LENGTHS = [5, 1, 3, 4]          # T = 5; a sample of one step and one of all steps
D, H, OUT = 3, 4, 3


def scenario(kind, nl, layers, bidir, merge, mode, loss, dtype="float64", seed=0, padded=False):
    """A ragged batch (or, with *padded*, the same batch padded with junk and `lengths:`)."""
    rng = np.random.default_rng(seed)
    T = max(LENGTHS)
    seqs = [rng.normal(size=(n, D)).round(3) for n in LENGTHS]
    entry = {"type": kind, "hidden_size": H, "num_layers": layers, "bidirectional": bidir, "merge": merge}
    if nl:
        entry["nonlinearity"] = nl
    inp: dict = {"batch": [s.tolist() for s in seqs]}
    if padded:  # padding holds values a packed run must never read
        inp = {"batch": [np.concatenate([s, np.full((T - len(s), D), 7.5)]).tolist() for s in seqs],
               "lengths": LENGTHS}
    doc = {"version": 1, "seed": seed, "dtype": dtype, "mode": mode, "input": inp,
           "model": [entry, {"type": "dense", "units": OUT, "activation": "tanh"}],
           "weights": {"init": "uniform", "low": -0.6, "high": 0.6}}
    per_step = mode == "many-to-many"

    def steps_of(n, make):
        fill = -100 if loss == "cross_entropy" else [9.0] * OUT  # ignored: past the sample's end
        return make(n) + ([fill] * (T - n) if padded else [])

    if loss == "mse":
        if per_step:
            doc["loss"] = {"kind": "mse", "target": [steps_of(n, lambda k: rng.normal(size=(k, OUT)).round(3).tolist())
                                                     for n in LENGTHS]}
        else:
            doc["loss"] = {"kind": "mse", "target": rng.normal(size=(len(LENGTHS), OUT)).round(3).tolist()}
    elif loss == "cross_entropy":
        if per_step:
            doc["loss"] = {"kind": "cross_entropy",
                           "target": [steps_of(n, lambda k: rng.integers(0, OUT, k).tolist()) for n in LENGTHS]}
        else:
            doc["loss"] = {"kind": "cross_entropy", "target": rng.integers(0, OUT, len(LENGTHS)).tolist()}
    else:
        doc["loss"] = {"kind": "sum"}
    return json.dumps(doc)


def run_text(tmp_path, text):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return rnntui.run(p)


def torch_packed(trace, tdtype):
    """The same run in torch: packed recurrent module, Linear on the padded output, loss over real steps."""
    info = trace.info
    rec, head = info.entries
    lengths = trace["meta.lengths"]
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[rec.type]
    kw = {"nonlinearity": rec.nonlinearity} if rec.type == "rnn" else {}
    mod = cls(D, H, num_layers=rec.num_layers, bidirectional=len(rec.directions) == 2, **kw).to(tdtype)
    fc = torch.nn.Linear(rec.out_shape[0], OUT).to(tdtype)
    with torch.no_grad():
        for name, p in mod.named_parameters():
            p.copy_(torch.tensor(trace[f"param.0.{name}"]))
        fc.weight.copy_(torch.tensor(trace["param.1.weight"]))
        fc.bias.copy_(torch.tensor(trace["param.1.bias"]))
    x = torch.tensor(trace["input"], dtype=tdtype, requires_grad=True)
    packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    out_packed, final = mod(packed)
    h_n = final[0] if rec.type == "lstm" else final
    bi = len(rec.directions) == 2

    def merge(a, b):
        return {"concat": lambda: torch.cat([a, b], -1), "sum": lambda: a + b, "mean": lambda: (a + b) / 2,
                "mul": lambda: a * b}[rec.merge]()

    T = int(max(lengths))
    real = torch.arange(T)[:, None] < torch.tensor(lengths)[None, :]
    if info.mode == "many-to-one":
        seq_out = merge(h_n[-2], h_n[-1]) if bi else h_n[-1]
    else:
        padded, _ = pad_packed_sequence(out_packed, total_length=T)
        seq_out = merge(padded[..., :H], padded[..., H:]) if bi else padded
    y = torch.tanh(fc(seq_out))
    target = trace["meta.target"] if "meta.target" in trace else None
    if info.loss == "sum":
        loss = (y * real[..., None]).sum() if info.mode == "many-to-many" else y.sum()
    elif info.loss == "mse":
        tgt = torch.tensor(target, dtype=tdtype)
        if info.mode == "many-to-many":
            loss = (((y - tgt) ** 2) * real[..., None]).sum() / (real.sum() * OUT)
        else:
            loss = ((y - tgt) ** 2).mean()
    else:
        tgt = torch.tensor(target, dtype=torch.long)
        if info.mode == "many-to-many":
            loss = torch.nn.functional.cross_entropy(y[real], tgt[real])
        else:
            loss = torch.nn.functional.cross_entropy(y, tgt)
    loss.backward()
    grads = {f"0.{n}": p.grad.numpy() for n, p in mod.named_parameters()}
    grads.update({"1.weight": fc.weight.grad.numpy(), "1.bias": fc.bias.grad.numpy()})
    return float(loss), y.detach().numpy(), grads, x.grad.numpy()


GRID = list(itertools.product(FAMILIES, [1, 2], DIRECTIONS, MODES, LOSSES))


@pytest.mark.parametrize("fam,layers,direction,mode,loss", GRID,
                         ids=[f"{f[0]}-l{n}-{'bi-' + m if b else 'uni'}-{mo}-{lo}"
                              for f, n, (b, m), mo, lo in GRID])
def test_packed_matches_torch(tmp_path, fam, layers, direction, mode, loss):
    trace = run_text(tmp_path, scenario(fam[0], fam[1], layers, direction[0], direction[1], mode, loss))
    assert trace["meta.lengths"].tolist() == LENGTHS
    ref_loss, ref_out, ref_grads, ref_dx = torch_packed(trace, torch.float64)
    np.testing.assert_allclose(trace["loss"], ref_loss, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(trace["output"], ref_out, rtol=1e-9, atol=1e-12)
    for name, g in ref_grads.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], g, rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(trace["grad.input"], ref_dx, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fam", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_packed_float32_and_padded_form(tmp_path, fam):
    """float32 to 1e-5; a padded batch with `lengths:` (junk in its padding, a target of -100 there)
    gives the same numbers as the ragged one."""
    text = scenario(fam[0], fam[1], 2, True, "concat", "many-to-many", "cross_entropy", dtype="float32")
    trace = run_text(tmp_path, text)
    ref_loss, ref_out, ref_grads, _ = torch_packed(trace, torch.float32)
    np.testing.assert_allclose(trace["loss"], ref_loss, rtol=1e-5)
    for name, g in ref_grads.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], g, rtol=1e-4, atol=1e-5, err_msg=name)
    ragged = run_text(tmp_path, scenario(fam[0], fam[1], 2, True, "concat", "many-to-many", "cross_entropy"))
    padded = run_text(tmp_path, scenario(fam[0], fam[1], 2, True, "concat", "many-to-many", "cross_entropy",
                                         padded=True))
    assert padded["loss"] == ragged["loss"]
    for k in ragged:
        if k.startswith("grad.param."):
            np.testing.assert_array_equal(padded[k], ragged[k], err_msg=k)


def test_padded_steps_hold_zeros_and_the_backward_direction_starts_at_each_end(tmp_path):
    trace = run_text(tmp_path, scenario("lstm", None, 1, True, "concat", "many-to-many", "sum"))
    for key in ("model.0.l0.fwd.h", "model.0.l0.bwd.h", "model.0.l0.bwd.c", "model.0.l0.bwd.gates.f",
                "grad.model.0.l0.fwd.h", "grad.model.0.l0.bwd.h", "grad.model.0.l0.bwd.c"):
        a = trace[key]
        for b, n in enumerate(LENGTHS):
            assert not a[n:, b].any(), (key, b)
            assert a[:n, b].any(), (key, b)
    # sample 1 has one step: its backward state there is one step from zero, as is its forward one
    np.testing.assert_array_equal(trace["model.0.l0.bwd.h"][0, 1] != 0, trace["model.0.l0.fwd.h"][0, 1] != 0)


def test_central_differences_on_a_packed_case(tmp_path):
    """dL/dW of a packed bidirectional GRU, against (L(W + e) - L(W - e)) / 2e without torch."""
    text = scenario("gru", None, 1, True, "sum", "many-to-one", "mse")
    trace = run_text(tmp_path, text)
    doc = json.loads(text)
    rng = np.random.default_rng(1)
    for name in ("0.weight_hh_l0", "0.weight_ih_l0_reverse", "0.bias_hh_l0_reverse", "1.weight"):
        W = trace[f"param.{name}"]
        idx = tuple(int(rng.integers(0, n)) for n in W.shape)
        eps = 1e-6
        losses = []
        for sign in (1, -1):
            w = W.copy()
            w[idx] += sign * eps
            doc["weights"] = {"init": "none", "set": {k[len("param."):]: trace[k].tolist()
                                                      for k in trace if k.startswith("param.")}}
            doc["weights"]["set"][name] = w.tolist()
            losses.append(float(run_text(tmp_path, json.dumps(doc))["loss"]))
        numeric = (losses[0] - losses[1]) / (2 * eps)
        assert abs(trace[f"grad.param.{name}"][idx] - numeric) < 1e-7 * max(1.0, abs(numeric)), name


def test_diagnostics_count_only_the_samples_still_running(tmp_path):
    """A padded step's zero gates would read as shut (saturated) and its Jacobian as the cell's: the
    saturation share counts real samples only, and a padded step's Jacobian norm is 0."""
    trace = run_text(tmp_path, scenario("lstm", None, 1, False, "concat", "many-to-many", "sum"))
    f = trace["model.0.l0.fwd.gates.f"]
    real = np.arange(f.shape[0])[:, None] < np.asarray(LENGTHS)[None, :]
    for t in range(f.shape[0]):
        v = f[t][real[t]]
        assert trace["diag.model.0.l0.fwd.sat.f"][t] == ((v < 0.05) | (v > 0.95)).mean()
    jn = trace["diag.model.0.l0.fwd.jacnorm"]
    assert (jn[~real] == 0).all() and (jn[real] > 0).all()
