"""`rnntui export` (.npz) against `rnntui.run`, same process: what the step-Jacobian norms cost.

    python benchmarks/export.py [--repeat 3] [--sample 100]

For each case prints the run's median time, the export's (run + save) with the default (norms left
out when costly, meta.not_computed) and with --jacobian (every diag.*.jacnorm, batched Lanczos),
their ratios to the run, and the old method (each J formed, eigvalsh of J Jᵀ) timed on --sample
steps and scaled to all steps. Goal: export within about 3x of the run at LSTM H256 T5000.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rnntui
from rnntui.engine import diagnostics
from timing import median_time

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
    t0 = time.perf_counter()
    a, D = diagnostics._step_jacobian_factors(e, trace, "model.0.l0.fwd", diagnostics.ParamView(trace), 0, "fwd", steps)
    blocks = W.reshape(-1, H, H)
    for s in range(len(steps)):
        J = np.einsum("bkh,khj->bhj", D[s].reshape(D.shape[1], -1, H), blocks)
        if a is not None:
            J[:, np.arange(H), np.arange(H)] += a[s]
        np.linalg.eigvalsh(J @ J.transpose(0, 2, 1))
    return (time.perf_counter() - t0) / len(steps)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample", type=int, default=100)
    args = ap.parse_args()
    print(f"{'case':22} {'run':>8} {'export':>8} {'ratio':>6} {'--jacobian':>10} {'ratio':>6} {'old (est.)':>10} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as d:
        for kind, B, T in CASES:
            path = Path(d) / f"{kind}-{B}-{T}.yaml"
            path.write_text(scenario(kind, B, T))
            out = Path(d) / "out.npz"
            run = median_time(lambda: rnntui.run(path), args.repeat)
            default = median_time(lambda: rnntui.run(path).save(out, jacobian="auto"), args.repeat)
            full = median_time(lambda: rnntui.run(path).save(out, jacobian=True), args.repeat)
            old = old_method_per_step(rnntui.run(path), args.sample) * T + default
            label = f"{kind} B{B} H{H} T{T}"
            print(f"{label:22} {run:7.2f}s {default:7.2f}s {default / run:5.1f}x {full:9.2f}s {full / run:5.1f}x "
                  f"{old:9.1f}s {old / run:5.1f}x", flush=True)


if __name__ == "__main__":
    sys.exit(main())
