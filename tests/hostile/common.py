"""What every refusal must look like: exit status 2, no traceback, one line per problem, in the form
`file:line:col: key.path: message`, with no control character reaching the terminal."""
from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from rnntui.cli import app

HERE = Path(__file__).parent
HEADER = re.compile(r"^rnntui: [a-z ]+errors?:( .*)?$")
# a problem line: file:line:col: then a message (with the key path first when there is one)
PROBLEM = re.compile(r"^(rnntui: [a-z ]+error: |  )\S.*?:\d+:\d+: \S.*$")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def corpus(family: str) -> list[Path]:
    return sorted((HERE / family).glob("*.yaml"))


def expectations(path: Path) -> list[tuple[int, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"# expect: (\d+): (.*)", line)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    assert out, f"{path.name} has no expectation"
    return out


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def refused(result) -> list[str]:
    """The output lines of a refusal, after checking what every refusal must be."""
    text = result.output
    assert result.exit_code == 2, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in text
    assert not CONTROL.search(text), f"a control character reached the terminal: {text!r}"
    lines = text.splitlines()
    assert lines and (HEADER.match(lines[0]) or lines[0].startswith("rnntui: ")), text
    return lines


def check_corpus_file(path: Path, tmp_path: Path) -> None:
    """`rnntui export` refuses the file with the expected lines, writing nothing."""
    out = tmp_path / "trace.npz"
    lines = refused(invoke("export", str(path), "-o", str(out)))
    assert not out.exists() and not list(tmp_path.iterdir())
    for line, message in expectations(path):
        hits = [ln for ln in lines if f"{path.name}:{line}:" in ln and message in ln]
        assert hits, f"expected line {line} with {message!r} in:\n" + "\n".join(lines)
        assert all(PROBLEM.match(h) for h in hits), hits
