"""A million steps: a checkpointed LSTM run (engine/checkpoint.py) opened in the debugger, against references
measured in the same run.

    python benchmarks/long.py [--steps 1000000] [--hidden 256] [--reference-steps 1000] [--sweep-steps 5000]
                              [--kind chain|many-to-one|graph]

Each opening runs in its own subprocess (its peak RSS is the process's own: `VmHWM`, not `ru_maxrss`, which
Linux carries over from the parent across fork and exec): the scenario loaded,
run (checkpointed when the whole record is over the memory limit, the default: half the available memory),
and the debugger's first screen painted headless (Textual's Pilot). Printed:

- peak RSS of opening T=steps (target: within 2 GB) and its first screen's time against T=reference-steps'
  (target: within 2x), measured in pairs (the reference, then the long run) and the median ratio given: the long
  run opens after its first segment, as `rnntui run` opens it, the rest of the sweep in the debugger's worker;
- when that sweep is done (`--first-only` leaves it out, and the rest below);
- a key press at t = steps/2 (forward view, `right`, its segment cached): the UI thread's CPU time over an
  unbound key's (target: under 16 ms);
- one segment recomputed (forward, and forward + backward), not from the LRU (target: under 100 ms);
- the checkpointed sweep per step against the plain full-trace engine run per step at T=sweep-steps, where
  the full trace fits (target: at most 1.3x; the sweep also computes the verdict's one-term gradients, which
  the plain run derives when first read: both ratios are printed), and the long run's own sweep per step
  against the same plain run.

Load matters (2 cores shared with other jobs): the ratios are measured in one run; `uptime` is printed.

Measured 2026-12-06, LSTM H=256 B=1, 8 input features, float64:
- every kind shows first (`--kind many-to-one|graph|chain --steps 200000 --first-only --repeat 5 --max-memory
  1000000000`, load average 2.5-3.3): T=200,000's first screen against T=1,000's, median of 5 pairs: a many-to-one
  1.40x (1.31-1.35 s against 0.89-1.39 s), a graph 0.89x (1.37-1.71 s against 1.47-2.02 s), a chain 0.99x; peak RSS
  0.10-0.11 GiB. Before (the first screen after the whole sweep, for a many-to-one and a graph): the many-to-one's
  T=200,000 opened in 171 s, 130x T=1,000's (one pair, load 3.3-3.8). `--kind many-to-one --steps 20000
  --max-memory 100000000 --repeat 1` (load 2.2-3.0): first screen 1.02x T=1,000's, the sweep done in the worker at
  9.0 s, a key at t=10,002 7.3 ms CPU over an unbound key's, a segment recomputed forward 25 ms, forward and
  backward 58 ms.
- the first screen now comes first (`--first-only --repeat 5`, segments of 192 steps): T=1,000,000 opens after
  its first segment, 1.55x T=1,000's first screen (median of 5 pairs, load average 3.3; pairs 0.86-1.83x) and
  0.84x at load average 8.4 (pairs 0.60-1.13x; T=1,000's first screen runs its whole run, T=1,000,000's generates
  its 8 million input numbers); peak RSS 0.16 GiB at the first screen. The whole session (`--repeat 3`, load
  average 4-6): first screen 1.27x T=1,000's (median of 3 pairs: 2.25/3.78 s, 3.10/3.92 s, 2.67/2.65 s), peak RSS
  0.46 GiB with the sweep done in the debugger's worker (917.8 s, 1.09x the plain run per step at T=5,000, measured
  at another moment's load), a key at t=500,002 11.7 ms CPU (7.4 over an unbound key's); the same sweep in the
  worker and alone (T=20,000, one after the other, load 6): 42.4 s and 41.1 s.
- before it did (the entries below): the first screen after the whole sweep.
- T=1,000,000 (segments of 384 steps then; load average 10-12): checkpointed (61.3 GiB whole, limit 10.5 GiB),
  peak RSS 0.53 GiB; first screen after the whole sweep, 1643 s = 276x T=1,000's (the first screen does not come
  before the sweep yet); the sweep 0.79x the plain run per step (plain at T=5,000 in the same, loaded, run);
  a key at t=500,002 10.2 ms CPU (5.9 over an unbound key); a segment recomputed: forward 60 ms, forward and
  backward 160 ms.
- T=100,000 --max-memory 1000000000 (segments of 192 steps, load average 4.5-5.2): peak RSS 0.48 GiB; the sweep
  1.27x the plain run at T=5,000 (0.88x with the verdict's one-term gradients, which the sweep computes), the long
  run's own sweep 1.10x the plain run per step; a key at t=50,002 11.0 ms CPU (6.3 over an unbound key); a
  segment recomputed: forward 21 ms, forward and backward 55 ms; first screen 43.9x T=1,000's (after the sweep).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


KINDS = ("chain", "many-to-one", "graph")


def scenario(T: int, H: int, features: int, kind: str = "chain") -> str:
    """An LSTM of *H* units over *T* steps of noise, of a kind engine/checkpoint_kinds.py runs in segments: a chain
    (many-to-many), a many-to-one (a dense head on the final state) or a graph (an LSTM node and a dense head)."""
    noise = f"{{generate: {{kind: noise, length: {T}, features: {features}}}}}"
    if kind == "many-to-one":
        return (f"version: 1\nname: long LSTM many-to-one\nmode: many-to-one\ninput: {noise}\n"
                f"model:\n  - {{type: lstm, hidden_size: {H}}}\n  - {{type: dense, units: 4}}\nloss: {{kind: sum}}\n")
    if kind == "graph":
        return (f"version: 1\nname: long LSTM graph\ninputs:\n  x: {noise}\nmodel:\n"
                f"  - {{id: lstm, type: lstm, hidden_size: {H}, from: x}}\n  - {{id: head, type: dense, units: 4}}\n"
                "loss: {kind: sum}\n")
    return (f"version: 1\nname: long LSTM\ninput: {noise}\n"
            f"model:\n  - {{type: lstm, hidden_size: {H}}}\nloss: {{kind: sum}}\n")


async def _press_cpu(app, pilot, key: str) -> float:
    t0 = time.thread_time()
    await pilot.press(key)
    await pilot.pause()
    return time.thread_time() - t0


def peak_rss() -> int:
    """This process's peak resident set size, bytes: VmHWM (its own memory's high-water mark) where /proc has it;
    else ru_maxrss (on Linux, at least the parent's peak when it was forked)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(path: str, presses: int, max_memory: int | None = None, first_only: bool = False) -> dict:
    """Open *path* in the debugger headless, as `rnntui run` does (a checkpointed run after its first segment,
    the rest swept in the app's worker); what it cost (one JSON line on stdout). *first_only*: stop once the
    first screen is painted (the sweep not waited for)."""
    import rnntui
    from rnntui.engine.run import SweepingRun
    from rnntui.progress_bar import stderr_progress
    from rnntui.tui.app import RnntuiApp

    out: dict = {}
    t0 = time.perf_counter()
    with stderr_progress(enabled=sys.stderr.isatty()):
        started = rnntui._run(path, max_memory, None, first_segment=True)
    sweep = started if isinstance(started, SweepingRun) else None
    trace = started.preview() if sweep is not None else started
    out["run_s"] = time.perf_counter() - t0   # a checkpointed run: its first segment only
    rec = getattr(trace, "recording", None)
    out["recording"] = None if rec is None else rec.words()

    async def drive():
        nonlocal trace
        app = RnntuiApp(trace, sweep=sweep)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            out["first_screen_s"] = time.perf_counter() - t0
            out["first_screen_rss_bytes"] = peak_rss()
            if sweep is not None:
                out["first_screen_progress"] = app.run_state.sweeping.fraction
                if first_only:
                    return
                await app.workers.wait_for_complete()    # the sweep, in the app's worker
                await pilot.pause()
                out["sweep_s"] = time.perf_counter() - t0
                trace = app.run_state.trace.whole
            segs = getattr(trace, "segments", None)
            if segs is None:
                return
            T = segs.T
            # to t = T/2 (untimed), then a step there so its segment is in the LRU
            for key in ["g", *str(T // 2), "enter", "right"]:
                await pilot.press(key)
                await pilot.pause()
            await app.workers.wait_for_complete()
            keys, idle = [], []
            for k in range(presses):
                idle.append(await _press_cpu(app, pilot, "f12"))          # bound to nothing
                keys.append(await _press_cpu(app, pilot, "right" if k % 2 == 0 else "left"))
            out["cursor_t"] = app.cursor.t
            out["key_cpu_ms"] = 1e3 * statistics.median(keys)
            out["noop_cpu_ms"] = 1e3 * statistics.median(idle)
            out["key_over_noop_ms"] = 1e3 * statistics.median(a - b for a, b in zip(keys, idle))
            # one segment recomputed, far from what the LRU holds
            fwd, both = [], []
            for k in (len(segs.bounds) // 4, len(segs.bounds) // 4 + 3, len(segs.bounds) // 4 + 6):
                t1 = time.perf_counter()
                walk, rec = segs._forward(k)
                fwd.append(time.perf_counter() - t1)
                segs._backward(k, walk, rec, {})
                both.append(time.perf_counter() - t1)
            out["segment_steps"] = segs.S
            out["segment_forward_ms"] = 1e3 * statistics.median(fwd)
            out["segment_forward_backward_ms"] = 1e3 * statistics.median(both)

    asyncio.run(drive())
    out["peak_rss_bytes"] = peak_rss()
    return out


def open_in_child(path: Path, presses: int, max_memory: int | None = None, first_only: bool = False) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                                       os.environ.get("PYTHONPATH", "")]))
    more = ([] if max_memory is None else ["--max-memory", str(max_memory)]) + (["--first-only"] if first_only else [])
    done = subprocess.run([sys.executable, __file__, "--child", str(path), "--presses", str(presses), *more],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def sweep_ratio(path: Path, repeat: int) -> tuple[float, float, float]:
    """(plain full-trace run, the same with the verdict's one-term gradients read, checkpointed run) seconds at
    the same T, median of *repeat*, one BLAS thread. The checkpointed sweep computes the one-term gradients
    (diag.*.term_gradnorm, which the debugger reads on opening) on its way; the plain run derives them when
    first read, so both forms of the plain run are given."""
    from rnntui.blas import one_thread
    from rnntui.engine import checkpoint
    from rnntui.engine.scenario_run import run_scenario
    from rnntui.scenario.loader import load_scenario

    sc = load_scenario(str(path), max_memory=1 << 40)
    plain, plain_terms, ck = [], [], []
    with one_thread():
        run_scenario(sc, recording="checkpointed")   # warm up
        for _ in range(repeat):
            t0 = time.perf_counter()
            run_scenario(sc, recording="checkpointed")
            ck.append(time.perf_counter() - t0)
            saved = checkpoint.SEGMENT_MIN, checkpoint.SEGMENT_MAX
            checkpoint.SEGMENT_MIN = checkpoint.SEGMENT_MAX = 1 << 40   # one segment: the plain engine run
            try:
                t0 = time.perf_counter()
                trace = run_scenario(sc, recording="full")
                plain.append(time.perf_counter() - t0)
                assert trace.recording.segments == 0
                for key in list(trace):
                    if key.endswith(".term_gradnorm"):
                        trace[key]
                plain_terms.append(time.perf_counter() - t0)
            finally:
                checkpoint.SEGMENT_MIN, checkpoint.SEGMENT_MAX = saved
    return statistics.median(plain), statistics.median(plain_terms), statistics.median(ck)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--reference-steps", type=int, default=1000)
    ap.add_argument("--sweep-steps", type=int, default=5000)
    ap.add_argument("--presses", type=int, default=9)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-memory", type=int, default=None, help="bytes: the long run's memory limit (default: "
                    "half the available memory), to checkpoint a shorter run")
    ap.add_argument("--first-only", action="store_true", help="the first screens only (T=reference-steps' and "
                    "T=steps'), not the sweep, the keys or the segment recompute")
    ap.add_argument("--kind", choices=KINDS, default="chain", help="what the LSTM is part of (engine/"
                    "checkpoint_kinds.py): a chain, a many-to-one with a dense head, a graph")
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.presses, args.max_memory, args.first_only)))
        return
    print("uptime:", os.popen("uptime").read().strip(), flush=True)
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for T in (args.reference_steps, args.sweep_steps, args.steps):
            paths[T] = Path(d) / f"long-{T}.yaml"
            paths[T].write_text(scenario(T, args.hidden, args.features, args.kind))
        if not args.first_only:
            plain, plain_terms, ck = sweep_ratio(paths[args.sweep_steps], args.repeat)
            print(f"sweep at T={args.sweep_steps:,}: plain full-trace run {plain:.2f} s ({plain_terms:.2f} s with the "
                  f"verdict's one-term gradients read), checkpointed sweep {ck:.2f} s (with them): {ck / plain:.2f}x "
                  f"the plain run, {ck / plain_terms:.2f}x with them, per step (target at most 1.3x)", flush=True)
        # the first screens, T=reference-steps' and T=steps' in turn (the load moves: each pair is measured close
        # together), then the median of the pairs' ratios
        pairs = [(open_in_child(paths[args.reference_steps], 1, first_only=True),
                  open_in_child(paths[args.steps], 1, args.max_memory, first_only=True)) for _ in range(args.repeat)]
        ref = pairs[0][0]
        ratios = [b["first_screen_s"] / r["first_screen_s"] for r, b in pairs]
        ratio = statistics.median(ratios)
        each = "; ".join(f"{r['first_screen_s']:.2f} s / {b['first_screen_s']:.2f} s" for r, b in pairs)
        print(f"T={args.reference_steps:,}: {ref['recording']}, peak RSS {ref['peak_rss_bytes'] / 2**30:.2f} GiB",
              flush=True)
        big = pairs[0][1] if args.first_only else open_in_child(paths[args.steps], args.presses, args.max_memory)
        print(f"T={args.steps:,}: {big['recording']}")
        print(f"  peak RSS {big['peak_rss_bytes'] / 2**30:.2f} GiB, {big['first_screen_rss_bytes'] / 2**30:.2f} GiB "
              f"at the first screen (target within 2 GB: {'met' if big['peak_rss_bytes'] <= 2e9 else 'NOT met'})")
        print(f"  first screen {ratio:.2f}x T={args.reference_steps:,}'s, median of {len(pairs)} pairs (target 2x: "
              f"{'met' if ratio <= 2 else 'NOT met'}): T={args.reference_steps:,} / T={args.steps:,} {each}; "
              f"T={args.steps:,} opens after its first segment ({big['run_s']:.2f} s in), the sweep "
              f"{big.get('first_screen_progress', 1):.1%} done at the first screen", flush=True)
        if "sweep_s" in big:
            print(f"  the sweep, in the debugger's worker, done at {big['sweep_s']:.1f} s = "
                  f"{big['sweep_s'] / args.steps / (plain / args.sweep_steps):.2f}x the plain run per step")
        if "key_cpu_ms" in big:
            print(f"  key at t={big['cursor_t']:,} (forward view, segment cached): {big['key_cpu_ms']:.1f} ms CPU, "
                  f"{big['key_over_noop_ms']:.1f} ms over an unbound key's {big['noop_cpu_ms']:.1f} (target under 16)")
            print(f"  a segment of {big['segment_steps']} steps recomputed: forward {big['segment_forward_ms']:.0f} ms, "
                  f"forward and backward {big['segment_forward_backward_ms']:.0f} ms (target under 100)")
    print("uptime:", os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
