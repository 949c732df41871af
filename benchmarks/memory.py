"""The memory estimate (engine/run.py `estimate_bytes`) against the real peak, scenario by scenario.

    python benchmarks/memory.py [--only lstm] [--max-gib 2] [--jobs 1]

Each scenario runs in a fresh subprocess: after a warm-up run (so lazily imported modules are not
counted) it loads the scenario, runs it and reads every key of the trace (the lazily derived
diagnostics too, as a save or a session that visits every view does). Two peaks are measured:

- traced: tracemalloc's peak over the run and the diagnostics (NumPy reports its buffers to
  tracemalloc, so this is every array the run held at once, plus Python objects), plus the input and
  parameters the loader made (the loader's own transients, such as the 16 MiB buffer its bounded
  file read asks for, are not the run's and are checked by the loader);
- rss: the process's peak resident size (VmHWM, reset after the warm-up) minus its size before loading.

and printed with the estimate and the ratios peak / estimate. An estimate below the peak lets the
kernel kill a run the check let through; one far above refuses runs that would fit. Scenarios whose
estimate passes --max-gib are skipped (the grid's largest would need tens of GiB).
"""
from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CHILD = r"""
import gc, json, sys, tracemalloc
import numpy as np
import rnntui
from rnntui.engine import run_scenario
from rnntui.engine.run import estimate_bytes
from rnntui.scenario import load_scenario

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

def read_all(trace):
    for k in list(trace):
        trace[k]

for warm in ("stacked-lstm", "cnn-digit", "bilstm-apple", "crnn"):  # import what runs import lazily
    read_all(rnntui.run(warm))
gc.collect()
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current size
except OSError:
    pass
base = status("VmRSS")
sc = load_scenario(sys.argv[1], max_memory=1 << 50)
est = estimate_bytes(sc)
held = sc.x.nbytes + sum(p.nbytes for p in sc.params.values())  # made by the loader, held by the run
tracemalloc.start()
trace = run_scenario(sc, max_memory=1 << 50)
run_peak = held + tracemalloc.get_traced_memory()[1]
read_all(trace)
peak = held + tracemalloc.get_traced_memory()[1]
print(json.dumps({"estimate": est, "run": run_peak, "traced": peak, "rss": status("VmHWM") - base}))
"""

ESTIMATE_ONLY = r"""
import json, sys
from rnntui.engine.run import estimate_bytes
from rnntui.scenario import load_scenario
print(json.dumps({"estimate": estimate_bytes(load_scenario(sys.argv[1], max_memory=1 << 50))}))
"""


def recurrent_grid():
    for kind, layers, bidir, mode, B, T, H in itertools.product(
            ("rnn", "lstm", "gru"), (1, 2), (False, True), ("many-to-one", "many-to-many"),
            (1, 8, 32), (100, 1000), (64, 256)):
        name = f"{kind} L{layers}{' bi' if bidir else ''} {'m2o' if mode == 'many-to-one' else 'm2m'} B{B} T{T} H{H}"
        yield name, (
            f"mode: {mode}\ninput: {{generate: {{kind: noise, length: {T}, features: 16, batch: {B}}}}}\n"
            f"model:\n  - {{type: {kind}, hidden_size: {H}, num_layers: {layers}, bidirectional: {str(bidir).lower()}}}\n"
            f"  - {{type: dense, units: 4}}\nloss: {{kind: sum}}\n")


def conv_grid():
    for B, size, filters in itertools.product((1, 8, 32), (28, 64), (8, 32)):
        yield f"cnn B{B} {size}x{size} f{filters}", (
            f"input: {{generate: {{kind: digit, size: {size}, batch: {B}}}}}\nmodel:\n"
            f"  - {{type: conv2d, out_channels: {filters}, kernel_size: 3, padding: 1, activation: relu}}\n"
            "  - {type: maxpool2d, kernel_size: 2}\n"
            f"  - {{type: conv2d, out_channels: {filters}, kernel_size: 5, activation: relu}}\n"
            "  - {type: avgpool2d, kernel_size: 2}\n"
            "  - {type: flatten}\n  - {type: dense, units: 10, activation: softmax}\nloss: {kind: sum}\n")


def dense_grid():
    for B, T, units in itertools.product((1, 8, 32), (100, 1000), (64, 512)):
        yield f"dense B{B} T{T} u{units}", (
            f"input: {{generate: {{kind: noise, length: {T}, features: 32, batch: {B}}}}}\nmodel:\n"
            f"  - {{type: dense, units: {units}, activation: tanh}}\n  - {{type: dense, units: {units}, activation: relu}}\n"
            "  - {type: dense, units: 4}\nloss: {kind: sum}\n")


def child(script: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="run the scenarios whose name contains this")
    ap.add_argument("--max-gib", type=float, default=2.0, help="skip scenarios estimated above this")
    ap.add_argument("--jobs", type=int, default=1, help="subprocesses at once (their peaks add up)")
    args = ap.parse_args()
    cases = [c for c in itertools.chain(recurrent_grid(), conv_grid(), dense_grid()) if args.only in c[0]]
    print(f"{'scenario':34} {'estimate':>10} {'traced':>10} {'rss':>10} {'traced/est':>10} {'rss/est':>8}")
    with tempfile.TemporaryDirectory() as d:
        def measure(i_case):
            i, (name, text) = i_case
            path = Path(d) / f"s{i}.yaml"
            path.write_text(text)
            est = child(ESTIMATE_ONLY, path)
            if "error" in est or est["estimate"] > args.max_gib * (1 << 30):
                return name, est, None
            return name, est, child(CHILD, path)

        ratios = []
        with ThreadPoolExecutor(args.jobs) as pool:
            for name, est, r in pool.map(measure, enumerate(cases)):
                if "error" in est or (r is not None and "error" in r):
                    print(f"{name:34} error: {(r or est)['error']}", flush=True)
                    continue
                if r is None:
                    print(f"{name:34} {est['estimate'] / 2**20:9.1f}M  skipped (above --max-gib)", flush=True)
                    continue
                e = r["estimate"]
                ratios.append(r["traced"] / e)
                print(f"{name:34} {e / 2**20:9.1f}M {r['traced'] / 2**20:9.1f}M {r['rss'] / 2**20:9.1f}M "
                      f"{r['traced'] / e:10.2f} {r['rss'] / e:8.2f}", flush=True)
    if ratios:
        print(f"traced / estimate: min {min(ratios):.2f}, max {max(ratios):.2f} over {len(ratios)} scenarios")


if __name__ == "__main__":
    main()
