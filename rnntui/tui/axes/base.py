"""What an outer axis is to the debugger: a row of whole runs around the one the cursor steps through.

A training run's iterations and a data set's samples are two (tui/axes/iterations.py, tui/axes/samples.py);
the app moves along any registered axis the same way (tui/axes/__init__.py `AXES`):

- `len(axis)`, `axis.start`: how many positions and where a session opens;
- `axis.move(k, n)`: pure, the position *n* moves from *k* reaches in the axis's own order (None: none);
- `axis.end(last)`: the first or last position;
- `axis.ready(k, state)`: position k's record opened at once when it costs nothing (cached), else None;
  `axis.open(k, state)`: opened whatever it costs (the app calls it in a worker thread, Esc cancels);
- `axis.keep(cursor, run)`: the cursor in that record (place, pass and step kept; `state.kept_cursor`);
- `axis.words(k)`: what the header says of position k ("" for nothing), `axis.suffix(k)`: an export's name;
- `cls.pane(axis)`: the widget that draws the axis (hidden when the run has none), bound to the app's state;
- `BINDINGS`: the keys it owns, with actions `axis('<name>', 'move', n)`, `axis('<name>', 'end', last)`, or
  `axis('<name>', '<verb>', ...)` for a key of its own (the app calls `key_<verb>(app, ...)`).

The app holds which position each axis is at in its one state (`DebuggerState.positions`), and moving is
the state's pure transition `moved` (the cursor kept, what-ifs of the position left dropped).
"""
from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding

from rnntui.tui.state import DebuggerState, OpenRun, kept_cursor


class Axis:
    """One outer axis of a session (an instance: the run has it); subclasses fill in the class attributes."""

    name: ClassVar[str]
    """Its position's key in the state, its worker group and its keys' action argument."""
    title: ClassVar[str]
    """The help screen's heading over its keys."""
    noun: ClassVar[str]
    """What one position is called ("iteration", "sample")."""
    BINDINGS: ClassVar[list[Binding]] = []
    offered_without: ClassVar[bool] = False
    """Whether its keys are offered in a run without the axis (they then say why they do nothing)."""

    start: int = 0

    @classmethod
    def attach(cls, trace, other, options: dict) -> Axis | None:
        """The axis of the run *trace* (B: *other*) opened with the app's *options*, or None: it has none."""
        raise NotImplementedError

    @classmethod
    def pane(cls, axis: Axis | None):
        """The widget that draws the axis (hidden when *axis* is None), or None: it draws nothing."""
        return None

    @classmethod
    def absent(cls, app) -> None:
        """A key of the axis pressed in a run without it (when `offered_without`): say why nothing moves."""

    def __len__(self) -> int:
        raise NotImplementedError

    def move(self, k: int, n: int) -> int | None:
        """The position *n* after (n < 0: before) *k*, clamped to the ends; None when there is none."""
        to = min(max(k + n, 0), len(self) - 1)
        return to

    def end(self, last: bool) -> int:
        return len(self) - 1 if last else 0

    def ready(self, k: int, state: DebuggerState) -> OpenRun | None:
        return None

    def open(self, k: int, state: DebuggerState) -> OpenRun:
        raise NotImplementedError

    def busy(self, k: int) -> str:
        """What the header says while position k is opened in a worker."""
        return f"opening {self.noun} {k:,}"

    def stop(self, k: int, n: int) -> str:
        """What a move that cannot go on says (`move` returned None)."""
        return f"{self.noun} {k:,} is the " + ("last" if n > 0 else "first")

    def aim(self, app, k: int) -> None:
        """A move to position k was asked (before its run is open): a pane may show it at once."""

    def keep(self, cursor, run: OpenRun):
        return kept_cursor(cursor, run)

    def words(self, k: int) -> str:
        return ""

    def suffix(self, k: int) -> str:
        return f"-{self.noun}{k}"


__all__ = ["Axis"]
