"""Large files written around the page cache (Linux's O_DIRECT), byte for byte what a plain write gives.

An export is fsynced before it replaces its target (atomic.py), so the page cache gains it nothing: every page
is written to the disk before the export returns anyway. Written through the cache, each of its pages is still
allocated and copied first, and where memory is a virtual machine's that its host has taken back, a fresh page
costs the host's fault: measured on the 2-core VM this project is built on, 165 MB took 0.7 to 1.8 s of system
time through the cache and 0.12 to 0.16 s around it (benchmarks/README.md). Around it, the bytes go from one
reused, page-aligned buffer straight to the disk.

`DirectWriter` is the file object zipfile writes to: sequential writes fill the buffer and leave it in whole
blocks; a write at an earlier place (zipfile going back to complete a member's header once its CRC is known)
patches the buffer, or reads, patches and rewrites the blocks on disk; the last partial block goes through the
cache (a padded block could pass a file-size limit the file itself is under). Where the platform or the file
system does not take O_DIRECT (a pipe, macOS, tmpfs before Linux 6.6), `direct_writer` hands back the file as it is.
"""
from __future__ import annotations

import errno
import fcntl
import io
import mmap
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

BLOCK = 4096          # what O_DIRECT needs writes aligned to (offset, length, memory): a page covers every device's
BUFFER = 8 << 20      # bytes staged before a write to the disk


@contextmanager
def direct_writer(f) -> Iterator:
    """A file object for writing the regular file *f* (open for reading and writing, as tempfile.mkstemp opens it:
    a header completed on disk is read back; empty) from its start around the page cache, finished (its last block
    written, the file cut to its length) when the block ends without an error; *f* itself where O_DIRECT cannot be
    used. *f* is left as it was given: the caller fsyncs and closes it."""
    direct = getattr(os, "O_DIRECT", 0)
    try:
        fd = f.fileno()
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        usable = (direct and stat.S_ISREG(os.fstat(fd).st_mode) and os.lseek(fd, 0, os.SEEK_CUR) == 0
                  and flags & os.O_ACCMODE == os.O_RDWR)
    except (OSError, AttributeError, ValueError):
        usable = False
    if not usable:
        yield f
        return
    writer = DirectWriter(fd, flags)    # its buffer first: a failure to map it leaves the flags alone
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | direct)
    except OSError:
        writer.release()
        yield f
        return
    try:
        yield writer
        writer.finish()
    finally:
        writer.release()


class DirectWriter(io.RawIOBase):
    """Writes to *fd* (opened with O_DIRECT; *plain_flags* its flags without) from a page-aligned buffer."""

    def __init__(self, fd: int, plain_flags: int):
        self.fd, self.plain_flags = fd, plain_flags
        self.buf = mmap.mmap(-1, BUFFER)   # anonymous mappings are page-aligned
        self.start = 0      # where buf[0] goes in the file: a multiple of BLOCK, everything before it is written
        self.fill = 0       # bytes of buf in use
        self.pos = 0        # where the next write goes
        self.end = 0        # the file's length
        self.direct = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.pos, os.SEEK_END: self.end}[whence]
        if base + offset < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self.pos = base + offset
        return self.pos

    def flush(self) -> None:
        """Nothing: the buffer leaves in whole blocks, and the rest when the writer finishes."""

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        if n == 0:          # as a file: nothing written, not even the hole up to a position sought past the end
            return 0
        if self.pos > self.start + self.fill:       # past the end: a hole, zeros as a file has
            self._stage(self.start + self.fill, memoryview(bytes(self.pos - self.start - self.fill)))
        if self.pos < self.start:                   # before the buffer: already on disk
            k = min(n, self.start - self.pos)
            self._patch(self.pos, view[:k])
            self.pos += k
            view = view[k:]
        self._stage(self.pos, view)
        self.pos += len(view)
        self.end = max(self.end, self.pos)
        return n

    def _stage(self, at: int, view: memoryview) -> None:
        while len(view):
            off = at - self.start
            k = min(len(view), BUFFER - off)
            self.buf[off: off + k] = view[:k]
            self.fill = max(self.fill, off + k)
            at += k
            view = view[k:]
            if self.fill == BUFFER:
                self._spill()

    def _spill(self) -> None:
        """Write the buffer's whole blocks; keep its last, partial one at its start."""
        whole = self.fill - self.fill % BLOCK
        self._pwrite(memoryview(self.buf)[:whole], self.start)
        tail = self.fill - whole
        self.buf[:tail] = self.buf[whole: self.fill]
        self.start += whole
        self.fill = tail

    def _patch(self, at: int, view: memoryview) -> None:
        """Bytes at *at* .. before the buffer, already on disk: their blocks read, patched and written again."""
        lo = at - at % BLOCK
        hi = -(-(at + len(view)) // BLOCK) * BLOCK
        with mmap.mmap(-1, hi - lo) as blocks:
            if os.preadv(self.fd, [blocks], lo) != hi - lo:
                raise OSError(errno.EIO, "short read of a block written before")
            blocks[at - lo: at - lo + len(view)] = view
            self._pwrite(memoryview(blocks), lo)

    def _pwrite(self, view: memoryview, at: int) -> None:
        while len(view):
            try:
                k = os.pwrite(self.fd, view, at)
            except OSError as exc:
                if exc.errno != errno.EINVAL or not self.direct:
                    raise
                # the file system took the flag but not the write (some do): the same bytes through the cache
                self._plain()
                continue
            if k == 0:
                raise OSError(errno.EIO, "the disk took none of a write")
            view, at = view[k:], at + k

    def _plain(self) -> None:
        """Writes through the page cache from now on."""
        if self.direct:
            fcntl.fcntl(self.fd, fcntl.F_SETFL, self.plain_flags)
            self.direct = False

    def finish(self) -> None:
        """Write what is left: its whole blocks around the cache, the last partial one through it (padded to a
        block it could pass a file-size limit the file is under); the file cut to its length."""
        whole = self.fill - self.fill % BLOCK
        if whole:
            self._pwrite(memoryview(self.buf)[:whole], self.start)
        if self.fill > whole:
            self._plain()
            self._pwrite(memoryview(self.buf)[whole: self.fill], self.start + whole)
        os.ftruncate(self.fd, self.end)

    def release(self) -> None:
        """The buffer freed and the file's flags as they were (the caller fsyncs and closes it)."""
        try:
            fcntl.fcntl(self.fd, fcntl.F_SETFL, self.plain_flags)
        except OSError:
            pass
        try:
            self.buf.close()
        except BufferError:   # a view of it still held by the traceback of the error that ended the write
            pass              # freed with that traceback
