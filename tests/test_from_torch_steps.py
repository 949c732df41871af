"""`from_torch` on what it refused before issue 21's last round: a step other than the last (`out[:, 3]`,
`x[:, 0]`), a per-sample vector broadcast over the steps (`out * g.unsqueeze(1)`, time-first `out + h_n[-1]`,
the every-step output read beside its own last step), and a stacked or bidirectional encoder before a
decoding loop (`h_n[-1]`, `torch.cat([h_n[-2], h_n[-1]], dim=1)`). Each in float64 and float32 against torch
autograd: output, loss, every parameter gradient (through `trace.torch_names`) and each recurrence's
per-step dL/dh. Greedy decoding (the argmax of a step's scores fed back into an embedding for a fixed number
of steps) maps; an early `break` on a prediction is refused at its line."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import rnntui

import torch  # noqa: E402 - the test extra brings it; a missing torch fails the run (conftest)
nn = torch.nn
F = torch.nn.functional

from rnntui.torch_bridge import FromTorchError  # noqa: E402
from tests.torch_unroll import Unrolled  # noqa: E402

H = 5
TOL = {torch.float64: dict(rtol=1e-9, atol=1e-11), torch.float32: dict(rtol=2e-4, atol=3e-5)}


class StepThree(nn.Module):
    """The fourth step's output, not the last, feeds the classifier."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, H, batch_first=True)
        self.fc = nn.Linear(H, 4)

    def forward(self, x):
        out, _ = self.rnn(x)
        return F.log_softmax(self.fc(out[:, 3]), dim=1)


class Gated(nn.Module):
    """A gate computed from the first step of x, broadcast over every step of the LSTM's output."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, H, batch_first=True)
        self.g = nn.Linear(3, H)
        self.fc = nn.Linear(H, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        g = torch.sigmoid(self.g(x[:, 0]))
        return self.fc(out * g.unsqueeze(1))


class PlusFinal(nn.Module):
    """Time first: every step plus the last layer's final state (broadcast over the steps), a 2-layer LSTM."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, H, num_layers=2)
        self.fc = nn.Linear(H, 2)

    def forward(self, x):
        out, (h_n, _) = self.rnn(x)
        return self.fc(out + h_n[-1])


