"""Arrays from .npy/.npz files, read without pickle, member by member, after their headers; and .npz files
written member by member (`write_npz`).

A dtype the caller does not accept (by default anything but real numbers: complex, dates, strings,
records, objects) is refused before reading, and so is an array larger than the memory limit or
than its file or zip member's declared size (a zip bomb, a truncated member); any other damage
(a bad CRC, a broken zip) is one line naming the file. Used by the scenario layer (input and
weight files) and the engine (saved traces), so it imports nothing of either.
"""
from __future__ import annotations

import os
import stat
import zipfile
from math import prod
from pathlib import Path

import numpy as np

# bool, signed and unsigned integers, floats: what float64 holds without losing a part
REAL_KINDS = "biuf"


class ArrayFileError(Exception):
    """A message about an array file, without the file's name (the caller adds where it was named)."""


def check_dtype(dtype: np.dtype, name: str, kinds: str = REAL_KINDS) -> None:
    dtype = np.dtype(dtype)
    if dtype.kind in kinds and dtype.fields is None and dtype.subdtype is None:
        return
    why = {"c": "complex numbers (their imaginary part would be lost)", "M": "dates", "m": "time spans",
           "U": "text", "S": "bytes", "V": "records or raw bytes",
           "O": "Python objects (reading them would need pickle, which is never used)"}.get(dtype.kind, "data")
    expected = "real numbers (bool, int or float)" + (" or text" if "U" in kinds else "")
    raise ArrayFileError(f"{name} holds {why} of dtype {dtype}; expected {expected}")


def _header(f, name: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _fortran, dtype = read(f, max_header_size=10000)
    except Exception as exc:  # noqa: BLE001 - any damaged header is the same problem for the user
        raise ArrayFileError(f"{name} is not a readable .npy array ({_first_line(exc)})") from None
    return shape, dtype


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _check_size(shape, dtype, name: str, available: int, limit: int | None) -> None:
    need = prod(shape) * np.dtype(dtype).itemsize
    if need > available:
        raise ArrayFileError(f"{name} declares shape {tuple(shape)} ({need:,} bytes) but holds only "
                             f"{available:,} bytes; the file is truncated or damaged")
    as_float = prod(shape) * 8  # what it becomes
    if limit is not None and as_float > limit:
        raise ArrayFileError(f"{name} has shape {tuple(shape)}: {as_float:,} bytes as float64, more than the "
                             f"memory limit of {limit:,} bytes; use a smaller array or raise --max-memory")


def regular_size(path: Path) -> int:
    try:
        st = os.stat(path)
    except OSError as exc:  # a folder on the way that cannot be searched, for one
        raise ArrayFileError(f"cannot be opened: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ArrayFileError("is not a regular file (a device, pipe or folder); expected an array file")
    return st.st_size


def read_npy(path: Path, limit: int | None) -> np.ndarray:
    size = regular_size(path)
    try:
        f = open(path, "rb")
    except OSError as exc:  # not readable by this user (EACCES), for one
        raise ArrayFileError(f"cannot be opened: {exc.strerror or exc}") from None
    with f:
        shape, dtype = _header(f, path.name)
        check_dtype(dtype, path.name)
        _check_size(shape, dtype, path.name, size - f.tell(), limit)
        f.seek(0)
        try:
            return np.load(f, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise ArrayFileError(f"cannot read {path.name}: {_first_line(exc)}") from None


def read_npz(path: Path, keys: list[str] | None, limit: int | None,
             kinds: str = REAL_KINDS) -> dict[str, np.ndarray]:
    """The members named in *keys* (all if None) of a .npz, by name without `.npy`, each of a dtype
    of one of *kinds* (numpy's dtype.kind letters)."""
    regular_size(path)
    out: dict[str, np.ndarray] = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as z:
            members = {info.filename.removesuffix(".npy"): info for info in z.infolist()}
            for key in (list(members) if keys is None else keys):
                info = members[key]
                name = f"{path.name}[{key}]"
                with z.open(info) as f:
                    shape, dtype = _header(f, name)
                    check_dtype(dtype, name, kinds)
                    # the member's declared size bounds what zipfile will inflate: a bomb stops here
                    _check_size(shape, dtype, name, info.file_size, None if limit is None else limit - total)
                    total += prod(shape) * 8
                    f.seek(0)
                    arr = np.lib.format.read_array(f, allow_pickle=False)
                out[key] = arr
    except ArrayFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - bad CRC, broken zip, truncated member: the file is damaged
        raise ArrayFileError(f"cannot read {path.name}: {_first_line(exc)}") from None
    return out


def npz_names(path: Path) -> list[str]:
    regular_size(path)
    try:
        with zipfile.ZipFile(path) as z:
            return [info.filename.removesuffix(".npy") for info in z.infolist()]
    except Exception as exc:  # noqa: BLE001
        raise ArrayFileError(f"cannot read {path.name}: {_first_line(exc)}") from None


def write_npz(path, items) -> None:
    """An .npz (np.savez's format, uncompressed) written member by member, atomically, from *items*, pairs of
    name and array: only the member being written need be in memory, and an array can be made while the ones
    before it are written (an iterator that computes it, or waits for it, when asked). Written around the page
    cache where the file system allows (direct_write): the same bytes."""
    from rnntui.atomic import atomic_write
    from rnntui.direct_write import direct_writer

    # around the page cache where the file system allows: the file is fsynced before it replaces *path* anyway
    with atomic_write(path) as f, direct_writer(f) as out:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for key, arr in items:
                with zf.open(key + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)
