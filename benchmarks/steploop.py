"""Microseconds a step of the recurrent loops, beside the matrix-product floor, measured in one run.

    python benchmarks/steploop.py [--repeat 5] [--T 1000] [--base /tmp/driver-base]

For each family (rnn, lstm, gru) at H=16 and H=256 (B=1, 16 input features, float64):

- `fwd+bwd`: one direction's forward and backward (the family's `forward` and `backward`, with its
  weight gradients), per step;
- `run`: the whole `rnntui.run` of a one-entry scenario (loading, the loss, every record and per-step
  norm), per step;
- `floor`: the two matrix products a step cannot avoid (W_hh h forward, W_hhᵀ dZ backward), each one
  `np.matmul` into a preallocated buffer in a Python loop: what a step costs with nothing else.

Each is the least CPU time (time.process_time) of --repeat runs: the machine is shared, and wall time
counts the others' work too.

`--base DIR` measures a second checkout (e.g. `git worktree add --detach /tmp/driver-base main`) in the same
run, alternating with this one case by case (--rounds times, the least of each kept), so the ratio new/base
is not skewed by the machine's load.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("rnn", "lstm", "gru")
SIZES = (16, 256)


def measure(kind: str, H: int, T: int, repeat: int) -> dict:
    """The three timings of one case, in this process (the checkout on sys.path first)."""
    import numpy as np

    import rnntui
    from rnntui.blas import one_thread
    from rnntui.engine.families import family

    def best(fn, repeat):
        """The least CPU time of *repeat* runs after a warm-up (on a shared machine, wall time measures the
        others' work too)."""
        import time

        fn()
        times = []
        for _ in range(repeat):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
        return min(times)

    fam = family(kind)
    rng = np.random.default_rng(0)
    B, D = 1, 16
    g = fam.n_blocks
    p = {"weight_ih": rng.normal(0, H ** -0.5, (g * H, D)), "weight_hh": rng.normal(0, H ** -0.5, (g * H, H)),
         "bias_ih": rng.normal(0, 0.1, g * H), "bias_hh": rng.normal(0, 0.1, g * H)}
    x = rng.normal(size=(T, B, D))
    dh = rng.normal(size=(T, B, H))

    class Entry:
        nonlinearity = "tanh"

    def loop():
        run = fam.forward(Entry, x, p, reverse=False)
        fam.backward(Entry, x, p, run, dh, reverse=False)

    W, Wt = np.ascontiguousarray(p["weight_hh"]), np.ascontiguousarray(p["weight_hh"].T)
    h, dz = rng.normal(size=(H, B)), rng.normal(size=(g * H, B))
    out_f, out_b = np.empty((g * H, B)), np.empty((H, B))

    def floor():
        for _ in range(T):
            np.matmul(W, h, out=out_f)
        for _ in range(T):
            np.matmul(Wt, dz, out=out_b)

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.yaml"
        path.write_text(f"name: bench\ninput: {{generate: {{kind: noise, length: {T}, features: {D}, batch: {B}}}}}\n"
                        f"model:\n  - {{type: {kind}, hidden_size: {H}}}\nloss: {{kind: sum}}\n")
        with one_thread():
            return {"loop": best(loop, repeat) / T * 1e6, "run": best(lambda: rnntui.run(path), repeat) / T * 1e6,
                    "floor": best(floor, repeat) / T * 1e6}


def in_checkout(root: str, kind: str, H: int, T: int, repeat: int) -> dict:
    """`measure` in a fresh process with *root* first on the path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, str(HERE)]))
    code = (f"import json, sys; sys.path[:0] = [{root!r}, {str(HERE)!r}]; import steploop; "
            f"print(json.dumps(steploop.measure({kind!r}, {H}, {T}, {repeat})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--T", type=int, default=1000)
    ap.add_argument("--base", help="a second checkout measured in the same run")
    ap.add_argument("--rounds", type=int, default=3, help="alternations of the two checkouts a case (the least kept)")
    args = ap.parse_args()
    here = str(HERE.parent)
    print(f"load: {os.getloadavg()[0]:.2f}; µs a step (B1, I16, float64, T{args.T}, one BLAS thread)")
    head = f"{'case':12} {'fwd+bwd':>8} {'run':>8} {'floor':>7} {'x floor':>8}"
    if args.base:
        head += f" | {'base f+b':>8} {'base run':>8} {'floor':>7} {'new/base':>9}"
    print(head)
    for kind in KINDS:
        for H in SIZES:
            rounds = [(in_checkout(here, kind, H, args.T, args.repeat),
                       in_checkout(args.base, kind, H, args.T, args.repeat) if args.base else None)
                      for _ in range(args.rounds if args.base else 1)]
            new = {k: min(r[0][k] for r in rounds) for k in rounds[0][0]}
            line = (f"{kind} H{H:<5} {new['loop']:8.1f} {new['run']:8.1f} {new['floor']:7.1f} "
                    f"{new['loop'] / new['floor']:7.1f}x")
            if args.base:
                base = {k: min(r[1][k] for r in rounds) for k in rounds[0][1]}
                line += (f" | {base['loop']:8.1f} {base['run']:8.1f} {base['floor']:7.1f} "
                         f"{new['loop'] / base['loop']:5.2f} f+b {new['run'] / base['run']:4.2f} run")
            print(line, flush=True)


if __name__ == "__main__":
    main()
