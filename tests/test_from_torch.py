"""`rnntui.from_torch`: a PyTorch module run in rnntui gives the module's own output, loss and every
parameter gradient (float64, to 1e-9 of torch autograd) in each common form; what rnntui cannot express
is refused naming the operation and its line; the scenario text reloads into the same run."""
from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

import rnntui
from rnntui.scenario.loader import load_scenario
from rnntui.engine import run_scenario

import torch
nn = torch.nn
F = torch.nn.functional
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

from rnntui.torch_bridge import FromTorchError  # noqa: E402
from tests.torch_ref import warmed  # noqa: E402


# --- the common forms -------------------------------------------------------------------------------
class Tagger(nn.Module):
    """embedding -> GRU (batch first) -> Linear + ReLU -> Dropout -> Linear: a chain, many-to-many."""

    def __init__(self, bidirectional=False):
        super().__init__()
        self.emb = nn.Embedding(11, 4, padding_idx=0)
        self.rnn = nn.GRU(4, 5, batch_first=True, bidirectional=bidirectional)
        self.hidden = nn.Linear(10 if bidirectional else 5, 6)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(6, 3)

    def forward(self, ids):
        out, _ = self.rnn(self.emb(ids))
        return self.out(self.drop(self.act(self.hidden(out))))


class TimeFirst(nn.Module):
    """`out, _ = lstm(x)` with (time, batch, features), stacked and bidirectional."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out)


class LastHidden(nn.Module):
    """`_, h_n = rnn(x); fc(h_n[-1])`: many-to-one."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 5, num_layers=2, batch_first=True)
        self.fc = nn.Linear(5, 4)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.fc(h[-1])


class LastHiddenLSTM(nn.Module):
    """`_, (h_n, _) = lstm(x); fc(h_n.squeeze(0))`."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 5, batch_first=True)
        self.fc = nn.Linear(5, 4)

    def forward(self, x):
        _, (h, _) = self.rnn(x)
        return self.fc(h.squeeze(0))


class LastStep(nn.Module):
    """The tutorial form: zero initial states, out[:, -1, :]."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=True)
        self.fc = nn.Linear(5, 4)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), 5, dtype=x.dtype).to(x.device)
        c0 = torch.zeros(1, x.size(0), 5, dtype=x.dtype).to(x.device)
        out, _ = self.lstm(x, (h0, c0))
        return self.fc(out[:, -1, :])


class LastStepTimeFirst(nn.Module):
    """out[-1] of a ReLU RNN over (time, batch, features), then tanh."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 6, nonlinearity="relu")
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        out, _ = self.rnn(x)
        return torch.tanh(self.fc(out[-1]))


class BothDirections(nn.Module):
    """A bidirectional module's many-to-one: torch.cat([h_n[-2], h_n[-1]], dim=1)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        _, (h, _) = self.rnn(x)
        return self.fc(torch.cat([h[-2], h[-1]], dim=1))


class Packed(nn.Module):
    """forward(x, lengths): packed, padded back, a Linear per step."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 5, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(10, 2)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        return self.fc(out)


class PackedIds(nn.Module):
    """Token ids of different lengths, packed through the attribute path, many-to-one from h_n."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(9, 4)
        self.rnn = nn.GRU(4, 5)
        self.fc = nn.Linear(5, 3)

    def forward(self, ids, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.emb(ids), lengths.cpu(), enforce_sorted=False)
        _, h = self.rnn(packed)
        return self.fc(h[-1])


class CRNN(nn.Module):
    """transpose -> Conv1d -> ReLU -> transpose back -> LSTM -> Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 4, kernel_size=3, padding=1)
        self.lstm = nn.LSTM(4, 5, batch_first=True)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        z = F.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        out, _ = self.lstm(z)
        return self.fc(out)


def cnn():
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(27, 4))


class CRNNBatchNorm(nn.Module):
    """transpose -> Conv1d -> BatchNorm1d -> ReLU -> transpose back -> GRU -> Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 4, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm1d(4, momentum=None)
        self.gru = nn.GRU(4, 5, batch_first=True)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        z = F.relu(self.bn(self.conv(x.transpose(1, 2)))).transpose(1, 2)
        out, _ = self.gru(z)
        return self.fc(out)


