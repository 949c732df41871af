"""Training: rnntui's `train:` against the same loop in PyTorch, same process.

    python benchmarks/train.py [--iterations 100] [--repeat 1] [--threads N]

100 iterations of an LSTM and a GRU (B16, T100, H128, 16 input features, a dense head, MSE against a
target at every step), Adam with clip_grad_norm_, the whole batch each iteration. rnntui's time is
`run_scenario` of the loaded scenario: every iteration's full record (states, gates, per-step
gradients and norms) and the `train.*` numbers. PyTorch's: fused nn.LSTM / nn.GRU + nn.Linear,
forward, backward, clip_grad_norm_ and torch.optim.Adam.step. Prints seconds and rnntui / torch.
Goal: no slower than PyTorch in float64, within 2x in float32.

`--threads N` gives both libraries N threads (OpenBLAS's through threadpoolctl when it is installed, else
the OPENBLAS_NUM_THREADS the run was started with; torch.set_num_threads): on a machine busy with other
work, one thread each compares the work done rather than who won the cores.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rnntui.engine import run_scenario
from rnntui.scenario import load_scenario

B, T, I, H, OUT = 16, 100, 16, 128, 4


def scenario(kind: str, dtype: str, iterations: int) -> str:
    target = np.random.default_rng(1).normal(size=(B, T, OUT)).round(3).tolist()
    return (f"name: bench\ndtype: {dtype}\nseed: 1\n"
            f"input: {{generate: {{kind: noise, length: {T}, features: {I}, batch: {B}}}}}\n"
            f"model:\n  - {{type: {kind}, hidden_size: {H}}}\n  - {{type: dense, units: {OUT}}}\n"
            f"loss: {{kind: mse, target: {target}}}\n"
            f"train: {{iterations: {iterations}, optimizer: {{kind: adam, lr: 0.001}}, clip: {{norm: 1.0}}}}\n")


def ours(kind: str, dtype: str, iterations: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "bench.yaml"
        p.write_text(scenario(kind, dtype, iterations))
        sc = load_scenario(p)   # not timed: the inline target takes YAML a second to parse
        t = time.perf_counter()
        trace = run_scenario(sc)
        elapsed = time.perf_counter() - t
        assert trace["train.loss"].shape == (iterations,)
        return elapsed


def theirs(kind: str, dtype: str, iterations: int) -> float:
    td = getattr(torch, dtype)
    rnn = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(I, H).to(td)
    head = torch.nn.Linear(H, OUT).to(td)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=0.001)
    x = torch.randn(T, B, I, dtype=td)
    y = torch.randn(T, B, OUT, dtype=td)
    t = time.perf_counter()
    for _ in range(iterations):
        opt.zero_grad()
        out, _ = rnn(x)
        loss = torch.nn.functional.mse_loss(head(out), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return time.perf_counter() - t


def products(kind: str, dtype: str, iterations: int) -> float:
    """The floor of any step-by-step NumPy loop: only the recurrent products one iteration makes (one per step
    forward, one per step backward, as engine/families make them), nothing else."""
    from rnntui.engine.families.base import StepProduct

    rows = (4 if kind == "lstm" else 3) * H
    rng = np.random.default_rng(0)
    W = rng.normal(size=(rows, H)).astype(dtype)
    forward, backward = StepProduct(W, B), StepProduct(W.T, B)
    h, dz = rng.normal(size=(B, H)).astype(dtype), rng.normal(size=(B, rows)).astype(dtype)
    t = time.perf_counter()
    for _ in range(iterations * T):
        forward(h)
        backward(dz)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits
            threadpool_limits(args.threads)
        except ImportError:
            print("threadpoolctl is not installed: OpenBLAS keeps the threads OPENBLAS_NUM_THREADS gives it")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; B{B} T{T} H{H}, "
          f"{args.iterations} iterations, Adam + clip_grad_norm_")
    print("'products': the recurrent products alone (2T per iteration), the floor of a step-by-step NumPy loop")
    print(f"{'case':16} {'rnntui s':>9} {'torch s':>9} {'ratio':>7} {'products s':>11} {'products/torch':>15}")
    for dtype in ("float64", "float32"):
        for kind in ("lstm", "gru"):
            a = min(ours(kind, dtype, args.iterations) for _ in range(args.repeat))
            b = min(theirs(kind, dtype, args.iterations) for _ in range(args.repeat))
            c = min(products(kind, dtype, args.iterations) for _ in range(args.repeat))
            print(f"{kind + ' ' + dtype:16} {a:9.2f} {b:9.2f} {a / b:7.2f}x {c:11.2f} {c / b:14.2f}x", flush=True)


if __name__ == "__main__":
    main()
