"""`from_torch(module, *args, kwargs=, output=, loss="nll", vocab=, class_names=)`: the forward's own
arguments. A word language model stepped from a carried (non-zero) hidden state, `forward(input, hidden)`
returning `(log_probs, hidden)`, and a character classifier reading `hidden[0]` through nn.LogSoftmax, each
in float64 and float32 against torch autograd: output, loss, every parameter gradient (through
`trace.torch_names`), the gradient reaching the given hidden state, and each layer's per-step dL/dh
(against the recurrent module unrolled step by step in torch, tests/torch_unroll.py)."""
from __future__ import annotations

import numpy as np
import pytest

import rnntui

import torch  # noqa: E402 - the test extra brings it; a missing torch fails the run (conftest)
nn = torch.nn
F = torch.nn.functional

from rnntui.torch_bridge import FromTorchError  # noqa: E402
from tests.torch_unroll import Unrolled  # noqa: E402

V, E, H = 7, 5, 4
WORDS = ["<eos>", "the", "cat", "sat", "on", "a", "mat"]


class WordLM(nn.Module):
    """Embedding, dropout, a 2-layer recurrent module with dropout between its layers, dropout, a decoder,
    log_softmax: forward(input, hidden) -> (log_probs, hidden), time first, as a word language model."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.drop = nn.Dropout(0.2)
        self.encoder = nn.Embedding(V, E)
        self.rnn = getattr(nn, kind)(E, H, num_layers=2, dropout=0.3)
        self.decoder = nn.Linear(H, V)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        return F.log_softmax(decoded, dim=-1), hidden

    def init_hidden(self, bsz):
        z = torch.zeros(2, bsz, H, dtype=self.decoder.weight.dtype)
        return (z, z.clone()) if self.kind == "LSTM" else z


class CharClassifier(nn.Module):
    """A GRU over a name's characters, its final state hidden[0], a linear layer and nn.LogSoftmax(dim=1)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.rnn = nn.GRU(E, H, batch_first=True)
        self.out = nn.Linear(H, 3)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        _, hidden = self.rnn(self.emb(input), hidden)
        return self.softmax(self.out(hidden[0]))


def _carried(model, B, seed):
    """A non-zero hidden state, as carried from the batch before (repackaged: no graph behind it)."""
    g = torch.Generator().manual_seed(seed)
    h = model.init_hidden(B)
    return tuple(torch.randn(z.shape, generator=g, dtype=z.dtype) * 0.5 for z in h) if isinstance(h, tuple) \
        else torch.randn(h.shape, generator=g, dtype=h.dtype) * 0.5


TOL = {torch.float64: dict(rtol=1e-9, atol=1e-11), torch.float32: dict(rtol=2e-4, atol=2e-5)}


def _grads_of(model):
    return {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_word_language_model_from_a_carried_hidden_state(kind, dtype):
    torch.manual_seed(0)
    model = WordLM(kind).to(dtype)
    T, B = 6, 3
    ids = torch.from_numpy(np.random.default_rng(1).integers(0, V, (T, B)))
    target = torch.from_numpy(np.random.default_rng(2).integers(0, V, (T, B)))
    hidden = _carried(model, B, 3)
    model.train()   # as in the user's training loop: the run is eval()'s (dropout off), the mode kept
    trace = rnntui.from_torch(model, ids, hidden, target=target, loss="nll", vocab=WORDS)
    assert model.training and model.drop.training

    # torch: the same forward, the recurrent module unrolled to keep every step's h
    model.eval()
    model.rnn = Unrolled(model.rnn)
    h0 = tuple(h.clone().requires_grad_() for h in hidden) if kind == "LSTM" else hidden.clone().requires_grad_()
    logp, _ = model(ids, h0)
    loss = F.nll_loss(logp.reshape(-1, V), target.reshape(-1))
    loss.backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], logp.detach().numpy(), **tol)
    np.testing.assert_allclose(trace["loss"], loss.item(), **tol)
    grads = {n.replace("rnn.inner.", "rnn."): g for n, g in _grads_of(model).items()}
    assert set(trace.torch_names) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], g, err_msg=name, **tol)
    i = int(trace.torch_names["rnn.weight_ih_l0"].split(".")[0])
    for layer in range(2):
        np.testing.assert_allclose(trace[f"grad.model.{i}.l{layer}.fwd.h"], model.rnn.dh(layer), err_msg=f"dh {layer}",
                                   **tol)
    given = h0[0] if kind == "LSTM" else h0
    np.testing.assert_allclose(np.stack([trace[f"grad.model.{i}.l{j}.fwd.h0"] for j in range(2)]),
                               given.grad.numpy(), **tol)
    if kind == "LSTM":
        np.testing.assert_allclose(np.stack([trace[f"grad.model.{i}.l{j}.fwd.c0"] for j in range(2)]),
                                   h0[1].grad.numpy(), **tol)
    assert trace.info.dtype == str(dtype).replace("torch.", "")
    assert list(trace["meta.vocab"]) == WORDS   # the screens name the ids
    text = trace.scenario_yaml()
    assert "initial_state" in text and "kind: nll" in text


