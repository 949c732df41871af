"""Whether the debugger has a terminal to run in: the one check `rnntui run` and `rnntui.debug` share.

Textual's terminal driver reads keys from standard input and draws on standard error. Where either is
not a terminal (a pipe, a file, /dev/null, a notebook's kernel), the app would wait for keys that never
come, or draw where no one sees it: it is refused at once instead. textual-serve's sessions (`rnntui
serve`) run with a driver of their own (TEXTUAL_DRIVER), whose terminal is the browser.
"""
from __future__ import annotations

import os
import sys

from rnntui.errors import RnntuiError


class NoTerminal(RnntuiError):
    """The debugger was asked to open where there is no terminal."""

    title = "terminal error"


def _is_terminal(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed
        return False


def terminal_problem() -> str | None:
    """Why the debugger cannot open in this process, or None when it can."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return None
    missing = [name for name, stream in (("standard input", sys.__stdin__), ("standard error", sys.__stderr__))
               if not _is_terminal(stream)]
    if not missing:
        return None
    return (f"the debugger needs a terminal: it reads keys from standard input and draws on standard error, and "
            f"here {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not one (a pipe, a file or "
            "/dev/null); run it in a terminal. Without one: `rnntui show` or `rnntui export` write a run's report, "
            "rnntui.run and rnntui.from_torch return its trace")


def require_terminal() -> None:
    problem = terminal_problem()
    if problem is not None:
        raise NoTerminal(problem)
