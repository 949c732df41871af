"""The scenario and error helper the weight-file tests share, with torch and without."""
from __future__ import annotations

import pytest

import rnntui
from rnntui.errors import ScenarioError

SCENARIO = """
name: from a file
input: {{values: {x}}}
model:
  - {{type: {kind}, hidden_size: 4, num_layers: 2, bidirectional: true}}
  - {{type: dense, units: 2}}
weights:
  init: none
  file: {file}
  rename: {{"rnn.": "0.", "fc.": "1."}}
loss: {{kind: sum}}
"""


def _errors(tmp_path, text):
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(ScenarioError) as exc:
        rnntui.run(tmp_path / "s.yaml")
    return str(exc.value)
