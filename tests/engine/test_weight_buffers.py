"""Buffers in weight files: a batchnorm's running statistics load with its parameters; the buffers of a layer
the scenario does not model are skipped with a warning (the loader's, printed by the CLI, exit 0); an unknown
parameter key stays an error (exit 2); `rename` to null drops keys without a word."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import torch

import rnntui  # noqa: E402
from rnntui.cli import app  # noqa: E402
from rnntui.errors import ScenarioError  # noqa: E402
from rnntui.scenario import load_scenario  # noqa: E402

B, T, D, C, H = 3, 6, 2, 4, 3


class CRNN(torch.nn.Module):
    def __init__(self, affine=True):
        super().__init__()
        self.conv = torch.nn.Conv1d(D, C, 3, padding=1)
        self.bn = torch.nn.BatchNorm1d(C, affine=affine)
        self.rnn = torch.nn.GRU(C, H, batch_first=True)
        self.fc = torch.nn.Linear(H, 1)

    def forward(self, x):   # (B, T, D)
        c = self.bn(self.conv(x.transpose(1, 2)))
        return self.fc(self.rnn(c.transpose(1, 2))[0])


def _trained_module(affine=True) -> CRNN:
    """A module whose running statistics have moved: a few train-mode forwards."""
    torch.manual_seed(0)
    net = CRNN(affine).double()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(5, T, D, dtype=torch.float64) * 2 + 1)
    return net.eval()


def _save(net, path):
    sd = net.state_dict()
    if path.suffix == ".pt":
        torch.save(sd, path)
    else:
        np.savez(path, **{k: v.numpy() for k, v in sd.items()})


def _scenario(tmp_path, x, model, rename, file="w.pt", extra=None) -> str:
    doc = {"version": 1, "input": {"batch": x.tolist()}, "model": model,
           "weights": {"init": "none", "file": file, "rename": rename}, "loss": {"kind": "sum"}, **(extra or {})}
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(doc))
    return str(p)


MODEL = [{"type": "conv1d", "out_channels": C, "kernel_size": 3, "padding": 1}, {"type": "batchnorm1d"},
         {"type": "gru", "hidden_size": H}, {"type": "dense", "units": 1}]
RENAME = {"conv.": "0.", "bn.": "1.", "rnn.": "2.", "fc.": "3."}


@pytest.mark.parametrize("suffix", [".pt", ".npz"])
def test_a_state_dict_with_running_statistics_runs_as_the_eval_module(tmp_path, suffix):
    net = _trained_module()
    _save(net, tmp_path / f"w{suffix}")
    x = np.random.default_rng(0).normal(size=(B, T, D)).round(3)
    sc = load_scenario(_scenario(tmp_path, x, MODEL, RENAME, f"w{suffix}"))
    assert sc.warnings == ()
    assert sc.buffers["1.num_batches_tracked"].dtype == np.int64 and int(sc.buffers["1.num_batches_tracked"]) == 3
    trace = rnntui.run(_scenario(tmp_path, x, MODEL, RENAME, f"w{suffix}"))
    out = net(torch.tensor(x))
    np.testing.assert_allclose(trace["output"], out.detach().numpy().transpose(1, 0, 2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trace["buffer.1.running_mean"], net.bn.running_mean.numpy())
    np.testing.assert_allclose(trace["model.1.var"], net.bn.running_var.numpy())


def test_buffers_of_a_layer_not_modelled_are_skipped_with_a_warning(tmp_path):
    """An affine-free BatchNorm has only buffers: a scenario without it still loads the rest, and says which
    keys it skipped; the CLI prints that on stderr and exits 0."""
    net = _trained_module(affine=False)
    _save(net, tmp_path / "w.pt")
    x = np.random.default_rng(1).normal(size=(B, T, D)).round(3)
    model = [MODEL[0], *MODEL[2:]]
    rename = {"conv.": "0.", "rnn.": "1.", "fc.": "2."}
    sc = load_scenario(_scenario(tmp_path, x, model, rename))
    assert len(sc.warnings) == 1
    for key in ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):
        assert key in sc.warnings[0]
    assert "s.yaml" in sc.warnings[0] and "weights.file" in sc.warnings[0]
    assert set(sc.params) == {"0.weight", "0.bias", "1.weight_ih_l0", "1.weight_hh_l0", "1.bias_ih_l0",
                              "1.bias_hh_l0", "2.weight", "2.bias"}
    for command in (["validate"], ["show"]):
        result = CliRunner().invoke(app, [*command, _scenario(tmp_path, x, model, rename)])
        assert result.exit_code == 0, result.output
        assert "rnntui: warning:" in result.stderr and "bn.num_batches_tracked" in result.stderr
        assert result.stderr.count("rnntui: warning:") == 1 and "warning" not in result.stdout
    with pytest.warns(rnntui.RnntuiWarning) as said:   # the Python API says it too
        rnntui.run(_scenario(tmp_path, x, model, rename))
    assert [str(w.message) for w in said] == list(sc.warnings)


def test_running_statistics_for_a_batchnorm_that_keeps_none_are_skipped_with_a_warning(tmp_path):
    net = _trained_module()
    _save(net, tmp_path / "w.pt")
    x = np.random.default_rng(2).normal(size=(B, T, D)).round(3)
    model = [MODEL[0], {"type": "batchnorm1d", "track_running_stats": False}, *MODEL[2:]]
    sc = load_scenario(_scenario(tmp_path, x, model, RENAME))
    assert "bn.running_var (renamed 1.running_var)" in sc.warnings[0]
    assert sc.buffers == {}


def test_an_unknown_parameter_key_stays_an_error(tmp_path):
    net = _trained_module(affine=True)
    _save(net, tmp_path / "w.pt")
    x = np.random.default_rng(3).normal(size=(B, T, D)).round(3)
    model = [MODEL[0], *MODEL[2:]]     # no batchnorm: bn.weight and bn.bias are parameters nothing takes
    rename = {"conv.": "0.", "rnn.": "1.", "fc.": "2."}
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_scenario(tmp_path, x, model, rename))
    assert "key bn.weight matches no parameter" in str(exc.value)
    assert "bn.running_mean" not in str(exc.value)        # buffers are never the error
    result = CliRunner().invoke(app, ["validate", _scenario(tmp_path, x, model, rename)])
    assert result.exit_code == 2 and "bn.weight" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("drop", ["null", "~"])
def test_rename_to_null_drops_a_prefix_without_a_word(tmp_path, drop):
    net = _trained_module(affine=True)
    _save(net, tmp_path / "w.pt")
    x = np.random.default_rng(4).normal(size=(B, T, D)).round(3)
    text = f"""
