"""rnntui.run on conv2d + max pooling against torch.nn.functional.conv2d + max_pool2d, forward and
backward, in the same process; prints the median times and their ratio.

    python benchmarks/conv.py [--repeat 7]

run() includes loading the scenario (YAML, validation) and recording every map, its gradient and the
parameters; engine is the forward and backward pass alone, on the loaded scenario.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import rnntui
from timing import median_time
from rnntui.engine.context import RunContext
from rnntui.engine.network import run_network
from rnntui.scenario import load_scenario

CASES = [((1, 28, 28), 8), ((1, 28, 28), 16), ((3, 64, 64), 8), ((3, 64, 64), 16)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'case':38} {'run()':>9} {'engine':>9} {'torch':>9} {'run/torch':>9} {'engine/torch':>12}")
    with tempfile.TemporaryDirectory() as d:
        for (C, H, W), filters in CASES:
            np.save(Path(d) / "x.npy", np.random.default_rng(0).normal(size=(C, H, W)))
            path = Path(d) / "s.yaml"
            path.write_text("input: {image: x.npy}\nmodel:\n"
                            f"  - {{type: conv2d, out_channels: {filters}, kernel_size: 3, padding: 1, activation: relu}}\n"
                            "  - {type: maxpool2d, kernel_size: 2}\nloss: {kind: sum}\n")
            ours = median_time(lambda: rnntui.run(path), args.repeat)
            sc = load_scenario(path)
            ctx = RunContext.chain(sc.params)
            engine = median_time(lambda: run_network(list(sc.layout), sc.x, ctx, sc.loss, sc.target), args.repeat)
            x = torch.randn(1, C, H, W, dtype=torch.float64, requires_grad=True)
            w = torch.randn(filters, C, 3, 3, dtype=torch.float64, requires_grad=True)
            b = torch.randn(filters, dtype=torch.float64, requires_grad=True)

            def ref():
                out = F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2)
                out.sum().backward()

            theirs = median_time(ref, args.repeat)
            label = f"conv2d {C}x{H}x{W}, {filters} filters + maxpool"
            print(f"{label:38} {ours * 1e3:7.2f}ms {engine * 1e3:7.2f}ms {theirs * 1e3:7.2f}ms {ours / theirs:8.2f}x "
                  f"{engine / theirs:11.2f}x", flush=True)


if __name__ == "__main__":
    main()
