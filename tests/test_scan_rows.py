"""A scan's rows kept as columns (samples/rows.py): read back as the dicts they were written as, ranked as the
dicts sorted by `badness` rank them, and a few bytes a number (what keeps a scan's memory flat in N)."""
from __future__ import annotations

import math
import random
import sys

import numpy as np

from rnntui.samples.measure import badness
from rnntui.samples.rows import Rows, badness_order
from rnntui.samples.run import CHUNK, MAX_CHUNK, Scan, chunk_size


def crafted(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rate = rng.choice([math.nan, 0.0, math.inf, 1.0, 0.5, 2.0, rng.lognormvariate(0, 1), 5e-324])
        rows.append({"sample": i, "length": rng.randint(1, 100),
                     "loss": rng.choice([math.nan, math.inf, -math.inf, 1.0, rng.random()]), "rate": rate,
                     "verdict": rng.choice(["vanishing", "exploding", "non-finite", ""]),
                     "first_nonfinite_step": rng.choice([-1, -1, -1, 3]), "prediction": rng.randint(0, 3),
                     "ok": rng.random() < 0.5, "lines": ["FAIL x"] * rng.randint(0, 2)})
    return rows


def test_rows_read_back_as_written():
    rows = crafted(500)
    kept = Rows(rows)
    assert len(kept) == 500 and kept == rows and rows == kept
    for a, b in zip(kept, rows):
        assert a.keys() == b.keys()
        for k in a:   # the same types, the same values bit for bit
            assert type(a[k]) is type(b[k]), k
            assert a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k]))
    assert kept[-1]["sample"] == 499 and [r["sample"] for r in kept[10:13]] == [10, 11, 12]
    # mixed kinds in a column, and columns some rows lack
    mixed = Rows([{"a": 1}, {"a": 2.5, "b": "x"}, {"a": "w", "c": 2**70}, {"b": "y"}])
    assert list(mixed) == [{"a": 1}, {"a": 2.5, "b": "x"}, {"a": "w", "c": 2**70}, {"b": "y"}]
    assert mixed.column("a") is None and kept.column("loss").dtype == np.float64
    assert kept != rows[:-1] and Rows(rows[:3]) != rows[1:4]


def test_the_ranking_on_columns_is_the_dicts_sorted_by_badness():
    for seed in range(5):
        rows = crafted(3000, seed)
        want = [r["sample"] for r in sorted(rows, key=badness, reverse=True)]
        kept = Rows(rows)
        order = badness_order(kept)
        assert [kept[int(i)]["sample"] for i in order] == want
        assert [r["sample"] for r in Scan(kept, len(rows), "", "").ranked()] == want
        assert [r["sample"] for r in Scan(tuple(rows), len(rows), "", "").ranked()] == want   # dicts: sorted


def test_a_row_costs_bytes_not_kilobytes():
    rows = [{k: v for k, v in r.items() if k not in ("ok", "lines")} for r in crafted(10_000)]
    kept = Rows(rows)
    per_row = kept.nbytes() / len(kept)
    as_dicts = sys.getsizeof(rows[0]) + sum(sys.getsizeof(v) for v in rows[0].values())
    assert per_row <= 8 * len(rows[0]) and as_dicts > 5 * per_row


def test_chunks_are_large_and_contiguous():
    # a sixteenth of each worker's share, within CHUNK..MAX_CHUNK
    assert chunk_size(100_000, 2) == MAX_CHUNK == 512 and chunk_size(48, 2) == CHUNK
    assert chunk_size(8_000, 4) == 125 and chunk_size(10_000, 2) == 312


def test_workers_get_a_few_chunks_at_a_time_and_their_rows_are_taken_as_they_come(monkeypatch):
    """The process pool is handed IN_FLIGHT chunks a worker ahead, never every chunk at once (the futures would
    hold every chunk's rows until the end); the rows are those of one process, in sample order. The pool is
    replaced by threads that count what was handed out and not yet taken."""
    import concurrent.futures as cf

    from rnntui.samples.run import IN_FLIGHT, scan
    from rnntui.scenario.bundled import resolve

    seen = {"out": 0, "most": 0, "chunks": []}

    class Counted(cf.Future):
        def result(self, timeout=None):
            seen["out"] -= 1
            return super().result(timeout)

    class Pool(cf.ThreadPoolExecutor):
        def __init__(self, workers, mp_context=None, initializer=None):
            super().__init__(workers)

        def submit(self, fn, *args):
            seen["out"] += 1
            seen["most"] = max(seen["most"], seen["out"])
            seen["chunks"].append(args[3])
            inner = super().submit(fn, *args)
            outer = Counted()
            inner.add_done_callback(lambda f: outer.set_result(f.result()) if f.exception() is None
                                    else outer.set_exception(f.exception()))
            return outer

    monkeypatch.setattr(cf, "ProcessPoolExecutor", Pool)
    path = str(resolve("scan-gradient-health"))
    got = scan(path, workers=2, limit=200)
    assert IN_FLIGHT == 2 and seen["most"] <= 4 < len(seen["chunks"]) == 7   # 200 samples in chunks of 32
    assert [list(c) for c in seen["chunks"]] == [list(range(a, min(a + 32, 200))) for a in range(0, 200, 32)]
    one = scan(path, workers=1, limit=200)
    assert got.rows == one.rows and [r["sample"] for r in got.rows] == list(range(200))


def test_chunks_completing_out_of_order_are_put_in_sample_order_as_they_come():
    from rnntui.samples.run import _InOrder

    def chunk(a, b):
        return [{"sample": k, "loss": float(k)} for k in range(a, b)]

    done = _InOrder(Rows())
    done.add(2, chunk(6, 9))
    done.add(1, chunk(3, 6))
    assert len(done.rows) == 0 and len(done) == 6     # held until chunk 0 is in: counted, not yet appended
    done.add(0, chunk(0, 3))
    assert [r["sample"] for r in done.rows] == list(range(9))
    done.add(4, chunk(12, 14))                         # chunk 3 never comes (an interruption)
    assert [r["sample"] for r in done.finish()] == list(range(9)) + [12, 13] and len(done) == 11
