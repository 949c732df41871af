"""Stepping between iterations of a training run in the TUI: the CPU time of a key that changes the
iteration, when that iteration is kept (cached) and when it must be recomputed from a checkpoint,
against a plain step key (Right) measured in the same run.

    python benchmarks/iterations.py [--scenario training-lstm-memory] [--presses 10]

Goals (issue 12): a cached iteration under one frame (16 ms); one that must be recomputed well under a
second.

Measured 2026-11-26 (2 cores shared with other jobs), training-lstm-memory (300 iterations, a checkpoint
every iteration for this small model): a step key 1.9 ms CPU; a cached iteration 15.5 ms (0.97 frames:
the new run's events and every panel redrawn); a recomputed one 22.7 ms (0.023 s).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import rnntui
from rnntui.tui.app import RnntuiApp


async def measure(name: str, presses: int) -> None:
    training = rnntui.run(name)
    N = training.iterations
    app = RnntuiApp(training)
    step, cached, fresh = [], [], []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        for _ in range(presses):
            t0 = time.process_time()
            await pilot.press("right")
            step.append(time.process_time() - t0)
        # iterations far apart, so each is recomputed from its checkpoint; then the same ones again, kept
        targets = [int(N * (i + 1) / (presses + 2)) for i in range(presses)]
        for k in targets:
            assert not training.is_cached(k) or k == N - 1
            t0 = time.process_time()
            app._to_iteration(k)
            await pilot.pause()
            fresh.append(time.process_time() - t0)
        for k in targets[-min(len(targets), 8):]:  # the cache keeps the most recent few
            assert training.is_cached(k)
            t0 = time.process_time()
            app._to_iteration(k)
            await pilot.pause()
            cached.append(time.process_time() - t0)
    ms = lambda xs: statistics.median(xs) * 1e3  # noqa: E731
    print(f"{name}: {N} iterations, checkpoint every {training.checkpoint_every}")
    print(f"  step key (Right)          {ms(step):7.1f} ms CPU (median of {len(step)})")
    print(f"  cached iteration          {ms(cached):7.1f} ms CPU  = {ms(cached) / ms(step):.2f}x a step key, "
          f"{ms(cached) / 16:.2f} frames")
    print(f"  recomputed iteration      {ms(fresh):7.1f} ms CPU  = {ms(fresh) / ms(step):.2f}x a step key, "
          f"{ms(fresh) / 1000:.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="training-lstm-memory")
    ap.add_argument("--presses", type=int, default=10)
    args = ap.parse_args()
    asyncio.run(measure(args.scenario, args.presses))


if __name__ == "__main__":
    main()
