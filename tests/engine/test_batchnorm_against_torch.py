"""batchnorm1d / batchnorm2d against torch.nn.BatchNorm1d / BatchNorm2d, float64 to 1e-12.

Every case builds the same model of torch.nn modules, copies rnntui's parameters and buffers into it and
compares the loss, the output, what the entry recorded (the statistics used, x-hat, its output), dL/d(input)
and every parameter gradient: in eval mode (running statistics, set to values far from 0 and 1), with
`batch_stats: true` (the module in train() mode: batch statistics in the forward and the backward pass),
with `affine: false` and `track_running_stats: false`; on (B, C) vectors after a many-to-one LSTM, on a
sequence after a conv1d (a CRNN: statistics over batch and time), on (B, C, L) maps and in a CNN.
"""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import torch
nn = torch.nn
F = torch.nn.functional

from rnntui.engine import network, run_scenario  # noqa: E402
from rnntui.engine.context import RunContext  # noqa: E402
from rnntui.engine.infer import infer_layout  # noqa: E402
from rnntui.scenario import load_scenario  # noqa: E402
from rnntui.scenario.entry_models import model_for, to_config  # noqa: E402

TOL = dict(rtol=1e-12, atol=1e-12)
MODES = {"eval": {}, "batch_stats": {"batch_stats": True}, "no-affine": {"affine": False, "batch_stats": True},
         "no-running": {"track_running_stats": False}, "eval-no-affine": {"affine": False}}


def _scenario(tmp_path, doc, x=None):
    p = tmp_path / "bn.yaml"
    p.write_text(json.dumps({"version": 1, "weights": {"init": "uniform", "low": -0.6, "high": 0.6}, **doc}))
    sc = load_scenario(p)
    return sc if x is None else replace(sc, x=x)


def _stats_set(i: int, C: int, rng, opts: dict) -> dict:
    """Running statistics and an affine map far from PyTorch's initial ones, so using the wrong ones shows."""
    out = {}
    if opts.get("track_running_stats", True):
        out[f"{i}.running_mean"] = rng.normal(size=C).round(3).tolist()
        out[f"{i}.running_var"] = rng.uniform(0.3, 2.5, size=C).round(3).tolist()
    if opts.get("affine", True):
        out[f"{i}.weight"] = rng.uniform(0.5, 1.5, size=C).round(3).tolist()
        out[f"{i}.bias"] = rng.normal(size=C).round(3).tolist()
    return out


def _bn(dims: int, C: int, opts: dict, trace, i: int):
    """The torch module with rnntui's parameters and buffers, in train() mode where rnntui used batch stats."""
    m = (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(
        C, eps=1e-5, momentum=0.1, affine=opts.get("affine", True),
        track_running_stats=opts.get("track_running_stats", True)).double()
    with torch.no_grad():
        for name, _ in list(m.named_parameters()) + [(n, b) for n, b in m.named_buffers() if b is not None]:
            getattr(m, name).copy_(torch.as_tensor(np.array(trace[f"{'param' if name in ('weight', 'bias') else 'buffer'}.{i}.{name}"])))
    m.train(bool(trace[f"model.{i}.batch_stats"]))
    return m


def _linear(trace, i):
    m = nn.Linear(1, 1).double()
    m.weight = nn.Parameter(torch.as_tensor(np.array(trace[f"param.{i}.weight"])).clone())
    m.bias = nn.Parameter(torch.as_tensor(np.array(trace[f"param.{i}.bias"])).clone())
    return m


def _param(trace, name):
    return nn.Parameter(torch.as_tensor(np.array(trace[f"param.{name}"])).clone())


def _compare(trace, loss, x, params: dict, seen: dict, seq: bool = False):
    """*seen*: rnntui key -> the torch tensor it must equal; params: rnntui name -> torch parameter; *seq*:
    x is torch's batch-first (B, T, D), rnntui's input is (T, B, D)."""
    loss.backward()
    np.testing.assert_allclose(trace["loss"], loss.item(), **TOL)
    gx = x.grad.numpy().transpose(1, 0, 2) if seq else x.grad.numpy()
    np.testing.assert_allclose(trace["grad.input"], gx, **TOL, err_msg="grad.input")
    for key, ref in seen.items():
        np.testing.assert_allclose(trace[key], ref.detach().numpy(), **TOL, err_msg=key)
    for name, p in params.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], p.grad.numpy(), **TOL, err_msg=f"grad {name}")
    assert set(params) == {k[len("param."):] for k in trace.keys() if k.startswith("param.")}


