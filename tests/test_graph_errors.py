"""Problems in a recurrence's step graph: each said once, where it is, and nothing false after it."""
from __future__ import annotations

from typer.testing import CliRunner

from rnntui.cli import app

STEP_READS_A_TYPO = """\
version: 1
inputs:
  a: {tokens: [[1, 2, 3]]}
model:
  - {id: e, type: embedding, num_embeddings: 5, embedding_dim: 3, from: a}
  - id: r
    type: recurrence
    from: e
    state: {h: 4}
    step:
      - {id: c, type: gru_cell, hidden_size: 4, from: [x, hh]}
    next: {h: c}
    emit: c
loss: {kind: sum}
"""


def test_a_broken_step_node_is_not_also_called_missing(tmp_path):
    """`c` reads `hh`, a typo: that is the problem. `next: {h: c}` and `emit: c` name the step node `c`,
    which exists; they were also refused as 'found 'c'; expected a step node's id'."""
    path = tmp_path / "typo.yaml"
    path.write_text(STEP_READS_A_TYPO)
    result = CliRunner().invoke(app, ["show", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if str(path) in ln]
    assert len(lines) == 1, result.output
    assert f"{path}:11:" in lines[0] and "found 'hh' (did you mean 'h'?)" in lines[0]
    assert "expected a step node's id" not in result.output


def test_a_missing_step_node_is_still_refused(tmp_path):
    path = tmp_path / "missing.yaml"
    path.write_text(STEP_READS_A_TYPO.replace("[x, hh]", "[x, h]").replace("emit: c", "emit: cc"))
    result = CliRunner().invoke(app, ["show", str(path)])
    assert result.exit_code == 2
    assert f"{path}:13:" in result.output and "found 'cc'; expected a step node's id" in result.output