class MinusLast(nn.Module):
    """Every step minus the last step of the same output (out[-1], time first)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, H)
        self.fc = nn.Linear(H, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out - out[-1])


def _x(*shape, seed=2):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=shape))


CASES = {   # name -> (model, x, loss, target, the output as the trace's layout)
    "step-three": (StepThree, lambda: _x(3, 6, 3), "nll", lambda: torch.tensor([1, 0, 3]), lambda y: y),
    "gate-broadcast": (Gated, lambda: _x(2, 5, 3), "sum", lambda: None, lambda y: y.transpose(0, 1)),
    "plus-final-state": (PlusFinal, lambda: _x(5, 2, 3), "sum", lambda: None, lambda y: y),
    "minus-last-step": (MinusLast, lambda: _x(5, 2, 3), "sum", lambda: None, lambda y: y),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_steps_and_broadcasting_against_torch(case, dtype):
    make, x_of, loss, target_of, layout = CASES[case]
    torch.manual_seed(0)
    model = make().to(dtype)
    x, target = x_of().to(dtype), target_of()
    trace = rnntui.from_torch(model, x, loss=loss, target=target)
    text = trace.scenario_yaml()
    assert "op: index" in text or "op: mul" in text or "op: add" in text

    model.rnn = Unrolled(model.rnn)
    y = model(x)
    L = y.sum() if loss == "sum" else F.nll_loss(y, target)
    L.backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], layout(y).detach().numpy(), **tol)
    np.testing.assert_allclose(trace["loss"], L.item(), **tol)
    grads = {n.replace(".inner.", "."): p.grad.numpy() for n, p in model.named_parameters()}
    assert set(trace.torch_names) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], g, err_msg=name, **tol)
    i = int(trace.torch_names["rnn.weight_ih_l0"].split(".")[0])
    for layer in range(model.rnn.inner.num_layers):
        np.testing.assert_allclose(trace[f"grad.model.{i}.l{layer}.fwd.h"], model.rnn.dh(layer),
                                   err_msg=f"dL/dh layer {layer}", **tol)


V, E = 7, 4


class Additive(nn.Module):
    def __init__(self, Hd):
        super().__init__()
        self.Wa, self.Ua, self.Va = nn.Linear(Hd, Hd), nn.Linear(Hd, Hd), nn.Linear(Hd, 1)

    def forward(self, query, keys):
        scores = self.Va(torch.tanh(self.Wa(query).unsqueeze(1) + self.Ua(keys))).squeeze(2)
        weights = F.softmax(scores, dim=-1)
        return torch.bmm(weights.unsqueeze(1), keys).squeeze(1), weights


class Seq2Seq(nn.Module):
    """A stacked (2 layers) or bidirectional GRU/LSTM encoder, then a GRUCell decoder with additive attention
    stepped with teacher forcing, starting from the encoder's last layer's final state."""

    def __init__(self, kind="GRU", layers=2, bidirectional=False, joined="cat"):
        super().__init__()
        Hd = 2 * H if bidirectional else H
        self.bidirectional, self.joined = bidirectional, joined
        self.src_emb = nn.Embedding(V, E)
        self.encoder = getattr(nn, kind)(E, H, num_layers=layers, bidirectional=bidirectional, batch_first=True)
        self.tgt_emb, self.attn = nn.Embedding(V, E), Additive(Hd if joined == "cat" else H)
        Hd = Hd if joined == "cat" else H
        self.cell = nn.GRUCell(E + Hd, Hd)
        self.out = nn.Linear(Hd, V)
        self.kept = []

    def forward(self, src, tgt_in):
        enc, h_n = self.encoder(self.src_emb(src))
        if isinstance(h_n, tuple):
            h_n = h_n[0]
        if not self.bidirectional:
            h = h_n[-1]
        elif self.joined == "cat":
            h = torch.cat([h_n[-2], h_n[-1]], dim=1)
        else:
            h = h_n[-2] + h_n[-1]
            enc = enc[..., :H] + enc[..., H:]
        outs = []
        for t in range(tgt_in.size(1)):
            context, _ = self.attn(h, enc)
            h = self.cell(torch.cat([self.tgt_emb(tgt_in[:, t]), context], dim=1), h)
            if h.requires_grad:
                h.retain_grad()
            self.kept.append(h)
            outs.append(F.log_softmax(self.out(h), dim=-1))
        return torch.stack(outs, 1)


ENCODERS = {"gru-2-layers": dict(kind="GRU", layers=2), "lstm-2-layers": dict(kind="LSTM", layers=2),
            "gru-bidirectional": dict(kind="GRU", layers=1, bidirectional=True),
            "lstm-bidirectional-2-layers": dict(kind="LSTM", layers=2, bidirectional=True)}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_a_stacked_or_bidirectional_encoder_before_a_decoding_loop(encoder, dtype):
    torch.manual_seed(4)
    model = Seq2Seq(**ENCODERS[encoder]).to(dtype)
    g = np.random.default_rng(8)
    src, tgt_in, tgt_out = (torch.from_numpy(g.integers(0, V, shape)) for shape in ((3, 6), (3, 4), (3, 4)))
    trace = rnntui.from_torch(model, src, tgt_in, loss="nll", target=tgt_out)
    text = trace.scenario_yaml()
    assert "type: recurrence" in text
    if ENCODERS[encoder].get("bidirectional"):
        assert "op: cat" in text and "op: slice" in text   # h_n[-2] and h_n[-1] from the encoder's steps

    model.kept = []
    stacked = not ENCODERS[encoder].get("bidirectional")
    if stacked:   # each encoder layer's h_t kept by the unrolled module (the fused kernel gives none)
        model.encoder = Unrolled(model.encoder)
    y = model(src, tgt_in)
    loss = F.nll_loss(y.reshape(-1, V), tgt_out.reshape(-1))
    loss.backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], y.transpose(0, 1).detach().numpy(), **tol)
    np.testing.assert_allclose(trace["loss"], loss.item(), **tol)
    if stacked:
        enc = [e.id for e in trace.info.entries].index("encoder")
        for layer in range(2):
            np.testing.assert_allclose(trace[f"grad.model.{enc}.l{layer}.fwd.h"], model.encoder.dh(layer),
                                       err_msg=f"encoder layer {layer} dL/dh", **tol)
    grads = {n.replace(".inner.", "."): p.grad.numpy() for n, p in model.named_parameters()}
    assert set(trace.torch_names) == set(grads)
    for name, gr in grads.items():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], gr, err_msg=name, **tol)
    loop = [e.id for e in trace.info.entries].index("loop")
    np.testing.assert_allclose(trace[f"grad.model.{loop}.h_cell"], torch.stack([h.grad for h in model.kept]).numpy(),
                               err_msg="decoder dL/dh", **tol)


def test_a_bidirectional_encoder_summed_before_the_loop():
    torch.manual_seed(5)
    model = Seq2Seq(kind="GRU", layers=1, bidirectional=True, joined="sum").double()
    g = np.random.default_rng(9)
    src, tgt_in, tgt_out = (torch.from_numpy(g.integers(0, V, shape)) for shape in ((2, 5), (2, 3), (2, 3)))
    with pytest.raises(FromTorchError) as exc:   # enc[..., :H]: indexing the encoder's steps before the loop
        rnntui.from_torch(model, src, tgt_in, loss="nll", target=tgt_out)
    assert "before the loop" in str(exc.value)


class Greedy(nn.Module):
    """A decoder that feeds back the argmax of its own output for a fixed number of steps (greedy decoding);
    with `encoder`, an embedding and a GRU over a source first, the decoder starting from its h_n[-1]."""

    def __init__(self, encoder=False, detach=False):
        super().__init__()
        self.encoder, self.detach = encoder, detach
        if encoder:
            self.src_emb, self.enc = nn.Embedding(V, E), nn.GRU(E, H, batch_first=True)
        self.emb = nn.Embedding(V, E)
        self.cell = nn.GRUCell(E, H)
        self.out = nn.Linear(H, V)
        self.kept = []

    def forward(self, start, src=None, steps: int = 4):
        if self.encoder:
            h = self.enc(self.src_emb(src))[1][-1]
        else:
            h = torch.zeros(start.size(0), H, dtype=self.out.weight.dtype)
        tok, outs = start[:, 0], []
        for _ in range(steps):
            h = self.cell(self.emb(tok), h)
            if h.requires_grad:
                h.retain_grad()
            self.kept.append(h)
            o = F.log_softmax(self.out(h), dim=-1)
            outs.append(o)
            tok = o.argmax(-1).detach() if self.detach else o.argmax(-1)
        return torch.stack(outs, 1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("encoder", [False, True, "detach"], ids=["alone", "after-an-encoder", "detached-ids"])
def test_greedy_decoding_maps_against_torch(encoder, dtype):
    """`tok = o.argmax(-1)` fed into `self.emb(tok)` at the next step: an embedding step node reading x, op
    argmax, the recurrence feeding the chosen id back. The argmax passes no gradient, so the gradients are
    autograd's through the scores that reach the loss."""
    torch.manual_seed(3 if encoder else 2)
    model = Greedy(encoder is True, detach=encoder == "detach").to(dtype)
    encoder = encoder is True
    g = np.random.default_rng(5)
    start = torch.tensor([[1], [4], [6]])
    src = torch.from_numpy(g.integers(0, V, (3, 6))) if encoder else None
    target = torch.from_numpy(g.integers(0, V, (3, 4)))
    args = (start, src) if encoder else (start,)
    trace = rnntui.from_torch(model, *args, loss="nll", target=target)
    text = trace.scenario_yaml()
    assert "op: argmax" in text and "feed:" in text and "type: embedding" in text
    model.kept = []
    y = model(*args)
    loss = F.nll_loss(y.reshape(-1, V), target.reshape(-1))
    loss.backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], y.transpose(0, 1).detach().numpy(), **tol)
    np.testing.assert_allclose(trace["loss"], loss.item(), **tol)
    loop = [e.id for e in trace.info.entries].index("loop")
    fed = np.asarray(trace[f"model.{loop}.x"])[1:, :, 0]   # what steps 1.. read: the ids chosen before
    np.testing.assert_array_equal(fed, y.argmax(-1).transpose(0, 1)[:-1].numpy())
    assert fed.any(), "the chosen ids are not the input's padding (0): the test sees the feedback"
    grads = {n: p.grad.numpy() for n, p in model.named_parameters()}
    assert set(trace.torch_names) == set(grads)
    for name, gr in grads.items():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], gr, err_msg=name, **tol)
    hname = next(k for k in trace.keys() if k.startswith(f"grad.model.{loop}.h") and k.count(".") == 3
                 and not k.endswith("0"))
    np.testing.assert_allclose(trace[hname], torch.stack([h.grad for h in model.kept]).numpy(),
                               err_msg="decoder dL/dh", **tol)


