"""How rnntui ends on a signal: promptly, with exit status 128 + the signal's number, leaving no file behind.

`install()`, called once when the `rnntui` command starts (`cli.main`), makes SIGHUP, SIGINT, SIGQUIT
and SIGTERM end the process through Python: the handler raises `Ended` (a SystemExit) in the main
thread, so every `finally` runs and an atomic write removes its temporary file. A signal the process
inherited as ignored (`nohup`, a shell's background job) stays ignored: it ends nothing.

While the debugger is open (`closing(ask)`), a signal asks the app to close (it gives the terminal back),
and a watchdog ends the process GRACE seconds later if the app could not (a long recomputation, a
terminal that is gone); a second signal ends it at once. Ending at once removes the temporary files of
the writes under way first (`temporary` keeps them).

A script that uses rnntui as a library keeps its own handlers: `during_write()` takes SIGHUP, SIGQUIT
and SIGTERM only for the time of an atomic write, and only where they are not handled already.
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ENDING = tuple(getattr(signal, name) for name in ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM") if hasattr(signal, name))
GRACE = 3.0                      # seconds the debugger has to close after a signal before the process ends anyway

temporary: set[str] = set()      # temporary files of the atomic writes under way
_installed = False
_ask: Callable[[int], bool] | None = None   # the open debugger's "please close" (True: it will)
_asked = False


class Ended(SystemExit):
    """Raised in the main thread by a signal that ends the process; its code is 128 + the signal's number."""


def remove_temporary() -> None:
    for path in list(temporary):
        try:
            os.unlink(path)
        except OSError:
            pass
        temporary.discard(path)


def end_now(signum: int) -> None:
    """End the process at once (no unwinding), after removing the temporary files."""
    remove_temporary()
    os._exit(128 + signum)


def _handler(signum: int, frame) -> None:
    global _asked
    if _ask is not None:
        if _asked:
            end_now(signum)
        _asked = True
        if _ask(signum):
            watchdog = threading.Timer(GRACE, end_now, (signum,))
            watchdog.daemon = True
            watchdog.start()
            return
    raise Ended(128 + signum)


def _ignored(sig: int) -> bool:
    return signal.getsignal(sig) is signal.SIG_IGN


def install() -> None:
    """Handle every ending signal (not those inherited as ignored) for the life of the process."""
    global _installed
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in ENDING:
        if not _ignored(sig):
            signal.signal(sig, _handler)
    _installed = True


@contextmanager
def closing(ask: Callable[[int], bool]) -> Iterator[None]:
    """While the block runs, a signal calls *ask(signum)* first (see the module's notes)."""
    global _ask, _asked
    if not _installed:
        yield
        return
    _ask, _asked = ask, False
    try:
        yield
    finally:
        _ask = None


@contextmanager
def during_write() -> Iterator[None]:
    """SIGHUP, SIGQUIT and SIGTERM end the process through Python for the time of the block (where they
    are left at their default), so that `finally` removes a temporary file; SIGXFSZ is ignored, so that
    passing the file-size limit is an EFBIG error instead of a core dump."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {}
    for name in ("SIGHUP", "SIGQUIT", "SIGTERM"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            saved[sig] = signal.signal(sig, _handler)
    xfsz = getattr(signal, "SIGXFSZ", None)
    if xfsz is not None and signal.getsignal(xfsz) is signal.SIG_DFL:
        saved[xfsz] = signal.signal(xfsz, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold the ending signals back for a few instructions (making a temporary file and noting it), so
    that none lands between the two; they are delivered when the block ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
