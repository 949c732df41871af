"""Minibatches, shuffling and learning-rate schedules against a PyTorch loop written as users write it:
torch.optim, torch.optim.lr_scheduler stepped once per iteration, and each iteration's minibatch cut
from the whole data by the sample indices rnntui recorded (`train.batch`). float64 to 1e-10.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import rnntui
from rnntui.engine.minibatch import batch_indices
from rnntui.engine.schedule import Schedule, learning_rates

N_SAMPLES, T, D, H, C = 7, 5, 3, 4, 3


def _data(seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_SAMPLES, T, D)).round(4)
    lengths = rng.integers(2, T + 1, size=N_SAMPLES)
    lengths[0] = T
    y = rng.integers(0, C, size=N_SAMPLES)
    return x, lengths, y


def _scenario(tmp_path, train: dict, packed: bool, kind="lstm") -> tuple:
    x, lengths, y = _data()
    doc = {"version": 1, "seed": 5, "mode": "many-to-one",
           "input": {"batch": x.tolist(), **({"lengths": lengths.tolist()} if packed else {})},
           "model": [{"type": kind, "hidden_size": H}, {"type": "dense", "units": C}],
           "weights": {"init": "uniform", "low": -0.4, "high": 0.4},
           "loss": {"kind": "cross_entropy", "target": y.tolist()},
           "train": train}
    p = tmp_path / "mb.yaml"
    p.write_text(json.dumps(doc))
    return rnntui.run(p), x, (lengths if packed else np.full(N_SAMPLES, T)), y


class Net(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](D, H).double()
        self.fc = torch.nn.Linear(H, C).double()

    def forward(self, x, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.as_tensor(lengths), enforce_sorted=False)
        _, h = self.rnn(packed)
        h = h[0] if isinstance(h, tuple) else h
        return self.fc(h[-1])


def _torch_run(trace, x, lengths, y, optimizer, scheduler, kind="lstm"):
    net = Net(kind)
    first = trace.iteration(0)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.as_tensor(first["param." + name.replace("rnn.", "0.").replace("fc.", "1.")]))
    opt = optimizer(net.parameters())
    sched = scheduler(opt) if scheduler else None
    losses, lrs = [], []
    for k in range(trace.iterations):
        idx = trace["train.batch"][k]
        idx = idx[idx >= 0]
        xb = torch.as_tensor(x[idx].transpose(1, 0, 2))
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xb, lengths[idx]), torch.as_tensor(y[idx]))
        loss.backward()
        opt.step()
        if sched:
            sched.step()
        losses.append(float(loss))
    final = {n.replace("rnn.", "0.").replace("fc.", "1."): p.detach().numpy() for n, p in net.named_parameters()}
    return np.array(losses), np.array(lrs), final


CASES = {
    "sgd-step-shuffle-packed": (
        {"kind": "sgd", "lr": 0.5, "momentum": 0.9}, {"kind": "step", "step_size": 4, "gamma": 0.5}, 3, True, True,
        lambda ps: torch.optim.SGD(ps, lr=0.5, momentum=0.9),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5), "lstm"),
    "adam-cosine-in-order": (
        {"kind": "adam", "lr": 0.05}, {"kind": "cosine", "T_max": 5, "eta_min": 0.001}, 2, False, False,
        lambda ps: torch.optim.Adam(ps, lr=0.05),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001), "gru"),
    "rmsprop-exponential-shuffle": (
        {"kind": "rmsprop", "lr": 0.01}, {"kind": "exponential", "gamma": 0.9}, 4, True, True,
        lambda ps: torch.optim.RMSprop(ps, lr=0.01),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), "lstm"),
    "adamw-warmup-whole-batches": (
        {"kind": "adamw", "lr": 0.03}, {"kind": "warmup", "warmup_iterations": 6, "start_factor": 0.25}, 7, False,
        False, lambda ps: torch.optim.AdamW(ps, lr=0.03),
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=6), "gru"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_minibatch_training_matches_a_torch_loop(tmp_path, case):
    opt, schedule, batch_size, shuffle, packed, make_opt, make_sched, kind = CASES[case]
    train = {"iterations": 14, "optimizer": opt, "schedule": schedule, "batch_size": batch_size, "shuffle": shuffle}
    trace, x, lengths, y = _scenario(tmp_path, train, packed, kind)
    losses, lrs, final = _torch_run(trace, x, lengths, y, make_opt, make_sched, kind)
    np.testing.assert_allclose(trace["train.lr"], lrs, rtol=1e-15, atol=0)
    np.testing.assert_allclose(trace["train.loss"], losses, rtol=1e-10, atol=1e-12)
    for name, value in final.items():
        np.testing.assert_allclose(trace[f"train.final.param.{name}"], value, rtol=1e-10, atol=1e-12, err_msg=name)
    # an iteration recomputed from its checkpoint reads its own minibatch
    k = 9
    idx = trace["train.batch"][k]
    idx = idx[idx >= 0]
    np.testing.assert_array_equal(trace.iteration(k)["input"], x[idx].transpose(1, 0, 2))


def test_batches_cover_every_sample_once_per_pass_and_reshuffle():
    batches = batch_indices(7, 3, True, seed=2, iterations=9)   # passes of 3 minibatches: 3, 3, 1
    assert [b.size for b in batches] == [3, 3, 1] * 3
    passes = [np.concatenate(batches[i:i + 3]) for i in (0, 3, 6)]
    for p in passes:
        assert sorted(p.tolist()) == list(range(7))
    assert passes[0].tolist() != passes[1].tolist()          # a new order every pass
    assert [b.tolist() for b in batch_indices(7, 3, False, 2, 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    again = batch_indices(7, 3, True, seed=2, iterations=9)
    assert all((a == b).all() for a, b in zip(batches, again))   # drawn from the seed alone


@pytest.mark.parametrize("kind,kw,torch_sched", [
    ("step", {"step_size": 3, "gamma": 0.3}, lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.3)),
    ("exponential", {"gamma": 0.97}, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.97)),
    ("cosine", {"T_max": 7, "eta_min": 0.01}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 7, 0.01)),
    ("warmup", {"warmup_iterations": 10, "start_factor": 0.1},
     lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=10)),
])
def test_learning_rates_are_torch_schedulers_own_floats(kind, kw, torch_sched):
    """40 iterations, past a cosine's restart and a warm-up's end: every rate bit for bit."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.7)
    sched = torch_sched(opt)
    ref = []
    for _ in range(40):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert learning_rates(0.7, Schedule(kind=kind, **kw), 40) == ref


