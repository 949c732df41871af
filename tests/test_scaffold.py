"""`rnntui scaffold`: a scenario written from a state_dict's names and shapes validates and runs as it
stands, and, with its comments followed where the weights cannot tell, gives the module's own output;
a state_dict it cannot map is a clear error naming the keys, exit 2.

Each module below is saved once (module-scoped) as .pt, .safetensors and .npz. A "follow" function
edits the scaffolded text the way its comments say (an activation, a conv's padding, a pool, the mode,
the image), and each edit first checks that a comment there says so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app

import torch
from tests.torch_ref import warmed  # noqa: E402
nn = torch.nn
FORMATS = (".pt", ".safetensors", ".npz")


# ---- the modules ---------------------------------------------------------------------------------

class Head(nn.Module):
    """A recurrent module and a Linear on its output at every step, or on the last step (many-to-one)."""

    def __init__(self, rnn, fc, last=False, act=None):
        super().__init__()
        self.rnn, self.fc, self.last, self.act = rnn, fc, last, act

    def forward(self, x):
        y, _ = self.rnn(x)
        y = self.fc(y[-1] if self.last else y)
        return self.act(y) if self.act else y


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.rnn = nn.LSTM(6, 5, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(10, 3)

    def forward(self, ids):
        return self.fc(self.rnn(self.emb(ids))[0])


class ConvFront(nn.Module):
    """A Conv1d over time in front of a GRU: (T, B, F) -> (B, F, T) for the conv, and back."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 5, 3, padding=1)
        self.gru = nn.GRU(5, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        x = torch.relu(self.conv(x.permute(1, 2, 0))).permute(2, 0, 1)
        return self.out(self.gru(x)[0])


class CRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 6, 5, padding=2)
        self.pool = nn.MaxPool1d(2)
        self.rnn = nn.LSTM(6, 5, bidirectional=True)
        self.fc = nn.Linear(10, 3)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x.permute(1, 2, 0)))).permute(2, 0, 1)
        return self.fc(self.rnn(x)[0])


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 5)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))


class Nested(nn.Module):
    """Keys two attributes deep (encoder.rnn.weight_ih_l0, decoder.head.0.weight); by name, the decoder's
    come first."""

    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()

    def forward(self, x):
        return self.decoder.head(self.encoder.rnn(x)[0])


class Bare(nn.Module):
    """A GRU saved on its own: keys without a prefix (weight_ih_l0, ...)."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 6)

    def state_dict(self, *a, **k):
        return self.gru.state_dict(*a, **k)

    def forward(self, x):
        return self.gru(x)[0]


# ---- following the comments ----------------------------------------------------------------------

class ConvBnFront(nn.Module):
    """Conv1d -> BatchNorm1d -> ReLU over time in front of a GRU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 5, 3, padding=1)
        self.bn = nn.BatchNorm1d(5)
        self.gru = nn.GRU(5, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x.permute(1, 2, 0)))).permute(2, 0, 1)
        return self.out(self.gru(x)[0])


class VectorBn(nn.Module):
    """Linear -> BatchNorm1d(affine=False) -> Tanh -> Linear at every step: the batchnorm reads (T*B, C)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.bn = nn.BatchNorm1d(6, affine=False)
        self.fc2 = nn.Linear(6, 2)

    def forward(self, x):
        T, B, _ = x.shape
        y = self.bn(self.fc1(x).reshape(T * B, -1)).reshape(T, B, -1)
        return self.fc2(torch.tanh(y))


def _entry_span(text: str, module: str) -> tuple[int, int]:
    """Lines of *module*'s entry: its line (ending `# module`) and the comment lines under it."""
    lines = text.split("\n")
    at = [i for i, line in enumerate(lines) if line.startswith("  - {") and line.endswith(f"   # {module}")]
    assert len(at) == 1, f"no single entry for {module} in:\n{text}"
    end = at[0] + 1
    while lines[end].startswith("    # "):
        end += 1
    return at[0], end


def set_key(text: str, module: str, key: str, value: str) -> str:
    """Change *key* of *module*'s entry, where a comment under it says the weights cannot tell it."""
    lines = text.split("\n")
    start, end = _entry_span(text, module)
    notes = "\n".join(lines[start + 1:end])
    assert key in notes and "the weights cannot tell" in notes, f"no comment on {key} for {module}:\n{notes}"
    new, n = re.subn(rf"\b{key}: [^,}}]+", f"{key}: {value}", lines[start])
    assert n == 1, lines[start]
    lines[start] = new
    return "\n".join(lines)


