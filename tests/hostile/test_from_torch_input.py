"""from_torch family: modules and inputs from_torch must answer at once with one clear error (a module too
large to write as a scenario), or run as documented (a module left in train() mode, a forward with a side
effect, an x that requires grad, an mse target holding NaN), never hang and never fail without a word."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch import nn

import rnntui
from rnntui.torch_bridge import FromTorchError
from rnntui.torch_bridge.bridge import MAX_INLINE


class Tagger(nn.Module):
    def __init__(self, hidden=4, dropout=0.0, batchnorm=False):
        super().__init__()
        self.rnn = nn.GRU(3, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.BatchNorm1d(hidden) if batchnorm else nn.Identity()
        self.fc = nn.Linear(hidden, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(self.norm(self.drop(out[:, -1])))


def _x(*shape):
    return torch.linspace(-1, 1, int(np.prod(shape)), dtype=torch.float64).reshape(shape)


@pytest.mark.parametrize("make,x,said", [
    (lambda: nn.Sequential(nn.RNN(4, 600, batch_first=True)), _x(1, 3, 4), "363,612 numbers (363,600 in the module's"),
    (lambda: Tagger(), _x(2, 50_000, 3), "300,000 in x"),
], ids=["hidden-600", "long-x"])
def test_too_many_numbers_are_refused_before_anything_runs(make, x, said):
    module = make().double()
    start = time.monotonic()
    with pytest.raises(FromTorchError) as err:
        rnntui.from_torch(module, x)
    assert time.monotonic() - start < 5  # counted, not traced, written or read
    msg = str(err.value)
    assert said in msg and f"takes minutes past {MAX_INLINE:,}" in msg and "rnntui scaffold" in msg


def test_a_huge_hidden_size_is_refused_by_debug_before_it_looks_for_a_terminal():
    module = nn.Sequential(nn.RNN(4, 600, batch_first=True)).double()
    with pytest.raises(FromTorchError, match="numbers"):
        rnntui.debug(module, _x(1, 3, 4))


def _eval_output(module, x):
    was = module.training
    module.eval()
    with torch.no_grad():
        out = module(x).numpy()
    module.train(was)
    return out


@pytest.mark.parametrize("kind", ["dropout", "batchnorm"])
def test_a_module_in_train_mode_runs_as_in_eval_and_says_so(kind):
    torch.manual_seed(0)
    module = Tagger(dropout=0.5 if kind == "dropout" else 0.0, batchnorm=kind == "batchnorm").double()
    if kind == "batchnorm":
        module.norm.running_mean.fill_(0.3)
        module.norm.running_var.fill_(2.0)
    module.train()
    x = _x(3, 5, 3)
    stats = {k: v.clone() for k, v in module.state_dict().items()}
    trace = rnntui.from_torch(module, x)
    np.testing.assert_allclose(trace["output"], _eval_output(module, x), rtol=0, atol=1e-12)
    assert "The module was in train() mode; this run is as in model.eval()" in trace.info.description
    assert module.training and all(m.training for m in module.modules())  # its own mode given back
    assert all(torch.equal(v, module.state_dict()[k]) for k, v in stats.items())  # running statistics untouched


class Counting(Tagger):
    """A forward with a side effect: it counts its calls."""

    def forward(self, x):
        self.calls = getattr(self, "calls", 0) + 1
        return super().forward(x)


def test_a_forward_with_a_side_effect_runs():
    module = Counting().double().eval()
    x = _x(2, 4, 3)
    trace = rnntui.from_torch(module, x)
    np.testing.assert_allclose(trace["output"], _eval_output(module, x), rtol=0, atol=1e-12)
    assert module.calls >= 1


def test_an_x_that_requires_grad_runs_and_is_left_alone():
    module = Tagger().double().eval()
    x = _x(2, 4, 3).requires_grad_(True)
    trace = rnntui.from_torch(module, x)
    np.testing.assert_allclose(trace["output"], _eval_output(module, x.detach()), rtol=0, atol=1e-12)
    assert x.grad is None and x.requires_grad


def test_an_mse_target_holding_nan_gives_the_loss_torch_gives():
    module = Tagger().double().eval()
    x = _x(2, 4, 3)
    target = torch.tensor([[float("nan"), 1.0], [0.0, 1.0]], dtype=torch.float64)
    trace = rnntui.from_torch(module, x, loss="mse", target=target)
    with torch.no_grad():
        expected = nn.functional.mse_loss(module(x), target)
    assert np.isnan(float(trace["loss"])) and torch.isnan(expected)
