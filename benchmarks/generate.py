"""A generator (`feed: output`, run step by step) against the same model with `feed: zeros` (the
whole-sequence path) and against a PyTorch LSTMCell loop feeding out[t-1] back, forward and backward,
in the same process; prints the median times and their ratios.

    python benchmarks/generate.py [--repeat 5]

engine: network.run_network on the loaded scenario (forward, loss, backward and every record).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from timing import median_time
from rnntui.engine.context import RunContext
from rnntui.engine.network import run_network
from rnntui.scenario import load_scenario

CASES = [(100, 8, 32), (500, 32, 64), (200, 1, 256)]  # (steps, batch, hidden)
D = 8


def torch_loop(T, B, H):
    cells = [torch.nn.LSTMCell(D, H).double(), torch.nn.LSTMCell(H, H).double()]
    fc = torch.nn.Linear(H, D).double()
    x0 = torch.randn(B, D, dtype=torch.float64)

    def run():
        x, state = x0, [None, None]
        total = 0
        for _ in range(T):
            inp = x
            for j, cell in enumerate(cells):
                state[j] = cell(inp, state[j])
                inp = state[j][0]
            x = torch.tanh(fc(inp))
            total = total + x.sum()
        total.backward()
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; a 2-layer LSTM and a dense head, D={D}")
    print(f"{'case':24} {'zeros':>9} {'output':>9} {'torch':>9} {'output/zeros':>12} {'output/torch':>12}")
    with tempfile.TemporaryDirectory() as d:
        for T, B, H in CASES:
            times = {}
            for feed in ("zeros", "output"):
                path = Path(d) / f"{feed}.yaml"
                path.write_text(json.dumps({
                    "mode": "one-to-many", "length": T, "feed": feed,
                    "input": {"batch": np.random.default_rng(0).normal(size=(B, 1, D)).tolist()},
                    "model": [{"type": "lstm", "hidden_size": H, "num_layers": 2},
                              {"type": "dense", "units": D, "activation": "tanh"}], "loss": {"kind": "sum"}}))
                sc = load_scenario(path)
                times[feed] = median_time(lambda: run_network(list(sc.layout), sc.x, RunContext.chain(sc.params), sc.loss, sc.target,
                                                              feed=sc.feed), args.repeat)
            theirs = median_time(torch_loop(T, B, H), args.repeat)
            label = f"T={T} B={B} H={H}"
            print(f"{label:24} {times['zeros'] * 1e3:7.1f}ms {times['output'] * 1e3:7.1f}ms {theirs * 1e3:7.1f}ms "
                  f"{times['output'] / times['zeros']:11.2f}x {times['output'] / theirs:11.2f}x", flush=True)


if __name__ == "__main__":
    main()
