"""Training: rnntui's replay of `train:` against the same loop in PyTorch, in the same process.

    python benchmarks/train.py [--iterations 100] [--repeat 3] [--threads 1] [--cases lstm,rnn,gru]

100 iterations of an LSTM, a tanh RNN and a GRU (B16, T100, H128, 16 input features, a dense head, MSE
against a target at every step), Adam with clipping at norm 1, the whole batch each iteration.

rnntui's time is `run_scenario` of the loaded scenario (the disk cache of replays off: every run trains):
every iteration's `train.*` numbers and the full record of the last few. PyTorch's is its own loop on the same
input, target and starting weights (nn.LSTM / nn.RNN / nn.GRU + nn.Linear, forward, mse_loss, backward,
clip_grad_norm_, torch.optim.Adam.step); the two runs' last losses are printed as a check that they are the
same computation (float64: equal to ~1e-12).

Two rnntui paths are timed when numba is installed (`pip install 'rnntui[fast]'`): `numpy`, the reference
(RNNTUI_FUSED=off), and `fused`, the step loops as numba kernels (rnntui/engine/families/fused). The fused
kernels' compile time is not in the fused column: it is printed apart (`compile`, the first run of a
one-iteration replay in this process: a compile, or a load from numba's on-disk cache of an earlier run).

One thread each by default (`--threads`): OpenBLAS through threadpoolctl (rnntui.blas, as every rnntui
command), torch.set_num_threads; on a machine busy with other work that compares the work done rather than
who won the cores. The seconds are the process's CPU time (time.process_time: with one thread, the work done,
not the time spent waiting for a core on a loaded machine). Goal (issue 22): float64 no slower than PyTorch,
float32 within 2x.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ["RNNTUI_CACHE_DIR"] = "off"   # every run trains: a cached replay would open at once

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rnntui.engine import run_scenario  # noqa: E402
from rnntui.scenario import load_scenario  # noqa: E402

B, T, I, H, OUT = 16, 100, 16, 128, 4
KINDS = {"lstm": torch.nn.LSTM, "rnn": torch.nn.RNN, "gru": torch.nn.GRU}


def scenario(kind: str, dtype: str, iterations: int) -> str:
    target = np.random.default_rng(1).normal(size=(B, T, OUT)).round(3).tolist()
    return (f"name: bench\ndtype: {dtype}\nseed: 1\n"
            f"input: {{generate: {{kind: noise, length: {T}, features: {I}, batch: {B}}}}}\n"
            f"model:\n  - {{type: {kind}, hidden_size: {H}}}\n  - {{type: dense, units: {OUT}}}\n"
            f"loss: {{kind: mse, target: {target}}}\n"
            f"train: {{iterations: {iterations}, optimizer: {{kind: adam, lr: 0.001}}, clip: {{norm: 1.0}}}}\n")


def load(kind: str, dtype: str, iterations: int):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "bench.yaml"
        p.write_text(scenario(kind, dtype, iterations))
        return load_scenario(p)   # not timed: the inline target takes YAML a second to parse


def ours(sc, fused: bool) -> tuple[float, float]:
    """(seconds, last loss) of the replay, on the NumPy path or the fused one."""
    os.environ["RNNTUI_FUSED"] = "auto" if fused else "off"
    t = time.process_time()
    trace = run_scenario(sc)
    elapsed = time.process_time() - t
    assert trace["train.loss"].shape == (sc.train.iterations,)
    return elapsed, float(trace["train.loss"][-1])


def theirs(kind: str, sc) -> tuple[float, float]:
    """(seconds, last loss) of the same training in PyTorch: same input, target and starting weights."""
    td = getattr(torch, sc.dtype)
    rnn = KINDS[kind](I, H).to(td)
    head = torch.nn.Linear(H, OUT).to(td)
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            p.copy_(torch.from_numpy(np.asarray(sc.params[f"0.{name}"])))
        head.weight.copy_(torch.from_numpy(np.asarray(sc.params["1.weight"])))
        head.bias.copy_(torch.from_numpy(np.asarray(sc.params["1.bias"])))
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=0.001)
    x = torch.from_numpy(np.ascontiguousarray(sc.x)).to(td)
    y = torch.from_numpy(np.ascontiguousarray(sc.target)).to(td)
    t = time.process_time()
    for _ in range(sc.train.iterations):
        opt.zero_grad()
        out, _ = rnn(x)
        loss = torch.nn.functional.mse_loss(head(out), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    elapsed = time.process_time() - t
    # the loss the last iteration computed, before its update (what train.loss[-1] is)
    return elapsed, float(loss.detach())


def fused_available() -> bool:
    try:
        from rnntui.engine.families import fused
    except ImportError:
        return False
    return fused.available()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs of each, interleaved")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", default="lstm,rnn,gru")
    ap.add_argument("--dtypes", default="float64,float32")
    args = ap.parse_args()
    from rnntui.blas import one_thread
    from rnntui import blas
    torch.set_num_threads(args.threads)
    blas.BLAS_THREADS = args.threads
    one_thread()   # for the whole process, as the rnntui command does
    fused = fused_available()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; B{B} T{T} H{H}, "
          f"{args.iterations} iterations, Adam + clip_grad_norm_, best of {args.repeat}; load: {os.getloadavg()}")
    if fused:
        import numba
        print(f"fused: numba {numba.__version__}; 'compile': the first fused run in this process (1 iteration), "
              "not counted in 'fused s'")
    else:
        print("fused: numba is not installed (pip install 'rnntui[fast]'): the NumPy path alone")
    print(f"{'case':16} {'torch s':>8} {'numpy s':>8} {'ratio':>7} {'fused s':>8} {'ratio':>7} {'compile s':>9}"
          f"   last loss: torch / numpy / fused")
    for dtype in args.dtypes.split(","):
        for kind in args.cases.split(","):
            sc = load(kind, dtype, args.iterations)
            compile_s = ours(load(kind, dtype, 1), True)[0] if fused else float("nan")
            runs = []   # interleaved, so that a change in the machine's load falls on all three alike
            for _ in range(args.repeat):
                runs.append((theirs(kind, sc), ours(sc, False), ours(sc, True) if fused else (float("nan"),) * 2))
            (b, lb), (a, la), (c, lc) = (min(r[i] for r in runs) for i in range(3))
            print(f"{kind + ' ' + dtype:16} {b:8.2f} {a:8.2f} {a / b:6.2f}x {c:8.2f} {c / b:6.2f}x {compile_s:9.2f}"
                  f"   {lb:.12g} / {la:.12g} / {lc:.12g}", flush=True)
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
