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
    # whole, aligned blocks around the cache; the last partial block, if any, through it
    assert all(at == 0 and size == 0 for direct, at, size in used if direct)
    plain = [i for i, (direct, _, _) in enumerate(used) if not direct]
    assert plain in ([], [len(used) - 1])
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
    """A pipe (no flag set: on a pipe O_DIRECT means packets), a file not at its start and a file open for writing
    only (a header completed on disk is read back) get the file itself."""
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
    with open(tmp_path / "y", "wb") as f, direct_write.direct_writer(f) as out:
        assert out is f


def test_writes_after_seeks_are_a_files(tmp_path, monkeypatch):
    """What zipfile never does, done as a file does it: an empty write past the end writes nothing; a write past
    the end leaves zeros before it; a write inside the written part overwrites it; sizes of whole blocks."""
    import random

    monkeypatch.setattr(direct_write, "BUFFER", 2 * direct_write.BLOCK)   # most writes leave it: patches on disk
    for seed in range(20):
        rng = random.Random(seed)
        ops = []
        for _ in range(rng.randrange(1, 30)):
            ops.append(("seek", rng.choice([0, rng.randrange(0, 40000), direct_write.BLOCK * rng.randrange(1, 9)])))
            ops.append(("write", bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 4096, rng.randrange(9000)])))))
        with open(tmp_path / "plain", "w+b") as f:
            for op, arg in ops:
                f.seek(arg) if op == "seek" else f.write(arg)
        fd = os.open(tmp_path / "direct", os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(fd, "r+b") as f, direct_write.direct_writer(f) as out:
            for op, arg in ops:
                out.seek(arg) if op == "seek" else out.write(arg)
        assert (tmp_path / "direct").read_bytes() == (tmp_path / "plain").read_bytes(), seed


def test_a_file_size_limit_the_file_is_under_is_no_error(tmp_path):
    """The last partial block is not padded on disk: a limit between the file's size and the next block's end takes
    it (it failed with EFBIG when the padded block was written around the cache)."""
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "t.npz"
    code = textwrap.dedent(f"""
        import resource, numpy as np
        from rnntui.npyfiles import write_npz
        items = [("a", np.arange(1000.0))]
        write_npz({str(tmp_path / "probe.npz")!r}, items)
        import os
        size = os.path.getsize({str(tmp_path / "probe.npz")!r})
        assert size % 4096, size
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 1, size + 1))
        write_npz({str(out)!r}, items)
        print(size)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size == int(proc.stdout)


def test_an_error_inside_leaves_the_flags_as_they_were(tmp_path):
    import fcntl

    with open(tmp_path / "x", "wb") as f:
        before = fcntl.fcntl(f.fileno(), fcntl.F_GETFL)
        with pytest.raises(KeyError), direct_write.direct_writer(f) as out:
            out.write(b"abc")
            raise KeyError("stop")
        assert fcntl.fcntl(f.fileno(), fcntl.F_GETFL) == before
