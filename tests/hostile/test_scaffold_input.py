"""Scaffold family: state_dicts and file names a scaffold must answer with one line naming the file (exit 2),
or turn into a scenario that loads: zero-size tensors, thousands of modules, names with `: `, `#`,
line separators, non-ASCII or half a surrogate pair, and `-o` the file being read."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import rnntui
from tests.hostile.common import invoke, refused


def _save(path, state: dict) -> None:
    torch.save({k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in state.items()}, path)


def _scaffolded(tmp_path, weights) -> str:
    out = tmp_path / "s.yaml"
    result = invoke("scaffold", str(weights), "-o", str(out))
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("state,shape", [
    ({"fc.weight": np.zeros((0, 3)), "fc.bias": np.zeros(0)}, "(0, 3)"),
    ({"fc.weight": np.zeros((2, 0)), "fc.bias": np.zeros(2)}, "(2, 0)"),
    ({"emb.weight": np.zeros((0, 4))}, "(0, 4)"),
    ({"rnn.weight_ih_l0": np.zeros((0, 3)), "rnn.weight_hh_l0": np.zeros((0, 0))}, "(0, 3)"),
], ids=["linear-out", "linear-in", "embedding", "recurrent"])
def test_a_zero_size_tensor_is_refused_naming_it(tmp_path, state, shape):
    _save(tmp_path / "w.pt", state)
    lines = refused(invoke("scaffold", str(tmp_path / "w.pt"), "-o", str(tmp_path / "s.yaml")))
    assert len(lines) == 1 and f"w.pt: " in lines[0] and f": found shape {shape}, a tensor with no elements" in lines[0]
    assert not (tmp_path / "s.yaml").exists()


def test_three_thousand_layers_make_a_scenario_that_loads(tmp_path):
    state = {}
    for i in range(3000):
        state[f"layers.{i}.weight"] = np.eye(3)
        state[f"layers.{i}.bias"] = np.zeros(3)
    np.savez(tmp_path / "deep.npz", **state)
    text = _scaffolded(tmp_path, tmp_path / "deep.npz")
    assert text.count("{type: dense, units: 3") == 3000
    assert text.index("# layers.9\n") < text.index("# layers.10\n") < text.index("# layers.2999\n")


@pytest.mark.parametrize("name", ["my: model", "#hash", "ré né", "quote\"d", "x\u2028y", "tab\tbed", "a\x85b"],
                         ids=["colon", "hash", "non-ascii", "quote", "line-separator", "tab", "nel"])
def test_file_names_a_scenario_can_hold(tmp_path, name):
    weights = tmp_path / f"{name}.pt"
    _save(weights, {"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    _scaffolded(tmp_path, weights)
    trace = rnntui.run(tmp_path / "s.yaml")
    assert trace.info.name == f"scaffolded from {name}.pt"
    assert trace["param.0.weight"].tolist() == np.ones((2, 3)).tolist()


@pytest.mark.parametrize("module", ["a: b", "ré né", "x #y", "l\x85x", "m\u2028y", "e\U0001F600"],
                         ids=["colon", "non-ascii", "hash", "nel", "line-separator", "astral"])
def test_parameter_names_a_scenario_can_hold(tmp_path, module):
    weights = tmp_path / "w.pt"
    _save(weights, {f"{module}.weight": np.full((2, 3), 0.5), f"{module}.bias": np.ones(2)})
    _scaffolded(tmp_path, weights)
    trace = rnntui.run(tmp_path / "s.yaml")
    assert trace["param.0.weight"].tolist() == np.full((2, 3), 0.5).tolist()
    assert trace["param.0.bias"].tolist() == [1.0, 1.0]


def test_a_parameter_name_with_a_lone_surrogate_is_refused_naming_it(tmp_path):
    _save(tmp_path / "w.pt", {"a\ud800.weight": np.zeros((2, 3)), "a\ud800.bias": np.zeros(2)})
    lines = refused(invoke("scaffold", str(tmp_path / "w.pt"), "-o", str(tmp_path / "s.yaml")))
    assert lines == [f"rnntui: scaffold error: {tmp_path / 'w.pt'}: a\\ud800.weight: a parameter name with half a "
                     "UTF-16 surrogate pair in it, which is no character: no scenario can name it; expected names of "
                     "text (rename the key)"]


@pytest.mark.parametrize("suffix", [".pt", ".npz"])
def test_output_over_the_state_dict_is_refused_and_the_file_kept(tmp_path, suffix):
    weights = tmp_path / f"w{suffix}"
    if suffix == ".pt":
        _save(weights, {"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    else:
        np.savez(weights, **{"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    before = weights.read_bytes()
    lines = refused(invoke("scaffold", str(weights), "-o", str(weights)))
    assert len(lines) == 1 and "is a file this run reads" in lines[0]
    assert weights.read_bytes() == before
