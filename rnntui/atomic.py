"""Write a file all at once: a temporary file beside it, renamed into place on success.

What is replaced and what is not:
- a regular file is replaced whole, keeping its permission bits; a new file gets 0o666 minus the umask;
- a symlink is followed: the file it points to is replaced and the link stays a link;
- a character device or a pipe (`/dev/null`, `/dev/stdout`, a FIFO) is written through, never renamed
  over: there is nothing to make atomic there, and replacing `/dev/null` with a file would break the system;
- a block device, a socket or a folder is refused.
A signal that ends the process during the write (SIGHUP, SIGINT, SIGQUIT, SIGTERM: rnntui/signals.py)
removes the temporary file before the process ends, and a file-size limit (ulimit -f) becomes an error
instead of killing the process. Every OSError becomes one ExportError line naming the file.
"""
from __future__ import annotations

import errno
import fcntl
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from rnntui import signals
from rnntui.errors import ExportError

REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file would be larger than allowed (the file-size limit, ulimit -f, or the file system's)",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENXIO: "no process is reading this pipe",
    errno.EIO: "input/output error",
    errno.EINVAL: "the file system does not take this file",
}


def export_error(path: Path, exc: OSError) -> ExportError:
    reason = REASONS.get(exc.errno) or (exc.strerror or str(exc)).lower()
    if exc.errno == errno.ENOENT and Path(path).parent.is_dir():
        reason = "files cannot be created in this folder"  # /proc, for one
    return ExportError(f"{path}: cannot write there: {reason}")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def check_target(path: Path) -> None:
    """Refuse, before anything runs, a target that could never be written."""
    path = Path(path)
    try:
        _check_target(path)
    except OSError as exc:
        raise export_error(path, exc) from None


def _check_target(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    try:
        name_max = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    if len(os.fsencode(path.name)) > name_max:
        raise ExportError(f"{path}: cannot write there: the file name is {len(os.fsencode(path.name))} bytes long; "
                          f"expected at most {name_max}")
    for anc in [parent, *parent.parents]:
        if anc.exists() and not anc.is_dir():
            raise ExportError(f"{path}: cannot write there: {anc} is a file, not a folder")
    if not parent.exists():
        raise ExportError(f"{path}: cannot write there: the folder {parent} does not exist")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise ExportError(f"{path}: is a folder; expected a file name")
    if stat.S_ISBLK(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        raise ExportError(f"{path}: is {_kind(st.st_mode)}; expected a regular file, a character device or a pipe")


def refuse_overwriting(path: Path, inputs) -> None:
    """Refuse to write *path* when it is one of *inputs*, the files the run reads (the same file through
    any name or link): `export -o scenario.yaml` would replace the scenario with its own report."""
    try:
        out = os.stat(path)
    except OSError:
        return  # nothing there yet, or nothing that could be read
    if not stat.S_ISREG(out.st_mode):
        return  # a device or a pipe is written through, never replaced
    for src in inputs:
        try:
            st = os.stat(src)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
            same = "" if os.path.abspath(src) == os.path.abspath(path) else f" ({src})"
            raise ExportError(f"{path}: is a file this run reads{same}; writing there would replace it: expected "
                              "another file name for the output")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _open_kwargs(mode: str) -> dict:
    return {} if "b" in mode else {"encoding": "utf-8"}


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb"):
    """Yield a file object; only a block that finishes replaces *path* (see the module's notes)."""
    path = Path(path)
    check_target(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise export_error(path, exc) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        # opened by its own name: /proc/self/fd/1 resolves to "pipe:[...]", which no one can open
        with _write_through(path, mode) as f:
            yield f
        return
    target = Path(os.path.realpath(path))  # a link to a regular file stays a link
    keep = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    tmp = None
    with signals.during_write():
        try:
            with signals.deferred():  # no signal between making the file and noting it
                # a short prefix: a 250-byte name must not make a temporary name over the limit
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".tmp", dir=target.parent)
                signals.temporary.add(tmp)
            os.fchmod(fd, keep)
            with os.fdopen(fd, mode, **_open_kwargs(mode)) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            signals.temporary.discard(tmp)
            tmp = None
        except OSError as exc:
            raise export_error(path, exc) from None
        finally:
            if tmp is not None:
                _remove(tmp)
                signals.temporary.discard(tmp)


@contextmanager
def _write_through(path: Path, mode: str):
    """A device or a pipe: open it and write; nothing to rename, nothing to remove."""
    try:
        # O_NONBLOCK: a FIFO with no reader is an error (ENXIO), not a wait; blocking again for the writes
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        with os.fdopen(fd, mode.replace("+", ""), **_open_kwargs(mode)) as f:
            yield f
            f.flush()
    except OSError as exc:
        raise export_error(path, exc) from None


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass
