"""Every graph op (rnntui/engine/ops/) against torch autograd, float64 to 1e-12: the output, and the
gradient of each input for a random dL/d(output). Each case lays the op out (its shape inference) and
runs it as a graph node does."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnntui.engine.context import RunContext
from rnntui.engine.entries import HANDLERS
from rnntui.engine.layout import EntryInfo
from rnntui.engine.ops import OPS
from rnntui.engine.ops.base import OpProblem, Val

T, B = 5, 3
rng = np.random.default_rng(0)


def seq(*feat):
    return Val((T, B) + feat, 1)


def flat(*feat):
    return Val((B,) + feat, 0)


# name, config, input Vals, the torch function of the input tensors (and the lengths, for `last`)
CASES = [
    ("add", {}, [seq(4), seq(4)], lambda a, b: a + b),
    ("add", {}, [seq(4), flat(4)], lambda a, b: a + b),          # broadcast over the steps
    ("add", {"value": 2.5}, [seq(4)], lambda a: a + 2.5),
    ("sub", {}, [flat(4), flat(1)], lambda a, b: a - b),
    ("mul", {}, [seq(4), seq(1)], lambda a, b: a * b),
    ("mul", {"value": -0.5}, [flat(2, 3)], lambda a: a * -0.5),
    ("cat", {"dim": -1}, [seq(2), seq(3), seq(1)], lambda *xs: torch.cat(xs, dim=-1)),
    ("cat", {"dim": 0}, [seq(2), seq(2)], lambda *xs: torch.cat(xs, dim=0)),
    ("stack", {"dim": 0}, [flat(4), flat(4)], lambda *xs: torch.stack(xs, dim=0)),
    ("stack", {"dim": -1}, [seq(4), seq(4)], lambda *xs: torch.stack(xs, dim=-1)),
    ("split", {"split_size": 3, "part": 1, "dim": -1}, [seq(7)], lambda a: torch.split(a, 3, dim=-1)[1]),
    ("split", {"split_size": 3, "part": 2, "dim": -1}, [seq(7)], lambda a: torch.split(a, 3, dim=-1)[2]),
    ("chunk", {"chunks": 4, "part": 2, "dim": -1}, [flat(6)], lambda a: torch.chunk(a, 4, dim=-1)[2]),
    ("chunk", {"chunks": 2, "part": 0, "dim": 0}, [seq(3)], lambda a: torch.chunk(a, 2, dim=0)[0]),
    ("reshape", {"shape": (2, -1)}, [seq(6)], lambda a: a.reshape(T, B, 2, 3)),
    ("view", {"shape": (12,)}, [flat(3, 4)], lambda a: a.view(B, 12)),
    ("transpose", {"dim0": 0, "dim1": 1}, [seq(4)], lambda a: a.transpose(0, 1)),
    ("transpose", {"dim0": -1, "dim1": -2}, [flat(2, 3)], lambda a: a.transpose(-1, -2)),
    ("permute", {"dims": (1, 0, 2)}, [seq(4)], lambda a: a.permute(1, 0, 2)),
    ("permute", {"dims": (0, 2, 1)}, [flat(2, 3)], lambda a: a.permute(0, 2, 1)),
    ("squeeze", {"dim": -1}, [seq(1)], lambda a: a.squeeze(-1)),
    ("unsqueeze", {"dim": 0}, [flat(4)], lambda a: a.unsqueeze(0)),
    ("unsqueeze", {"dim": -1}, [seq(4)], lambda a: a.unsqueeze(-1)),
    ("index", {"dim": 0, "at": -1}, [seq(4)], lambda a: a[-1]),
    ("index", {"dim": 0, "at": 2}, [seq(4)], lambda a: a[2]),
    ("index", {"dim": -1, "at": 1}, [flat(3)], lambda a: a[:, 1]),
    ("slice", {"dim": 0, "start": 1, "stop": None, "step": 2}, [seq(4)], lambda a: a[1::2]),
    ("slice", {"dim": -1, "start": -3, "stop": -1, "step": 1}, [flat(5)], lambda a: a[:, -3:-1]),
    ("last", {}, [seq(4)], lambda a: a[-1]),
    ("mean", {"dim": 0, "keepdim": False}, [seq(4)], lambda a: a.mean(0)),
    ("mean", {"dim": -1, "keepdim": True}, [seq(4)], lambda a: a.mean(-1, keepdim=True)),
    ("sum", {"dim": 0, "keepdim": True}, [seq(4)], lambda a: a.sum(0, keepdim=True)),
    ("sum", {"dim": -1, "keepdim": False}, [flat(4)], lambda a: a.sum(-1)),
    ("max", {"dim": 0, "keepdim": False}, [seq(4)], lambda a: a.max(0).values),
    ("max", {"dim": -1, "keepdim": True}, [flat(5)], lambda a: a.max(-1, keepdim=True).values),
    ("matmul", {}, [flat(2, 3), flat(3, 4)], torch.matmul),
    ("matmul", {}, [seq(2, 3), flat(3, 4)], torch.matmul),        # leading axes broadcast
    ("bmm", {}, [flat(2, 3), flat(3, 4)], torch.bmm),
    ("softmax", {"dim": -1}, [seq(4)], lambda a: F.softmax(a, dim=-1)),
    ("softmax", {"dim": 0}, [seq(4)], lambda a: F.softmax(a, dim=0)),
    ("log_softmax", {"dim": -1}, [flat(5)], lambda a: F.log_softmax(a, dim=-1)),
    ("tanh", {}, [seq(4)], torch.tanh),
    ("sigmoid", {}, [seq(4)], torch.sigmoid),
    ("relu", {}, [seq(4)], torch.relu),
    ("exp", {}, [flat(3)], torch.exp),
    ("log", {}, [flat(3)], torch.log),
    ("neg", {}, [flat(3)], torch.neg),
    ("abs", {}, [flat(3)], torch.abs),
    ("sqrt", {}, [flat(3)], torch.sqrt),
]


def node(name: str, cfg: dict, ins: list[Val]) -> EntryInfo:
    op = OPS[name]
    val, conf = op.infer(op.Config(**cfg), ins)
    return EntryInfo(0, name, ins[0].feat, val.feat, ins[0].seq, val.seq, steps=val.shape[0] if val.seq else 1,
                     config=conf), val


@pytest.mark.parametrize("name, cfg, ins, fn", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_op_forward_and_backward_match_torch(name, cfg, ins, fn):
    info, val = node(name, cfg, ins)
    positive = name in ("log", "sqrt")
    xs = [np.abs(rng.normal(size=v.shape)) + 0.1 if positive else rng.normal(size=v.shape) for v in ins]
    ctx = RunContext({})
    out, cache = OPS[name].run(info, xs, ctx)
    assert out.shape == val.shape
    tx = [torch.tensor(x, requires_grad=True) for x in xs]
    ref = fn(*tx)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.normal(size=out.shape)
    ref.backward(torch.tensor(g))
    grads = OPS[name].grads(info, xs, out, cache, g, ctx)
    assert len(grads) == len(xs)
    for got, t in zip(grads, tx):
        assert got.shape == t.shape
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_last_takes_each_samples_own_last_step():
    info, _ = node("last", {}, [seq(4)])
    info = EntryInfo(**{**info.__dict__, "lengths_of": "x"})
    lengths = np.array([5, 2, 3])
    x = rng.normal(size=(T, B, 4))
    ctx = RunContext({}, lengths={"x": lengths})
    out, cache = OPS["last"].run(info, [x], ctx)
    tx = torch.tensor(x, requires_grad=True)
    ref = tx[torch.tensor(lengths - 1), torch.arange(B)]
    np.testing.assert_array_equal(out, ref.detach().numpy())
    g = rng.normal(size=out.shape)
    ref.backward(torch.tensor(g))
    np.testing.assert_array_equal(OPS["last"].grads(info, [x], out, cache, g, ctx)[0], tx.grad.numpy())


@pytest.mark.parametrize("name, cfg, ins, words", [
    ("mean", {"dim": 1}, [seq(4)], "batch axis"),
    ("cat", {"dim": 0}, [flat(4), flat(4)], "batch axis"),
    ("add", {}, [seq(4), seq(3)], "do not broadcast"),
    ("matmul", {}, [flat(2, 3), flat(2, 3)], "3 columns against 2 rows"),
    ("transpose", {"dim0": 1, "dim1": 2}, [seq(4)], "batch axis to position 2"),
    ("reshape", {"shape": (5,)}, [seq(6)], "each sample has 6"),
    ("squeeze", {"dim": -1}, [seq(4)], "of size 4"),
    ("chunk", {"chunks": 4, "part": 3, "dim": -1}, [flat(6)], "part is at most 2"),
    ("index", {"dim": 0, "at": 5}, [seq(4)], "positions -5..4"),
    ("last", {}, [flat(4)], "has no steps"),
])
def test_an_op_that_cannot_apply_says_why(name, cfg, ins, words):
    op = OPS[name]
    with pytest.raises(OpProblem, match=words):
        op.infer(op.Config(**cfg), ins)


def test_op_names_are_not_entry_types():
    assert not set(OPS) & set(HANDLERS)
