"""from_torch on a big model: an 877k-parameter character LSTM (Embedding(65, 64), LSTM(64, 256, 2 layers),
Linear(256, 65); T=50, B=4, cross_entropy), float32.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/from_torch.py [--profile]

Prints: from_torch's time; the engine's own run of the same scenario (loaded from the saved text and its
weights file, run, its output read: what from_torch does after reading the module);
their ratio (the issue's bound: at most 5x); and, for weights of 5 MB, loading a scenario with them
inline against the same weights from a .safetensors beside it. --profile: cProfile's top functions of
one from_torch call.
"""
from __future__ import annotations

import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import rnntui
from rnntui.engine import run_scenario
from rnntui.scenario.loader import load_scenario


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(65, 64)
        self.rnn = nn.LSTM(64, 256, 2, batch_first=True)
        self.fc = nn.Linear(256, 65)

    def forward(self, x):
        return self.fc(self.rnn(self.emb(x))[0])


class Big(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 320, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0]


def best(fn, n=3):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    torch.manual_seed(0)
    model = CharLSTM()
    x = torch.randint(0, 65, (4, 50))
    y = torch.randint(0, 65, (4, 50))
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
    trace = rnntui.from_torch(model, x, loss="cross_entropy", target=y)
    folder = Path(tempfile.mkdtemp())
    trace.save_scenario(folder / "char.yaml")

    def engine():   # what from_torch does after reading the module: load the scenario, run it, read the output
        t = run_scenario(load_scenario(folder / "char.yaml"))
        np.asarray(t["output"])

    t_from = best(lambda: rnntui.from_torch(model, x, loss="cross_entropy", target=y))
    t_engine = best(engine)
    print(f"from_torch: {t_from:.2f} s; engine run of the same scenario: {t_engine:.2f} s; ratio {t_from / t_engine:.1f}x")

    # 5 MB of weights: inline (YAML) against .safetensors beside the scenario
    big = Big()   # 4*320*(8+320) + 8*320 = 422,400 numbers
    xs = torch.randn(1, 5, 8)
    tb = rnntui.from_torch(big, xs)
    tb.save_scenario(folder / "file.yaml")
    from rnntui.torch_bridge import text as text_mod

    keep, text_mod.INLINE_PARAMS = text_mod.INLINE_PARAMS, 10**12
    try:
        rnntui.from_torch(big, xs).save_scenario(folder / "inline.yaml")
    finally:
        text_mod.INLINE_PARAMS = keep
    size = (folder / "inline.yaml").stat().st_size
    t_file = best(lambda: load_scenario(folder / "file.yaml"))
    t_inline = best(lambda: load_scenario(folder / "inline.yaml"), n=1)
    print(f"load, {size / 1e6:.1f} MB inline: {t_inline:.2f} s; the same from .safetensors: {t_file:.3f} s; "
          f"ratio {t_inline / t_file:.0f}x")

    if "--profile" in sys.argv:
        prof = cProfile.Profile()
        prof.enable()
        rnntui.from_torch(model, x, loss="cross_entropy", target=y)
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    main()
