"""`rnntui export` (.npz) against `rnntui.run`, same process: what the step-Jacobian norms cost.

    python benchmarks/export.py [--repeat 3] [--sample 100] [--only lstm] [--batch 1] [--cpu] [--threads 2]

For each case prints the run's median time, the export's (run + save) with the default (norms left
out when costly, meta.not_computed) and with --jacobian (every diag.*.jacnorm: a float32 Lanczos
phase, then a float64 one that certifies; engine/spectral.py) as rnntui runs it (computed alongside the run from
its first segment, on Linux in a child process: engine/norms_stream.py; one chunk at a time while the run goes
on, then up to spectral.WORKERS, 2, the second only while the load average leaves a core free:
spectral.spare_workers) and on one worker, their ratios to the run, the Jacobian norms alone (diag.*.jacnorm
read on a fresh run, default threads) against the run, and the old method (each J formed, eigvalsh of J Jᵀ) timed on --sample steps and
scaled to all steps. Goal (issue 23): --jacobian within 2x of the run at LSTM H256 T5000. --cpu: CPU time
(every thread's, and the child process's that computed the norms, once it has been waited for) instead of wall
time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rnntui
from rnntui.blas import one_thread
from rnntui.engine import diagnostics, spectral

CASES = [("lstm", 1, 5000), ("lstm", 32, 64), ("gru", 1, 5000), ("gru", 32, 64)]
H, I = 256, 64


def scenario(kind: str, B: int, T: int) -> str:
    return (f"name: bench\ninput: {{generate: {{kind: noise, length: {T}, features: {I}, batch: {B}}}}}\n"
            f"model:\n  - {{type: {kind}, hidden_size: {H}}}\nloss: {{kind: sum}}\n")


def old_method_per_step(trace, sample: int) -> float:
    """Seconds per step of the former exact path: form J, eigvalsh(J Jᵀ)."""
    e = trace.info.entries[0]
    W = trace["param.0.weight_hh_l0"]
    steps = np.linspace(0, trace.info.T - 1, min(sample, trace.info.T)).astype(int)
    t0 = CLOCK()
    place = next(p for p in trace.info.places if p.layer is not None)
    a, D = e.family.jacobian_factors(e, trace, place, diagnostics.ParamView(trace), steps)
    blocks = W.reshape(-1, H, H)
    for s in range(len(steps)):
        J = np.einsum("bkh,khj->bhj", D[s].reshape(D.shape[1], -1, H), blocks)
        if a is not None:
            J[:, np.arange(H), np.arange(H)] += a[s]
        np.linalg.eigvalsh(J @ J.transpose(0, 2, 1))
    return (CLOCK() - t0) / len(steps)


def jacnorms(trace) -> None:
    """Every diag.*.jacnorm of *trace*."""
    for key in [k for k in trace if k.endswith(".jacnorm")]:
        trace[key]


CLOCK = time.perf_counter   # --cpu: cpu_time (one BLAS thread: the processes' CPU is the work's)


def cpu_time() -> float:
    """This process's CPU time and its waited-for children's (the norms' child process, engine/norms_stream.py)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(fn) -> tuple[float, object]:
    t0 = CLOCK()
    out = fn()
    return CLOCK() - t0, out


def paired(path: Path, out: Path, repeat: int) -> dict[str, list[float]]:
    """Each round: the run, then each export and the Jacobian norms alone (on a run made untimed), one after the
    other, so a round's ratios share the machine's load (this machine is shared: absolute times drift 3x)."""
    rounds: dict[str, list[float]] = {"run": [], "export": [], "--jacobian": [], "1 thread": [], "jacnorm": []}
    rnntui.run(path)  # warm up
    workers = spectral.WORKERS
    for _ in range(repeat):
        run, _ = timed(lambda: rnntui.run(path))
        rounds["run"].append(run)
        rounds["export"].append(timed(lambda: rnntui.run(path).save(out, jacobian="auto"))[0] / run)
        # as `rnntui export --jacobian` runs it: the norms computed alongside the backward pass, then while the
        # rest of the file is written
        rounds["--jacobian"].append(timed(lambda: rnntui.run(path, jacobian=True).save(out, jacobian=True))[0] / run)
        spectral.WORKERS = 1
        try:
            rounds["1 thread"].append(timed(lambda: rnntui.run(path, jacobian=True).save(out, jacobian=True))[0] / run)
        finally:
            spectral.WORKERS = workers
        trace = rnntui.run(path)
        rounds["jacnorm"].append(timed(lambda: jacnorms(trace))[0] / run)
    return rounds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample", type=int, default=100)
    ap.add_argument("--only", default=None, help="a family: lstm or gru")
    ap.add_argument("--batch", type=int, default=None, help="only the cases of this batch size (1: the T=5000 ones)")
    ap.add_argument("--cpu", action="store_true", help="CPU time instead of wall time (less drift on a shared machine)")
    ap.add_argument("--threads", type=int, default=None, help="the --jacobian column's threads whatever the load "
                    "(default: rnntui's rule, spectral.spare_workers)")
    args = ap.parse_args()
    if args.threads:
        spectral.WORKERS = args.threads
        spectral.spare_workers = lambda cap: cap
    global CLOCK
    if args.cpu:
        CLOCK = cpu_time
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {'CPU' if args.cpu else 'wall'} time; ratios "
          f"to the run of the same round, median of {args.repeat} rounds [range]; --jacobian on "
          + (f"{args.threads} thread(s) (--threads)" if args.threads else f"up to {spectral.WORKERS} thread(s) (now "
             f"{spectral.spare_workers(spectral.WORKERS)}: the load leaves that many)") + ", then on 1")
    print(f"{'case':22} {'run':>7} {'export':>17} {'--jacobian':>17} {'1 thread':>17} {'jacnorm alone':>17} "
          f"{'old (est.)':>10}")
    # every rnntui command runs its linear algebra on one BLAS thread (rnntui/blas.py): so does every timing here
    with tempfile.TemporaryDirectory() as d, one_thread():
        for kind, B, T in CASES:
            if (args.only and kind != args.only) or (args.batch is not None and B != args.batch):
                continue
            path = Path(d) / f"{kind}-{B}-{T}.yaml"
            path.write_text(scenario(kind, B, T))
            r = paired(path, Path(d) / "out.npz", args.repeat)
            run = statistics.median(r["run"])
            old = old_method_per_step(rnntui.run(path), args.sample) * T / run + statistics.median(r["export"]) \
                if args.sample else float("nan")

            def col(name: str) -> str:
                v = r[name]
                return f"{statistics.median(v):5.2f}x [{min(v):.2f}..{max(v):.2f}]"

            label = f"{kind} B{B} H{H} T{T}"
            print(f"{label:22} {run:6.2f}s {col('export'):>17} {col('--jacobian'):>17} {col('1 thread'):>17} "
                  f"{col('jacnorm'):>17} {old:9.1f}x", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    sys.exit(main())
