"""Export a T-step bidirectional LSTM trace as an HTML (and text, SVG) report; print times and ratios.

    python benchmarks/report.py [--steps 5000] [--kinds html,txt,svg]

The reference, measured in the same run, is the engine run that produced the trace (the median of
three, each beside the exports). Goal (issue 27): an HTML report at most 2x the run.

Measured 2026-12-06 (2 cores, load average 6-8 from other helpers), html at T=5000, alternating main's
code (before) and this branch's (after), two rounds: before 17.9 s and 27.1 s (28x and 22x the run), after
5.75 s and 3.69 s (6.6x and 3.5x), while the HTML went through rich. After merging main (the HTML a
document of its own, render/html_report.py; the verdict's one-term gradient lean), load average 4.3: html
0.49 s (1.5x the run), txt 0.65 s (2.0x), svg 4.48 s (14x: rich's SVG of 44 MB).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import rnntui
from rnntui.render.report import ReportOptions, write_report


def main(T: int, kinds: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "long.yaml"
        path.write_text(f"name: T{T}\ninput: {{generate: {{kind: sine, length: {T}, features: 4}}}}\n"
                        "model:\n  - {type: lstm, hidden_size: 32, bidirectional: true}\n  - {type: dense, units: 1}\n"
                        "loss: {kind: sum}\n")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            trace = rnntui.run(path)
            runs.append(time.perf_counter() - t0)
        engine = statistics.median(runs)
        print(f"engine run (T={T}): {engine:.2f} s (reference; runs {', '.join(f'{r:.2f}' for r in runs)})")
        for kind in kinds:
            t0 = time.perf_counter()
            write_report(trace, Path(d) / f"r.{kind}", kind, ReportOptions())
            took = time.perf_counter() - t0
            size = (Path(d) / f"r.{kind}").stat().st_size
            print(f"{kind:5} report: {took:.2f} s ({took / engine:.1f}x the engine run; goal for html <= 2x), "
                  f"{size / 1e6:.1f} MB")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--kinds", default="html,txt,svg")
    a = ap.parse_args()
    main(a.steps, a.kinds.split(","))
