"""Progress of long engine computations, reported to whoever listens (the CLI draws a bar).

The engine imports nothing of the UI: a caller installs a callback with `reporting(fn)`;
`report(label, done, total)` calls it, or does nothing when no one listens.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Callback = Callable[[str, int, int], None]
_listener: ContextVar[Callback | None] = ContextVar("rnntui_progress", default=None)


@contextmanager
def reporting(callback: Callback) -> Iterator[None]:
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


def report(label: str, done: int, total: int) -> None:
    fn = _listener.get()
    if fn is not None:
        fn(label, done, total)
