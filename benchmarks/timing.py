"""Shared by the benchmarks: a median of repeated runs after one warm-up."""
from __future__ import annotations

import statistics
import time


def median_time(fn, repeat: int) -> float:
    fn()  # warm up: imports, caches, allocator
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
