"""nn.Embedding (with and without padding_idx) feeding every recurrent family, against PyTorch's modules:
loss, output, the looked-up vectors and their gradient, and every parameter gradient, float64 to 1e-9
and float32 to 1e-5. The ids in the input include the padding id, so its row's zero gradient is tested."""
from __future__ import annotations

import json

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402

V, E, H, OUT = 7, 3, 4, 5
IDS = [[3, 0, 5, 3, 6], [1, 2, 0, 4, 3]]  # B=2, T=5; id 3 read three times, id 0 (the padding id) twice
TARGET = [[0, 4, 2, 1, 3], [2, 2, 0, 4, 1]]


def scenario(kind, padding_idx, dtype, bidir=False, layers=1):
    emb = {"type": "embedding", "num_embeddings": V, "embedding_dim": E}
    if padding_idx is not None:
        emb["padding_idx"] = padding_idx
    doc = {"dtype": dtype, "seed": 4, "input": {"tokens": IDS},
           "model": [emb, {"type": kind, "hidden_size": H, "bidirectional": bidir, "num_layers": layers},
                     {"type": "dense", "units": OUT}],
           "weights": {"init": "uniform", "low": -0.7, "high": 0.7},
           "loss": {"kind": "cross_entropy", "target": TARGET}}
    return json.dumps(doc)


def torch_run(trace, kind, padding_idx, tdtype, bidir=False, layers=1):
    P = {k[len("param."):]: torch.tensor(np.asarray(trace[k]), dtype=tdtype) for k in trace if k.startswith("param.")}
    emb = torch.nn.Embedding(V, E, padding_idx=padding_idx).to(tdtype)
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        E, H, num_layers=layers, bidirectional=bidir).to(tdtype)
    lin = torch.nn.Linear(H * (2 if bidir else 1), OUT).to(tdtype)
    named = {"0.weight": emb.weight, **{f"1.{n}": p for n, p in rnn.named_parameters()},
             "2.weight": lin.weight, "2.bias": lin.bias}
    with torch.no_grad():
        for name, p in named.items():
            p.copy_(P[name])
    ids = torch.tensor(IDS, dtype=torch.long).T  # (T, B), as the trace lays steps first
    vectors = emb(ids)
    vectors.retain_grad()
    y, _ = rnn(vectors)
    out = lin(y)
    loss = torch.nn.functional.cross_entropy(out.reshape(-1, OUT), torch.tensor(TARGET).T.reshape(-1))
    loss.backward()
    return loss, out, vectors, {n: p.grad for n, p in named.items()}


@pytest.mark.parametrize("dtype,tdtype,tol", [("float64", torch.float64, 1e-9), ("float32", torch.float32, 1e-5)])
@pytest.mark.parametrize("padding_idx", [None, 0, -7])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_embedding_feeding_a_family_matches_torch(tmp_path, kind, padding_idx, dtype, tdtype, tol):
    path = tmp_path / "s.yaml"
    path.write_text(scenario(kind, padding_idx, dtype))
    trace = rnntui.run(path)
    loss, out, vectors, grads = torch_run(trace, kind, padding_idx, tdtype)
    close = dict(rtol=tol, atol=tol)
    np.testing.assert_allclose(trace["loss"], loss.detach().numpy(), **close)
    np.testing.assert_allclose(trace["output"], out.detach().numpy(), **close)
    np.testing.assert_allclose(trace["model.0.out"], vectors.detach().numpy(), **close)
    np.testing.assert_allclose(trace["grad.model.0.out"], vectors.grad.numpy(), **close)
    # the saliency of an embedding model: dLoss/d(the looked-up vectors)
    np.testing.assert_allclose(trace["grad.input"], vectors.grad.numpy(), **close)
    assert set(grads) == {k[len("grad.param."):] for k in trace if k.startswith("grad.param.")}
    for name, g in grads.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], g.numpy(), err_msg=name, **close)
    g = trace["grad.param.0.weight"]
    unread = sorted(set(range(V)) - {i for seq in IDS for i in seq})
    assert np.all(g[unread] == 0), "only the rows the input reads get a gradient"
    if padding_idx is not None:
        assert np.all(g[padding_idx % V] == 0) and trace.info.entries[0].padding_idx == 0
    else:
        assert np.any(g[0] != 0), "without padding_idx, id 0's row is an ordinary row"


def test_bidirectional_two_layer_gru_behind_an_embedding(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario("gru", 0, "float64", bidir=True, layers=2))
    trace = rnntui.run(path)
    loss, _, vectors, grads = torch_run(trace, "gru", 0, torch.float64, bidir=True, layers=2)
    np.testing.assert_allclose(trace["loss"], loss.detach().numpy(), rtol=1e-9, atol=1e-9)
    for name, g in grads.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], g.numpy(), rtol=1e-9, atol=1e-9, err_msg=name)


def test_pytorch_init_draws_standard_normal_with_the_padding_row_zero(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({"input": {"tokens": [1, 2]}, "seed": 1, "model": [
        {"type": "embedding", "num_embeddings": 400, "embedding_dim": 50, "padding_idx": 3},
        {"type": "rnn", "hidden_size": 2}]}))
    w = np.asarray(rnntui.run(path)["param.0.weight"])
    assert np.all(w[3] == 0)
    rest = np.delete(w, 3, axis=0)
    ref = torch.nn.Embedding(400, 50, padding_idx=3).weight.detach().double().numpy()  # what PyTorch draws
    assert abs(rest.mean()) < 0.03 and abs(rest.std() - 1) < 0.03
    assert abs(rest.std() - np.delete(ref, 3, axis=0).std()) < 0.05 and np.all(ref[3] == 0)
    # the recurrent entry after it keeps its own U(-1/sqrt(H), 1/sqrt(H))
    assert np.abs(rnntui.run(path)["param.1.weight_hh_l0"]).max() <= 1 / np.sqrt(2)
