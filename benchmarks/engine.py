"""rnntui.run against PyTorch's fused nn.LSTM / nn.GRU forward + backward, same process.

    python benchmarks/engine.py [--repeat 5] [--base /tmp/driver-base] [--no-torch]

Prints the median time of each and the ratio rnntui / torch. rnntui's time includes loading the
scenario and recording the full trace (every state, gate, per-step gradient and norm).
Goal for B1 I64 H256 T1000: at most 0.35x torch in float64 and 1.5x in float32.

`--base DIR` also runs rnntui.run from a second checkout (e.g. `git worktree add --detach /tmp/base main`),
case by case in fresh processes alternating with this one, and prints both in CPU seconds (the least
process time of the repeats: on a shared machine wall time counts the others' work) with the ratio
new/base. `--no-torch` leaves torch out (its threads make it the noisiest number on a loaded machine).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import rnntui
from timing import median_time

CASES = [(1, 64, 256, 1000), (16, 64, 256, 200)]


def scenario(kind: str, B: int, I: int, H: int, T: int, dtype: str) -> str:
    return (
        f"name: bench\ndtype: {dtype}\ninput: {{generate: {{kind: noise, length: {T}, features: {I}, batch: {B}}}}}\n"
        f"model:\n  - {{type: {kind}, hidden_size: {H}}}\nloss: {{kind: sum}}\n"
    )




def torch_fn(kind: str, B: int, I: int, H: int, T: int, dtype: str):
    tdtype = getattr(torch, dtype)
    mod = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(I, H).to(tdtype)
    x = torch.randn(T, B, I, dtype=tdtype)

    def run():
        mod.zero_grad()
        out, _ = mod(x)
        out.sum().backward()

    return run


def cpu_time(path: str, repeat: int) -> float:
    """The least process time of *repeat* runs of rnntui.run(path) after a warm-up, in this process."""
    rnntui.run(path)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        rnntui.run(path)
        best = min(best, time.process_time() - t0)
    return best


def cpu_time_in(root: str, path: str, repeat: int) -> float:
    """`cpu_time` in a fresh process with the checkout *root* first on the path."""
    here = str(Path(__file__).resolve().parent)
    code = (f"import sys; sys.path[:0] = [{root!r}, {here!r}]; import json, engine; "
            f"print(json.dumps(engine.cpu_time({path!r}, {repeat})))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, here]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--base", help="a second checkout whose rnntui.run is measured in the same run")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    root = str(Path(__file__).resolve().parent.parent)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; load {os.getloadavg()[0]:.2f}")
    head = f"{'case':34} {'rnntui':>9}"
    head += "" if args.no_torch else f" {'torch':>9} {'ratio':>7}"
    head += "" if not args.base else f" | {'new cpu':>8} {'base cpu':>8} {'new/base':>8}"
    print(head)
    with tempfile.TemporaryDirectory() as d:
        for kind in ("lstm", "gru"):
            for dtype in ("float64", "float32"):
                for B, I, H, T in CASES:
                    path = Path(d) / f"{kind}-{dtype}-{B}-{T}.yaml"
                    path.write_text(scenario(kind, B, I, H, T, dtype))
                    ours = median_time(lambda: rnntui.run(path), args.repeat)
                    label = f"{kind} {dtype} B{B} I{I} H{H} T{T}"
                    line = f"{label:34} {ours * 1e3:8.1f}ms"
                    if not args.no_torch:
                        ref = median_time(torch_fn(kind, B, I, H, T, dtype), args.repeat)
                        line += f" {ref * 1e3:8.1f}ms {ours / ref:6.2f}x"
                    if args.base:
                        new = cpu_time_in(root, str(path), args.repeat)
                        base = cpu_time_in(args.base, str(path), args.repeat)
                        line += f" | {new * 1e3:6.1f}ms {base * 1e3:6.1f}ms {new / base:7.2f}x"
                    print(line, flush=True)


if __name__ == "__main__":
    main()