def add_after(text: str, module: str, entry: str) -> str:
    """Add *entry* after *module*'s, where a comment under it says to (a pool)."""
    lines = text.split("\n")
    start, end = _entry_span(text, module)
    kind = re.search(r"type: (\w+)", entry).group(1)
    assert any(kind in line for line in lines[start + 1:end]), f"no comment on {kind} under {module}"
    lines.insert(end, f"  - {entry}")
    # the rename comment: adding an entry renumbers those below it
    at = sum(1 for line in lines[:end] if line.startswith("  - "))  # the new entry's number
    r = lines.index(next(line for line in lines if line.startswith("  rename:")))
    assert "adding or removing an entry renumbers those below it" in lines[r]
    for k in range(r + 1, len(lines)):
        m = re.fullmatch(r'    (".*"): "(\d+)\."', lines[k])
        if m is None:
            break
        if int(m.group(2)) >= at:
            lines[k] = f'    {m.group(1)}: "{int(m.group(2)) + 1}."'
    return "\n".join(lines)


def many_to_one(text: str) -> str:
    assert re.search(r"^mode: many-to-many +# the weights cannot tell: many-to-one", text, re.M)
    return text.replace("mode: many-to-many", "mode: many-to-one", 1)


def pooled_image(text: str, folder: Path) -> str:
    """Replace the noise image by one of the size the comment gives for a pool of 2 after the conv."""
    note = re.search(r"# noise of shape \((\d+), \d+, \d+\).*with a maxpool2d of 2 after each conv it is "
                     r"\((\d+), (\d+)\)", text)
    assert note, text
    C, H, W = (int(g) for g in note.groups())
    np.save(folder / "img.npy", np.random.default_rng(1).normal(size=(C, H, W)))
    return re.sub(r"  image:\n(    - .*\n|      - .*\n)+", "  image: img.npy\n", text)


@dataclass
class Case:
    build: Callable[[], nn.Module]
    holds: list[str]                      # what the scaffolded text must say
    follow: Callable[[str, Path], str] = lambda text, folder: text
    ids: bool = False                     # the module reads token ids


DEEP_ACTS = ("tanh", "relu", "tanh", "sigmoid", "relu", "tanh")  # after Linear 0, 2, ..., 10; then Linear 12


def _deep():
    acts = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}
    layers = [nn.Linear(4, 8)]
    for a in DEEP_ACTS[:-1]:
        layers += [acts[a](), nn.Linear(8, 8)]
    return nn.Sequential(*layers, acts[DEEP_ACTS[-1]](), nn.Linear(8, 3))


def _deep_follow(text, folder):
    for k, act in enumerate(DEEP_ACTS):
        text = set_key(text, str(2 * k), "activation", act)
    return text


def _cnn_follow(text, folder):
    for conv in ("0", "3"):
        text = add_after(set_key(text, conv, "activation", "relu"), conv, "{type: maxpool2d, kernel_size: 2}")
    return pooled_image(text, folder)


def _relu_after(text, module):
    return add_after(text, module, "{type: activation, function: relu}")


def _crnn_follow(text, folder):
    text = set_key(set_key(text, "conv", "padding", "2"), "conv", "activation", "relu")
    return add_after(text, "conv", "{type: maxpool1d, kernel_size: 2}")


