"""Weights of a PyTorch module (attributes `rnn` and `fc`) saved as .pt, .npz and .safetensors."""
from __future__ import annotations

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402
from tests.engine.weight_cases import SCENARIO, _errors  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self, kind="lstm"):
        super().__init__()
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
        self.rnn = cls(3, 4, num_layers=2, bidirectional=True)
        self.fc = torch.nn.Linear(8, 2)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y)


def _save(net, path):
    sd = net.state_dict()
    if path.suffix == ".pt":
        torch.save(sd, path)
    elif path.suffix == ".npz":
        np.savez(path, **{k: v.numpy() for k, v in sd.items()})
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))


@pytest.mark.parametrize("suffix", [".pt", ".npz", ".safetensors"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_module_weights_load_through_rename(tmp_path, suffix, kind):
    torch.manual_seed(0)
    net = Net(kind).double()
    path = tmp_path / f"w{suffix}"
    _save(net, path)
    x = np.random.default_rng(0).normal(size=(6, 3)).round(4)
    (tmp_path / "s.yaml").write_text(SCENARIO.format(x=x.tolist(), kind=kind, file=path.name))
    trace = rnntui.run(tmp_path / "s.yaml")
    xt = torch.tensor(x)[:, None, :]
    out = net(xt)
    out.sum().backward()
    np.testing.assert_allclose(trace["output"], out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for name, p in net.named_parameters():
        key = name.replace("rnn.", "0.", 1).replace("fc.", "1.", 1)
        np.testing.assert_allclose(trace[f"param.{key}"], p.detach().numpy(), err_msg=key)
        np.testing.assert_allclose(trace[f"grad.param.{key}"], p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)


def test_wrong_shape_and_unknown_key_are_named(tmp_path):
    torch.manual_seed(0)
    net = Net("lstm")
    sd = net.state_dict()
    sd["rnn.weight_hh_l0"] = torch.zeros(16, 5)
    sd["rnn.weight_xx_l0"] = torch.zeros(1)
    torch.save(sd, tmp_path / "w.pt")
    msg = _errors(tmp_path, SCENARIO.format(x=[[0, 0, 0]], kind="lstm", file="w.pt"))
    assert "rnn.weight_hh_l0 (renamed 0.weight_hh_l0) has shape (16, 5); expected (16, 4)" in msg
    assert "rnn.weight_xx_l0 (renamed 0.weight_xx_l0) matches no parameter" in msg
    assert "s.yaml:8:" in msg  # the line of `file:`
    # and, init being none, the parameter the file failed to give is missing
    assert "parameter 0.weight_hh_l0 of shape (16, 4) is missing" in msg


def test_pt_file_needs_torch(tmp_path, monkeypatch):
    torch.save(Net("lstm").state_dict(), tmp_path / "w.pt")
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *a, **k):
        if name == "torch":
            raise ImportError("no torch")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    msg = _errors(tmp_path, SCENARIO.format(x=[[0, 0, 0]], kind="lstm", file="w.pt"))
    assert "torch is not installed" in msg


class Payload:
    """Not a tensor: torch.load(weights_only=True) must refuse to build it."""

    def __reduce__(self):
        return (print, ("unpickled!",))


def test_pt_loads_with_weights_only(tmp_path, capsys):
    torch.save({"0.weight_ih_l0": Payload()}, tmp_path / "w.pt")
    msg = _errors(tmp_path, SCENARIO.format(x=[[0, 0, 0]], kind="lstm", file="w.pt"))
    assert "cannot read w.pt" in msg
    assert "unpickled!" not in capsys.readouterr().out


def test_pt_with_non_tensor_values_is_refused(tmp_path):
    torch.save({"0.weight_ih_l0": [1, 2, 3]}, tmp_path / "w.pt")
    msg = _errors(tmp_path, SCENARIO.format(x=[[0, 0, 0]], kind="lstm", file="w.pt"))
    assert "holds non-tensor values: 0.weight_ih_l0 (list)" in msg