class LastHiddenBatchNorm(nn.Module):
    """h_n[-1] -> BatchNorm1d without affine parameters -> Linear."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 4, batch_first=True)
        self.bn = nn.BatchNorm1d(4, affine=False)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        _, (h, _) = self.rnn(x)
        return self.fc(self.bn(h[-1]))


def cnn_batchnorm():
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(27, 4))


def _ids(shape, high, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, high, shape))  # 0: the padding_idx too


def _x(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=shape))


# (name, module, x, lengths, how the torch output maps to the trace's (T, B, F) / (B, F))
LENGTHS = torch.tensor([4, 6, 2])
FORMS = {
    "chain-embedding-gru": (lambda: Tagger(), lambda: _ids((2, 5), 11), None, "batch_first"),
    "time-first-bilstm": (lambda: TimeFirst(), lambda: _x(6, 2, 3), None, "same"),
    "many-to-one-h_n": (lambda: LastHidden(), lambda: _x(2, 5, 3), None, "same"),
    "many-to-one-lstm-h_n": (lambda: LastHiddenLSTM(), lambda: _x(3, 4, 3), None, "same"),
    "last-step-batch-first": (lambda: LastStep(), lambda: _x(2, 5, 3), None, "same"),
    "last-step-time-first": (lambda: LastStepTimeFirst(), lambda: _x(5, 2, 3), None, "same"),
    "bidirectional-cat": (lambda: BothDirections(), lambda: _x(2, 5, 3), None, "same"),
    "packed": (lambda: Packed(), lambda: _x(3, 6, 3), LENGTHS, "batch_first"),
    "packed-longer-than-the-longest": (lambda: Packed(), lambda: _x(3, 8, 3), LENGTHS, "batch_first"),
    "packed-ids-many-to-one": (lambda: PackedIds(), lambda: _ids((7, 3), 9), LENGTHS, "same"),
    "crnn": (lambda: CRNN(), lambda: _x(2, 7, 3), None, "batch_first"),
    "cnn-sequential": (lambda: cnn(), lambda: _x(1, 1, 6, 6), None, "same"),
    "crnn-batchnorm": (lambda: warmed(CRNNBatchNorm()), lambda: _x(2, 7, 3), None, "batch_first"),
    "many-to-one-h_n-batchnorm": (lambda: warmed(LastHiddenBatchNorm()), lambda: _x(3, 5, 3), None, "same"),
    "cnn-batchnorm": (lambda: warmed(cnn_batchnorm()), lambda: _x(1, 1, 6, 6), None, "same"),
}


def _to_trace(y, how):
    return y.transpose(0, 1) if how == "batch_first" else y


def _torch_loss(y, kind, target, lengths, how):
    """The loss rnntui computes, in torch: over each sample's real steps when the batch is packed."""
    if y.ndim == 3:
        y = _to_trace(y, how)   # (T, B, F)
        if target is not None:
            target = _to_trace(target, how)
        real = (torch.arange(y.shape[0])[:, None] < lengths[None, :]) if lengths is not None else \
            torch.ones(y.shape[:2], dtype=torch.bool)
        if kind == "sum":
            return y[real].sum()
        if kind == "mse":
            return F.mse_loss(y[real], target[real])
        return F.cross_entropy(y[real], target[real])
    if kind == "sum":
        return y.sum()
    return F.mse_loss(y, target) if kind == "mse" else F.cross_entropy(y, target)


def _target(kind, y, seed=1):
    if kind == "sum":
        return None
    g = torch.Generator().manual_seed(seed)
    if kind == "mse":
        return torch.randn(y.shape, generator=g, dtype=y.dtype)
    return torch.randint(0, y.shape[-1], y.shape[:-1], generator=g)


