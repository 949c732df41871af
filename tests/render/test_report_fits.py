"""Reports that end and rows that stay whole: a batch whose every sample is shorter than the padded input
(a step no sample reaches), and an LSTM's per-step tables in a 100-column text report."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent.parent / "data"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnntui", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("suffix", ["txt", "html", "svg"])
def test_export_of_a_batch_shorter_than_its_padding(tmp_path, suffix):
    out = tmp_path / f"r.{suffix}"
    r = cli("export", str(DATA / "packed-all-short.yaml"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert out.stat().st_size > 0




def test_show_names_the_step_no_sample_reaches():
    r = cli("show", str(DATA / "packed-all-short.yaml"))
    assert r.returncode == 0, r.stderr
    rows = [ln for ln in r.stdout.splitlines() if re.match(r"\s*3 │\s+0 of 2 │", ln)]
    assert rows and "padding" in rows[0]


def test_text_report_rows_never_wrap():
    """Piped `show` (the text report's 100 columns) of an LSTM: every line fits, and every row of a step
    table has as many cells as its header, its first cell the step."""
    r = cli("show", "lstm-delayed-recall")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(ln) for ln in lines) <= 100
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Forward pass, model.0 lstm"))
    header, seen, columns = None, 0, set()
    for ln in lines[start + 1:]:
        if ln.startswith("Backward pass"):
            break
        if "│" not in ln:
            header = None
            continue
        cells = [c.strip() for c in ln.split("│")]
        if header is None:
            header = cells
            assert header[0] == "t"
            columns.update(header[1:])
            continue
        assert len(cells) == len(header), ln
        assert cells[0].isdigit(), ln
        seen += 1
    # every column of the table is printed (in parts), each step once per part
    assert {"input i", "forget f", "candidate g", "output o", "|h|", "|c|"} <= columns
    assert seen >= 2 * 25
