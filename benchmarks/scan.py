"""`rnntui scan` throughput: samples a second with 1 and with N worker processes, on the same data set, and
the ratio against N x the single process (the target: at least 0.8). The reference is measured in the
same run.

    python benchmarks/scan.py [--samples 2000] [--steps 100] [--hidden 128] [--workers 2]

A data set of LSTM-sized work is written to a temporary folder: N sequences of T steps and 8 features, an
LSTM of H units, many-to-one cross-entropy. Memory: the peak RSS of the main process is printed before and
after, and is flat in N (no trace is kept).
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    from rnntui.samples import scan

    folder = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    np.savez(folder / "d.npz", x=rng.normal(size=(a.samples, a.steps, 8)),
             lengths=rng.integers(a.steps // 2, a.steps + 1, size=a.samples), target=rng.integers(0, 4, a.samples))
    (folder / "s.yaml").write_text(f"""version: 1
mode: many-to-one
input: {{dataset: d.npz}}
model:
  - {{type: lstm, hidden_size: {a.hidden}}}
  - {{type: dense, units: 4}}
loss: {{kind: cross_entropy}}
""")
    path = str(folder / "s.yaml")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    one = scan(path, workers=1)
    single = len(one.rows) / (time.perf_counter() - t)
    t = time.perf_counter()
    many = scan(path, workers=a.workers)
    multi = len(many.rows) / (time.perf_counter() - t)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert many.rows == one.rows
    print(f"N={a.samples} T={a.steps} H={a.hidden}: 1 process {single:.1f} samples/s, {a.workers} workers "
          f"{multi:.1f} samples/s; ratio to {a.workers} x single: {multi / (a.workers * single):.2f} (target >= 0.8); "
          f"peak RSS {rss0:.0f} -> {rss1:.0f} MiB; the two tables identical")


if __name__ == "__main__":
    main()