def _check(module, x, lengths, how, kind):
    torch.manual_seed(3)
    module = module.double()
    with torch.no_grad():
        y0 = module.eval()(x, lengths) if lengths is not None else module.eval()(x)
    target = _target(kind, y0)
    trace = rnntui.from_torch(module, x, target=target, loss=kind, lengths=lengths)
    module.zero_grad()
    y = module(x, lengths) if lengths is not None else module(x)
    loss = _torch_loss(y, kind, target, lengths, how)
    loss.backward()
    np.testing.assert_allclose(trace["output"], _to_trace(y, how).detach().numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(trace["loss"], loss.item(), rtol=1e-9, atol=1e-12)
    names = dict(module.named_parameters())
    assert set(trace.torch_names) == set(names)  # every parameter of the module is in the trace
    for name, p in names.items():
        np.testing.assert_allclose(trace["grad.param." + trace.torch_names[name]], p.grad.numpy(), rtol=1e-9,
                                   atol=1e-9, err_msg=name)
    return trace


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_common_form_gives_the_modules_output_loss_and_gradients(form):
    make, x, lengths, how = FORMS[form]
    trace = _check(make(), x(), lengths, how, "sum")
    mode = "many-to-one" if ("many-to-one" in form or "last-step" in form or "cat" in form) else "many-to-many"
    assert trace.info.mode == mode


@pytest.mark.parametrize("form,kind", [("chain-embedding-gru", "cross_entropy"), ("time-first-bilstm", "mse"),
                                       ("many-to-one-h_n", "cross_entropy"), ("bidirectional-cat", "mse"),
                                       ("packed", "mse"), ("packed", "cross_entropy"),
                                       ("packed-ids-many-to-one", "cross_entropy"), ("crnn", "cross_entropy"),
                                       ("last-step-time-first", "mse")])
def test_mse_and_cross_entropy_with_a_target(form, kind):
    make, x, lengths, how = FORMS[form]
    _check(make(), x(), lengths, how, kind)


def test_float32_modules_run_in_float32_within_its_precision():
    torch.manual_seed(0)
    m = Tagger().eval()
    ids = _ids((2, 5), 11)
    trace = rnntui.from_torch(m, ids)
    assert trace.info.dtype == "float32" and trace["output"].dtype == np.float32
    with torch.no_grad():
        np.testing.assert_allclose(trace["output"], m(ids).transpose(0, 1).numpy(), rtol=1e-5, atol=1e-6)


def test_the_module_keeps_its_training_mode():
    m = Tagger().double()
    m.train()
    m.rnn.eval()
    trace = rnntui.from_torch(m, _ids((2, 5), 11))
    assert m.training and m.drop.training and not m.rnn.training
    # the run is as in eval(): the trace says so (its dropout was in train mode)
    assert "was in train() mode; this run is as in model.eval()" in trace.info.description
    m.eval()
    assert "train() mode" not in rnntui.from_torch(m, _ids((2, 5), 11)).info.description


# --- the scenario text -------------------------------------------------------------------------------
def test_the_scenario_text_reloads_into_the_same_run_bit_for_bit(tmp_path):
    torch.manual_seed(1)
    m = Packed().double()
    with torch.no_grad():  # values whose shortest repr is long, tiny, huge or signed zero
        m.fc.weight[0, :6] = torch.tensor([0.1, 5e-324, -0.0, 1e17, 1 / 3, -2.2250738585072014e-308],
                                           dtype=torch.float64)
    x = _x(3, 6, 3)
    trace = rnntui.from_torch(m, x, lengths=LENGTHS, loss="mse", target=torch.randn(3, 6, 2, dtype=torch.float64))
    text = trace.scenario_yaml()
    assert "init: none" in text and "file:" not in text  # self-contained: nothing beside it
    path = tmp_path / "shared.yaml"
    trace.save_scenario(path)
    assert path.read_text() == text
    again = run_scenario(load_scenario(path))
    keys = [k for k in trace if not k.startswith("meta.") and not k.startswith("diag.")]
    assert "grad.param.1.weight" in keys and "model.0.l0.bwd.c" in keys
    for k in keys:
        assert np.array_equal(trace[k], again[k], equal_nan=True), k
    w = again["param.1.weight"][0, :6]
    assert w[1] == 5e-324 and np.signbit(w[2]) and w[3] == 1e17 and w[4] == 1 / 3


def test_the_run_is_checked_against_the_modules_output(monkeypatch):
    from rnntui.torch_bridge import leaves

    real = leaves.linear

    def no_bias(m):  # a mapping mistake: the run must not be shown
        e = real(m)
        e.params["bias"] = np.zeros_like(e.params["bias"])
        return e

    monkeypatch.setattr(leaves, "linear", no_bias)
    with pytest.raises(FromTorchError, match="differs from LastHidden's own"):
        rnntui.from_torch(LastHidden().double(), _x(2, 5, 3))


def test_a_model_with_tiny_outputs_is_checked_as_closely(monkeypatch):
    """The check is relative to the output's own scale: outputs of 1e-9 with a wrong bias are refused too."""
    from rnntui.torch_bridge import leaves

    real = leaves.linear

    def no_bias(m):
        e = real(m)
        e.params["bias"] = np.zeros_like(e.params["bias"])
        return e

    model = LastHidden().double()
    with torch.no_grad():
        for p in model.fc.parameters():
            p.mul_(1e-9)
    rnntui.from_torch(model, _x(2, 5, 3))   # the right mapping passes at this scale
    monkeypatch.setattr(leaves, "linear", no_bias)
    with pytest.raises(FromTorchError, match="differs from LastHidden's own"):
        rnntui.from_torch(model, _x(2, 5, 3))


# --- what is refused --------------------------------------------------------------------------------
class Cumsum(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 4, batch_first=True)

    def forward(self, x):
        out, _ = self.rnn(x)
        return torch.cumsum(out, dim=1)


class Times2(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 4, batch_first=True)

    def forward(self, x):
        out, _ = self.rnn(x * 2)
        return out


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 3, batch_first=True)
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        out, _ = self.rnn(x)
        return out + self.fc(out)


