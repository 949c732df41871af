"""Every file in tests/bad_scenarios is refused: exit 2, the expected line and message, no traceback,
no output file. Each file names what it must produce in `# expect: LINE: text` comments."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnntui.cli import app

CORPUS = sorted((Path(__file__).parent / "bad_scenarios").glob("*.yaml"))


def expectations(path: Path) -> list[tuple[int, str]]:
    out = []
    for line in path.read_text().splitlines():
        m = re.match(r"# expect: (\d+): (.*)", line)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    assert out, f"{path.name} has no expectation"
    return out


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bad_scenario_is_refused(tmp_path, path):
    out = tmp_path / "trace.npz"
    result = CliRunner().invoke(app, ["export", str(path), "-o", str(out)])
    assert result.exit_code == 2, result.output
    text = result.output
    assert "Traceback" not in text
    assert not out.exists()
    assert not list(tmp_path.iterdir()), "no temporary file is left behind"
    for line, message in expectations(path):
        hits = [ln for ln in text.splitlines() if f"{path.name}:{line}:" in ln and message in ln]
        assert hits, f"expected line {line} with {message!r} in:\n{text}"


@pytest.mark.parametrize("command", ["validate", "run", "show"])
def test_other_commands_refuse_too(command):
    path = next(p for p in CORPUS if p.stem == "many-errors")
    result = CliRunner().invoke(app, [command, str(path)])
    assert result.exit_code == 2
    assert len(re.findall(r"many-errors\.yaml:\d+:\d+: ", result.output)) == 3


def test_real_process_prints_no_traceback(tmp_path):
    path = next(p for p in CORPUS if p.stem == "python-tag")
    proc = subprocess.run([sys.executable, "-m", "rnntui", "export", str(path), "-o", str(tmp_path / "x.npz")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "found the YAML tag" in proc.stderr
    assert proc.stdout == "" and "hacked" not in proc.stdout


def test_validate_lists_every_file(tmp_path):
    good = Path(__file__).parent.parent / "rnntui" / "bundled" / "rnn-sine.yaml"
    bad = [p for p in CORPUS if p.stem in ("misspelt-key", "bad-merge")]
    result = CliRunner().invoke(app, ["validate", str(good), *map(str, bad)])
    assert result.exit_code == 2
    assert "rnn-sine.yaml: ok" in result.output
    assert "misspelt-key.yaml:5:" in result.output and "bad-merge.yaml:3:" in result.output