class ShiftedId(nn.Module):
    """The embedding reads an id the step computes from the fed one (`tok + 1`), not the fed id itself."""

    def __init__(self):
        super().__init__()
        self.emb, self.cell, self.out = nn.Embedding(V + 1, E), nn.GRUCell(E, H), nn.Linear(H, V)

    def forward(self, start):
        h = torch.zeros(start.size(0), H, dtype=self.out.weight.dtype)
        tok, outs = start[:, 0], []
        for _ in range(3):
            h = self.cell(self.emb(tok + 1), h)
            outs.append(self.out(h))
            tok = outs[-1].argmax(-1)
        return torch.stack(outs, 1)


def test_an_embedding_of_a_computed_id_in_the_loop_is_refused_at_its_line():
    with pytest.raises(FromTorchError) as exc:
        rnntui.from_torch(ShiftedId().double(), torch.tensor([[1], [2]]))
    msg = str(exc.value)
    line = inspect.getsourcelines(ShiftedId.forward)[1] + 4
    assert f"test_from_torch_steps.py:{line}:" in msg and "self.emb" in msg and "token ids" in msg \
        and "argmax(-1)" in msg, msg


class PackedStep(nn.Module):
    """A packed batch, padded back, and one step of it: padding (zeros) for the samples shorter than it."""

    def __init__(self, step):
        super().__init__()
        self.step = step
        self.rnn = nn.GRU(3, H, batch_first=True)
        self.fc = nn.Linear(H, 2)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return self.fc(out[:, self.step])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("step", [1, 3])
