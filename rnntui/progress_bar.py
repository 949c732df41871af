"""The CLI's progress display: rich bars on stderr, fed by rnntui.engine.progress.

Nothing is drawn for work that finishes within DELAY seconds, so quick commands print no bar.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

DELAY = 1.0


@contextmanager
def stderr_progress(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from rnntui.engine.progress import reporting

    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    working = bar.add_task("working", total=None)
    tasks: dict[str, int] = {}
    timer = threading.Timer(DELAY, bar.start)  # show nothing for work done within DELAY

    def update(label: str, done: int, total: int) -> None:
        if label not in tasks:
            bar.update(working, visible=False)
            tasks[label] = bar.add_task(label, total=total)
        bar.update(tasks[label], completed=done, total=total)

    timer.start()
    try:
        with reporting(update):
            yield
    finally:
        timer.cancel()
        timer.join()  # a start already under way finishes before the stop
        bar.stop()    # does nothing if it never started
