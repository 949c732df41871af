"""Flags with fixed bounds are checked by Typer before any work (min/max, an Enum for --format): a value
outside them is refused naming the flag and the bound, exit status 2, and the bound itself is accepted."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rnntui.cli import app


@pytest.mark.parametrize("args,bound", [
    (["export", "bptt", "-o", "{tmp}/r.txt", "--width", "39"], "greater than or equal to 40"),
    (["export", "bptt", "-o", "{tmp}/r.txt", "--width", "10001"], "less than or equal to 10000"),
    (["export", "bptt", "-o", "{tmp}/r.txt", "--step", "-1"], "greater than or equal to 0"),
    (["export", "bptt", "-o", "{tmp}/r.txt", "--entry", "-1"], "greater than or equal to 0"),
    (["export", "training-exploding", "-o", "{tmp}/r.txt", "--iteration", "-1"], "greater than or equal to 0"),
    (["export", "bptt", "-o", "{tmp}/r.txt", "--format", "csv"], "'csv' is not one of 'npz', 'txt', 'html', 'svg'"),
    (["show", "bptt", "--step", "-3"], "greater than or equal to 0"),
    (["show", "bptt", "--entry", "-1"], "greater than or equal to 0"),
    (["show", "training-exploding", "--iteration", "-1"], "greater than or equal to 0"),
    (["check", "training-exploding", "--assert", "norm(dh) >= 0", "--iteration", "-2"], "greater than or equal to 0"),
    (["serve", "bptt", "--port", "0"], "greater than or equal to 1"),
    (["serve", "bptt", "--port", "65536"], "less than or equal to 65535"),
])
def test_a_flag_outside_its_bounds_is_refused_before_any_work(tmp_path, args, bound):
    args = [a.format(tmp=tmp_path) for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    flag = [a for a in args if a.startswith("--")][-1]
    assert f"Invalid value for '{flag}'" in result.output and bound in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_bounds_themselves_are_accepted(tmp_path, monkeypatch):
    import textual_serve.server

    for width in ("40", "10000"):
        out = tmp_path / f"r{width}.txt"
        result = CliRunner().invoke(app, ["export", "bptt", "-o", str(out), "--width", width, "--step", "0",
                                          "--entry", "0"])
        assert result.exit_code == 0, result.output
        assert max(len(line) for line in out.read_text().splitlines()) <= int(width)
    served = []
    monkeypatch.setattr(textual_serve.server.Server, "serve", lambda self, *a, **k: served.append(self.port))
    for port in ("1", "65535"):
        assert CliRunner().invoke(app, ["serve", "bptt", "--port", port]).exit_code == 0
    assert served == [1, 65535]


@pytest.mark.parametrize("fmt,start", [("HTML", "<!DOCTYPE html>"), ("txt", "╭"), ("Svg", "<svg")])
def test_format_names_what_is_written_in_any_case_whatever_the_suffix(tmp_path, fmt, start):
    out = tmp_path / "report.out"
    result = CliRunner().invoke(app, ["export", "bptt", "-o", str(out), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert out.read_text().lstrip().startswith(start)