def test_the_hidden_state_may_be_given_by_keyword_and_the_vocab_as_a_map():
    torch.manual_seed(0)
    model = WordLM("GRU").double()
    ids = torch.from_numpy(np.random.default_rng(1).integers(0, V, (4, 2)))
    hidden = _carried(model, 2, 3)
    by_position = rnntui.from_torch(model, ids, hidden)
    by_keyword = rnntui.from_torch(model, ids, kwargs={"hidden": hidden}, vocab={w: k for k, w in enumerate(WORDS)})
    np.testing.assert_array_equal(by_keyword["output"], by_position["output"])
    assert list(by_keyword["meta.vocab"]) == WORDS
    zero = rnntui.from_torch(model, ids, model.init_hidden(2))   # a zero state given is a zero state
    assert not np.allclose(zero["output"], by_position["output"])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_char_classifier_with_hidden_0_and_nn_logsoftmax(dtype):
    torch.manual_seed(1)
    model = CharClassifier().to(dtype)
    B, T = 3, 5
    ids = torch.from_numpy(np.random.default_rng(4).integers(0, V, (B, T)))
    hidden = (torch.randn(1, B, H, generator=torch.Generator().manual_seed(5)) * 0.5).to(dtype)
    target = torch.tensor([2, 0, 1])
    names = ["English", "French", "Greek"]
    trace = rnntui.from_torch(model, ids, hidden, target=target, loss="nll", class_names=names)

    model.rnn = Unrolled(model.rnn)
    h0 = hidden.clone().requires_grad_()
    logp = model(ids, h0)
    loss = F.nll_loss(logp, target)
    loss.backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["output"], logp.detach().numpy(), **tol)
    np.testing.assert_allclose(trace["loss"], loss.item(), **tol)
    grads = {n.replace("rnn.inner.", "rnn."): g for n, g in _grads_of(model).items()}
    assert set(trace.torch_names) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], g, err_msg=name, **tol)
    i = int(trace.torch_names["rnn.weight_ih_l0"].split(".")[0])
    np.testing.assert_allclose(trace[f"grad.model.{i}.l0.fwd.h"], model.rnn.dh(0), **tol)
    np.testing.assert_allclose(trace[f"grad.model.{i}.l0.fwd.h0"], h0.grad.numpy()[0], **tol)
    assert trace.info.class_names == tuple(names)
    assert trace.info.mode == "many-to-one"


class TwoOut(nn.Module):
    """Returns (hidden, scores): the loss reads the second."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, H, batch_first=True)
        self.fc = nn.Linear(H, 2)

    def forward(self, x, scale: float = 1.0):
        out, h = self.rnn(x)
        return h, self.fc(out)


def test_output_picks_the_element_of_a_returned_tuple():
    torch.manual_seed(2)
    model = TwoOut().double()
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    trace = rnntui.from_torch(model, x, output=1)
    np.testing.assert_allclose(trace["output"], model(x)[1].detach().numpy().transpose(1, 0, 2), rtol=1e-12)
    with pytest.raises(FromTorchError, match=r"output=2: TwoOut.forward returns 2 values; expected 0 to 1"):
        rnntui.from_torch(model, x, output=2)
    with pytest.raises(FromTorchError, match="output: found None; expected the index of the returned tuple's element"):
        rnntui.from_torch(model, x, output=None)


@pytest.mark.parametrize("call,said", [
    (lambda m, ids: rnntui.from_torch(m, ids), "WordLM.forward needs `hidden`, which from_torch was not given"),
    (lambda m, ids: rnntui.from_torch(m, ids, m.init_hidden(2), loss="nll", target=ids[:, :1]),
     r"target= has shape \(4, 1\); loss='nll' needs one class index per \(sample, step\)"),
    (lambda m, ids: rnntui.from_torch(m, ids, m.init_hidden(2), vocab=WORDS[:-1] + ["cat"]), "vocab= lists 'cat' twice"),
    (lambda m, ids: rnntui.from_torch(m, ids, m.init_hidden(2), vocab={"a": 0, "b": 2}), "the ids 0..V-1 each once"),
    (lambda m, ids: rnntui.from_torch(m, ids, m.init_hidden(2), class_names=["a"]), "class_names= names the classes"),
    (lambda m, ids: rnntui.from_torch(m, ids, m.init_hidden(2), kwargs=[1]), "kwargs: found list"),
    (lambda m, ids: rnntui.from_torch(m, ids, m.init_hidden(2), 5), r"cannot take the arguments given"),
])
def test_wrong_arguments_are_said_in_the_users_terms(call, said):
    model = WordLM("GRU").double()
    ids = torch.from_numpy(np.random.default_rng(1).integers(0, V, (4, 2)))
    with pytest.raises(FromTorchError, match=said):
        call(model, ids)


class Logits(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, H, batch_first=True)
        self.fc = nn.Linear(H, 2)

    def forward(self, x):
        return self.fc(self.rnn(x)[0])


def test_nll_needs_log_probabilities():
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    with pytest.raises(FromTorchError, match="loss='nll' reads log-probabilities"):
        rnntui.from_torch(Logits().double(), x, loss="nll", target=torch.zeros(2, 4, dtype=torch.long))


class RowLSTM(nn.Module):
    """An image batch read as a sequence without reshaping it first."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(6, H, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0]