@pytest.mark.parametrize("train,found", [
    ({"iterations": 3, "schedule": {"kind": "step"}}, "a step schedule needs `step_size`"),
    ({"iterations": 3, "schedule": {"kind": "cosine", "gamma": 0.5, "T_max": 3}}, "a cosine schedule takes no 'gamma'"),
    ({"iterations": 3, "schedule": {"kind": "exponential"}}, "an exponential schedule needs `gamma`"),
    ({"iterations": 3, "batch_size": 0}, "batch_size"),
])
def test_bad_training_keys_are_named_where_they_are(tmp_path, train, found):
    x, _, y = _data()
    doc = {"version": 1, "mode": "many-to-one", "input": {"batch": x.tolist()},
           "model": [{"type": "rnn", "hidden_size": 2}, {"type": "dense", "units": C}],
           "loss": {"kind": "cross_entropy", "target": y.tolist()}, "train": train}
    p = tmp_path / "bad.yaml"
    p.write_text(json.dumps(doc, indent=1))
    with pytest.raises(rnntui.ScenarioError) as exc:
        rnntui.run(p)
    text = str(exc.value)
    assert found in text and "bad.yaml:" in text


@pytest.mark.parametrize("mode,kind,packed", [("many-to-one", "cross_entropy", False),
                                              ("many-to-many", "cross_entropy", True),
                                              ("many-to-many", "mse", False)])
