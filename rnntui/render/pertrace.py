"""Values computed once from a trace and kept while it lives, for what a view redraws on every key."""
from __future__ import annotations

import weakref


class PerTrace:
    """A few values per trace. Keyed by the trace's identity (a Trace is a Mapping: not hashable),
    checked through a weak reference so a new trace that gets a dead one's id is never served the dead
    one's values."""

    def __init__(self, size: int):
        self.size = size
        self._values: dict[tuple, tuple] = {}

    def has(self, trace, key: tuple) -> bool:
        hit = self._values.get((id(trace),) + key)
        return hit is not None and hit[0]() is trace

    def get(self, trace, key: tuple, make):
        k = (id(trace),) + key
        hit = self._values.get(k)
        if hit is not None and hit[0]() is trace:
            return hit[1]
        value = make()
        if len(self._values) >= self.size:
            self._values.pop(next(iter(self._values)))
        self._values[k] = (weakref.ref(trace), value)
        return value