def test_an_image_batch_is_refused_without_claiming_a_conv2d_the_model_has_not():
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64)
    with pytest.raises(FromTorchError) as err:
        rnntui.from_torch(RowLSTM().double(), x)
    said = str(err.value)
    assert "(4, 1, 6, 6)" in said and "a batch of 4" in said and "x.reshape(-1, rows, columns)" in said
    assert "through a conv2d" not in said   # RowLSTM has no conv2d


class RecurrentLogSoftmax(nn.Module):
    """log_softmax straight after the recurrent module: an `activation` entry of its own (not a dense's)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, H, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0].log_softmax(dim=-1)


def test_a_log_softmax_entry_of_its_own_against_torch():
    torch.manual_seed(4)
    model = RecurrentLogSoftmax().double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    target = torch.randint(0, H, (2, 5), generator=torch.Generator().manual_seed(5))
    trace = rnntui.from_torch(model, x, loss="nll", target=target)
    assert [e.type for e in trace.info.entries] == ["gru", "activation"]
    y = model(x)
    loss = F.nll_loss(y.reshape(-1, H), target.reshape(-1))
    loss.backward()
    np.testing.assert_allclose(trace["loss"], loss.item(), rtol=1e-12)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], p.grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


class CharLM(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, V)

    def forward(self, x):
        return self.fc(self.rnn(self.emb(x))[0])


def test_weights_past_the_inline_size_go_beside_the_scenario_and_reload_bit_for_bit(tmp_path):
    from rnntui.torch_bridge.text import INLINE_PARAMS

    torch.manual_seed(5)
    ids = torch.from_numpy(np.random.default_rng(1).integers(0, V, (2, 6)))
    small, big = CharLM(4).double(), CharLM(80).double()
    assert sum(p.numel() for p in small.parameters()) <= INLINE_PARAMS < sum(p.numel() for p in big.parameters())
    inline = rnntui.from_torch(small, ids)
    assert "  set:" in inline.scenario_yaml() and "file:" not in inline.scenario_yaml()
    trace = rnntui.from_torch(big, ids, loss="cross_entropy", target=ids)
    assert 'file: "from_torch.safetensors"' in trace.scenario_yaml() and "  set:" not in trace.scenario_yaml()
    trace.save_scenario(tmp_path / "lm.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm.safetensors", "lm.yaml"]
    assert 'file: "lm.safetensors"' in (tmp_path / "lm.yaml").read_text()
    again = rnntui.run(tmp_path / "lm.yaml")
    for key in ("output", "loss", "grad.param.1.weight_hh_l0", "grad.param.0.weight"):
        np.testing.assert_array_equal(again[key], trace[key], err_msg=key)


def test_the_report_names_the_classes_and_the_words_given():
    """class_names and vocab reach the screens: the text report's prediction names the predicted class, and
    its input line the tokens, as the trace's own output and ids say."""
    import io

    from rnntui.render.report import ReportOptions, print_report

    torch.manual_seed(1)
    model = CharClassifier().double()
    ids = torch.from_numpy(np.random.default_rng(4).integers(0, V, (3, 5)))
    hidden = torch.randn(1, 3, H, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    names = ["English", "French", "Greek"]
    words = [f"w{k}q" for k in range(V)]   # found in the report only if the vocabulary reached it
    trace = rnntui.from_torch(model, ids, hidden, target=torch.tensor([2, 0, 1]), loss="nll", class_names=names,
                              vocab=words)
    out = io.StringIO()
    print_report(trace, ReportOptions(width=160), stdout=out)
    text = out.getvalue()
    predicted = np.asarray(trace["output"]).argmax(-1)
    for b in range(3):
        assert names[predicted[b]] in text
    assert all(words[int(i)] in text for i in ids[0])


def test_record_takes_the_forwards_own_arguments(tmp_path):
    torch.manual_seed(0)
    model = WordLM("GRU").double()
    ids = torch.from_numpy(np.random.default_rng(1).integers(0, V, (4, 2)))
    target = torch.from_numpy(np.random.default_rng(2).integers(0, V, (4, 2)))
    hidden = _carried(model, 2, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with rnntui.record(model, ids, hidden, target=target, loss="nll", step=0, to=tmp_path) as rec:
        opt.zero_grad()
        logp, _ = model.eval()(ids, hidden)
        F.nll_loss(logp.reshape(-1, V), target.reshape(-1)).backward()
        grad = model.decoder.weight.grad.numpy().copy()
        opt.step()
    np.testing.assert_allclose(rec.trace["grad.param." + rec.trace.torch_names["decoder.weight"]], grad, rtol=1e-9)
    assert (tmp_path / "step-000000000.npz").exists()