class OwnCell(nn.Module):
    """A custom cell with its own loop over the steps."""

    def __init__(self):
        super().__init__()
        self.ih = nn.Linear(3, 4)
        self.hh = nn.Linear(4, 4)

    def forward(self, x):
        h = self.ih(x[:, 0])
        for t in range(1, x.size(1)):
            h = torch.tanh(self.ih(x[:, t]) + self.hh(h))
        return h


class BiLastBackward(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 4, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.fc(h[-1])


class BiLastStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 4, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


class Normed(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 4, batch_first=True)
        self.norm = nn.LayerNorm(4)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.norm(out)


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 4, batch_first=True)
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.lin(torch.tanh(self.lin(out)))


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 4, batch_first=True)
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)
        self.b.weight = self.a.weight

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.b(torch.tanh(self.a(out)))


def _line_of(cls, text):
    lines, start = inspect.getsourcelines(cls.forward)
    return start + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("cls,line,said", [
    (Cumsum, "torch.cumsum", "torch.cumsum: this operation has no rnntui entry"),
    (Times2, "x * 2", "`*` (operator.mul)"),
    (Residual, "out + self.fc(out)", "`+` (operator.add)"),
    (OwnCell, "for t in range", "not Python loops or branches over tensors"),
    (BiLastBackward, "h[-1]", "h_n[-1], the last layer's backward direction alone"),
    (BiLastStep, "out[:, -1]", "the backward direction's first step"),
    (Normed, "self.norm(out)", "nn.LayerNorm (self.norm): rnntui has no entry for this module"),
    (Twice, "self.lin(torch.tanh(self.lin(out)))", "self.lin is called a second time"),
    (Tied, "self.b(torch.tanh(self.a(out)))", "self.b shares its weights with self.a"),
])
def test_what_rnntui_cannot_express_is_refused_with_the_operation_and_its_line(cls, line, said):
    with pytest.raises(FromTorchError) as info:
        rnntui.from_torch(cls().double(), _x(2, 5, 3))
    message = str(info.value)
    assert f"{__file__}:{_line_of(cls, line)}:" in message, message
    assert line in message and said in message, message


class PackedLastStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 4, batch_first=True)

    def forward(self, x, lengths):
        out, _ = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        out, _ = pad_packed_sequence(out, batch_first=True)
        return out[:, -1]


def test_the_last_padded_step_of_a_packed_batch_is_refused():
    with pytest.raises(FromTorchError) as info:
        rnntui.from_torch(PackedLastStep().double(), _x(3, 6, 3), lengths=LENGTHS)
    assert f":{_line_of(PackedLastStep, 'out[:, -1]')}:" in str(info.value)
    assert "padding for every shorter sample" in str(info.value) and "h_n[-1]" in str(info.value)


def test_cross_entropy_after_a_final_softmax_is_refused():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3), nn.Softmax(dim=1)).double()
    with pytest.raises(FromTorchError, match="ends in a softmax"):
        rnntui.from_torch(m, _x(1, 1, 4, 4), loss="cross_entropy", target=torch.tensor([1]))


def test_the_error_reaches_the_user_as_one_clear_message():
    assert issubclass(FromTorchError, rnntui.RnntuiError)  # the CLI's exit 2, no traceback


# --- torch stays optional ---------------------------------------------------------------------------
def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_importing_rnntui_never_imports_torch():
    out = _python("import sys, rnntui, rnntui.cli, rnntui.engine, rnntui.scenario, rnntui.torch_bridge\n"
                  "rnntui.run('many-to-one')\n"
                  "print('torch' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("call", ["from_torch", "debug"])
def test_without_torch_the_functions_say_so(call):
    out = _python("import sys\nsys.modules['torch'] = None  # as if it were not installed\nimport rnntui\n"
                  f"try:\n    rnntui.{call}(object(), None)\nexcept rnntui.RnntuiError as exc:\n    print(exc)\n")
    assert out.returncode == 0, out.stderr
    assert "need PyTorch, which is not installed (pip install torch)" in out.stdout


# --- the debugger ------------------------------------------------------------------------------------
def test_debug_opens_the_debugger_on_the_modules_run(monkeypatch):
    from rnntui.tui.app import RnntuiApp

    seen = {}
    original_run = RnntuiApp.run

    def run_headless(self, **kwargs):
        async def look(pilot):
            await pilot.pause()
            seen["trace"] = self.original
            seen["screen"] = self.export_screenshot().replace("&#160;", " ")
            self.exit()
        return original_run(self, headless=True, auto_pilot=look, size=(140, 45))

    monkeypatch.setattr(RnntuiApp, "run", run_headless)
    trace = rnntui.debug(LastHidden().double(), _x(2, 5, 3))
    assert seen["trace"] is trace and trace.info.name == "from_torch: LastHidden"
    assert "from_torch: LastHidden" in seen["screen"]


# --- the second trial's findings -----------------------------------------------------------------------
class PackedToX(nn.Module):
    """pad_packed_sequence(..., total_length=x.size(1)): padded back to x's own steps (x.shape[1] too)."""

    def __init__(self, shape=False):
        super().__init__()
        self.shape = shape
        self.rnn = nn.GRU(3, 5, batch_first=True)
        self.fc = nn.Linear(5, 2)

    def forward(self, x, lengths):
        out, _ = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        steps = x.shape[1] if self.shape else x.size(1)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps)
        return self.fc(out)


class SequentialHead(nn.Module):
    """Containers inside a model: an nn.Sequential head, an nn.ModuleList and an nn.ModuleDict."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 6, batch_first=True)
        self.blocks = nn.ModuleList([nn.Linear(6, 6), nn.Tanh()])
        self.parts = nn.ModuleDict({"mid": nn.Linear(6, 5)})
        self.head = nn.Sequential(nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 3))

    def forward(self, x):
        out, _ = self.rnn(x)
        z = out[:, -1, :]
        for block in self.blocks:
            z = block(z)
        return self.head(self.parts["mid"](z))


class LeNet(nn.Module):
    """The 60-minute blitz's functional pooling: F.max_pool2d(F.relu(conv(x)), (2, 2)), then F.avg_pool2d."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 3)
        self.conv2 = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 2 * 2, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.avg_pool2d(self.conv2(x), kernel_size=2, stride=2)
        return self.fc(torch.flatten(x, 1))


