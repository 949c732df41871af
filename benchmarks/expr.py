"""The expression language over every step of a place against plain NumPy computing the same thing,
in the same process; prints the median times and their ratios.

    python benchmarks/expr.py [--steps 100000] [--batch 4] [--hidden 16] [--repeat 5]

expr: rnntui.expr.bind(text, trace, place) (parse, name and shape checks) and then `.holds` (every step
at once). numpy: the same formula written by hand on the trace's arrays. Both read arrays already in
memory (the run is made once, before timing).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from timing import median_time
import rnntui
from rnntui.engine.keys import Place
from rnntui.expr import bind

SCENARIO = """\
name: expr-bench
input: {{generate: {{kind: noise, length: {T}, features: 4, batch: {B}}}}}
model:
  - {{type: lstm, hidden_size: {H}}}
  - {{type: dense, units: 1}}
"""


def cases(trace, place):
    h = np.asarray(trace[place.key("h")])
    dh = np.asarray(trace[place.grad_key("h")])
    f = np.asarray(trace[place.key("gates.f")])
    ax = (1, 2)
    return [
        ("norm(dh) < 1e-3", lambda: np.sqrt((dh * dh).sum(axis=ax)) < 1e-3),
        ("max(abs(h)) > 0.99 and mean(h[:, 0:4]) < 0.5",
         lambda: (np.abs(h).max(axis=ax) > 0.99) & (h[:, :, 0:4].mean(axis=ax) < 0.5)),
        ("any(isnan(h)) or norm(dh) > 1e6", lambda: np.isnan(h).any(axis=ax) | (np.sqrt((dh * dh).sum(axis=ax)) > 1e6)),
        ("mean(gates.f > 0.95) > 0.5", lambda: (f > 0.95).mean(axis=ax) > 0.5),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "bench.yaml"
        p.write_text(SCENARIO.format(T=a.steps, B=a.batch, H=a.hidden))
        trace = rnntui.run(str(p))
    place = Place(0, 0, "fwd")
    print(f"T={a.steps:,} B={a.batch} H={a.hidden}, median of {a.repeat}")
    print(f"{'expression':48s} {'expr':>9s} {'numpy':>9s} {'ratio':>6s}")
    for text, reference in cases(trace, place):
        got = bind(text, trace, place).holds
        assert np.array_equal(got, reference()), text   # the same result, or the timing means nothing
        t_expr = median_time(lambda: bind(text, trace, place).holds, a.repeat)
        t_np = median_time(reference, a.repeat)
        print(f"{text:48s} {t_expr * 1e3:7.1f}ms {t_np * 1e3:7.1f}ms {t_expr / t_np:6.2f}")


if __name__ == "__main__":
    main()
