"""What-if: recomputing a recorded trace from the intervened step (`what_if(trace, items)`) against a full
recompute of the same run (`what_if(trace, items, resume=False)`), in the same process; prints median
times, their ratio, and whether the two traces agree to the bit.

    python benchmarks/whatif.py [--repeat 5] [--steps 5000]

The intervention is late (at 90% of the steps) on the first sub-layer's forward direction; both sides
run the full backward pass, the loss and the records (diagnostics stay lazy on both).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from timing import median_time
import rnntui
from rnntui.engine import network
from rnntui.engine.context import RunContext
from rnntui.engine.whatif import Plan, _inputs, check, what_if

MODELS = [  # (label, recurrent entry)
    ("rnn H=64", {"type": "rnn", "hidden_size": 64}),
    ("gru H=64", {"type": "gru", "hidden_size": 64}),
    ("lstm H=64", {"type": "lstm", "hidden_size": 64}),
    ("lstm H=32, 2 layers, bidirectional", {"type": "lstm", "hidden_size": 32, "num_layers": 2, "bidirectional": True}),
]


def same(a, b) -> bool:
    return all(np.asarray(a[k]).tobytes() == np.asarray(b[k]).tobytes() for k in a if a.is_computed(k))


def forward_only(base, items, resume: bool):
    """The forward pass alone (where the resume saves its time; backward runs in full on both sides)."""
    info = base.info
    plan = Plan(check(items, info), info.entries, base if resume else None, ())
    x, params, _, lengths, initial = _inputs(base)
    ctx = RunContext.chain(params, lengths, initial=initial, plan=plan)
    return lambda: network.Walk(list(info.entries), ctx).forward(x, {})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5000)
    args = ap.parse_args()
    T, B = args.steps, 4
    t_int = int(T * 0.9)
    print(f"T={T}, B={B}, intervention at step {t_int}: h of unit 0 set to 0")
    print(f"{'model':38} {'full (s)':>9} {'resumed (s)':>12} {'speed-up':>9}  {'forward only':>12}  bit-equal")
    with tempfile.TemporaryDirectory() as tmp:
        for label, entry in MODELS:
            doc = {"version": 1, "input": {"generate": {"kind": "noise", "length": T, "features": 8, "batch": B}},
                   "model": [entry, {"type": "dense", "units": 1}]}
            p = Path(tmp) / "s.yaml"
            p.write_text(json.dumps(doc))
            base = rnntui.run(p)
            items = [{"at": "model.0.l0.fwd", "t": t_int, "set": "h", "units": [0], "value": 0.0}]
            full = median_time(lambda: what_if(base, items, resume=False), args.repeat)
            part = median_time(lambda: what_if(base, items), args.repeat)
            fwd = median_time(forward_only(base, items, False), args.repeat) / \
                median_time(forward_only(base, items, True), args.repeat)
            ok = same(what_if(base, items), what_if(base, items, resume=False))
            print(f"{label:38} {full:9.3f} {part:12.3f} {full / part:8.2f}x  {fwd:11.2f}x  {ok}")


if __name__ == "__main__":
    main()