class PooledCRNN(nn.Module):
    """F.max_pool1d (stride 1) and F.avg_pool1d over a sequence's steps between transposes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 4, 3, padding=1)
        self.rnn = nn.GRU(4, 5, batch_first=True)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        z = F.max_pool1d(F.relu(self.conv(x.transpose(1, 2))), kernel_size=2, stride=1)
        z = F.avg_pool1d(z, 2)
        out, _ = self.rnn(z.transpose(1, 2))
        return self.fc(out)


class Squeezed(nn.Module):
    """h_n.squeeze() of a one-layer unidirectional module: (batch, hidden) when the batch is > 1."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 5, batch_first=True)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.fc(h.squeeze())


SECOND_TRIAL = {
    "packed-total-length-x-size": (lambda: PackedToX(), lambda: _x(3, 8, 3), LENGTHS, "batch_first"),
    "packed-total-length-x-shape": (lambda: PackedToX(shape=True), lambda: _x(3, 6, 3), LENGTHS, "batch_first"),
    "containers-inside": (lambda: SequentialHead(), lambda: _x(2, 5, 3), None, "same"),
    "functional-pool2d": (lambda: LeNet(), lambda: _x(1, 1, 10, 10), None, "same"),
    "functional-pool1d": (lambda: PooledCRNN(), lambda: _x(2, 7, 3), None, "batch_first"),
    "h_n-squeeze": (lambda: Squeezed(), lambda: _x(3, 4, 3), None, "same"),
}


@pytest.mark.parametrize("form", sorted(SECOND_TRIAL))
def test_second_trial_forms_give_the_modules_output_loss_and_gradients(form):
    make, x, lengths, how = SECOND_TRIAL[form]
    trace = _check(make(), x(), lengths, how, "sum")
    if form == "containers-inside":  # the user's names, through the containers
        assert {"head.0.weight", "head.2.bias", "blocks.0.weight", "parts.mid.weight"} <= set(trace.torch_names)
    _check(make(), x(), lengths, how, "mse" if form == "functional-pool2d" else "cross_entropy")


def _refused(module, x, **kw) -> str:
    with pytest.raises(FromTorchError) as info:
        rnntui.from_torch(module, x, **kw)
    return str(info.value)


class PackedToBatch(nn.Module):
    def __init__(self, steps):
        super().__init__()
        self.steps = steps
        self.rnn = nn.GRU(3, 5, batch_first=True)

    def forward(self, x, lengths):
        out, _ = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=self.steps(x, lengths))
        return out


@pytest.mark.parametrize("steps,said", [
    (lambda x, lengths: x.size(0), "total_length=3 against x's 8 steps; rnntui pads to x's steps"),
    (lambda x, lengths: lengths.size(0), "total_length is computed from a tensor while the model runs"),
])
def test_a_total_length_other_than_xs_steps_is_refused_at_its_line(steps, said):
    message = _refused(PackedToBatch(steps).double(), _x(3, 8, 3), lengths=LENGTHS)
    assert f"{__file__}:{_line_of(PackedToBatch, 'total_length=')}:" in message, message
    assert "torch.nn.utils.rnn.pad_packed_sequence: " + said in message, message


