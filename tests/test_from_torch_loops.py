"""`from_torch` on a forward that steps through time itself, read by running it (torch_bridge/loops.py):
the two-LSTMCell sine predictor with and without `future=` (its output fed back), a custom gated cell
written from nn.Linear and gates, a cell stepped over `x[:, t]` whose last state feeds a classifier. Each
in float64 and float32 against torch autograd: output, loss, every parameter gradient (through
`trace.torch_names`) and each state's per-step dL/dh (the loop's own h_t with retain_grad). A branch on a
tensor's value is refused at its line."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import rnntui

import torch  # noqa: E402 - the test extra brings it; a missing torch fails the run (conftest)
nn = torch.nn
F = torch.nn.functional

from rnntui.torch_bridge import FromTorchError  # noqa: E402

H = 5


def _keep(model, name, t):
    """Each step's state, kept for the test (autograd's dL/dh_t after backward)."""
    if t.requires_grad:
        t.retain_grad()
    model.kept.setdefault(name, []).append(t)


class SinePredictor(nn.Module):
    """Two LSTMCells and a Linear stepped over input.split(1, dim=1); `future` steps feed the output back."""

    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, H)
        self.lstm2 = nn.LSTMCell(H, H)
        self.linear = nn.Linear(H, 1)
        self.kept = {}

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), H, dtype=input.dtype)
        c_t = torch.zeros(input.size(0), H, dtype=input.dtype)
        h_t2 = torch.zeros(input.size(0), H, dtype=input.dtype)
        c_t2 = torch.zeros(input.size(0), H, dtype=input.dtype)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
            _keep(self, "h_lstm1", h_t)
            _keep(self, "h_lstm2", h_t2)
        for _ in range(future):
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
            _keep(self, "h_lstm1", h_t)
            _keep(self, "h_lstm2", h_t2)
        return torch.cat(outputs, dim=1)


class Gated(nn.Module):
    """A cell of one's own: a gate and a candidate from nn.Linear, h' = h + z * (cand - h)."""

    def __init__(self, D):
        super().__init__()
        self.ih = nn.Linear(D, 2 * H)
        self.hh = nn.Linear(H, 2 * H, bias=False)

    def forward(self, x, h):
        z, r = (self.ih(x) + self.hh(h)).chunk(2, 1)
        return h + torch.sigmoid(z) * (torch.tanh(r) - h)


class CustomRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = Gated(3)
        self.out = nn.Linear(H, 2)
        self.kept = {}

    def forward(self, x):   # time first
        h = x.new_zeros(x.size(1), H)
        outs = []
        for x_t in x:
            h = self.cell(x_t, h)
            _keep(self, "h", h)
            outs.append(self.out(h))
        return torch.stack(outs)


class LastStateClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(3, H)
        self.fc = nn.Linear(H, 4)
        self.kept = {}

    def forward(self, x):
        h = torch.zeros(x.size(0), H, dtype=x.dtype)
        for t in range(x.size(1)):
            h = self.cell(x[:, t], h)
            _keep(self, "h_cell", h)
        return F.log_softmax(self.fc(h), dim=1)


def _x(*shape, seed=2):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=shape))


CASES = {   # name -> (model, x, forward's keyword arguments, the output as the trace's (T, B, F) or (B, F))
    "sine": (SinePredictor, lambda: _x(3, 7), {}, lambda y: y.transpose(0, 1)[..., None]),
    "sine-future": (SinePredictor, lambda: _x(3, 7), {"future": 4}, lambda y: y.transpose(0, 1)[..., None]),
    "custom-cell": (CustomRNN, lambda: _x(6, 2, 3), {}, lambda y: y),
    "last-state-classifier": (LastStateClassifier, lambda: _x(2, 5, 3), {}, lambda y: y),
}
TOL = {torch.float64: dict(rtol=1e-9, atol=1e-11), torch.float32: dict(rtol=2e-4, atol=3e-5)}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_loops_against_torch(case, dtype):
    make, x_of, kw, layout = CASES[case]
    torch.manual_seed(0)
    model = make().to(dtype)
    x = x_of().to(dtype)
    with torch.no_grad():
        target = torch.randn(model(x, **kw).shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    trace = rnntui.from_torch(model, x, kwargs=kw, loss="mse", target=target)

    model.kept = {}
    y = model(x, **kw)
    loss = F.mse_loss(y, target)
    loss.backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], layout(y).detach().numpy(), **tol)
    np.testing.assert_allclose(trace["loss"], loss.item(), **tol)
    grads = {n: p.grad.numpy() for n, p in model.named_parameters()}
    assert set(trace.torch_names) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], g, err_msg=name, **tol)
    for state, hs in model.kept.items():
        np.testing.assert_allclose(trace[f"grad.model.0.{state}"], torch.stack([h.grad for h in hs]).numpy(),
                                   err_msg=f"dL/d{state}", **tol)
    if case == "sine-future":
        assert 'feed: linear, feed_after: 7' in trace.scenario_yaml()
        np.testing.assert_allclose(trace["model.0.x"][7:], layout(y).detach().numpy()[6:-1], **tol)   # what was fed


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(3, H)

    def forward(self, x):
        h = torch.zeros(x.size(0), H, dtype=x.dtype)
        outs = []
        for t in range(x.size(1)):
            h = self.cell(x[:, t], h)
            if h.sum() > 0:
                h = -h
            outs.append(h)
        return torch.stack(outs, 1)


class Encoded(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(3, H)
        self.cell = nn.GRUCell(3, H)

    def forward(self, x):
        h = self.enc(x[:, 0])
        outs = []
        for t in range(x.size(1)):
            h = self.cell(x[:, t], h)
            outs.append(h)
        return torch.stack(outs, 1)


def _line(cls, text):
    lines, start = inspect.getsourcelines(cls.forward)
    return start + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("cls,line,said", [
    (Branchy, "if h.sum() > 0:", "Tensor.__bool__(): a Python branch or number on a tensor's value"),
    (Encoded, "h = self.enc(x[:, 0])", "nn.Linear (self.enc) before the loop"),
])
def test_what_a_loop_cannot_be_read_as_is_refused_at_its_line(cls, line, said):
    with pytest.raises(FromTorchError) as err:
        rnntui.from_torch(cls().double(), _x(2, 4, 3))
    message = str(err.value)
    assert f"{__file__}:{_line(cls, line)}:" in message, message
    assert said in message, message


V, E = 7, 4


class Additive(nn.Module):
    """Bahdanau attention as PyTorch's seq2seq tutorial writes it (Wa, Ua, Va), over batch-first keys."""

    def __init__(self):
        super().__init__()
        self.Wa, self.Ua, self.Va = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, 1)

    def forward(self, query, keys):
        scores = self.Va(torch.tanh(self.Wa(query).unsqueeze(1) + self.Ua(keys))).squeeze(2)
        weights = F.softmax(scores, dim=-1)
        return torch.bmm(weights.unsqueeze(1), keys).squeeze(1), weights