def test_a_step_of_a_packed_batch_against_torch(step, dtype):
    torch.manual_seed(6)
    model = PackedStep(step).to(dtype)
    x, lengths = _x(3, 5, 3).to(dtype), torch.tensor([5, 2, 4])   # step 3 is padding for the second sample
    trace = rnntui.from_torch(model, x, lengths=lengths)
    y = model(x, lengths)
    y.sum().backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], y.detach().numpy(), **tol)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], p.grad.numpy(), err_msg=name, **tol)


class LastReal(nn.Module):
    """Each sample's last real step of a packed batch padded back: out[torch.arange(B), lengths - 1]."""

    def __init__(self, batch_first=True, pack=True):
        super().__init__()
        self.batch_first, self.pack = batch_first, pack
        self.rnn = nn.LSTM(3, H, batch_first=batch_first)
        self.fc = nn.Linear(H, 2)

    def forward(self, x, lengths):
        if not self.pack:
            out, _ = self.rnn(x)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=self.batch_first, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=self.batch_first)
        if self.batch_first:
            return self.fc(out[torch.arange(out.size(0)), lengths - 1])
        return self.fc(out[lengths - 1, torch.arange(out.size(1))])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch-first", "time-first"])
def test_each_samples_last_real_step_against_torch(batch_first, dtype):
    torch.manual_seed(7)
    model = LastReal(batch_first).to(dtype)
    x = _x(3, 5, 3).to(dtype) if batch_first else _x(5, 3, 3).to(dtype)
    lengths = torch.tensor([5, 2, 4])
    trace = rnntui.from_torch(model, x, lengths=lengths)
    assert "op: last" in trace.scenario_yaml()
    y = model(x, lengths)
    y.sum().backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], y.detach().numpy(), **tol)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], p.grad.numpy(), err_msg=name, **tol)


def test_each_samples_last_step_of_a_batch_not_packed_is_refused_saying_why():
    model = LastReal(pack=False).double()
    with pytest.raises(FromTorchError) as exc:
        rnntui.from_torch(model, _x(3, 5, 3), lengths=torch.tensor([5, 2, 4]))
    msg = str(exc.value)
    line = inspect.getsourcelines(LastReal.forward)[1] + 8
    assert f"test_from_torch_steps.py:{line}:" in msg and "does not pack" in msg, msg


