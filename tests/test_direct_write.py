""".npz files written around the page cache (rnntui/direct_write.py) hold the bytes a plain write gives: members
larger and smaller than the buffer, headers completed in the buffer or on disk, the last block cut to length; and
where O_DIRECT is not taken (tmpfs, a pipe, a file system refusing a write) the plain write is what happens."""
from __future__ import annotations

import errno
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rnntui import direct_write
from rnntui.npyfiles import write_npz

pytestmark = pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="O_DIRECT is Linux's")


def _items():
    rng = np.random.default_rng(0)
    # sizes around the (shrunk) buffer and block: headers land in the buffer, on disk, across blocks
    return [("tiny", np.arange(3.0)), ("big", rng.normal(size=(70, 101))), ("odd", rng.normal(size=4099).astype(np.float32)),
            ("empty", np.zeros((0, 4))), ("ints", np.arange(12345, dtype=np.int16)), ("last", rng.normal(size=(5, 7)))]


def _plain_bytes(tmp_path: Path, items) -> bytes:
    """The same members written by zipfile to a plain file, as write_npz did before."""
    out = tmp_path / "plain.npz"
    with open(out, "wb") as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in items:
            with zf.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)
    return out.read_bytes()


def _takes_direct(folder: Path) -> bool:
    """Whether *folder*'s file system takes an O_DIRECT write (pytest's tmp_path does, unless it is a tmpfs)."""
    import mmap

    try:
        fd = os.open(folder / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT)
    except OSError:
        return False
    try:
        with mmap.mmap(-1, direct_write.BLOCK) as block:
            os.pwrite(fd, block, 0)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        os.unlink(folder / "probe")


@pytest.mark.parametrize("buffer", [3 * direct_write.BLOCK, 8 << 20])
def test_written_around_the_cache_the_bytes_are_a_plain_writes(tmp_path, monkeypatch, buffer):
    monkeypatch.setattr(direct_write, "BUFFER", buffer)
    used = []
    real = direct_write.DirectWriter._pwrite

    def spy(self, view, at):
        used.append((self.direct, at % direct_write.BLOCK, len(view) % direct_write.BLOCK))
        return real(self, view, at)

    monkeypatch.setattr(direct_write.DirectWriter, "_pwrite", spy)
    items = _items()
    out = tmp_path / "direct.npz"
    write_npz(out, items)
    assert out.read_bytes() == _plain_bytes(tmp_path, items)
    with np.load(out) as z:
        for key, arr in items:
            np.testing.assert_array_equal(z[key], arr)
    assert any(direct for direct, _, _ in used) == _takes_direct(tmp_path)
    assert all(at == 0 and size == 0 for _, at, size in used)     # whole, aligned blocks only
    if buffer < 8 << 20:
        assert len(used) > 10      # the buffer left many times, headers patched on disk


def test_a_file_system_that_refuses_the_write_gets_the_plain_one(tmp_path, monkeypatch):
    """Some file systems take the O_DIRECT flag and then refuse the write (EINVAL): the writer drops the flag and
    writes the same bytes through the cache."""
    monkeypatch.setattr(direct_write, "BUFFER", 3 * direct_write.BLOCK)
    real = os.pwrite
    refused = []

    def pwrite(fd, data, at):
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(at)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data, at)

    monkeypatch.setattr(os, "pwrite", pwrite)
    items = _items()
    out = tmp_path / "refused.npz"
    write_npz(out, items)
    assert refused == [0]
    assert out.read_bytes() == _plain_bytes(tmp_path, items)


def test_where_o_direct_is_not_taken_the_file_is_written_as_it_was(tmp_path, monkeypatch):
    """A pipe (no flag set: on a pipe O_DIRECT means packets) and a file not at its start get the file itself."""
    r, w = os.pipe()
    try:
        with os.fdopen(w, "wb") as f, direct_write.direct_writer(f) as out:
            assert out is f
    finally:
        os.close(r)
    with open(tmp_path / "x", "wb") as f:
        f.write(b"header")
        f.flush()
        with direct_write.direct_writer(f) as out:
            assert out is f


def test_an_error_inside_leaves_the_flags_as_they_were(tmp_path):
    import fcntl

    with open(tmp_path / "x", "wb") as f:
        before = fcntl.fcntl(f.fileno(), fcntl.F_GETFL)
        with pytest.raises(KeyError), direct_write.direct_writer(f) as out:
            out.write(b"abc")
            raise KeyError("stop")
        assert fcntl.fcntl(f.fileno(), fcntl.F_GETFL) == before
