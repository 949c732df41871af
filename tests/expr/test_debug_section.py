"""The scenario's `debug:` section: parsed at load, errors at their line and column, kept in the trace."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app
from tests.expr.conftest import family_text

SECTION = """\
debug:
  watch: ["norm(dh)", mean(gates.z) @model.0.l1.bwd]
  break:
    - norm(dh) < 1e-6
    - "max(abs(h)) > 0.99 @model.0.l0.fwd"
"""


def write(tmp_path, section: str):
    p = tmp_path / "s.yaml"
    p.write_text(family_text("gru") + section)
    return p


def test_debug_section_round_trip(tmp_path):
    trace = rnntui.run(str(write(tmp_path, SECTION)))
    watch = ("norm(dh)", "mean(gates.z) @model.0.l1.bwd")
    breaks = ("norm(dh) < 1e-6", "max(abs(h)) > 0.99 @model.0.l0.fwd")
    assert (trace.info.watch, trace.info.breakpoints) == (watch, breaks)
    trace.save(tmp_path / "t.npz")
    again = rnntui.load_trace(tmp_path / "t.npz")
    assert (again.info.watch, again.info.breakpoints) == (watch, breaks)
    assert rnntui.run(str(write(tmp_path, ""))).info.watch == ()


@pytest.mark.parametrize("section, where, words", [
    ('debug:\n  watch: ["norm(dh) +"]\n', ":9:22: debug.watch[0]: the expression ends here", "column 11 of the expression"),
    ("debug:\n  watch: [mean(c)]\n", ":9:16: debug.watch[0]: found the name 'c', which no place of this model has",
     "expected one of h, gates.n"),
    ("debug:\n  break:\n    - mean(h)\n", ":10:7: debug.break[0]: found a value, not a condition", ""),
    ("debug:\n  break:\n    - 'h > 0 @model.0.l2.fwd'\n", ":10:15: debug.break[0]: found the place 'model.0.l2.fwd'",
     "did you mean model.0.l1.fwd?"),
    ("debug:\n  watch: [3]\n", ":9:11: debug.watch[0]: found 3 (int); expected an expression", ""),
    ("debug:\n  watch: x\n", ":9:3: debug.watch: found str; expected a list", ""),
    ("debug:\n  brk: []\n", ":9:3: debug.brk: unknown key 'brk'", ""),
    ("debug: [h]\n", ":8:1: debug: found ['h'] (list)", ""),
])
def test_bad_debug_entries_exit_2_at_their_position(tmp_path, section, where, words):
    p = write(tmp_path, section)
    r = CliRunner().invoke(app, ["validate", str(p)])
    assert r.exit_code == 2 and f"{p}{where}" in r.stderr and words in r.stderr, r.stderr
