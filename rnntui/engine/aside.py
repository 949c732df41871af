"""Work computed on a thread of its own while the caller does something else: a trace's costly keys (the
step-Jacobian norms, seconds of GEMMs) while the rest of its .npz is written; or the wait for work a child process
computes (norms_stream.NormsProcess), reporting its progress.

The work runs in a copy of the caller's context (its progress listener, numpy's errstate). A caller that stops
(an exception while writing) cancels it: the work's next progress report raises `Dropped`, and the caller
waits for at most the chunk under way before it goes on (nothing computes behind its back afterwards). Work set
aside that waits for other work set aside (`Trace.save`'s norms reading the ones a sweep computes alongside its
backward pass) drops that too when it is dropped: the caller never waits for more than a chunk.
"""
from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from rnntui.engine.progress import _listener, reporting


_norms_wanted: ContextVar[bool] = ContextVar("rnntui_norms_alongside", default=False)
_running: ContextVar["Aside | None"] = ContextVar("rnntui_aside", default=None)   # the work this thread computes


@contextmanager
def norms_alongside(wanted: bool = True) -> Iterator[None]:
    """Runs made in this block that will be read or saved with their step-Jacobian norms (`export --jacobian`)
    compute them alongside the run, each chunk of steps once the forward pass has recorded it, in a child process or
    on a thread of their own (norms_stream: a chain recorded whole); any other run derives them when first read."""
    token = _norms_wanted.set(wanted)
    try:
        yield
    finally:
        _norms_wanted.reset(token)


def norms_wanted() -> bool:
    return _norms_wanted.get()


def stopping() -> bool:
    """Whether this thread computes work set aside that was dropped (its caller stopped)."""
    work = _running.get()
    return work is not None and work._cancel.is_set()


class Dropped(Exception):
    """Raised inside work set aside whose caller stopped (never seen by the caller)."""


class Aside:
    """*fn()* computing on its own thread; `result()` waits for it and returns its value or raises its error."""

    def __init__(self, fn: Callable):
        self._cancel = threading.Event()
        self._awaited: list[Aside] = []     # other work set aside this one waits for (`result` on its thread)
        outer = _listener.get()

        def listener(label: str, done: int, total: int) -> None:
            if self._cancel.is_set():
                raise Dropped
            if outer is not None:
                outer(label, done, total)

        def work() -> None:
            _running.set(self)
            try:
                with reporting(listener):
                    self._value = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
                self._error = exc
            finally:
                self._done.set()

        self._value, self._error = None, None
        self._done = threading.Event()
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(work,),
                                        name="rnntui-aside", daemon=True)
        self._thread.start()

    def result(self):
        waiter = _running.get()   # work set aside that waits for this: dropping it drops this too
        if waiter is not None and waiter is not self:
            waiter._awaited.append(self)
            if waiter._cancel.is_set():   # dropped before it was noted
                self._cancel.set()
        self._wait()
        if self._error is not None:
            raise self._error
        return self._value

    @property
    def dropped(self) -> bool:
        """Whether the work was stopped by `drop` (its result is then never computed)."""
        return self._cancel.is_set() and isinstance(self._error, Dropped)

    def drop(self) -> None:
        """Stop the work at its next progress report, and any it waits for, and wait for it."""
        self._cancel.set()
        for other in list(self._awaited):
            other._cancel.set()
        self._wait()

    def _wait(self) -> None:
        # on an Event, not Thread.join alone: a join that a signal's exception interrupts marks the thread stopped
        # while it runs on (CPython's threading, bpo-45274), and every later join returns at once
        self._done.wait()
        self._thread.join()


@contextmanager
def aside(fn: Callable) -> Iterator[Aside]:
    """*fn* computed on its own thread during the block; leaving the block by an exception drops it."""
    work = Aside(fn)
    try:
        yield work
    except BaseException:
        work.drop()
        raise
    work.result()   # a block that never asked still waits, so nothing runs on after it
