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
