"""The HTML report: its export time against the engine run at T=5000 (same process), and how it looks in
a real headless browser (Debian's chromium, when installed: `apt-get install -y chromium`).

    python benchmarks/html_report.py [--screenshots DIR]

Goal (issue 27): `.html` export at most 2x the run. With --screenshots, the reports of a recurrent run, a
CNN, a training run and a comparison are written to DIR with a full-page PNG of each taken by chromium
(look at them), and a PDF of the training report (printed).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import rnntui
from rnntui.render.report import ReportOptions, write_report

T5000 = ("name: T5000\ninput: {generate: {kind: sine, length: 5000, features: 4}}\n"
         "model:\n  - {type: lstm, hidden_size: 32}\n  - {type: dense, units: 1}\nloss: {kind: sum}\n")


def timing(d: Path) -> None:
    path = d / "t5000.yaml"
    path.write_text(T5000)
    rnntui.run(path)  # warm: imports and first-call costs out of both measurements
    best_run, best_html, best_warm = float("inf"), float("inf"), float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        trace = rnntui.run(path)
        best_run = min(best_run, time.perf_counter() - t0)
        t0 = time.perf_counter()
        write_report(trace, d / "r.html", "html", ReportOptions())
        best_html = min(best_html, time.perf_counter() - t0)
        t0 = time.perf_counter()   # again: the lazy keys the report reads (the verdict's norms) now computed
        write_report(trace, d / "r.html", "html", ReportOptions())
        best_warm = min(best_warm, time.perf_counter() - t0)
    size = (d / "r.html").stat().st_size
    former = rich_pre(trace)
    print(f"engine run T=5000: {best_run:.2f} s (reference, best of 3)")
    print(f"html export:       {best_html:.2f} s = {best_html / best_run:.2f}x the run (goal: at most 2x), "
          f"{size / 1e6:.1f} MB")
    print(f"  of which the report itself (build + HTML, lazy diagnostics already computed): {best_warm:.2f} s "
          f"= {best_warm / best_run:.2f}x; the rest is the trace's lazy keys (the verdict's second backward pass)")
    print(f"the former export (rich's export_html of the text report in <pre>), same trace: {former:.2f} s "
          f"= {former / best_run:.2f}x")


def rich_pre(trace) -> float:
    """What `.html` export did before render/html_report.py: the report printed to a recording console."""
    import io

    from rich.console import Console

    from rnntui.render.report import build, content_width, render_to

    t0 = time.perf_counter()
    items = build(trace, ReportOptions())
    console = Console(record=True, width=content_width(items), file=io.StringIO(), force_jupyter=False,
                      color_system="truecolor", force_terminal=True)
    render_to(console, trace, ReportOptions(), items)
    console.export_html(inline_styles=True)
    return time.perf_counter() - t0


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browse(html: Path, png: Path, pdf: Path | None = None) -> None:
    exe = chromium()
    common = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"]
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(common + [f"--user-data-dir={profile}", "--window-size=1200,3000",
                                 f"--screenshot={png}", html.as_uri()], capture_output=True, timeout=120)
    if pdf is not None:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(common + [f"--user-data-dir={profile}", "--no-pdf-header-footer",
                                     f"--print-to-pdf={pdf}", html.as_uri()], capture_output=True, timeout=120)


def screenshots(out: Path) -> None:
    if chromium() is None:
        print("chromium not installed: no screenshots (apt-get install -y chromium)")
        return
    out.mkdir(parents=True, exist_ok=True)
    runs = {"recurrent": ("bilstm-apple", None), "cnn": ("cnn-digit", None),
            "training": ("training-exploding", None), "compare": ("training-exploding", "training-exploding-clipped")}
    for name, (a, b) in runs.items():
        html = out / f"{name}.html"
        write_report(rnntui.run(a), html, "html", ReportOptions(iteration=3 if name == "training" else None),
                     other=None if b is None else rnntui.run(b))
        browse(html, out / f"{name}.png", out / f"{name}.pdf" if name == "training" else None)
        print(f"{name}: {html} -> {out / f'{name}.png'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--screenshots", type=Path, help="write reports and chromium screenshots here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        timing(Path(d))
    if args.screenshots:
        screenshots(args.screenshots)


if __name__ == "__main__":
    main()
