"""`from_torch` on models that are graphs, written as PyTorch code is written: a tied word language model
(LSTM and GRU, 2 layers, dropout, forward(input, hidden), `.view(-1, ntoken)` + log_softmax, a carried
hidden state), a residual stacked LSTM (`a + b`), a LayerNorm LSTM, an mnist-style row LSTM (an image batch
reshaped into rows, `output[:, -1, :]`, BatchNorm1d, log_softmax), a layer called twice (`same_as`), a
two-headed model (`torch.cat` of two branches), a siamese classifier reading two inputs with one encoder. Each in float64 and float32 against torch autograd: the
output, the loss, every parameter gradient through `trace.torch_names` (a tied or shared parameter's is
the sum over its uses, as PyTorch's) and each recurrent layer's per-step dL/dh (the module unrolled in
torch, tests/torch_unroll.py)."""
from __future__ import annotations

import numpy as np
import pytest

import rnntui

import torch  # noqa: E402 - the test extra brings it; a missing torch fails the run (conftest)
nn = torch.nn
F = torch.nn.functional

from rnntui.torch_bridge import FromTorchError  # noqa: E402
from tests.torch_ref import warmed  # noqa: E402
from tests.torch_unroll import Unrolled  # noqa: E402

V, H = 9, 5


class TiedLM(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.drop = nn.Dropout(0.5)
        self.encoder = nn.Embedding(V, H)
        self.rnn = getattr(nn, kind)(H, H, 2, dropout=0.5)
        self.decoder = nn.Linear(H, V)
        self.decoder.weight = self.encoder.weight   # --tied

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output)).view(-1, V)
        return F.log_softmax(decoded, dim=1), hidden


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn1 = nn.LSTM(3, H, batch_first=True)
        self.rnn2 = nn.LSTM(H, H, batch_first=True)
        self.fc = nn.Linear(H, 2)

    def forward(self, x):
        a, _ = self.rnn1(x)
        b, _ = self.rnn2(a)
        return self.fc(a + b)


class NormedLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, H, batch_first=True)
        self.norm = nn.LayerNorm(H)
        self.fc = nn.Linear(H, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(torch.tanh(self.norm(out)))


class RowLSTM(nn.Module):
    """MNIST-style: each image's rows are the steps."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(6, H, batch_first=True)
        self.bn = nn.BatchNorm1d(H)
        self.drop = nn.Dropout2d(0.25)   # as mnist_rnn has it: the identity in eval
        self.fc = nn.Linear(H, 4)

    def forward(self, input):
        input = input.reshape(-1, 6, 6)
        output, _ = self.rnn(input)
        output = self.drop(self.bn(output[:, -1, :]))
        return F.log_softmax(self.fc(output), dim=1)


class Twice(nn.Module):
    """One layer applied twice (its parameters shared) and two heads joined."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, H, batch_first=True)
        self.mix = nn.Linear(H, H)
        self.left = nn.Linear(H, 2)
        self.right = nn.Linear(H, 3)

    def forward(self, x):
        out, _ = self.rnn(x)
        h = self.mix(torch.tanh(self.mix(out)))
        return torch.cat([self.left(h), self.right(out)], dim=-1)


class Siamese(nn.Module):
    """Premise and hypothesis read by one encoder (its embedding and LSTM called twice)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 4)
        self.enc = nn.LSTM(4, H, batch_first=True)
        self.out = nn.Linear(2 * H, 3)

    def forward(self, premise, hypothesis):
        _, (hp, _) = self.enc(self.emb(premise))
        _, (hh, _) = self.enc(self.emb(hypothesis))
        return F.log_softmax(self.out(torch.cat([hp[-1], hh[-1]], dim=1)), dim=1)


def _hidden(kind, B, dtype):
    g = torch.Generator().manual_seed(7)
    h = (torch.randn(2, B, H, generator=g) * 0.5).to(dtype)
    return (h, (torch.randn(2, B, H, generator=g) * 0.5).to(dtype)) if kind == "LSTM" else h


def _ids(*shape, seed=1):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, V, shape))


def _x(*shape, seed=2):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=shape))


# name -> (model, its arguments (dtype), loss, target, its recurrent modules, the output as the trace's layout)
CASES = {
    "tied-lm-lstm": (lambda: TiedLM("LSTM"), lambda d: (_ids(6, 2), _hidden("LSTM", 2, d)), "nll",
                     lambda: _ids(12, seed=3), ["rnn"], lambda y: y.reshape(6, 2, V)),
    "tied-lm-gru": (lambda: TiedLM("GRU"), lambda d: (_ids(6, 2), _hidden("GRU", 2, d)), "nll",
                    lambda: _ids(12, seed=3), ["rnn"], lambda y: y.reshape(6, 2, V)),
    "residual-lstm": (Residual, lambda d: (_x(2, 5, 3).to(d),), "sum", lambda: None, ["rnn1", "rnn2"],
                      lambda y: y.transpose(0, 1)),
    "layernorm-lstm": (NormedLSTM, lambda d: (_x(2, 5, 3).to(d),), "sum", lambda: None, ["rnn"],
                       lambda y: y.transpose(0, 1)),
    "mnist-rows": (lambda: warmed(RowLSTM()), lambda d: (_x(3, 1, 6, 6).to(d),), "nll",
                   lambda: torch.tensor([3, 0, 1]), ["rnn"], lambda y: y),
    "siamese-shared-encoder": (Siamese, lambda d: (_ids(3, 5), _ids(3, 4, seed=4)), "nll",
                               lambda: torch.tensor([0, 2, 1]), {"enc": [1, 3]}, lambda y: y),
    "same-layer-twice-two-heads": (Twice, lambda d: (_x(2, 4, 3).to(d),), "sum", lambda: None, ["rnn"],
                                   lambda y: y.transpose(0, 1)),
}
TOL = {torch.float64: dict(rtol=1e-9, atol=1e-11), torch.float32: dict(rtol=2e-4, atol=3e-5)}


def _torch_loss(y, loss, target):
    if loss == "sum":
        return y.sum()
    return F.nll_loss(y.reshape(-1, y.shape[-1]), target.reshape(-1))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.filterwarnings("ignore:dropout2d:UserWarning")
def test_graph_models_against_torch(case, dtype):
    make, args_of, loss, target_of, rnns, layout = CASES[case]
    torch.manual_seed(0)
    model = make().to(dtype)
    args, target = args_of(dtype), target_of()
    trace = rnntui.from_torch(model, *args, target=target, loss=loss)

    model.eval()
    for name in rnns:
        setattr(model, name, Unrolled(getattr(model, name)))
    y = model(*args)
    y = y[0] if isinstance(y, tuple) else y
    L = _torch_loss(y, loss, target)
    L.backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], layout(y).detach().numpy(), **tol)
    np.testing.assert_allclose(trace["loss"], L.item(), **tol)
    grads = {n.replace(".inner.", "."): p.grad.numpy() for n, p in model.named_parameters()}
    assert set(trace.torch_names) == set(grads)   # a tied or shared parameter once, as named_parameters() lists it
    for name, g in grads.items():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], g, err_msg=name, **tol)
    for name in rnns:   # a list, or {module: the nodes of its calls} for a module called more than once
        nodes = rnns[name] if isinstance(rnns, dict) else [int(trace.torch_names[f"{name}.weight_ih_l0"].split(".")[0])]
        unrolled = getattr(model, name)
        assert len(unrolled.calls) == len(nodes)
        for call, i in enumerate(nodes):
            for layer in range(unrolled.inner.num_layers):
                np.testing.assert_allclose(trace[f"grad.model.{i}.l{layer}.fwd.h"], unrolled.dh(layer, call),
                                           err_msg=f"{name} call {call} layer {layer} dL/dh", **tol)


def test_a_tied_model_is_written_as_a_graph_with_tie():
    torch.manual_seed(0)
    model = TiedLM("GRU").double()
    trace = rnntui.from_torch(model, _ids(6, 2), _hidden("GRU", 2, torch.float64), loss="nll", target=_ids(12, seed=3))
    text = trace.scenario_yaml()
    assert 'tie: {weight: "n0.weight"}' in text and "initial_state" in text and "mode:" not in text
    assert "decoder.weight" not in trace.torch_names   # torch lists the shared parameter once, as encoder.weight
    twice = rnntui.from_torch(Twice().double(), _x(2, 4, 3)).scenario_yaml()
    assert "same_as: n1" in twice and "op: cat, dim: -1, from: [" in twice


class SelfGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, H, batch_first=True)

    def forward(self, x):
        out, h_n = self.rnn(x)
        return out + h_n[-1]   # batch first: torch lines (batch, hidden) up against (time, hidden)


@pytest.mark.filterwarnings("ignore:dropout2d:UserWarning")
def test_a_channel_dropout_is_refused_before_a_training_replay():
    with pytest.raises(FromTorchError, match=r"nn.Dropout2d zeroes whole channels in training"):
        rnntui.from_torch(warmed(RowLSTM()).double(), _x(3, 1, 6, 6), train={"iterations": 2})


def _line_of(cls, text):
    import inspect

    lines, start = inspect.getsourcelines(cls)
    return start + next(k for k, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("cls,line,said", [
    (SelfGate, "return out + h_n[-1]", "torch lines up the last axes, so the per-sample value would be stretched "
                                       "over the steps by its batch axis (batch against time)"),
])
def test_what_a_graph_cannot_hold_is_refused_at_its_line(cls, line, said):
    with pytest.raises(FromTorchError) as err:
        rnntui.from_torch(cls().double(), _x(2, 4, 3))
    assert f"{__file__}:{_line_of(cls, line)}:" in str(err.value)
    assert said in str(err.value)
