"""`rnntui scan` throughput and memory: N worker processes against N x one process, and peak memory against N.

    python benchmarks/scan.py [--samples 100000] [--reference 4000] [--workers 2] [--memory 10000]
                              [--steps 100] [--hidden 128] [--repeat 1]

One data set of `--samples` sequences (T steps of 4 features, float32, lengths T/2..T, 4 classes) is written to
a temporary folder; the model is an LSTM of H units and a dense head, many-to-one cross-entropy. Every
measurement runs in a fresh process (its peak RSS is its own):

- the reference: one process, one BLAS thread, `--reference` samples, the scenario already loaded (its steady
  throughput: the strictest reference);
- the scan with `--workers` processes over all `--samples`, timed from the call to the last row (the workers'
  start-up and their loading of the data set included);
- the same scan over the first `--memory` samples (`limit=`, the same file loaded): memory flat in N means the
  same peak RSS, in the main process and in the largest worker, for both.

It prints the ratio of the scan's throughput to workers x the reference's (the target: at least 0.8), the CPU
time a sample costs in each (the workers' overhead apart from how many cores a shared machine gives them: their
ratio bounds what the wall-clock ratio can reach on free cores) and the load average before and after each
measurement (the machine may be shared: repeat, compare within a run).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def one(path: str, workers: int, limit: int, warm: bool) -> dict:
    """One measurement, in this (fresh) process."""
    from rnntui.samples.run import _load, scan

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if warm:
        _load(path, None, None)

    def cpu() -> float:
        return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                      resource.getrusage(resource.RUSAGE_CHILDREN)))

    c = cpu()
    t = time.perf_counter()
    result = scan(path, workers=workers, limit=limit)
    wall = time.perf_counter() - t
    c = cpu() - c
    assert len(result.rows) == limit and result.rows[-1]["sample"] == limit - 1
    return {"workers": workers, "samples": limit, "seconds": wall, "per_second": limit / wall,
            "cpu_ms_per_sample": 1000 * c / limit, "cores_used": c / wall,
            "rss_start_mib": rss0, "rss_main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "rows_bytes": result.rows.nbytes() if hasattr(result.rows, "nbytes") else None}


def measure(path: str, workers: int, limit: int, warm: bool = False) -> dict:
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, __file__, "--one", path, str(workers), str(limit), str(int(warm))],
                         check=True, capture_output=True, text=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    got["load"] = (load, os.getloadavg()[0])
    return got


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), bool(int(sys.argv[5])))))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--reference", type=int, default=4000)
    ap.add_argument("--memory", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()

    folder = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    N = a.samples
    np.savez(folder / "d.npz", x=rng.normal(size=(N, a.steps, 4)).astype(np.float32),
             lengths=rng.integers(a.steps // 2, a.steps + 1, size=N), target=rng.integers(0, 4, N))
    (folder / "s.yaml").write_text(f"""version: 1
mode: many-to-one
input: {{dataset: d.npz}}
model:
  - {{type: lstm, hidden_size: {a.hidden}}}
  - {{type: dense, units: 4}}
loss: {{kind: cross_entropy}}
""")
    path = str(folder / "s.yaml")
    data_mib = (folder / "d.npz").stat().st_size / 2**20
    print(f"N={N:,} T={a.steps} H={a.hidden}, {a.workers} workers; the data set file {data_mib:.0f} MiB "
          f"(each process loads it whole); {os.cpu_count()} CPUs")

    def show(what: str, m: dict) -> None:
        print(f"  {what}: {m['samples']:,} samples in {m['seconds']:.1f} s = {m['per_second']:.1f}/s, "
              f"{m['cpu_ms_per_sample']:.2f} ms CPU a sample (all processes), {m['cores_used']:.2f} cores busy; peak RSS "
              f"main {m['rss_main_mib']:.0f} MiB, largest worker {m['rss_worker_mib']:.0f} MiB; rows "
              f"{(m['rows_bytes'] or 0) / 2**20:.1f} MiB; load {m['load'][0]:.2f} -> {m['load'][1]:.2f}")

    for r in range(a.repeat):
        ref = measure(path, 1, min(a.reference, N), warm=True)
        show("reference, 1 process", ref)
        many = measure(path, a.workers, N)
        show(f"scan, {a.workers} workers", many)
        print(f"run {r + 1}: ratio to {a.workers} x single: {many['per_second'] / (a.workers * ref['per_second']):.2f} "
              f"(target >= 0.8); CPU a sample, single / workers: {ref['cpu_ms_per_sample'] / many['cpu_ms_per_sample']:.2f} "
              "(what the workers' overhead costs, whatever share of the cores the machine gives them)")
    if a.memory and a.memory < N:
        small = measure(path, a.workers, a.memory)
        show(f"scan, {a.workers} workers, first {a.memory:,}", small)
        print(f"memory: peak RSS main {small['rss_main_mib']:.0f} -> {many['rss_main_mib']:.0f} MiB, largest worker "
              f"{small['rss_worker_mib']:.0f} -> {many['rss_worker_mib']:.0f} MiB for {a.memory:,} -> {N:,} samples")


if __name__ == "__main__":
    main()
