"""The samples axis: a scan's ranking of a data set's samples, and each sample's own run, opened on demand.

What the debugger moves along (`(` / `)` through the ranking, a sample by its index) and what it shows
(the ranking as a pane, the sample's words in the header) reads this object; it holds no UI. Its moves
are pure functions of the ranking (tested without a terminal); `run(k)` is the one that costs: sample k
alone, exactly as `rnntui run --sample k` with a batch of one runs it (samples/run.py `sample_scenario`),
so its numbers are the scan row's bit for bit. The training iterations are the other axis the debugger
moves along (docs/architecture.md).
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from rnntui.samples.run import Scan

KEEP = 8   # sample runs kept opened: moving back and forth among neighbours costs nothing


class SamplesAxis:
    """A data set's samples in the scan's ranking (worst first); the runs of those opened so far."""

    def __init__(self, scan: Scan, scenario, max_memory: int | None = None):
        self.scan = scan
        self.scenario = scenario         # the loaded scenario reading the data set (samples/run.py `_load`)
        self.max_memory = max_memory
        self.ranked = scan.ranked()
        self._rank = {r["sample"]: i for i, r in enumerate(self.ranked)}
        self._runs: OrderedDict[int, object] = OrderedDict()
        self._lock = threading.Lock()   # a worker thread opens runs while the UI reads the ones opened

    @property
    def N(self) -> int:
        """How many samples the data set has (the ranking may hold fewer: an interrupted scan)."""
        return self.scenario.dataset.N

    def __len__(self) -> int:
        return len(self.ranked)

    def rank(self, k: int) -> int | None:
        """Sample k's place in the ranking, 0 for the worst; None when the scan did not reach it."""
        return self._rank.get(k)

    def row(self, k: int) -> dict | None:
        r = self.rank(k)
        return None if r is None else self.ranked[r]

    def at_rank(self, r: int) -> int:
        """The sample at rank r (0: the worst)."""
        return self.ranked[r]["sample"]

    def move(self, k: int, n: int) -> int | None:
        """The sample n places after (before, n < 0) sample k in the ranking, clamped to its ends; None when
        there is none to go to (already at that end, or k is not ranked and the ranking is empty)."""
        if not self.ranked:
            return None
        r = self.rank(k)
        if r is None:   # a sample the scan did not reach: from the ranking's start (or its end, going back)
            return self.at_rank(0 if n > 0 else len(self.ranked) - 1)
        to = min(max(r + n, 0), len(self.ranked) - 1)
        return None if to == r else self.at_rank(to)

    def opened(self, k: int):
        """Sample k's run if it was opened already (no cost), else None."""
        with self._lock:
            run = self._runs.get(k)
            if run is not None:
                self._runs.move_to_end(k)
            return run

    def run(self, k: int):
        """Sample k's own run (opened now if it was not: what may take a while, in a worker)."""
        known = self.opened(k)
        if known is not None:
            return known
        from rnntui.engine import run_scenario
        from rnntui.samples.run import sample_scenario

        if not 0 <= k < self.N:
            raise IndexError(f"sample {k}: the data set has samples 0..{self.N - 1}")
        trace = run_scenario(sample_scenario(self.scenario, k), max_memory=self.max_memory)
        with self._lock:
            self._runs[k] = trace
            while len(self._runs) > KEEP:
                self._runs.popitem(last=False)
        return trace


def open_axis(path: str, dataset: str | None = None, workers: int = 1, max_memory: int | None = None,
              progress=None, scheduler: str | None = None) -> SamplesAxis:
    """Scan the scenario's data set (or *dataset*) and return its samples axis."""
    from rnntui.samples.run import _load, scan

    result = scan(path, dataset=dataset, workers=workers, max_memory=max_memory, progress=progress,
                  scheduler=scheduler)
    return SamplesAxis(result, _load(str(path), dataset, max_memory), max_memory)


__all__ = ["SamplesAxis", "open_axis"]
