"""Drive the debugger with Pilot on a T=10,000, H=256 LSTM; print time per step action and first paint.

    python benchmarks/tui.py [--steps 10000] [--hidden 256] [--presses 40]

Each action is timed from the key press until the screen has been repainted, and printed against a
reference measured in the same run: a key bound to nothing (Pilot's own cost of a key and a frame).
Goals: a step action under 16 ms; first paint under 1 s.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import rnntui
from rnntui.tui.app import RnntuiApp


async def timed_presses(pilot, key: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await pilot.press(key)
        await pilot.app.animator.wait_until_complete()
        await pilot.pause()
        times.append(time.perf_counter() - t0)
    return times


async def main(T: int, H: int, presses: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "big.yaml"
        path.write_text(f"name: big\ninput: {{generate: {{kind: noise, length: {T}, features: 8}}}}\n"
                        f"model:\n  - {{type: lstm, hidden_size: {H}}}\n  - {{type: dense, units: 1}}\nloss: {{kind: sum}}\n")
        t0 = time.perf_counter()
        trace = rnntui.run(path)
        engine = time.perf_counter() - t0
    print(f"engine run (T={T}, H={H}, full trace): {engine:.2f} s")
    t0 = time.perf_counter()
    app = RnntuiApp(trace)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        first_paint = time.perf_counter() - t0
        await pilot.press("pagedown")
        baseline = statistics.median(await timed_presses(pilot, "x", presses))
        print(f"time to first paint: {first_paint * 1e3:.0f} ms (goal < 1000 ms)")
        print(f"no-op key (reference): {baseline * 1e3:.1f} ms")
        for label, key in [("step right", "right"), ("step left", "left"), ("page down", "pagedown"),
                           ("unit down", "down"), ("switch pass", "b"), ("step in BPTT", "right")]:
            med = statistics.median(await timed_presses(pilot, key, presses))
            print(f"{label:14} median {med * 1e3:6.1f} ms  ({med / baseline:4.1f}x the no-op key; goal < 16 ms)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--presses", type=int, default=40)
    a = ap.parse_args()
    asyncio.run(main(a.steps, a.hidden, a.presses))