version: 1
input: {{batch: {x.tolist()}}}
model:
  - {{type: conv1d, out_channels: {C}, kernel_size: 3, padding: 1}}
  - {{type: gru, hidden_size: {H}}}
  - {{type: dense, units: 1}}
weights:
  init: none
  file: w.pt
  rename: {{"conv.": "0.", "bn.": {drop}, "rnn.": "1.", "fc.": "2."}}
loss: {{kind: sum}}
"""
    p = tmp_path / "drop.yaml"
    p.write_text(text)
    sc = load_scenario(p)
    assert sc.warnings == () and "bn.weight" not in sc.params
    result = CliRunner().invoke(app, ["validate", str(p)])
    assert result.exit_code == 0 and result.stderr == ""
    # the modules without the batchnorm: what rnntui ran
    with torch.no_grad():
        c = net.conv(torch.tensor(x).transpose(1, 2))
        out = net.fc(net.rnn(c.transpose(1, 2))[0])
    np.testing.assert_allclose(rnntui.run(p)["output"], out.numpy().transpose(1, 0, 2), rtol=1e-12, atol=1e-12)


def test_a_count_that_is_not_a_whole_number_is_refused(tmp_path):
    net = _trained_module()
    sd = {k: v.double() for k, v in net.state_dict().items()}
    sd["bn.num_batches_tracked"] = torch.tensor(2.5, dtype=torch.float64)
    np.savez(tmp_path / "w.npz", **{k: v.numpy() for k, v in sd.items()})
    x = np.zeros((B, T, D))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_scenario(tmp_path, x, MODEL, RENAME, "w.npz"))
    assert "1.num_batches_tracked holds 2.5; expected a count" in str(exc.value)