class ZerosLoop(nn.Module):
    """The trial's hand-written loop: it starts with torch.zeros(x.size(0), H)."""

    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(3, 4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        h = torch.zeros(x.size(0), 4)
        c = torch.zeros(x.size(0), 4)
        for t in range(x.size(1)):
            h, c = self.cell(x[:, t], (h, c))
        return self.fc(h)


def test_a_loop_after_torch_zeros_of_a_traced_size_is_refused_at_the_loop():
    message = _refused(ZerosLoop().double(), _x(2, 5, 3))
    assert f"{__file__}:{_line_of(ZerosLoop, 'for t in range')}: `for t in range(x.size(1)):`: " in message, message
    assert "not Python loops or branches over tensors, such as a custom cell stepping through time itself" in message
    assert "Error" not in message and "Proxy" not in message, message


class PoolPadded(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return F.max_pool2d(self.conv(x), 2, padding=1)


def test_functional_pooling_with_a_setting_rnntui_has_not_is_refused_at_its_line():
    message = _refused(PoolPadded().double(), _x(1, 1, 6, 6))
    assert f"{__file__}:{_line_of(PoolPadded, 'F.max_pool2d')}:" in message
    assert "torch.nn.functional.max_pool2d: padding=1: rnntui's pools have no padding" in message, message


def test_the_refusal_lists_exactly_what_maps():
    from rnntui.torch_bridge.leaves import mapper

    message = _refused(Cumsum().double(), _x(2, 5, 3))
    listed = message.split("torch.nn modules (", 1)[1].split(";", 1)[0].split(", ")
    made = {"RNN": lambda: nn.RNN(2, 2), "LSTM": lambda: nn.LSTM(2, 2), "GRU": lambda: nn.GRU(2, 2),
            "Embedding": lambda: nn.Embedding(3, 2), "Linear": lambda: nn.Linear(2, 2), "Conv1d": lambda: nn.Conv1d(2, 2, 1),
            "Conv2d": lambda: nn.Conv2d(2, 2, 1), "MaxPool1d": lambda: nn.MaxPool1d(2), "MaxPool2d": lambda: nn.MaxPool2d(2),
            "AvgPool1d": lambda: nn.AvgPool1d(2), "AvgPool2d": lambda: nn.AvgPool2d(2),
            "BatchNorm1d": lambda: nn.BatchNorm1d(2), "BatchNorm2d": lambda: nn.BatchNorm2d(2), "Flatten": nn.Flatten,
            "Dropout": nn.Dropout, "ReLU": nn.ReLU, "Tanh": nn.Tanh, "Sigmoid": nn.Sigmoid,
            "Softmax": lambda: nn.Softmax(dim=-1), "Identity": nn.Identity}
    assert sorted(listed) == sorted(made)  # every one named, and nothing else
    assert all(mapper(make())[0] is not None for make in made.values())
    for unmapped in (nn.LayerNorm(2), nn.GELU(), nn.LSTMCell(2, 2), nn.AdaptiveAvgPool2d(1)):
        assert mapper(unmapped)[0] is None
    functions = message.split(") and functions (", 1)[1]
    for name in ("F.max_pool1d", "F.max_pool2d", "F.avg_pool1d", "F.avg_pool2d", "F.dropout", "torch.flatten(x, 1)"):
        assert name in functions


class M3(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(5, 7, batch_first=True)
        self.fc = nn.Linear(7, 3)

    def forward(self, x):
        return self.fc(self.rnn(x)[0])


def test_a_target_is_checked_in_the_users_terms():
    x = _x(2, 6, 5)
    target = torch.zeros(2, 6, dtype=torch.int64)
    target[1, 4] = 3
    target[1, 5] = 7
    message = _refused(M3().double(), x, loss="cross_entropy", target=target)
    assert message == ("target[1, 4] = 3 (sample 1, step 4): expected a class index in 0..2 (the model's output has 3 "
                       "classes); 2 values are out of range")
    message = _refused(M3().double(), x, loss="cross_entropy", target=torch.zeros(6, 2, dtype=torch.int64))
    assert message.startswith("target= has shape (6, 2); loss='cross_entropy' needs one class index per (sample, step): "
                              "shape (2, 6), the module's output (2, 6, 3)"), message
    message = _refused(M3().double(), x, loss="mse", target=torch.zeros(2, 6, 2, dtype=torch.float64))
    assert message == "target= has shape (2, 6, 2); loss='mse' needs the module's output shape (2, 6, 3)"


def test_a_padded_steps_target_is_not_read():
    x, target = _x(3, 6, 3), torch.randint(0, 2, (3, 6), generator=torch.Generator().manual_seed(0))
    target[2, 3:] = -100  # sample 2 has 2 real steps: what its padding holds is nobody's business
    m = Packed().double()
    trace = rnntui.from_torch(m, x, loss="cross_entropy", target=target, lengths=LENGTHS)
    y = m(x, LENGTHS)
    np.testing.assert_allclose(trace["loss"], _torch_loss(y, "cross_entropy", target, LENGTHS, "batch_first").item(),
                               rtol=1e-9)
    target[2, 1] = 2
    assert _refused(m, x, loss="cross_entropy", target=target, lengths=LENGTHS).startswith(
        "target[2, 1] = 2 (sample 2, step 1): expected a class index in 0..1")


def test_token_ids_outside_the_embedding_are_named():
    ids = _ids((2, 5), 11)
    ids[1, 3] = 12
    assert _refused(Tagger().double(), ids) == \
        "x[1, 3] = 12: expected a token id in 0..10 (self.emb (nn.Embedding) has 11 embeddings)"


def test_integer_x_without_an_embedding_names_the_dtype_and_the_first_module():
    message = _refused(M3().double(), torch.randint(0, 3, (2, 6, 5)))
    assert f"{__file__}:{_line_of(M3, 'return self.fc')}:" in message
    assert "nn.LSTM (self.rnn): x is int64 and this is the first module on it, which reads floats: pass x.float()" \
        in message, message


def test_the_modules_own_failure_on_x_is_named_at_its_line():
    class Sorted(Packed):
        def forward(self, x, lengths):
            packed = pack_padded_sequence(x, lengths, batch_first=True)  # enforce_sorted: lengths must decrease
            out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
            return self.fc(out)

    message = _refused(Sorted().double(), _x(3, 6, 3), lengths=LENGTHS)
    assert f"{__file__}:{_line_of(Sorted, 'pack_padded_sequence(x')}:" in message, message
    assert "Sorted fails on this x itself (RuntimeError: " in message, message


class Lambda(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 4, batch_first=True)


Lambda.forward = lambda self, x: torch.cumsum(self.rnn(x)[0], dim=1)  # noqa: E731
LAMBDA_LINE = inspect.getsourcelines(Lambda.forward)[1]


def test_a_lambda_forward_is_refused_at_its_line():
    message = _refused(Lambda().double(), _x(2, 5, 3))
    assert message.startswith(f"{__file__}:{LAMBDA_LINE}: `Lambda.forward = lambda self, x: torch.cumsum"), message
    assert "torch.cumsum: this operation has no rnntui entry" in message


def test_a_lambda_without_source_says_so():
    out = _python("import torch, rnntui\nclass M(torch.nn.Module):\n    def __init__(s):\n"
                  "        super().__init__(); s.rnn = torch.nn.GRU(3, 4)\n"
                  "M.forward = lambda s, x: torch.cumsum(s.rnn(x)[0], 0)\n"
                  "try:\n    rnntui.from_torch(M(), torch.randn(5, 2, 3))\nexcept rnntui.RnntuiError as e:\n"
                  "    print(e)\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("<string>:5 (a lambda: no source line): torch.cumsum: "), out.stdout


def test_h_n_squeeze_with_a_batch_of_one_is_refused():
    message = _refused(Squeezed().double(), _x(1, 4, 3))
    assert f"{__file__}:{_line_of(Squeezed, 'h.squeeze()')}:" in message
    assert "Tensor.squeeze(): h_n.squeeze() with a batch of 1 drops that axis too" in message, message


def test_a_form_no_rule_foresaw_is_still_named_by_its_operation_and_line(monkeypatch):
    from rnntui.torch_bridge.chain import Reader

    def broken(self, node, v, idx):  # stands for any reading rule that meets a value it did not expect
        raise KeyError("surprise")

    monkeypatch.setattr(Reader, "getitem", broken)
    message = _refused(LastHidden().double(), _x(2, 5, 3))
    assert f"{__file__}:{_line_of(LastHidden, 'self.rnn(x)')}: `_, h = self.rnn(x)`: indexing `[...]`: rnntui cannot " \
           "read this use of it (KeyError: 'surprise')" in message, message
