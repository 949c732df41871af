"""from_torch on a big model: a 1.04M-parameter character LSTM language model (Embedding(65, 64), LSTM(64, 280,
2 layers), Linear(280, 65); T=50, B=4, cross_entropy), float32.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/from_torch.py [--profile]

Prints: from_torch's time; the engine's own run of the same scenario (loaded from the saved text and its
weights file, run, its output read: what from_torch does after reading the module);
their ratio (the issue's bound: at most 5x); and, for weights of 5 MB and 9 MB of text, loading a scenario
with them inline against the same weights from a .safetensors beside it (the issue's bound: at most 3x), with
the compiled scan of number lists (scenario/number_kernel.py, numba) where it runs and with the NumPy scan.
--slow: also the YAML reader without its fast path for number lists (tens of seconds). --profile: cProfile's
top functions of one from_torch call.
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
    def __init__(self, hidden: int = 280):   # 1,039,393 parameters (256: 876,929)
        super().__init__()
        self.emb = nn.Embedding(65, 64)
        self.rnn = nn.LSTM(64, hidden, 2, batch_first=True)
        self.fc = nn.Linear(hidden, 65)

    def forward(self, x):
        return self.fc(self.rnn(self.emb(x))[0])


class Big(nn.Module):
    def __init__(self, hidden: int = 320):
        super().__init__()
        self.rnn = nn.LSTM(8, hidden, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0]


def best(fn, n=3, clock=time.perf_counter):
    times = []
    for _ in range(n):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)   # as rnntui's own BLAS: on a shared machine torch's threads fight the others
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

    # weights of 5 MB of text (and of 9 MB): inline (YAML) against .safetensors beside the scenario
    from rnntui.scenario import fast_numbers
    from rnntui.scenario.yaml_source import load_yaml
    from rnntui.torch_bridge import text as text_mod

    for hidden in (230, 320):   # 4*H*(8+H) + 8*H numbers: 220,800 and 422,400
        big = Big(hidden)
        xs = torch.randn(1, 5, 8)
        rnntui.from_torch(big, xs).save_scenario(folder / f"file{hidden}.yaml")
        keep, text_mod.INLINE_PARAMS = text_mod.INLINE_PARAMS, 10**12
        try:
            rnntui.from_torch(big, xs).save_scenario(folder / f"inline{hidden}.yaml")
        finally:
            text_mod.INLINE_PARAMS = keep
        inline = folder / f"inline{hidden}.yaml"
        size = inline.stat().st_size
        n = sum(p.numel() for p in big.parameters())
        t_file = best(lambda: load_scenario(folder / f"file{hidden}.yaml"), n=5)
        t_inline = best(lambda: load_scenario(inline), n=5)
        text = inline.read_text()
        t_yaml = best(lambda: load_yaml(text, "x", arrays=(("weights", "set"),)), n=3)   # as the loader reads it
        keep, fast_numbers.COMPILED_MIN_BYTES = fast_numbers.COMPILED_MIN_BYTES, 10**12
        try:   # the NumPy scan: what loads without numba (or with RNNTUI_FUSED=off)
            t_numpy = best(lambda: load_scenario(inline), n=5)
        finally:
            fast_numbers.COMPILED_MIN_BYTES = keep
        # the same in CPU time (this thread's): on a shared machine the wall clock also counts the time other jobs
        # held the core, which the longer load suffers more
        c_file = best(lambda: load_scenario(folder / f"file{hidden}.yaml"), n=5, clock=time.thread_time)
        c_inline = best(lambda: load_scenario(inline), n=5, clock=time.thread_time)
        scan = "compiled scan" if fast_numbers._kernel(size) is not None else "NumPy scan (no numba)"
        print(f"load, {n:,} numbers, {size / 1e6:.1f} MB inline ({scan}): {t_inline * 1000:.1f} ms (of which the YAML "
              f"reader {t_yaml * 1000:.1f} ms); the same from .safetensors: {t_file * 1000:.1f} ms; ratio "
              f"{t_inline / t_file:.2f}x (CPU time {c_inline * 1000:.1f} / {c_file * 1000:.1f} ms: "
              f"{c_inline / c_file:.2f}x); with the NumPy scan {t_numpy * 1000:.0f} ms, {t_numpy / t_file:.1f}x")
        if "--slow" in sys.argv:   # ruamel reading every number, as before scenario/fast_numbers.py
            t_slow = best(lambda: load_yaml(text, "x", fast=False), n=1)
            print(f"  the YAML reader without the fast path: {t_slow:.1f} s")

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
