"""Open what `rnntui run`, `show` and `rnntui.load_trace` accept besides a scenario: a saved trace (.npz,
engine/trace_file.py) or a folder of iterations recorded by `rnntui.record` (engine/recorded.py)."""
from __future__ import annotations

from pathlib import Path

from rnntui.engine.recorded import is_recorded_run, load_recorded
from rnntui.engine.trace import Trace
from rnntui.engine.trace_file import read_trace


def load_trace(path: str | Path, max_memory: int | None = None) -> Trace:
    """Open a saved trace without recomputing anything.

    Members are read one by one after their headers (rnntui/npyfiles.py): one that declares more
    than its zip entry holds (a zip bomb) or more than *max_memory* bytes in all (default: half the
    available memory) is refused before it is inflated."""
    if is_recorded_run(path):   # a folder of iterations recorded by rnntui.record
        return load_recorded(Path(path), max_memory)
    return read_trace(path, max_memory)