CASES = {
    "rnn-tanh": Case(lambda: Head(nn.RNN(3, 5), nn.Linear(5, 2)),
                     ["{type: rnn, hidden_size: 5, nonlinearity: tanh}   # rnn", "{type: dense, units: 2,"]),
    "rnn-relu-last-step": Case(
        lambda: Head(nn.RNN(3, 5, nonlinearity="relu"), nn.Linear(5, 2), last=True),
        ["{type: rnn, hidden_size: 5, nonlinearity: tanh}", "features: 3"],
        lambda text, folder: many_to_one(set_key(text, "rnn", "nonlinearity", "relu"))),
    "lstm-sigmoid": Case(lambda: Head(nn.LSTM(4, 6), nn.Linear(6, 3), act=torch.sigmoid),
                         ["{type: lstm, hidden_size: 6}   # rnn", "{type: dense, units: 3, activation: none}   # fc"],
                         lambda text, folder: set_key(text, "fc", "activation", "sigmoid")),
    "gru-bare": Case(Bare, ["{type: gru, hidden_size: 6}   # (top level)", '    "": "0."', 'rename:   # module in the file -> entry number']),
    "stacked-lstm": Case(lambda: Head(nn.LSTM(3, 5, num_layers=3), nn.Linear(5, 2)),
                         ["{type: lstm, hidden_size: 5, num_layers: 3}"]),
    "bidirectional-gru": Case(lambda: Head(nn.GRU(3, 4, num_layers=2, bidirectional=True), nn.Linear(8, 2)),
                              ["{type: gru, hidden_size: 4, num_layers: 2, bidirectional: true}"]),
    "embedding-first": Case(Tagger, ["{type: embedding, num_embeddings: 20, embedding_dim: 6}   # emb",
                                     "{type: lstm, hidden_size: 5, num_layers: 2, bidirectional: true}",
                                     '    "rnn.": "1."', "input: {tokens: ["], ids=True),
    "conv1d-front-end": Case(
        ConvFront, ["{type: conv1d, out_channels: 5, kernel_size: 3, stride: 1, padding: 0", "length: 10"],
        lambda text, folder: set_key(set_key(text, "conv", "padding", "1"), "conv", "activation", "relu")),
    "cnn": Case(lambda: nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 2 * 2, 10)),
                ["{type: conv2d, out_channels: 4, kernel_size: [3, 3]", "  - {type: flatten}\n",
                 "noise of shape (2, 6, 6)", "with a maxpool2d of 2 after each conv it is (14, 14)",
                 "the names skip 1..2 before it", "the names skip 4..6 before it"], _cnn_follow),
    "crnn": Case(CRNN, ["{type: conv1d, out_channels: 6, kernel_size: 5", "bidirectional: true}   # rnn",
                        "length: 12"], _crnn_follow),
    "deep-sequential": Case(  # 0., 2., ..., 12.: by name (a .safetensors file) 10. would come before 2.
        _deep, ["{type: dense, units: 8, activation: none}   # 0", "{type: dense, units: 3, activation: none}   # 12",
                "the names skip 11 before it", '    "12.": "6."',
                "the shapes would allow another: check it against the model's forward"], _deep_follow),
    "nested-names": Case(Nested, ['    "encoder.rnn.": "0."', '    "decoder.head.2.": "2."', "the names skip decoder.head.1 before it"],
                         lambda text, folder: set_key(text, "decoder.head.0", "activation", "relu")),
    "cnn-batchnorm": Case(
        lambda: warmed(nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                                      nn.Linear(4 * 4 * 4, 3))),
        ["{type: batchnorm2d, eps: 1e-05, momentum: 0.1}   # 1", "noise of shape (2, 6, 6)"],
        lambda text, folder: _relu_after(text, "1")),
    "conv1d-batchnorm-front-end": Case(
        lambda: warmed(ConvBnFront()), ["{type: batchnorm1d, eps: 1e-05, momentum: 0.1}   # bn"],
        lambda text, folder: _relu_after(set_key(text, "conv", "padding", "1"), "bn")),
    "batchnorm-without-affine": Case(
        lambda: warmed(VectorBn()), ["{type: batchnorm1d, eps: 1e-05, momentum: 0.1, affine: false}   # bn"],
        lambda text, folder: text.replace(
            "   # bn\n", "   # bn\n  - {type: activation, function: tanh}\n", 1).replace(
            '"fc2.": "2."', '"fc2.": "3."')),
    "no-biases": Case(lambda: Head(nn.GRU(3, 4, bias=False), nn.Linear(4, 2, bias=False)),
                      ['"0.bias_ih_l0": 0', '"1.bias": 0', "bias=False"]),
}


def _save(state: dict, path: Path) -> None:
    if path.suffix == ".pt":
        torch.save(state, path)
    elif path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        np.savez(path, **{k: v.numpy() for k, v in state.items()})


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict:
    """Each case's module (float64, seeded) and its state_dict in every format, made once."""
    folder = tmp_path_factory.mktemp("weights")
    out = {}
    for name, case in CASES.items():
        torch.manual_seed(0)
        m = case.build().double().eval()
        for fmt in FORMATS:
            _save(m.state_dict(), folder / f"{name}{fmt}")
        out[name] = m
    return {"folder": folder, "modules": out}


def _scaffold(weights: Path, out: Path):
    return CliRunner().invoke(app, ["scaffold", str(weights), "-o", str(out)])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(CASES))
