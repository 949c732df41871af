"""Problems a review of the second wave found, each pinned: a what-if on a training iteration replays that
iteration's dropout masks; running statistics are never silently 0 and 1 when every weight must come from the
file; an update that overflowed is not "moved from 0"; batchnorm words true on an affine-less entry."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

import rnntui
from rnntui.engine.whatif import what_if
from rnntui.errors import ScenarioError
from rnntui.render.training import training_report
from rich.console import Console


def _run(tmp_path, doc, name="s.yaml"):
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return rnntui.run(p)


def test_a_what_if_without_interventions_reproduces_a_training_iteration_with_dropout(tmp_path):
    rng = np.random.default_rng(3)
    doc = {"seed": 3, "input": {"batch": rng.normal(size=(3, 4, 2)).round(3).tolist()},
           "model": [{"type": "lstm", "hidden_size": 4, "num_layers": 2, "dropout": 0.5},
                     {"type": "dropout", "p": 0.5}, {"type": "dense", "units": 2}],
           "loss": {"kind": "mse", "target": rng.normal(size=(3, 4, 2)).round(3).tolist()},
           "train": {"iterations": 3}}
    trace = _run(tmp_path, doc)
    it = trace.iteration(1)
    assert any(k.endswith(".dropout_mask") for k in it) and "model.1.mask" in it
    again = what_if(it, [])
    assert float(again["loss"]) == float(it["loss"])   # the same network: the masks that iteration drew
    np.testing.assert_array_equal(again["output"], it["output"])


def test_running_statistics_missing_from_a_file_that_must_give_everything_are_an_error(tmp_path):
    import torch
    bn = torch.nn.BatchNorm1d(3)
    np.savez(tmp_path / "params.npz", **{f"1.{n}": p.detach().numpy() for n, p in bn.named_parameters()},
             **{"0.weight": np.ones((3, 2)), "0.bias": np.zeros(3)})
    doc = {"input": {"batch": [[[1, 2]], [[3, 4]]]},
           "model": [{"type": "dense", "units": 3}, {"type": "batchnorm1d"}],
           "weights": {"init": "none", "file": "params.npz"}}
    with pytest.raises(ScenarioError) as info:
        _run(tmp_path, doc)
    said = str(info.value)
    assert "buffer 1.running_mean of shape (3,) is missing" in said and "save the module's state_dict()" in said
    assert "num_batches_tracked" not in said   # absent from older state_dicts, as PyTorch allows


def test_an_update_that_overflowed_is_not_said_to_have_moved_from_0(tmp_path):
    rng = np.random.default_rng(0)
    doc = {"input": {"batch": rng.normal(size=(2, 3, 2)).round(3).tolist()},
           "model": [{"type": "rnn", "hidden_size": 3}, {"type": "dense", "units": 1}],
           "weights": {"init": "uniform", "low": 0.5, "high": 1.0},
           "loss": {"kind": "mse", "target": rng.normal(size=(2, 3, 1)).round(3).tolist()},
           "train": {"iterations": 2, "optimizer": {"kind": "sgd", "lr": 1e308}}}
    trace = _run(tmp_path, doc)
    ratio, size = trace["train.update_ratio.0.weight_hh_l0"], trace["train.param_norm.0.weight_hh_l0"]
    assert np.isinf(ratio[0]) and size[0] > 0   # the update itself overflowed
    out = io.StringIO()
    for item in training_report(trace):
        Console(file=out, width=120, color_system=None).print(item)
    row = next(line for line in out.getvalue().splitlines() if line.startswith("0.weight_hh_l0"))
    assert "moved from 0" not in row and "inf" in row.split("│")[3]
