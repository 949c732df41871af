"""Reports (`export -o x.txt/.html/.svg`, `show`) held to the memory limit: refused before they start when
the steps they print would hold more than it, with a window that fits; a window of a checkpointed run read
from its own segments, the same as the window of a run recorded whole."""
from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from typer.testing import CliRunner

from rnntui.cli import app
from rnntui.engine import checkpoint
from rnntui.engine.scenario_run import run_scenario
from rnntui.render.report import ReportOptions, report_memory, write_report
from rnntui.scenario.loader import load_scenario

T, S = 1500, 64
LIMIT = "1.5MB"    # the run checkpointed in segments of 64 steps fits; a report of its 1,500 steps does not


@pytest.fixture(autouse=True)
def short_segments(monkeypatch):
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)


def doc(steps: int = T) -> dict:
    rng = np.random.default_rng(0)
    return {"version": 1, "seed": 0, "dtype": "float64", "mode": "many-to-many",
            "input": {"batch": rng.normal(size=(1, steps, 2)).round(3).tolist()},
            "model": [{"type": "lstm", "hidden_size": 6}], "loss": {"kind": "sum"}}


@pytest.fixture
def long_yaml(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(json.dumps(doc()))
    return path


def words(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.parametrize("command", [["export", "-o", "r.txt"], ["export", "-o", "r.svg"], ["export", "-o", "r.html"],
                                     ["show"]])
def test_a_report_over_the_limit_is_refused_with_a_window_that_fits(long_yaml, tmp_path, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, [command[0], str(long_yaml), *command[1:], "--max-memory", LIMIT])
    said = words(res.output)
    assert res.exit_code == 2, res.output
    assert "memory limit:" in said and "of 1,500 steps would hold about" in said and "1.4 MiB (--max-memory)" in said
    assert "Traceback" not in res.output and "-o run.npz" in said
    assert not list(tmp_path.glob("r.*"))   # nothing written
    fit = int(said.split("--steps 0:")[1].split()[0])
    assert 0 < fit < T
    # the window it offers is accepted under the same limit
    res = CliRunner().invoke(app, [command[0], str(long_yaml), *command[1:], "--max-memory", LIMIT,
                                   "--steps", f"0:{fit}"])
    assert res.exit_code == 0, res.output


def test_a_window_of_a_checkpointed_run_reads_its_segments_and_is_the_whole_runs_window(long_yaml, tmp_path,
                                                                                          monkeypatch):
    sc = load_scenario("long.yaml", json.dumps(doc()))
    full = run_scenario(sc, recording="full")
    ck = run_scenario(sc, recording="checkpointed")
    ck.limit = 0    # a whole read of a recomputed array raises: the report reads segments
    # the run's gradient verdict (every report's) takes the median step Jacobian norm over all steps, derived
    # segment by segment where it is cheap (analysis.verdicts: under 4M multiply-adds, as here); derived first,
    # as a run whose norms are kept, so that what is counted below is the window's own reads
    for key in [k for k in ck if k.endswith(".jacnorm")]:
        ck[key]
    read = []
    segment = checkpoint.Segments.segment
    monkeypatch.setattr(checkpoint.Segments, "segment", lambda self, k, *a, **kw: read.append(k) or segment(self, k, *a, **kw))
    opts = ReportOptions.parse(steps="1000:1100")
    write_report(ck, tmp_path / "ck.txt", "txt", opts, limit=1_500_000)
    assert read and set(read) <= set(range(1000 // S, 1099 // S + 1)), sorted(set(read))
    write_report(full, tmp_path / "full.txt", "txt", opts, limit=1_500_000)
    a, b = (tmp_path / "full.txt").read_text().splitlines(), (tmp_path / "ck.txt").read_text().splitlines()
    i = next(k for k, line in enumerate(b) if "recording: checkpointed" in line)
    assert any(b[:i] + b[j:] == a for j in range(i + 1, i + 6))   # only the recording's words added
    rows = {line.split(" │")[0] for line in a if " │" in line}
    assert {"1000", "1099"} <= rows and not {"999", "1100"} & rows

    # the CLI: the same window of the long run under the small limit (checkpointed there) is written
    res = CliRunner().invoke(app, ["export", str(long_yaml), "-o", str(tmp_path / "cli.txt"), "--max-memory", LIMIT,
                                   "--steps", "1000:1100"])
    assert res.exit_code == 0, res.output
    cli = (tmp_path / "cli.txt").read_text().splitlines()
    assert "recording: checkpointed" in " ".join(cli)
    assert [line for line in cli if line.startswith("10")] == [line for line in b if line.startswith("10")]
    assert sum(line.startswith("10") for line in cli) >= 100


@pytest.mark.parametrize("kind, steps, B", [("txt", 600, 1), ("html", 600, 1), ("show", 600, 1), ("svg", 140, 1),
                                            ("txt", 4, 150), ("html", 4, 150), ("show", 4, 150), ("svg", 4, 150)])
def test_the_estimate_is_at_least_what_the_report_holds_and_not_far_above(tmp_path, kind, steps, B):
    import io

    from rnntui.render.report import print_report

    d = doc(steps) | {"input": {"batch": np.random.default_rng(1).normal(size=(B, steps, 2)).round(3).tolist()}}
    tr = run_scenario(load_scenario("m.yaml", json.dumps(d)))
    opts = ReportOptions()

    def make():
        if kind == "show":
            class Out(io.StringIO):
                def isatty(self):
                    return False
            print_report(tr, opts, Out(), limit=1 << 40)
        else:
            write_report(tr, tmp_path / f"r.{kind}", kind, opts, limit=1 << 40)

    make()   # warm: what the first report imports is not the report's
    need = report_memory(tr, kind, opts)[0]
    tracemalloc.start()
    try:
        make()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the peak includes the estimate's own probe (small), which is the point: what the command holds
    assert peak <= need <= 2.5 * peak, (peak, need)


def test_a_few_steps_of_a_large_batch_are_estimated_too(tmp_path):
    from rnntui.errors import MemoryLimitError

    rng = np.random.default_rng(1)
    d = doc(4) | {"input": {"batch": rng.normal(size=(400, 4, 2)).round(3).tolist()}}
    tr = run_scenario(load_scenario("wide.yaml", json.dumps(d)))
    for steps in ("0:4", "2:3"):    # the second: one step, its whole report measured
        with pytest.raises(MemoryLimitError, match="would hold about"):
            write_report(tr, tmp_path / "r.txt", "txt", ReportOptions.parse(steps=steps), limit=300_000)
        assert not (tmp_path / "r.txt").exists()
    write_report(tr, tmp_path / "r.txt", "txt", ReportOptions.parse(steps="2:3"), limit=10 ** 9)
    assert sum(line.startswith("2 │") for line in (tmp_path / "r.txt").read_text().splitlines()) >= 400


def test_a_comparison_over_the_limit_is_refused_too(long_yaml, tmp_path):
    # 5MB: both runs recorded whole (a comparison of checkpointed runs reads each array whole, every segment of
    # it, which takes a while), their comparison's 1,500 steps over it
    out = tmp_path / "diff.txt"
    res = CliRunner().invoke(app, ["export", str(long_yaml), "--compare", str(long_yaml), "-o", str(out),
                                   "--max-memory", "5MB"])
    said = words(res.output)
    assert res.exit_code == 2 and "a .txt report comparing the two runs of 1,500 steps would hold about" in said, said
    assert not out.exists()
    fit = int(said.split("--steps 0:")[1].split()[0])
    assert 64 < fit < T
    res = CliRunner().invoke(app, ["export", str(long_yaml), "--compare", str(long_yaml), "-o", str(out),
                                   "--max-memory", "5MB", "--steps", f"0:{fit}"])
    assert res.exit_code == 0, res.output


def test_the_comparisons_estimate_is_at_least_what_it_holds(tmp_path):
    sc = load_scenario("a.yaml", json.dumps(doc(600)))
    a, b = run_scenario(sc), run_scenario(load_scenario("b.yaml", json.dumps(doc(600) | {"seed": 3})))
    write_report(a, tmp_path / "d.txt", "txt", ReportOptions(), other=b, limit=1 << 40)   # warm
    need = report_memory(a, "txt", ReportOptions(), b)[0]
    tracemalloc.start()
    try:
        write_report(a, tmp_path / "d.txt", "txt", ReportOptions(), other=b, limit=1 << 40)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= need <= 2.5 * peak, (peak, need)
