"""A replayed training run kept on disk, so the second `run`/`show`/`export`/`check` of the same scenario
opens at once instead of replaying every iteration again.

The key is a SHA-256 of everything the run's numbers depend on: the scenario's text, every array the
loader made of it (inputs, targets, lengths, initial states, the starting parameters and buffers, so a
changed weights or input file changes the key even where the text does not), the training
configuration, the interventions, the versions of rnntui and NumPy, and the engine's source itself. Any change gives a new key;
nothing is ever invalidated in place.

What is kept: the run's `train.*` arrays (every iteration's numbers) and its checkpoints (parameters,
optimizer state and buffers every K iterations, and before the last iteration). The last iteration's
full record is recomputed from the last checkpoint when the file is read: one run, the same operations
on the same arrays, so it is bit for bit the record training made. Files are `.npz` without pickle,
written to a temporary name and renamed into place; the folder is kept under a size limit (the oldest
read first out). `RNNTUI_CACHE_DIR` names the folder (default `$XDG_CACHE_HOME/rnntui` or
`~/.cache/rnntui`); `RNNTUI_CACHE_DIR=off` turns the cache off. A cache that cannot be read or written
is silently passed over: it only ever saves time.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np

FOLDER_LIMIT = 1 << 30       # the cache folder's total size, at most
FILE_LIMIT = 256 << 20       # a run whose checkpoints are larger is not cached
SUFFIX = ".train.npz"


def folder() -> Path | None:
    """The cache folder, or None when the cache is off."""
    env = os.environ.get("RNNTUI_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env) / "training"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnntui" / "training"


def _describe(value) -> str:
    """A stable text of a configuration value (dataclasses by their fields)."""
    if is_dataclass(value) and not isinstance(value, type):
        return json.dumps(asdict(value), sort_keys=True, default=repr)
    return repr(value)


_CODE: list[str] = []


def code_fingerprint() -> str:
    """A SHA-256 of the engine's own source: a run replayed by other code (a development checkout edited
    since, an upgrade without a version change) never reads a file another engine wrote."""
    if not _CODE:
        h = hashlib.sha256()
        root = Path(__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _CODE.append(h.hexdigest())
    return _CODE[0]


def fingerprint(sc, extra: str = "") -> str:
    """The key of a training scenario: everything its numbers depend on (and *extra*: how it is kept)."""
    from rnntui import __version__

    h = hashlib.sha256()

    def add(label: str, value) -> None:
        h.update(label.encode())
        if isinstance(value, np.ndarray):
            a = np.ascontiguousarray(value)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes() if a.dtype.kind not in "OU" else "\x00".join(map(str, a.ravel())).encode())
        elif isinstance(value, dict):
            for k in sorted(value, key=str):
                add(f"[{k}]", value[k])
        else:
            h.update(_describe(value).encode())

    add("version", (__version__, np.__version__, code_fingerprint(), extra))
    for name in ("text", "dtype", "seed", "mode", "loss", "feed", "train", "interventions"):
        add(name, getattr(sc, name, None))
    for name in ("x", "target", "lengths", "token_ids", "decoder_x", "params", "buffers", "initial_states",
                 "inputs", "input_lengths"):   # a graph model's named inputs
        value = getattr(sc, name, None)
        if value is not None:
            add(name, value)
    return h.hexdigest()


def _path(key: str) -> Path | None:
    where = folder()
    return None if where is None else where / (key + SUFFIX)


def load(key: str) -> dict[str, np.ndarray] | None:
    """The stored arrays of run *key*, or None (not stored, or unreadable)."""
    path = _path(key)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        os.utime(path)   # read: the last to be evicted
        return arrays
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def store(key: str, arrays: dict[str, np.ndarray]) -> None:
    """Write run *key*'s arrays (whole or not at all), then keep the folder under its limit."""
    path = _path(key)
    if path is None or sum(a.nbytes for a in arrays.values()) > FILE_LIMIT:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _trim(path.parent)
    except OSError:
        return


def _trim(where: Path) -> None:
    """Remove the least recently read files until the folder is under FOLDER_LIMIT."""
    files = sorted(where.glob("*" + SUFFIX), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    for p in files:
        if total <= FOLDER_LIMIT:
            break
        total -= p.stat().st_size
        p.unlink(missing_ok=True)


__all__ = ["fingerprint", "folder", "load", "store"]
