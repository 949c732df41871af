"""Write a file all at once: a temporary file beside it, renamed into place on success."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from rnntui.errors import ExportError


def check_target(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    for anc in [parent, *parent.parents]:
        if anc.exists() and not anc.is_dir():
            raise ExportError(f"{path}: cannot write there: {anc} is a file, not a folder")
    if not parent.exists():
        raise ExportError(f"{path}: cannot write there: the folder {parent} does not exist")
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; expected a file name")


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb"):
    """Yield a file object; only a block that finishes replaces *path*."""
    path = Path(path)
    check_target(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except PermissionError as exc:
        _remove(tmp)
        raise ExportError(f"{path}: permission denied ({exc.strerror})") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass
