"""Export a T=1,000 step LSTM trace as an HTML (and text, SVG) report; print times and ratios.

    python benchmarks/report.py

The reference, measured in the same run, is the engine run that produced the trace. Goal: HTML in a
few seconds at most.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import rnntui
from rnntui.render.report import ReportOptions, write_report


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t1000.yaml"
        path.write_text("name: T1000\ninput: {generate: {kind: sine, length: 1000, features: 4}}\n"
                        "model:\n  - {type: lstm, hidden_size: 32, bidirectional: true}\n  - {type: dense, units: 1}\n"
                        "loss: {kind: sum}\n")
        t0 = time.perf_counter()
        trace = rnntui.run(path)
        engine = time.perf_counter() - t0
        print(f"engine run: {engine:.2f} s (reference)")
        for kind in ("html", "txt", "svg"):
            t0 = time.perf_counter()
            write_report(trace, Path(d) / f"r.{kind}", kind, ReportOptions())
            took = time.perf_counter() - t0
            size = (Path(d) / f"r.{kind}").stat().st_size
            print(f"{kind:5} report: {took:.2f} s ({took / engine:.1f}x the engine run), {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