def test_the_scaffolded_scenario_runs_and_followed_gives_the_modules_output(saved, tmp_path, name, fmt):
    case, module = CASES[name], saved["modules"][name]
    out = tmp_path / "s.yaml"
    result = _scaffold(saved["folder"] / f"{name}{fmt}", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    for said in case.holds:
        assert said in text, f"{said!r} not in:\n{text}"
    assert "mode: many-to-many" in text and "loss: {kind: sum}" in text and "init: none" in text
    if fmt != ".safetensors" and name != "deep-sequential":
        assert "order:" not in text  # the file's order, the only one the shapes allow: nothing to say
    as_is = rnntui.run(out)  # runs as it stands
    assert np.isfinite(as_is["output"]).all()

    out.write_text(case.follow(text, tmp_path))
    trace = rnntui.run(out)
    x = trace["input"]
    x = torch.tensor(x[..., 0], dtype=torch.long) if case.ids else torch.tensor(x)
    with torch.no_grad():
        expected = module(x).numpy()
    assert trace["output"].shape == expected.shape
    np.testing.assert_allclose(trace["output"], expected, rtol=0, atol=1e-12)


def test_a_safetensors_file_is_ordered_by_the_shapes_not_by_its_names(saved, tmp_path):
    """By name the decoder's Linear comes first; the chain puts the LSTM it reads from before it, says so."""
    out = tmp_path / "s.yaml"
    assert _scaffold(saved["folder"] / "nested-names.safetensors", out).exit_code == 0
    text = out.read_text()
    assert text.index("# encoder.rnn") < text.index("# decoder.head.0") < text.index("# decoder.head.2")
    assert "order: by the shapes (a .safetensors file does not keep the state_dict's order): each module reads" in text


# ---- refused -------------------------------------------------------------------------------------

def _npz(tmp_path, state) -> Path:
    np.savez(tmp_path / "w.npz", **state)
    return tmp_path / "w.npz"


def _refused(weights: Path, out: Path, *said: str) -> None:
    result = _scaffold(weights, out)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    for s in said:
        assert s in result.output, result.output
    assert not out.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_layernorm_is_refused_naming_its_keys(tmp_path, fmt):
    m = nn.Sequential(nn.Conv1d(2, 3, 3), nn.LayerNorm(3)).double()
    _save(m.state_dict(), tmp_path / f"w{fmt}")
    _refused(tmp_path / f"w{fmt}", tmp_path / "s.yaml", "1: found 1.bias (3,), 1.weight (3,): a 1-D weight without "
             "running statistics is a normalisation layer rnntui has no entry for (nn.LayerNorm")


def test_a_training_checkpoint_is_refused_with_the_state_dict_it_holds_named(tmp_path):
    m = nn.Linear(2, 3)
    torch.save({"model": m.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    _refused(tmp_path / "ckpt.pt", tmp_path / "s.yaml", "holds non-tensor values: model (OrderedDict), epoch (int)",
             "model holds tensors only, like a state_dict inside a checkpoint: save it alone, "
             "torch.save(checkpoint['model'], \"weights.pt\")")


@pytest.mark.parametrize("state,said", [
    ({f"rnn.{k}": v.numpy() for k, v in nn.LSTM(3, 4, proj_size=2).state_dict().items()},
     ["rnn: found rnn.bias_hh_l0, rnn.bias_ih_l0, rnn.weight_hh_l0, rnn.weight_hr_l0, rnn.weight_ih_l0; expected"]),
    ({"rnn.weight_ih_l0": np.zeros((10, 4)), "rnn.weight_hh_l0": np.zeros((5, 5))},
     ["rnn.weight_ih_l0: found shape (10, 4) against weight_hh_l0 (5, 5); expected 1, 3 or 4 blocks of 5 rows"]),
    ({"x.weight": np.zeros((2, 2, 2, 2, 2))}, ["x.weight: found shape (2, 2, 2, 2, 2); expected 2-D"]),
    ({"fc.weight": np.zeros((3, 4)), "fc.bias": np.zeros(4)}, ["fc.bias: found shape (4,); expected (3,)"]),
    ({"gru.weight_ih_l0": np.zeros((12, 3)), "gru.weight_hh_l0": np.zeros((12, 4)),
      "gru.weight_ih_l1": np.zeros((12, 5)), "gru.weight_hh_l1": np.zeros((12, 4))},
     ["gru.weight_ih_l1: found shape (12, 5); expected (12, 4)"]),
    ({"gru.weight_ih_l0": np.zeros((12, 3)), "gru.weight_hh_l0": np.zeros((12, 4)), "gru.bias_ih_l0": np.zeros(12)},
     ["gru: found", "missing bias_hh_l0"]),
    ({"a.weight": np.zeros((8, 4)), "a.bias": np.zeros(8), "b.weight": np.zeros((3, 5)), "b.bias": np.zeros(3)},
     ["found no order of the modules", "a.weight (8, 4) reads 4, returns 8", "b.weight (3, 5) reads 5, returns 3"]),
    ({}, ["holds no parameters"]),
    ({"bn.running_mean": np.zeros(4), "bn.running_var": np.zeros(3)},
     ["bn.running_var: found shape (3,); expected (4,) for a BatchNorm"]),
    ({"bn.running_mean": np.zeros(4), "bn.running_var": np.zeros(4), "bn.weight": np.zeros(4)},
     ["bn: found bn.running_mean, bn.running_var, bn.weight; missing bias for a BatchNorm"]),
], ids=["unknown-name", "gate-rows", "5-d-weight", "bias-shape", "layer-shape", "half-the-biases", "no-chain",
        "empty", "batchnorm-shape", "batchnorm-half-affine"])
def test_a_state_dict_that_maps_to_no_entry_is_refused_naming_the_keys(tmp_path, state, said):
    _refused(_npz(tmp_path, state), tmp_path / "s.yaml", *said)
