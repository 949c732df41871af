"""A scan's rows, held as one compact array per column instead of one dict per sample.

A row is a few dozen numbers; as a dict of Python objects it costs ~1.5 kB, so a scan of 100,000 samples
would hold ~150 MB of rows (memory growing with N). Here a number costs its 8 bytes (a word of a repeated
string, its 4-byte code), so the rows of 100,000 samples take a few MB. Read back, each row is the dict it was
written as, with the same types and values (bit for bit): a column whose values are not all of one kind
(int, float, bool, str) keeps them as objects. The ranking is computed on the columns (`badness_order`) with the
same arithmetic and order as sorting the dicts by samples/measure.py `badness`.
"""
from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

import numpy as np

_CODES = {float: "d", int: "q", bool: "b"}
_DTYPES = {"d": np.float64, "q": np.int64, "b": np.int8, "i": np.int32}


class _Column:
    """One column: typed values in an `array` (strings as codes into `words`), or Python objects once mixed."""

    def __init__(self, first, rows_before: int):
        """A column whose first value is *first*, in a table of *rows_before* rows that lack it."""
        self.kind: str = ""                  # "d", "q", "b", "s" (a word's code) or "o" (objects)
        self.values = None
        self.words: list[str] = []
        self._word: dict[str, int] = {}
        self.missing: set[int] = set()       # rows without this column (a row's keys may differ)
        self._start(first)
        for _ in range(rows_before):
            self.pad()

    def _start(self, v) -> None:
        t = type(v)
        if t is str:
            self.kind, self.values = "s", array("i")
        elif t in _CODES:
            self.kind = _CODES[t]
            self.values = array(self.kind)
        else:
            self.kind, self.values = "o", []

    def _objects(self) -> None:
        """Mixed kinds: every value so far kept as the object it was."""
        values = [None if i in self.missing else self.get(i) for i in range(len(self.values))]
        self.kind, self.values, self.words, self._word = "o", values, [], {}

    def append(self, v) -> None:
        t = type(v)
        if self.kind == "s" and t is str:
            code = self._word.get(v)
            if code is None:
                code = self._word[v] = len(self.words)
                self.words.append(v)
            self.values.append(code)
            return
        if self.kind in ("d", "q", "b") and _CODES.get(t) == self.kind:
            try:
                self.values.append(v)
                return
            except OverflowError:   # an int beyond 64 bits
                pass
        if self.kind != "o":
            self._objects()
        self.values.append(v)

    def pad(self) -> None:
        """A row without this column."""
        n = len(self.values)
        self.missing.add(n)
        if self.kind == "o":
            self.values.append(None)
        else:
            self.values.append(0)

    def get(self, i: int):
        v = self.values[i]
        if self.kind == "s":
            return self.words[v]
        if self.kind == "b":
            return bool(v)
        return v

    def array(self) -> np.ndarray | None:
        """The column as a NumPy array (no copy) when it holds numbers, else None."""
        if self.kind in ("d", "q", "b"):
            return np.frombuffer(self.values, dtype=_DTYPES[self.kind]) if len(self.values) else \
                np.zeros(0, _DTYPES[self.kind])
        return None


class Rows(Sequence):
    """A scan's rows in the order they were appended; `rows[i]` is row i as a dict."""

    def __init__(self, rows=()):
        self._cols: dict[str, _Column] = {}
        self._n = 0
        for r in rows:
            self.append(r)

    def append(self, row: dict) -> None:
        for name, v in row.items():
            col = self._cols.get(name)
            if col is None:   # a column first seen now: the rows before lack it
                col = self._cols[name] = _Column(v, self._n)
            col.append(v)
        for name, col in self._cols.items():
            if name not in row:
                col.pad()
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def _row(self, i: int) -> dict:
        return {name: col.get(i) for name, col in self._cols.items() if i not in col.missing}

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        return self._row(i)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return NotImplemented if not isinstance(other, Sequence) else False
        return all(_same(a, b) for a, b in zip(self, other))

    __hash__ = None

    def __repr__(self) -> str:
        return f"<Rows: {self._n:,} rows, columns {', '.join(self._cols)}>"

    def column(self, name: str) -> np.ndarray | None:
        """Column *name* as a NumPy array of numbers (no copy), or None: missing in some rows or not numbers."""
        col = self._cols.get(name)
        if col is None or col.missing:
            return None
        return col.array()

    def nbytes(self) -> int:
        """About how many bytes the rows hold."""
        return sum(col.values.itemsize * len(col.values) if col.kind != "o" else 64 * len(col.values)
                   for col in self._cols.values())

    def in_order(self, order) -> RowsView:
        return RowsView(self, order)


class RowsView(Sequence):
    """Rows read in another order (a ranking), without copying them."""

    def __init__(self, rows: Rows, order):
        self.rows, self.order = rows, np.asarray(order, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.rows[int(j)] for j in self.order[i]]
        return self.rows[int(self.order[i])]


def _same(a: dict, b: dict) -> bool:
    """Two rows equal, a NaN equal to a NaN in the same place (the same row written twice)."""
    if a.keys() != b.keys():
        return False
    for k, x in a.items():
        y = b[k]
        if x == y:
            continue
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        return False
    return True


def badness_order(rows: Rows) -> np.ndarray | None:
    """The rows' order worst first, as `sorted(rows, key=measure.badness, reverse=True)` gives it (the same
    arithmetic, row by row, and the same order among equals), computed on the columns; None when the columns
    it reads are not all numbers (the caller then sorts the dicts)."""
    first, rate, loss = rows.column("first_nonfinite_step"), rows.column("rate"), rows.column("loss")
    verdict = rows._cols.get("verdict")
    if first is None or rate is None or loss is None or rate.dtype != np.float64 or loss.dtype != np.float64 \
            or verdict is None or verdict.missing or verdict.kind != "s":
        return None
    codes = np.frombuffer(verdict.values, dtype=np.int32) if len(verdict.values) else np.zeros(0, np.int32)
    nonfinite_code = verdict._word.get("non-finite", -1)
    nonfinite = (first >= 0) | (codes == nonfinite_code)
    # math.log row by row, as badness takes it (NumPy's vectorised log may differ in the last bit)
    far = np.fromiter((abs(math.log(r)) if r > 0 and math.isfinite(r) else (math.inf if r == 0 else 0.0)
                       for r in rate.tolist()), dtype=np.float64, count=len(rate))
    lossv = np.where(np.isfinite(loss), loss, math.inf)
    # descending on (nonfinite, far, loss), equal rows in their order: a stable sort of the negated keys
    return np.lexsort((-lossv, -far, -nonfinite.astype(np.int8)))


__all__ = ["Rows", "RowsView", "badness_order"]
