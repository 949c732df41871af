"""The files a scenario's load reads (the scenario itself, its weights, input, vocabulary and initial-state
files), so that a command writing a file can refuse to write it over one of them (`export -o scenario.yaml`
would replace the scenario with its own report). Each reader notes its path; `load_scenario` collects them
into `Scenario.sources`."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

_reading: ContextVar[list | None] = ContextVar("rnntui_reading", default=None)


def note(path) -> None:
    """*path* is read by the load under way (if one is recording)."""
    paths = _reading.get()
    if paths is not None:
        paths.append(str(Path(path)))


@contextmanager
def recording() -> Iterator[list[str]]:
    """The paths noted while the block runs, in the order they were read."""
    paths: list[str] = []
    token = _reading.set(paths)
    try:
        yield paths
    finally:
        _reading.reset(token)
