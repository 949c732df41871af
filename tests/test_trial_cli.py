"""Findings of the new-user trial on the CLI (docs/cli.md): which command an error names, the width of a
report that is piped, what `export --iteration` writes."""
from __future__ import annotations

from typer.testing import CliRunner

from rnntui.cli import app
from rnntui.render.report import TEXT_WIDTH


def test_show_names_itself_in_its_errors():
    for args in (["show", "lstm-delayed-recall", "--iteration", "3"], ["show", "rnn-sine", "--entry", "7"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2
        assert result.output.startswith("rnntui: show error: "), result.output
        assert "export" not in result.output
    exported = CliRunner().invoke(app, ["export", "rnn-sine", "--entry", "7", "-o", "never-written.txt"])
    assert exported.exit_code == 2 and exported.output.startswith("rnntui: export error: ")


def test_piped_show_is_the_text_report_at_its_own_width(tmp_path):
    """Piped, `show` prints what `export -o r.txt` writes: the fixed width, not the 80 columns a console
    without a terminal assumes (which put a description's panel and every wide row on two lines)."""
    shown = CliRunner().invoke(app, ["show", "bilstm-apple"])
    assert shown.exit_code == 0
    out = tmp_path / "r.txt"
    assert CliRunner().invoke(app, ["export", "bilstm-apple", "-o", str(out)]).exit_code == 0
    assert shown.output == out.read_text(encoding="utf-8")
    lines = shown.output.splitlines()
    assert len(lines[0]) == TEXT_WIDTH and lines[0].startswith("╭")   # the description's panel spans it
    assert max(len(ln) for ln in lines) == TEXT_WIDTH


def test_compare_report_keeps_each_run_and_its_missing_names_whole(tmp_path):
    out = tmp_path / "cmp.txt"
    result = CliRunner().invoke(app, ["export", "training-lstm-memory", "--compare", "training-gru-memory",
                                      "-o", str(out), "--steps", "0:2"])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("A Training: an LSTM learns 30-step delayed recall  loss ")
    assert lines[1].startswith("B Training: a GRU learns 30-step delayed recall  loss ")
    note = next(ln for ln in lines if "B's is gru" in ln)
    assert "only in A: c, gates.i" in note
    assert max(len(ln) for ln in lines) <= TEXT_WIDTH
