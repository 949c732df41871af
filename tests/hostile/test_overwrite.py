"""Overwrite family: an output path that is one of the run's own inputs (the scenario, its weights, input
and vocabulary files, the compare scenario, a saved trace, a scaffold's state_dict), under its own name
or through a link, is refused before anything is written; the input is left as it was."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.hostile.common import invoke, refused

SCENARIO = """\
version: 1
name: inputs
seed: 0
mode: many-to-many
input: {{file: x.npy}}
model:
  - {{type: rnn, hidden_size: 2}}
weights: {{init: none, file: w.npz}}
loss: {{kind: sum}}
"""


@pytest.fixture
def folder(tmp_path):
    np.save(tmp_path / "x.npy", np.linspace(-1, 1, 6).reshape(3, 2))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "w.npz", **{"0.weight_ih_l0": rng.normal(size=(2, 2)), "0.weight_hh_l0": rng.normal(size=(2, 2)),
                                    "0.bias_ih_l0": np.zeros(2), "0.bias_hh_l0": np.zeros(2)})
    (tmp_path / "s.yaml").write_text(SCENARIO.format())
    (tmp_path / "v.json").write_text(json.dumps(["a", "b", "c"]))
    (tmp_path / "tok.yaml").write_text("version: 1\nseed: 0\nmode: many-to-many\ninput: {tokens: [0, 2, 1], vocab: v.json}\n"
                                       "model:\n  - {type: embedding, num_embeddings: 3, embedding_dim: 2}\n")
    return tmp_path


def _contents(folder) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("scenario,output,extra", [
    ("s.yaml", "s.yaml", ["--format", "html"]),
    ("s.yaml", "s.yaml", ["--format", "txt"]),
    ("s.yaml", "w.npz", []),
    ("s.yaml", "x.npy", ["--format", "npz"]),
    ("tok.yaml", "v.json", ["--format", "txt"]),
    ("tok.yaml", "s.yaml", ["--compare", "{folder}/s.yaml", "--format", "svg"]),
], ids=["scenario-html", "scenario-txt", "weights", "input", "vocabulary", "compare"])
def test_export_over_an_input_is_refused(folder, scenario, output, extra):
    before = _contents(folder)
    extra = [a.format(folder=folder) for a in extra]
    lines = refused(invoke("export", str(folder / scenario), "-o", str(folder / output), *extra))
    assert len(lines) == 1
    assert lines[0] == (f"rnntui: export error: {folder / output}: is a file this run reads; writing there would "
                        "replace it: expected another file name for the output")
    assert _contents(folder) == before


def test_export_through_a_link_to_the_scenario_is_refused(folder):
    os.symlink("s.yaml", folder / "report.html")
    before = _contents(folder)
    lines = refused(invoke("export", str(folder / "s.yaml"), "-o", str(folder / "report.html")))
    assert f"is a file this run reads ({folder / 's.yaml'})" in lines[0]
    assert _contents(folder) == before and os.path.islink(folder / "report.html")


def test_export_of_a_saved_trace_over_itself_is_refused(folder):
    assert invoke("export", str(folder / "s.yaml"), "-o", str(folder / "t.npz")).exit_code == 0
    before = _contents(folder)
    lines = refused(invoke("export", str(folder / "t.npz"), "-o", str(folder / "t.npz")))
    assert "t.npz: is a file this run reads" in lines[0] and _contents(folder) == before


def test_export_beside_the_inputs_is_written(folder):
    result = invoke("export", str(folder / "s.yaml"), "-o", str(folder / "report.html"))
    assert result.exit_code == 0, result.output
    assert (folder / "report.html").read_text().lstrip().startswith("<!DOCTYPE html>")


def test_scaffold_over_its_state_dict_is_refused(folder):
    before = _contents(folder)
    lines = refused(invoke("scaffold", str(folder / "w.npz"), "-o", str(folder / "w.npz")))
    assert lines == [f"rnntui: scaffold error: {folder / 'w.npz'}: is a file this run reads; writing there would "
                     "replace it: expected another file name for the output"]
    assert _contents(folder) == before
