"""Training works with every form the engine runs: packed sequences, an embedding in front, an encoder-decoder,
a generator that feeds its output back, a CRNN and a CNN.

For each form PyTorch is the reference twice over: at every iteration k the form's own torch model (the one its
plain-run test uses) computes the loss and every parameter gradient from iteration k's parameters, and a
`torch.optim` optimizer with `clip_grad_norm_`, stepped with those torch gradients, must arrive at iteration
k+1's parameters. Float64 to 1e-9 over the iterations; the loss and gradient norm rows (`train.loss`,
`train.gradnorm`) are compared too.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402
from tests.engine import test_embedding_against_torch as emb_ref  # noqa: E402
from tests.engine import test_generate_against_torch as gen_ref  # noqa: E402
from tests.engine import test_packed_against_torch as packed_ref  # noqa: E402
from tests.engine import test_seq2seq_against_torch as s2s_ref  # noqa: E402
from tests.torch_ref import manual  # noqa: E402

N = 8
TRAIN = {"iterations": N, "optimizer": {"kind": "adam", "lr": 0.05}, "clip": {"norm": 0.5}}
TOL = dict(rtol=1e-9, atol=1e-12)


def packed(trace):
    loss, _, grads, _ = packed_ref.torch_packed(trace, torch.float64)
    return loss, grads


def embedding(trace):
    loss, _, _, grads = emb_ref.torch_run(trace, "gru", 0, torch.float64, bidir=True, layers=2)
    return float(loss.detach()), {n: g.numpy() for n, g in grads.items()}


def encoder_decoder(trace):
    loss, _, grads, _, _ = s2s_ref.torch_run(trace, "lstm", 1, True, "concat", None)
    return loss, grads


def generator(trace):
    ref = gen_ref.torch_loop(trace, "gru", 2, 0, embedding=False)
    return float(ref["loss"]), ref["grads"]


def modules(trace):
    vals, grads = manual(trace, torch.float64)
    return float(vals["loss"]), {k[len("grad.param."):]: v for k, v in grads.items() if k.startswith("grad.param.")}


def crnn_doc():
    rng = np.random.default_rng(3)
    return {"mode": "many-to-one", "input": {"batch": rng.normal(size=(3, 9, 2)).round(3).tolist()},
            "model": [{"type": "conv1d", "out_channels": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
                      {"type": "lstm", "hidden_size": 4, "bidirectional": True},
                      {"type": "dense", "units": 2}],
            "weights": {"init": "uniform", "low": -0.6, "high": 0.6},
            "loss": {"kind": "mse", "target": rng.normal(size=(3, 2)).round(3).tolist()}}


def cnn_doc():
    rng = np.random.default_rng(4)
    return {"input": {"image": rng.normal(size=(2, 7, 7)).round(3).tolist()},
            "model": [{"type": "conv2d", "out_channels": 3, "kernel_size": 3, "activation": "tanh"},
                      {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 3}],
            "weights": {"init": "uniform", "low": -0.5, "high": 0.5},
            "loss": {"kind": "cross_entropy", "target": 1}}


FORMS = {
    "packed-bilstm": (lambda: json.loads(packed_ref.scenario("lstm", None, 2, True, "concat", "many-to-many",
                                                             "cross_entropy")), packed),
    "embedding-bigru": (lambda: json.loads(emb_ref.scenario("gru", 0, "float64", bidir=True, layers=2)), embedding),
    "encoder-decoder": (lambda: s2s_ref.scenario("lstm", 1, True, "concat"), encoder_decoder),
    "generator": (lambda: gen_ref.continuous("gru", 2), generator),
    "crnn": (crnn_doc, modules),
    "cnn": (cnn_doc, modules),
}


def params_of(it):
    return {k[len("param."):]: np.asarray(it[k]) for k in it if k.startswith("param.")}


@pytest.mark.parametrize("form", list(FORMS))
def test_training_every_form_matches_torch(tmp_path, form):
    make, reference = FORMS[form]
    doc = {**make(), "train": TRAIN}
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(doc))
    trace = rnntui.run(p)
    assert trace.iterations == N
    first = params_of(trace.iteration(0))
    torch_params = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in first.items()}
    opt = torch.optim.Adam(list(torch_params.values()), lr=TRAIN["optimizer"]["lr"])
    for k in range(N):
        it = trace.iteration(k)
        ours = params_of(it)
        assert set(ours) == set(torch_params)
        for name, ref in torch_params.items():   # the parameters torch's own steps arrived at
            np.testing.assert_allclose(ours[name], ref.detach().numpy(), err_msg=f"iteration {k}: {name}", **TOL)
        loss, grads = reference(it)
        np.testing.assert_allclose(trace["train.loss"][k], loss, err_msg=f"iteration {k}: loss", **TOL)
        norm = np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values()))
        np.testing.assert_allclose(trace["train.gradnorm"][k], norm, err_msg=f"iteration {k}: norm", **TOL)
        opt.zero_grad()
        for name, t in torch_params.items():
            g = grads.get(name)
            t.grad = torch.zeros_like(t) if g is None else torch.tensor(np.asarray(g), dtype=torch.float64)
            np.testing.assert_allclose(it[f"grad.param.{name}"], t.grad.numpy(), err_msg=f"iteration {k}: d{name}",
                                       **TOL)
        torch.nn.utils.clip_grad_norm_(list(torch_params.values()), TRAIN["clip"]["norm"])
        opt.step()
    assert not np.allclose(params_of(trace.iteration(N - 1))[next(iter(first))], next(iter(first.values())))
