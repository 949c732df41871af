"""rnntui.run against PyTorch's fused nn.LSTM / nn.GRU forward + backward, same process.

    python benchmarks/engine.py [--repeat 5]

Prints the median time of each and the ratio rnntui / torch. rnntui's time includes loading the
scenario and recording the full trace (every state, gate, per-step gradient and norm).
Goal for B1 I64 H256 T1000: at most 0.35x torch in float64 and 1.5x in float32.
"""
from __future__ import annotations

import argparse
import tempfile
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'case':34} {'rnntui':>9} {'torch':>9} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as d:
        for kind in ("lstm", "gru"):
            for dtype in ("float64", "float32"):
                for B, I, H, T in CASES:
                    path = Path(d) / f"{kind}-{dtype}-{B}-{T}.yaml"
                    path.write_text(scenario(kind, B, I, H, T, dtype))
                    ours = median_time(lambda: rnntui.run(path), args.repeat)
                    ref = median_time(torch_fn(kind, B, I, H, T, dtype), args.repeat)
                    label = f"{kind} {dtype} B{B} I{I} H{H} T{T}"
                    print(f"{label:34} {ours * 1e3:8.1f}ms {ref * 1e3:8.1f}ms {ours / ref:6.2f}x", flush=True)


if __name__ == "__main__":
    main()
