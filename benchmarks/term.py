"""The one-term gradient the verdict measures (`diag.*.term_gradnorm`) against the run it belongs to.

    python benchmarks/term.py [--repeat 3] [--steps 10000] [--hidden 256]

For each model: the median time of `rnntui.run` (load, forward, backward, record), the median time of
reading every place's `diag.*.term_gradnorm` from a fresh trace (the extra work the verdict costs when a
run is opened or exported), their ratio, and the peak traced memory (tracemalloc) of the run alone and
of the run with those keys read.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import rnntui

MODELS = {
    "lstm": "{type: lstm, hidden_size: %(H)d}",
    "gru bi": "{type: gru, hidden_size: %(H)d, bidirectional: true}",
    "lstm 2 layers": "{type: lstm, hidden_size: %(H)d, num_layers: 2}",
}


def scenario(model: str, T: int, H: int, B: int) -> str:
    return (f"name: bench\ninput: {{generate: {{kind: noise, length: {T}, features: 8, batch: {B}}}}}\n"
            f"model:\n  - {model % {'H': H}}\n  - {{type: dense, units: 2}}\nloss: {{kind: sum}}\n")


def term_keys(trace) -> list[str]:
    return [p.diag_key("term_gradnorm") for p in trace.info.places if p.recurrent]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args()
    print(f"T={args.steps} H={args.hidden} B={args.batch}")
    print(f"{'model':16} {'run':>9} {'term':>9} {'ratio':>7} {'peak run':>10} {'peak +term':>11} {'+peak':>7}")
    with tempfile.TemporaryDirectory() as d:
        for name, model in MODELS.items():
            path = Path(d) / f"{name.replace(' ', '-')}.yaml"
            path.write_text(scenario(model, args.steps, args.hidden, args.batch))
            rnntui.run(path)  # warm up
            runs, terms = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                trace = rnntui.run(path)
                runs.append(time.perf_counter() - t0)
                terms.append(timed(lambda: [trace[k] for k in term_keys(trace)]))
                del trace
            peaks = []
            for read in (False, True):
                tracemalloc.start()
                trace = rnntui.run(path)
                if read:
                    [trace[k] for k in term_keys(trace)]
                peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
                del trace
            run, term = statistics.median(runs), statistics.median(terms)
            print(f"{name:16} {run * 1e3:8.0f}ms {term * 1e3:8.0f}ms {term / run:6.2f}x "
                  f"{peaks[0] / 2**20:8.0f}MiB {peaks[1] / 2**20:9.0f}MiB {peaks[1] / peaks[0] - 1:+6.0%}", flush=True)


if __name__ == "__main__":
    main()