def _stats(bn, x_in, dims_reduce):
    """What the module normalised with: the batch's mean and biased variance, or its running statistics."""
    if bn.training or not bn.track_running_stats:
        return x_in.mean(dim=dims_reduce), x_in.var(dim=dims_reduce, unbiased=False)
    return bn.running_mean, bn.running_var


@pytest.mark.parametrize("mode", MODES)
def test_batchnorm1d_on_vectors_after_a_many_to_one_lstm(tmp_path, mode):
    rng = np.random.default_rng(4)
    opts = MODES[mode]
    B, T, D, H, C = 5, 4, 2, 3, 6
    doc = {"mode": "many-to-one", "input": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()},
           "model": [{"type": "lstm", "hidden_size": H}, {"type": "dense", "units": C},
                     {"type": "batchnorm1d", **opts}, {"type": "dense", "units": 3, "activation": "softmax"}],
           "loss": {"kind": "cross_entropy", "target": rng.integers(0, 3, size=B).tolist()}}
    doc["weights"] = {"init": "uniform", "low": -0.6, "high": 0.6, "set": _stats_set(2, C, rng, opts)}
    trace = run_scenario(_scenario(tmp_path, doc))
    lstm = nn.LSTM(D, H, batch_first=True).double()
    ps = {}
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        ps[f"0.{name}"] = _param(trace, f"0.{name}")
        setattr(lstm, name, ps[f"0.{name}"])
    d1, d3 = _linear(trace, 1), _linear(trace, 3)
    ps.update({"1.weight": d1.weight, "1.bias": d1.bias, "3.weight": d3.weight, "3.bias": d3.bias})
    bn = _bn(1, C, opts, trace, 2)
    ps.update({f"2.{n}": p for n, p in bn.named_parameters()})
    x = torch.tensor(np.asarray(trace["input"]).transpose(1, 0, 2), requires_grad=True)
    h = d1(lstm(x)[0][:, -1])
    mean, var = _stats(bn, h, (0,))
    y = bn(h)
    logits = d3(y)
    loss = F.cross_entropy(logits, torch.as_tensor(np.array(trace["meta.target"]), dtype=torch.long))
    xhat = (h - mean) / torch.sqrt(var + 1e-5)
    _compare(trace, loss, x, ps, {"model.2.out": y, "model.2.mean": mean, "model.2.var": var, "model.2.xhat": xhat,
                                  "output": torch.softmax(logits, -1)}, seq=True)


@pytest.mark.parametrize("mode", MODES)
def test_batchnorm1d_on_a_sequence_after_a_conv1d(tmp_path, mode):
    """A CRNN: conv1d over time, BatchNorm1d on the (N, C, L) tensor, an LSTM, a dense head per step."""
    rng = np.random.default_rng(5)
    opts = MODES[mode]
    B, T, D, C, H = 3, 7, 2, 4, 3
    doc = {"input": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()},
           "model": [{"type": "conv1d", "out_channels": C, "kernel_size": 3, "padding": "same"},
                     {"type": "batchnorm1d", **opts}, {"type": "lstm", "hidden_size": H},
                     {"type": "dense", "units": 2}],
           "loss": {"kind": "mse", "target": rng.normal(size=(B, T, 2)).round(3).tolist()}}
    doc["weights"] = {"init": "uniform", "low": -0.6, "high": 0.6, "set": _stats_set(1, C, rng, opts)}
    trace = run_scenario(_scenario(tmp_path, doc))
    conv = nn.Conv1d(D, C, 3, padding="same").double()
    conv.weight, conv.bias = _param(trace, "0.weight"), _param(trace, "0.bias")
    bn = _bn(1, C, opts, trace, 1)
    lstm = nn.LSTM(C, H, batch_first=True).double()
    ps = {"0.weight": conv.weight, "0.bias": conv.bias, **{f"1.{n}": p for n, p in bn.named_parameters()}}
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        ps[f"2.{name}"] = _param(trace, f"2.{name}")
        setattr(lstm, name, ps[f"2.{name}"])
    d3 = _linear(trace, 3)
    ps.update({"3.weight": d3.weight, "3.bias": d3.bias})
    x = torch.tensor(np.asarray(trace["input"]).transpose(1, 0, 2), requires_grad=True)   # (B, T, D)
    c = conv(x.transpose(1, 2))                 # (B, C, T)
    mean, var = _stats(bn, c, (0, 2))
    y = bn(c)
    out = d3(lstm(y.transpose(1, 2))[0])
    loss = F.mse_loss(out, torch.as_tensor(np.array(trace["meta.target"]).transpose(1, 0, 2)))
    xhat = (c - mean[:, None]) / torch.sqrt(var[:, None] + 1e-5)
    t_major = lambda a: a.permute(2, 0, 1)     # (B, C, T) -> rnntui's (T, B, C)  # noqa: E731
    _compare(trace, loss, x, ps, {"model.1.out": t_major(y), "model.1.mean": mean, "model.1.var": var,
                                      "model.1.xhat": t_major(xhat)}, seq=True)


