"""from_torch's refusals in the user's own terms: shapes of what the module returns and takes."""
from __future__ import annotations

import pytest
import torch

import rnntui

nn, F = torch.nn, torch.nn.functional


class WordLM(nn.Module):
    """PyTorch's word_language_model, tied: forward(input, hidden), decoded.view(-1, ntoken)."""

    def __init__(self, ntoken=10, nhid=6):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, nhid)
        self.rnn = nn.LSTM(nhid, nhid)
        self.decoder = nn.Linear(nhid, ntoken)
        self.decoder.weight = self.encoder.weight
        self.ntoken = ntoken

    def forward(self, input, hidden):
        output, hidden = self.rnn(self.encoder(input), hidden)
        return F.log_softmax(self.decoder(output).view(-1, self.ntoken), dim=1), hidden


def test_a_flattened_outputs_target_is_asked_for_in_the_modules_shape():
    """The module returns (T*B, ntoken) = (14, 10); a wrong target was refused as needing 'shape (7, 2), the
    module's output (7, 2, 10)', a shape the module never returns, and not the (14,) that F.nll_loss takes."""
    torch.manual_seed(0)
    model = WordLM().double()
    ids = torch.randint(0, 10, (7, 2))
    hidden = (torch.zeros(1, 2, 6, dtype=torch.float64),) * 2
    out, _ = model(ids, hidden)
    assert tuple(out.shape) == (14, 10)
    good = torch.randint(0, 10, (14,))
    F.nll_loss(out, good)                                     # what torch itself takes
    trace = rnntui.from_torch(model, ids, hidden, loss="nll", target=good)
    assert float(trace["loss"]) == pytest.approx(float(F.nll_loss(out, good).detach()), rel=1e-12)
    with pytest.raises(rnntui.RnntuiError) as err:
        rnntui.from_torch(model, ids, hidden, loss="nll", target=torch.randint(0, 10, (13,)))
    words = str(err.value)
    assert "target= has shape (13,)" in words and "module's output (14, 10): shape (14,)" in words
    assert "(7, 2, 10)" not in words


def _word_lm():
    torch.manual_seed(0)
    model = WordLM().double()
    ids = torch.randint(0, 10, (7, 2))
    hidden = (torch.zeros(1, 2, 6, dtype=torch.float64),) * 2
    return model, ids, hidden


@pytest.mark.parametrize("k", [5, 13])
def test_an_out_of_range_class_in_a_flattened_target_is_named_by_the_users_own_index(k):
    """target= of shape (14,) for the module's (14, 10), which rnntui reads split as (7, 2): a bad class was
    named target[2, 1], an index into the split the user never made; it is target[k], the value and the range."""
    model, ids, hidden = _word_lm()
    target = torch.randint(0, 10, (14,))
    target[k] = 12
    with pytest.raises(IndexError):    # torch itself refuses it, so the value is really out of range
        F.nll_loss(model(ids, hidden)[0], target)
    with pytest.raises(rnntui.RnntuiError) as err:
        rnntui.from_torch(model, ids, hidden, loss="nll", target=target)
    words = str(err.value)
    B = ids.shape[1]     # row k of out.view(-1, ntoken) is step k // B of sample k % B
    assert words.startswith(f"target[{k}] = {int(target[k])} (sample {k % B}, step {k // B})"), words
    assert "class index in 0..9" in words and "10 classes" in words
    assert f"target[{k // B}, {k % B}]" not in words


def test_a_vocab_too_short_for_the_ids_is_refused_as_the_vocab_argument():
    """vocab= shorter than the ids in x was refused as `input.tokens[0][4]`, a key of the generated scenario;
    it is said as the vocab= passed: how many entries, and where x holds the first id past them."""
    model, ids, hidden = _word_lm()
    target = torch.randint(0, 10, (14,))
    vocab = [f"w{i}" for i in range(int(ids.max()))]     # one short of the largest id
    with pytest.raises(rnntui.RnntuiError) as err:
        rnntui.from_torch(model, ids, hidden, loss="nll", target=target, vocab=vocab)
    words = str(err.value)
    bad = (ids >= len(vocab)).nonzero()
    t, b = (int(i) for i in bad[0])          # the first in x's own order; x is (time, batch) here
    assert f"vocab= has {len(vocab)} entries (ids 0..{len(vocab) - 1})" in words, words
    assert f"x[{t}, {b}] (sample {b}, step {t}) holds id {int(ids[t, b])}" in words, words
    assert (f"; {len(bad)} ids are outside it" in words) == (len(bad) > 1)
    assert "input.tokens" not in words
    # a vocab= that covers every id is taken
    rnntui.from_torch(model, ids, hidden, loss="nll", target=target, vocab=[f"w{i}" for i in range(10)])


def test_a_flattened_targets_wrong_trailing_shape_is_said_as_passed():
    """target= (14, 3) for the module's (14, 10) under nll: its first axis matches the rows, so it was split to
    (7, 2, 3) and refused as 'target= has shape (7, 2, 3)', a shape the user never passed."""
    model, ids, hidden = _word_lm()
    with pytest.raises(rnntui.RnntuiError) as err:
        rnntui.from_torch(model, ids, hidden, loss="nll", target=torch.randint(0, 10, (14, 3)))
    words = str(err.value)
    assert words.startswith("target= has shape (14, 3); loss='nll' needs one class index per row of the module's "
                            "output (14, 10): shape (14,)"), words
    assert "(7, 2, 3)" not in words
