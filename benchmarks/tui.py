"""Drive the debugger with Pilot on a T=10,000, H=256 LSTM; print time per step action and first paint.

    python benchmarks/tui.py [--steps 10000] [--hidden 256] [--presses 50]

Each action is timed from the key press until the screen has been repainted. Pilot mostly waits, so
the CPU time of a key bound to nothing is subtracted, round by round (the host's speed drifts), and
the result is printed against a reference measured in the same run: a plain Textual app repainting
a 100x30 screen of per-cell colours.
Goals: a step action under 16 ms; first paint under 1 s.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.widgets import Footer, Static

import rnntui
from rnntui.tui.app import RnntuiApp

# every cell its own colour: the most a 100x30 screen can ask of Textual's renderer
ROUNDS = 5
PALETTE = [Style(color=Color.from_rgb(8 * k, 255 - 8 * k, 90)) for k in range(32)]


class DenseScreen(App):
    """A reference measured in the same run: three panels of per-cell colours, repainted per key."""

    BINDINGS = [Binding("right", "tick", "Tick", priority=True)]
    n = 0

    def compose(self):
        for i in range(3):
            yield Static(id=f"s{i}")
        yield Footer()

    def action_tick(self) -> None:
        self.n += 1
        for i in range(3):
            t = Text()
            for r in range(9):
                for c in range(98):
                    t.append("▒", PALETTE[(r * 7 + c + self.n) % 32])
                t.append("\n")
            self.query_one(f"#s{i}", Static).update(t)


async def dense_reference(presses: int) -> float:
    app = DenseScreen()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("right")
        _, base = await timed_presses(pilot, "x", presses)
        _, cpu = await timed_presses(pilot, "right", presses)
    return max(statistics.median(cpu) - statistics.median(base), 1e-9)


async def timed_presses(pilot, key: str, n: int) -> tuple[list[float], list[float]]:
    """Wall time and CPU time of each press until the screen is repainted. Pilot mostly waits; the
    CPU time is the work done, so CPU minus the no-op key's CPU is what the action itself costs."""
    wall, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        await pilot.press(key)
        await pilot.app.animator.wait_until_complete()
        await pilot.pause()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


async def main(T: int, H: int, presses: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "big.yaml"
        path.write_text(f"name: big\ninput: {{generate: {{kind: noise, length: {T}, features: 8}}}}\n"
                        f"model:\n  - {{type: lstm, hidden_size: {H}}}\n  - {{type: dense, units: 1}}\nloss: {{kind: sum}}\n")
        t0 = time.perf_counter()
        trace = rnntui.run(path)
        engine = time.perf_counter() - t0
    print(f"engine run (T={T}, H={H}, full trace): {engine:.2f} s")
    dense = await dense_reference(presses)
    print(f"reference: Textual repainting a 100x30 screen of per-cell colours: {dense * 1e3:.1f} ms CPU a key")
    t0 = time.perf_counter()
    app = RnntuiApp(trace)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        first_paint = time.perf_counter() - t0
        await pilot.press("pagedown")
        wall, cpu = await timed_presses(pilot, "x", presses)
        base_wall, base_cpu = statistics.median(wall), statistics.median(cpu)
        print(f"time to first paint: {first_paint * 1e3:.0f} ms (goal < 1000 ms)")
        print(f"no-op key (reference): wall {base_wall * 1e3:.1f} ms, cpu {base_cpu * 1e3:.1f} ms")
        print(f"per action, {ROUNDS} rounds of {presses // ROUNDS} presses, each round against the no-op key's "
              "in the same round (the host's speed drifts)")
        for label, key in [("step right", "right"), ("step left", "left"), ("page down", "pagedown"),
                           ("unit down", "down"), ("switch pass", "b"), ("step in BPTT", "right")]:
            own, walls = [], []
            for _ in range(ROUNDS):
                # from the middle, so no press is clamped at an end and becomes a no-op
                app.cursor = replace(app.cursor, t=T // 2, phase="backward" if "BPTT" in label else "forward")
                await pilot.pause()
                n = max(presses // ROUNDS, 1)
                _, base = await timed_presses(pilot, "x", n)
                w, c = await timed_presses(pilot, key, n)
                own.append(max(statistics.median(c) - statistics.median(base), 0))
                walls.append(statistics.median(w))
            o = statistics.median(own)
            print(f"{label:14} wall {statistics.median(walls) * 1e3:6.1f} ms   cpu over the no-op key {o * 1e3:5.1f} ms "
                  f"(rounds {min(own) * 1e3:.1f}..{max(own) * 1e3:.1f}; goal < 16 ms; {o / dense:4.2f}x a dense repaint)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--presses", type=int, default=50)
    a = ap.parse_args()
    asyncio.run(main(a.steps, a.hidden, a.presses))