class AttnSeq2Seq(nn.Module):
    """An encoder GRU; a decoder GRUCell stepped in a loop over the target shifted right (teacher forcing),
    attending over the encoder's steps, from the encoder's final state."""

    def __init__(self):
        super().__init__()
        self.src_emb, self.encoder = nn.Embedding(V, E), nn.GRU(E, H, batch_first=True)
        self.tgt_emb, self.attn = nn.Embedding(V, E), Additive()
        self.cell, self.out = nn.GRUCell(E + H, H), nn.Linear(H, V)
        self.kept = {}

    def forward(self, src, tgt_in):
        enc, h_n = self.encoder(self.src_emb(src))
        h = h_n[0]
        outs = []
        for t in range(tgt_in.size(1)):
            emb = self.tgt_emb(tgt_in[:, t])
            context, _ = self.attn(h, enc)
            h = self.cell(torch.cat([emb, context], dim=1), h)
            _keep(self, "h_cell", h)
            outs.append(F.log_softmax(self.out(h), dim=-1))
        return torch.stack(outs, 1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_an_encoder_decoder_with_attention_stepped_with_teacher_forcing(dtype):
    from tests.torch_unroll import Unrolled

    torch.manual_seed(3)
    model = AttnSeq2Seq().to(dtype)
    g = np.random.default_rng(6)
    src, tgt_in, tgt_out = (torch.from_numpy(g.integers(0, V, shape)) for shape in ((3, 6), (3, 4), (3, 4)))
    trace = rnntui.from_torch(model, src, tgt_in, loss="nll", target=tgt_out)
    text = trace.scenario_yaml()
    assert "type: attention, kind: additive" in text and "start: {h_cell: encoder_last}" in text

    model.kept = {}
    model.encoder = Unrolled(model.encoder)
    y = model(src, tgt_in)
    loss = F.nll_loss(y.reshape(-1, V), tgt_out.reshape(-1))
    loss.backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], y.transpose(0, 1).detach().numpy(), **tol)
    np.testing.assert_allclose(trace["loss"], loss.item(), **tol)
    grads = {n.replace(".inner.", "."): p.grad.numpy() for n, p in model.named_parameters()}
    assert set(trace.torch_names) == set(grads)
    for name, gr in grads.items():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], gr, err_msg=name, **tol)
    loop = [e.id for e in trace.info.entries].index("loop")
    np.testing.assert_allclose(trace[f"grad.model.{loop}.h_cell"], torch.stack([h.grad for h in model.kept["h_cell"]]).numpy(),
                               err_msg="decoder dL/dh", **tol)
    enc = [e.id for e in trace.info.entries].index("encoder")
    np.testing.assert_allclose(trace[f"grad.model.{enc}.l0.fwd.h"], model.encoder.dh(0), err_msg="encoder dL/dh",
                               **tol)


class FixedSteps(nn.Module):
    """A loop of a length written in the code: torch.fx unrolls it itself, and the cell is read as a loop."""

    def __init__(self):
        super().__init__()
        self.cell = nn.RNNCell(3, H)
        self.kept = {}

    def forward(self, x):
        h = torch.zeros(x.size(0), H, dtype=x.dtype)
        outs = []
        for t in range(4):
            h = self.cell(x[:, t], h)
            outs.append(h)
        return torch.stack(outs, 1)


def test_a_loop_of_a_fixed_length_that_torch_fx_unrolls_is_read_as_a_loop():
    torch.manual_seed(2)
    model = FixedSteps().double()
    x = _x(2, 4, 3)
    trace = rnntui.from_torch(model, x)
    assert "type: recurrence" in trace.scenario_yaml() and "type: rnn_cell" in trace.scenario_yaml()
    y = model(x)
    y.sum().backward()
    np.testing.assert_allclose(trace["output"], y.transpose(0, 1).detach().numpy(), rtol=1e-12)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], p.grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)