def test_a_target_from_a_file_runs_as_the_same_target_inline(tmp_path, mode, kind, packed):
    x, lengths, _ = _data()
    rng = np.random.default_rng(8)
    seq = mode == "many-to-many"
    shape = ((N_SAMPLES, T) if seq else (N_SAMPLES,)) + ((C,) if kind == "mse" else ())
    target = rng.normal(size=shape).round(3) if kind == "mse" else rng.integers(0, C, size=shape)
    np.save(tmp_path / "target.npy", target)
    doc = {"version": 1, "mode": mode, "input": {"batch": x.tolist(), **({"lengths": lengths.tolist()} if packed else {})},
           "model": [{"type": "gru", "hidden_size": 3}, {"type": "dense", "units": C}],
           "loss": {"kind": kind, "target": target.tolist()},
           "train": {"iterations": 3, "batch_size": 3, "optimizer": {"kind": "sgd", "lr": 0.1}}}
    inline, from_file = tmp_path / "inline.yaml", tmp_path / "file.yaml"
    inline.write_text(json.dumps(doc))
    doc["loss"]["target"] = {"file": "target.npy"}
    from_file.write_text(json.dumps(doc))
    a, b = rnntui.run(inline), rnntui.run(from_file)
    np.testing.assert_array_equal(a["train.loss"], b["train.loss"])
    np.testing.assert_array_equal(a["meta.target"], b["meta.target"])


def test_a_missing_target_file_is_named_at_its_key(tmp_path):
    x, _, _ = _data()
    doc = {"version": 1, "mode": "many-to-one", "input": {"batch": x.tolist()},
           "model": [{"type": "gru", "hidden_size": 3}, {"type": "dense", "units": C}],
           "loss": {"kind": "cross_entropy", "target": {"file": "nope.npy"}}}
    p = tmp_path / "t.yaml"
    p.write_text(json.dumps(doc, indent=1))
    with pytest.raises(rnntui.ScenarioError) as exc:
        rnntui.run(p)
    assert "loss.target.file" in str(exc.value) and "nope.npy" in str(exc.value) and "t.yaml:" in str(exc.value)


def test_iterations_not_kept_skip_step_norms_yet_every_shown_iteration_has_them(tmp_path):
    """Training runs most iterations lean (no gradnorm.step.*); any iteration stepped to is recomputed in
    full, and its per-step norms are those of a plain run with the same parameters."""
    train = {"iterations": 30, "optimizer": {"kind": "sgd", "lr": 0.1}, "batch_size": 3, "shuffle": True}
    trace, *_ = _scenario(tmp_path, train, packed=True)
    assert not trace.is_cached(2)
    it = trace.iteration(2)
    keys = [k for k in it if k.startswith("gradnorm.step.")]
    assert keys and "gradnorm.step.0.weight_hh_l0" in keys
    from dataclasses import replace

    from rnntui.engine import run_scenario
    trainer = trace._trainer
    plain = run_scenario(replace(trainer.scenario(2), params={k[6:]: it[k] for k in it if k.startswith("param.")},
                                 training=True))
    for k in keys:
        np.testing.assert_array_equal(it[k], plain[k], err_msg=k)
    np.testing.assert_array_equal(it["grad.param.0.weight_hh_l0"], plain["grad.param.0.weight_hh_l0"])


def test_an_iteration_that_read_a_minibatch_is_not_written_as_a_different_experiment(tmp_path):
    from rnntui.scenario.iteration_scenario import NotWritable, iteration_scenario

    train = {"iterations": 4, "optimizer": {"kind": "sgd", "lr": 0.1}, "batch_size": 3}
    trace, *_ = _scenario(tmp_path, train, packed=False)
    with pytest.raises(NotWritable, match="minibatch"):
        iteration_scenario({"train": train}, trace.iteration(1), 1, trace, "w.safetensors")