class LSTMSeq2Seq(nn.Module):
    """A 2-layer LSTM encoder; an LSTMCell decoder from its last layer's h_n and a zero cell state (or, refused,
    from c_n[-1], which no node gives)."""

    def __init__(self, from_cn=False):
        super().__init__()
        self.from_cn = from_cn
        self.src_emb, self.tgt_emb = nn.Embedding(V, E), nn.Embedding(V, E)
        self.enc = nn.LSTM(E, H, num_layers=2, batch_first=True)
        self.cell, self.out = nn.LSTMCell(E, H), nn.Linear(H, V)
        self.kept = []

    def forward(self, src, tgt_in):
        _, (h_n, c_n) = self.enc(self.src_emb(src))
        h, c = h_n[-1], (c_n[-1] if self.from_cn else torch.zeros_like(h_n[-1]))
        outs = []
        for t in range(tgt_in.size(1)):
            h, c = self.cell(self.tgt_emb(tgt_in[:, t]), (h, c))
            if h.requires_grad:
                h.retain_grad()
            self.kept.append(h)
            outs.append(F.log_softmax(self.out(h), dim=-1))
        return torch.stack(outs, 1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_an_lstm_encoder_then_a_decoder_cell_from_its_h_and_zeros(dtype):
    torch.manual_seed(8)
    model = LSTMSeq2Seq().to(dtype)
    g = np.random.default_rng(10)
    src, tgt_in, tgt_out = (torch.from_numpy(g.integers(0, V, shape)) for shape in ((3, 5), (3, 4), (3, 4)))
    trace = rnntui.from_torch(model, src, tgt_in, loss="nll", target=tgt_out)
    model.kept = []
    y = model(src, tgt_in)
    loss = F.nll_loss(y.reshape(-1, V), tgt_out.reshape(-1))
    loss.backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], y.transpose(0, 1).detach().numpy(), **tol)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], p.grad.numpy(), err_msg=name, **tol)
    loop = [e.id for e in trace.info.entries].index("loop")
    np.testing.assert_allclose(trace[f"grad.model.{loop}.h_cell"], torch.stack([h.grad for h in model.kept]).numpy(),
                               err_msg="decoder dL/dh", **tol)


def test_a_decoder_started_from_c_n_is_refused_saying_what_maps():
    model = LSTMSeq2Seq(from_cn=True).double()
    src, tgt = torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(FromTorchError) as exc:
        rnntui.from_torch(model, src, tgt, loss="nll", target=tgt)
    msg = str(exc.value)
    line = inspect.getsourcelines(LSTMSeq2Seq.forward)[1] + 2
    assert f"test_from_torch_steps.py:{line}:" in msg and "c_n" in msg and "zeros_like" in msg, msg


class FinalUnsqueezed(nn.Module):
    """What the refusal of batch-first `out + h_n[-1]` says to write: h_n[-1].unsqueeze(1)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, H, batch_first=True)
        self.fc = nn.Linear(H, 2)

    def forward(self, x):
        out, h_n = self.rnn(x)
        return self.fc(out + h_n[-1].unsqueeze(1))


def test_the_written_fix_of_a_batch_first_broadcast_maps():
    torch.manual_seed(9)
    model = FinalUnsqueezed().double()
    x = _x(2, 4, 3)
    trace = rnntui.from_torch(model, x)
    y = model(x)
    y.sum().backward()
    np.testing.assert_allclose(trace["output"], y.transpose(0, 1).detach().numpy(), rtol=1e-9, atol=1e-11)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], p.grad.numpy(), rtol=1e-9,
                                   atol=1e-11, err_msg=name)


class EarlyStop(nn.Module):
    """A decoder loop that stops when every sample predicts class 0: data-dependent, refused at the line."""

    def __init__(self):
        super().__init__()
        self.cell, self.out = nn.GRUCell(3, H), nn.Linear(H, 3)

    def forward(self, x):
        h, outs = torch.zeros(x.size(0), H, dtype=x.dtype), []
        for t in range(x.size(1)):
            h = self.cell(x[:, t], h)
            outs.append(self.out(h))
            if (outs[-1].argmax(-1) == 0).all():
                break
        return torch.stack(outs, 1)


def test_an_early_break_on_a_prediction_is_refused_at_its_line():
    with pytest.raises(FromTorchError) as exc:
        rnntui.from_torch(EarlyStop().double(), _x(2, 4, 3))
    msg = str(exc.value)
    line = inspect.getsourcelines(EarlyStop.forward)[1] + 5
    assert f"test_from_torch_steps.py:{line}:" in msg and "torch.where" in msg, msg