@pytest.mark.parametrize("mode", MODES)
def test_batchnorm2d_in_a_cnn(tmp_path, mode):
    rng = np.random.default_rng(6)
    opts = MODES[mode]
    B, C = 3, 4
    doc = {"input": {"generate": {"kind": "digit", "size": 8, "batch": B}},
           "model": [{"type": "conv2d", "out_channels": C, "kernel_size": 3, "padding": 1},
                     {"type": "batchnorm2d", **opts}, {"type": "activation", "function": "relu"},
                     {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"},
                     {"type": "dense", "units": 3}],
           "loss": {"kind": "cross_entropy", "target": [0, 2, 1]}}
    doc["weights"] = {"init": "uniform", "low": -0.6, "high": 0.6, "set": _stats_set(1, C, rng, opts)}
    x0 = rng.normal(size=(B, 1, 8, 8))       # three different images (a scenario's image input is one)
    trace = run_scenario(_scenario(tmp_path, doc, x=x0))
    conv = nn.Conv2d(1, C, 3, padding=1).double()
    conv.weight, conv.bias = _param(trace, "0.weight"), _param(trace, "0.bias")
    bn = _bn(2, C, opts, trace, 1)
    dense = _linear(trace, 5)
    ps = {"0.weight": conv.weight, "0.bias": conv.bias, **{f"1.{n}": p for n, p in bn.named_parameters()},
          "5.weight": dense.weight, "5.bias": dense.bias}
    x = torch.tensor(x0, requires_grad=True)
    c = conv(x)
    mean, var = _stats(bn, c, (0, 2, 3))
    y = bn(c)
    logits = dense(F.max_pool2d(F.relu(y), 2).flatten(1))
    loss = F.cross_entropy(logits, torch.tensor([0, 2, 1]))
    xhat = (c - mean[:, None, None]) / torch.sqrt(var[:, None, None] + 1e-5)
    _compare(trace, loss, x, ps, {"model.1.out": y, "model.1.mean": mean, "model.1.var": var, "model.1.xhat": xhat})
    assert bool(trace["model.1.batch_stats"]) == (opts.get("batch_stats", False)
                                                  or not opts.get("track_running_stats", True))


@pytest.mark.parametrize("batch", [False, True])
def test_batchnorm1d_on_maps_of_one_row(batch):
    """(B, C, L) maps (a conv1d over an image-like (C, L) input), at the engine level: no scenario input
    has that shape, but the layout takes it as PyTorch does."""
    rng = np.random.default_rng(7)
    B, Cin, L, C = 4, 2, 9, 3
    types = ["conv1d", "batchnorm1d", "flatten", "dense"]
    raw = [{"type": "conv1d", "out_channels": C, "kernel_size": 3}, {"type": "batchnorm1d", "batch_stats": batch},
           {"type": "flatten"}, {"type": "dense", "units": 2}]
    configs = [to_config(t, model_for(t).model_validate(r)) for t, r in zip(types, raw)]
    layout = infer_layout(types, configs, (Cin, L), False, "many-to-many", 1)
    assert layout[1].view == "map" and layout[1].out_shape == (C, L - 2)
    params = {n: rng.uniform(-0.6, 0.6, s) for lay in layout for n, s in lay.params.items()}
    buffers = {"1.running_mean": rng.normal(size=C), "1.running_var": rng.uniform(0.5, 2, C),
               "1.num_batches_tracked": np.asarray(3, dtype=np.int64)}
    x0 = rng.normal(size=(B, Cin, L))
    rec = network.run_network(layout, x0, RunContext.chain(params, buffers=buffers), "sum", None, seq=False)
    conv = nn.Conv1d(Cin, C, 3).double()
    bn = nn.BatchNorm1d(C).double().train(batch)
    dense = nn.Linear(C * (L - 2), 2).double()
    with torch.no_grad():
        for mod, i in ((conv, 0), (bn, 1), (dense, 3)):
            for n, p in mod.named_parameters():
                p.copy_(torch.as_tensor(params[f"{i}.{n}"]))
        bn.running_mean.copy_(torch.as_tensor(buffers["1.running_mean"]))
        bn.running_var.copy_(torch.as_tensor(buffers["1.running_var"]))
    x = torch.tensor(x0, requires_grad=True)
    y = bn(conv(x))
    loss = dense(y.flatten(1)).sum()
    loss.backward()
    np.testing.assert_allclose(rec["model.1.out"], y.detach().numpy(), **TOL)
    np.testing.assert_allclose(rec["grad.input"], x.grad.numpy(), **TOL)
    np.testing.assert_allclose(rec["grad.param.1.weight"], bn.weight.grad.numpy(), **TOL)
    np.testing.assert_allclose(rec["grad.param.1.bias"], bn.bias.grad.numpy(), **TOL)
    np.testing.assert_allclose(rec["grad.param.0.weight"], conv.weight.grad.numpy(), **TOL)


# --- training: batch statistics in every iteration, running statistics moved after it ---------------------------

N = 32


def _training_case(tmp_path, kind: str, optimizer: dict, momentum):
    """A small conv + batchnorm scenario. The conv has an activation: a conv bias right before a batchnorm
    has no gradient but rounding noise (the mean takes it away), which Adam would blow up to 1e-9."""
    rng = np.random.default_rng(8)
    B, C = 4, 3
    if kind == "cnn":
        doc = {"input": {"generate": {"kind": "digit", "size": 6, "batch": B}},
               "model": [{"type": "conv2d", "out_channels": C, "kernel_size": 3, "activation": "tanh"},
                         {"type": "batchnorm2d", "momentum": momentum}, {"type": "activation", "function": "tanh"},
                         {"type": "flatten"}, {"type": "dense", "units": 3}],
               "loss": {"kind": "cross_entropy", "target": [0, 2, 1, 2]}}
        x0 = rng.normal(size=(B, 1, 6, 6))
    else:
        T, D = 6, 2
        doc = {"mode": "many-to-one", "input": {"batch": rng.normal(size=(B, T, D)).round(3).tolist()},
               "model": [{"type": "conv1d", "out_channels": C, "kernel_size": 2, "activation": "relu"},
                         {"type": "batchnorm1d", "momentum": momentum}, {"type": "gru", "hidden_size": 3},
                         {"type": "dense", "units": 2}],
               "loss": {"kind": "mse", "target": rng.normal(size=(B, 2)).round(3).tolist()}}
        x0 = None
    doc["train"] = {"iterations": N, "optimizer": optimizer}
    sc = _scenario(tmp_path, doc, x=x0)
    return sc, rng


def _torch_twin(sc):
    """The torch model for *sc* and a function from rnntui's input to the loss."""
    p = {k: torch.tensor(v) for k, v in sc.params.items()}
    mods = {}
    if sc.layout[0].type == "conv2d":
        conv = nn.Conv2d(1, 3, 3).double()
        bn = nn.BatchNorm2d(3, momentum=sc.layout[1].options["momentum"]).double()
        dense = nn.Linear(3 * 16, 3).double()
        mods = {"0": conv, "1": bn, "4": dense}
        target = torch.as_tensor(sc.target, dtype=torch.long)

        def loss_of(x):
            return F.cross_entropy(dense(torch.tanh(bn(torch.tanh(conv(x)))).flatten(1)), target)
    else:
        conv = nn.Conv1d(2, 3, 2).double()
        bn = nn.BatchNorm1d(3, momentum=sc.layout[1].options["momentum"]).double()
        gru = nn.GRU(3, 3, batch_first=True).double()
        dense = nn.Linear(3, 2).double()
        mods = {"0": conv, "1": bn, "2": gru, "3": dense}
        target = torch.as_tensor(sc.target)

        def loss_of(x):   # x: rnntui's (T, B, D)
            c = bn(F.relu(conv(x.permute(1, 2, 0))))        # (B, C, T')
            return F.mse_loss(dense(gru(c.transpose(1, 2))[0][:, -1]), target)
    with torch.no_grad():
        for i, m in mods.items():
            for n, par in m.named_parameters():
                par.copy_(p[f"{i}.{n}"])
    model = nn.ModuleDict(mods).train()
    return model, bn, loss_of


@pytest.mark.parametrize("kind", ["cnn", "crnn"])
@pytest.mark.parametrize("optimizer,momentum", [({"kind": "sgd", "lr": 0.1, "momentum": 0.9}, 0.1),
                                                ({"kind": "adam", "lr": 0.02}, None)])
def test_training_matches_torch_loss_parameters_and_running_stats(tmp_path, kind, optimizer, momentum):
    sc, _ = _training_case(tmp_path, kind, optimizer, momentum)
    trace = run_scenario(sc)
    model, bn, loss_of = _torch_twin(sc)
    opts = {k: v for k, v in optimizer.items() if k != "kind"}
    opt = (torch.optim.SGD if optimizer["kind"] == "sgd" else torch.optim.Adam)(model.parameters(), **opts)
    x = torch.as_tensor(np.array(sc.x))
    losses, params, stats = [], [], []
    for _ in range(N):
        params.append({f"{i}.{n}": q.detach().clone().numpy() for i, m in model.items() for n, q in m.named_parameters()})
        stats.append({n: b.clone().numpy() for n, b in bn.named_buffers()})
        opt.zero_grad()
        loss = loss_of(x)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    np.testing.assert_allclose(trace["train.loss"], losses, **TOL)
    for k in (0, 5, 17, N - 1):
        it = trace.iteration(k)
        for name, value in params[k].items():
            np.testing.assert_allclose(it[f"param.{name}"], value, **TOL, err_msg=f"{name} at {k}")
        for name, value in stats[k].items():
            np.testing.assert_allclose(it[f"buffer.1.{name}"], value, **TOL, err_msg=f"{name} at {k}")
        assert bool(it["model.1.batch_stats"])
    for name, value in {n: b.numpy() for n, b in bn.named_buffers()}.items():
        np.testing.assert_allclose(trace[f"train.final.buffer.1.{name}"], value, **TOL, err_msg=name)
    assert int(trace["train.final.buffer.1.num_batches_tracked"]) == N
    # buffers are no parameters: no gradient, no optimizer state, not in the gradient norms
    assert not [k for k in trace.keys() if k.startswith(("grad.param.1.running", "train.gradnorm.param.1.running",
                                                         "train.update_ratio.1.running", "grad.buffer"))]


def test_an_iteration_recomputed_from_a_distant_checkpoint_is_bit_for_bit_the_one_training_ran(tmp_path, monkeypatch):
    """Checkpoints hold the running statistics: iteration k replayed from checkpoint 0 (the only one when the
    budget is tiny) equals the record of the run that kept every checkpoint, array for array."""
    import rnntui.engine.train as train

    sc, _ = _training_case(tmp_path, "cnn", {"kind": "adam", "lr": 0.02}, 0.1)
    kept = run_scenario(sc)
    assert kept.checkpoint_every == 1
    monkeypatch.setattr(train, "CHECKPOINT_BUDGET", 1)
    replayed = run_scenario(sc)
    assert replayed.checkpoint_every >= N
    for k in (3, 11):
        assert not replayed.is_cached(k)
        a, b = kept.iteration(k), replayed.iteration(k)
        assert int(b["buffer.1.num_batches_tracked"]) == k
        for key in a.keys():
            if a.is_computed(key) and not key.startswith("diag."):
                assert np.array_equal(np.asarray(a[key]), np.asarray(b[key])), key


def test_an_iteration_is_a_plain_run_in_train_mode_with_its_parameters_and_buffers(tmp_path, monkeypatch):
    """The documented contract: iteration k's record is what a scenario without `train:` records with that
    iteration's parameters and buffers and `batch_stats: true`; what_if on it reruns it the same way.
    Exactly on the NumPy loops, which plain runs take (the fused ones agree to 1e-12: tests/engine/test_fused.py)."""
    from rnntui.engine.whatif import what_if

    monkeypatch.setenv("RNNTUI_FUSED", "off")

    sc, _ = _training_case(tmp_path, "crnn", {"kind": "sgd", "lr": 0.1}, 0.1)
    it = run_scenario(sc).iteration(6)
    layout = list(sc.layout)
    layout[1] = replace(layout[1], options={**layout[1].options, "batch_stats": True})
    plain = replace(sc, train=None, layout=tuple(layout),
                    params={n: np.array(it[f"param.{n}"]) for n in sc.params},
                    buffers={n: np.array(it[f"buffer.{n}"]) for n in sc.buffers})
    ref = run_scenario(plain)
    for key in ("output", "loss", "model.1.mean", "model.1.var", "grad.input", "grad.param.1.weight"):
        assert np.array_equal(np.asarray(it[key]), np.asarray(ref[key])), key
    again = what_if(it, [])
    assert np.array_equal(np.asarray(again["output"]), np.asarray(it["output"]))
    assert bool(again["model.1.batch_stats"])
