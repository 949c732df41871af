"""The step-Jacobian norms of a chain recorded whole, computed while the run records it (`export --jacobian`).

A step's Jacobian dh_t/dh_{t-1} needs that step's forward record and the step before's only, so its norm can be
computed as soon as the forward pass has recorded both. `StreamedNorms` joins each place's forward arrays segment
by segment as the sweep records them, and a process or a thread of their own computes the norms chunk by
chunk (diagnostics.step_chunks, the chunks a norm derived when read takes) as each chunk's steps are recorded:
they start with the first segment, not after the forward pass, so the second core works during the forward pass
too. While the sweep runs, one chunk is computed at a time (the sweep has the other core); once it is done, up to
spectral.WORKERS at once. The values are diagnostics.jacobian_norms of the same arrays, chunk for chunk: bit-equal
to the norms a run derives when they are first read.

On Linux, where the process runs no other thread, the norms are computed in a child process (`NormsProcess`,
reported to an `aside.Aside` on a thread of this one) rather than on a thread (`_compute` on the Aside's own):
the sweep's step loops are Python, holding the GIL most of the time, and a thread beside them got the GIL back
after each of its GEMMs only after a hand-over that cost the thread about half its time while the backward pass
ran (measured: a 0.31 s chunk took 0.85 s). The child reads the forward arrays in memory both share (an anonymous
shared mapping), writes the norms into another, and reports its progress through a pipe; the parent kills it when
the work is dropped, and computes the norms itself if the child ends without them (the OOM killer). Forking a
process with other threads could copy a lock one of them held, never released in the child: then the thread is
used, as it is where the fork fails and on other platforms. The child is forked after the first segment is copied
into the shared arrays (the pages it shares copy-on-write with the parent are fewer), with the ending signals held back until both sides
know their part; it ignores Ctrl-C and Ctrl-backslash (the parent ends it) and ends by os._exit, never unwinding the
parent's stack.
"""
from __future__ import annotations

import mmap
import os
import select
import signal
import sys
import threading
import time

import numpy as np

from rnntui.engine import keys
from rnntui.engine.aside import Aside, Dropped, stopping
from rnntui.engine.progress import report, reporting

# whether the norms may be computed in a child process (tests set it to compare both ways): Linux's fork only, where
# numpy's BLAS (OpenBLAS) is fork-safe; macOS's Accelerate is not
PROCESS = sys.platform.startswith("linux") and hasattr(os, "fork")


def alone() -> bool:
    """Whether this process runs one thread only (this one): then a fork copies every lock in a state it can use."""
    return threading.active_count() == 1


def shared_array(shape: tuple, dtype) -> np.ndarray:
    """A zeroed array in an anonymous shared mapping: a process forked after it is made sees every later write."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    buf = mmap.mmap(-1, max(size, 1))
    return np.frombuffer(buf, dtype=dtype, count=int(np.prod(shape))).reshape(shape)


class StreamedNorms:
    """Every recurrent place's diag.*.jacnorm of *segs* (a checkpoint.Segments, a plain forward chain), computed
    in a child process or on a thread of their own as the sweep hands over each segment's forward record (`add`)."""

    POLL = 0.05   # seconds between looks at whether the work was dropped, while a chunk waits for its steps

    def __init__(self, segs, places: list, entries: dict):
        self.segs, self.places, self.entries = segs, places, entries
        self.forward: dict[str, np.ndarray] = {}   # key -> the whole array, filled segment by segment
        self.arrays: dict[str, np.ndarray] = {}    # what the norms read: the forward arrays, lengths, initial states
        self._recorded = 0                          # steps 0 .. _recorded-1 of every forward array are in
        self._closed = False
        self._changed = threading.Condition()
        self.sweeping = threading.Event()           # cleared once the sweep is done: the norms may take both cores
        self.sweeping.set()
        self.norms: Aside | None = None
        self.process: NormsProcess | None = None    # the child computing them, where one is (`PROCESS`)

    def add(self, k: int, rec: dict) -> None:
        """Segment k's forward record *rec* (segments come first to last): its places' arrays are copied into the
        whole ones and *rec* reads them there (held once, not twice); the norms started with the first."""
        segs = self.segs
        a, b = segs.bounds[k]
        forks = k == 0 and self._arrays_for(rec)
        for key, whole in self.forward.items():
            whole[a:b] = rec[key]
            view = whole[a:b]
            view.flags.writeable = False   # read by the norms' thread while this one runs the backward pass
            rec[key] = view
        with self._changed:
            self._recorded = b
            self._changed.notify_all()
        if k == 0:   # after the copy: a child forked before it would keep the segment's own arrays alive
            self._start(forks)
        elif self.process is not None:
            self.process.send(b)

    def _arrays_for(self, rec: dict) -> bool:
        """The whole arrays for the keys of the first segment's record *rec*, and what the norms read; whether the
        norms will be computed in a child process (then the arrays are in memory it shares)."""
        segs = self.segs
        # a fork copies only the forking thread: with another one running, a lock it held could stay held
        forks = PROCESS and alone()
        for key in [key for key in rec if key not in segs.state_keys
                    and any(key.startswith(p.prefix + ".") for p in self.places)]:
            v = rec[key]
            shape = (segs.T,) + v.shape[1:]
            self.forward[key] = shared_array(shape, v.dtype) if forks else np.empty(shape, dtype=v.dtype)
        from rnntui.engine.checkpoint import initial_state_arrays

        arrays = {**self.forward, **initial_state_arrays(segs.initial, segs.layout)}
        if segs.lengths is not None:
            arrays[keys.META_LENGTHS] = segs.lengths
        self.arrays = arrays
        return forks

    def _start(self, forks: bool) -> None:
        """The norms started: in a child process if *forks* and the fork succeeds, else on a thread of their own."""
        if forks:
            from rnntui import signals

            with signals.deferred():   # no ending signal between the fork and noting the child (in either process)
                try:
                    self.process = NormsProcess(self)
                except OSError:        # no fork now (no memory, no process left under the limit): the thread
                    self.process = None
        self.norms = Aside(self._compute if self.process is None else self.process.relay)

    def done_forward(self) -> dict[str, np.ndarray]:
        """The whole forward arrays (every segment added), read-only from now on."""
        for whole in self.forward.values():
            whole.flags.writeable = False
        return self.forward

    def done_sweep(self) -> None:
        """The sweep is over: the norms left may run on every worker (spectral.WORKERS)."""
        self.sweeping.clear()
        if self.process is not None:
            self.process.send(NormsProcess.WIDEN)

    def close(self) -> None:
        """The sweep failed: the norms stop too, and this waits for the chunk under way."""
        self.stop()
        if self.norms is not None:
            self.norms.drop()

    def stop(self) -> None:
        """No more segments will come (the sweep failed, or was left unfinished): a chunk waiting for its steps
        stops, without waiting for it."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self.process is not None:
            self.process.close_input()

    def _wait_for(self, steps: int) -> None:
        """Wait until the forward pass has recorded steps 0 .. steps-1; raise Dropped if the work was dropped."""
        with self._changed:
            while self._recorded < steps:
                if self._closed or stopping():
                    raise Dropped
                self._changed.wait(self.POLL)

    def _compute(self) -> dict:
        from rnntui.engine.diagnostics import jacobian_norms

        params = self.segs.params
        with np.errstate(all="ignore"):   # as Trace derives them: a run that overflowed has inf/nan norms
            return {p.diag_key("jacnorm"): jacobian_norms(self.entries[p.entry], self.arrays, params, p,
                                                          ready=self._wait_for, narrow=self.sweeping)
                    for p in self.places}


class NormsProcess:
    """The norms of a `StreamedNorms` computed in a child process forked now: it learns how far the forward pass
    has recorded, and that the sweep is done, through one pipe, and says its progress, its end or its error through
    another. `relay` (on the parent's Aside thread) passes the progress on and returns the norms; dropping that
    work, or an error, kills the child."""

    WIDEN = -1           # message: the sweep is over (any other message: steps recorded)
    MESSAGE = 8          # bytes per message to the child
    SILENCE = 300.0      # seconds without a word from a child that has its steps: stuck (a chunk says it is done in
                         # about 0.3 s at H=256, seconds at H=8192 on a busy machine)

    def __init__(self, stream: StreamedNorms):
        self.stream = stream
        segs = stream.segs
        self.out = {p.diag_key("jacnorm"): shared_array((segs.T, segs.B), segs.params[p.param("weight_hh")].dtype)
                    for p in stream.places}
        self.parent = os.getpid()
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        try:
            self.pid = os.fork()
        except OSError:
            for fd in (to_child_r, self.to_child, self.from_child, from_child_w):
                os.close(fd)
            raise
        if self.pid == 0:   # the child: never returns, whatever happens (it must not unwind the parent's stack)
            try:
                os.close(self.to_child)
                os.close(self.from_child)
                self._child(stream, to_child_r, from_child_w)
            finally:
                os._exit(1)
        os.close(to_child_r)
        os.close(from_child_w)
        self._ended = False
        try:   # the child by a descriptor, not its number: killed and never another process that got the number
            self.pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.pidfd = None
        self._input = threading.Lock()   # `send` (the sweep's thread) and `close_input` (either) never cross:
        self._input_open = True          # a closed descriptor's number may be another file's by then

    # --- the parent -------------------------------------------------------------------------------------
    def send(self, value: int) -> None:
        with self._input:
            if not self._input_open:
                return
            try:
                os.write(self.to_child, int(value).to_bytes(self.MESSAGE, "little", signed=True))
            except OSError:      # the child is gone (killed, or failed): relay says why
                pass

    def close_input(self) -> None:
        """No more messages: the child stops at its next wait for steps (the sweep failed or was left)."""
        with self._input:
            if self._input_open:
                self._input_open = False
                os.close(self.to_child)

    def relay(self) -> dict:
        """The norms, once the child is done; its progress reported meanwhile. Killed if this work is dropped."""
        pending = b""
        heard, recorded = time.monotonic(), -1
        try:
            while True:
                if stopping():
                    raise Dropped
                ready, _, _ = select.select([self.from_child], [], [], StreamedNorms.POLL)
                if not ready:
                    if recorded != self.stream._recorded:      # silence only counts once it has new steps
                        heard, recorded = time.monotonic(), self.stream._recorded
                    elif time.monotonic() - heard > self.SILENCE:
                        # every chunk says when it is done: a child silent this long with the steps it needs is
                        # stuck (a lock the fork copied held after all): ended, and the norms computed here
                        self._kill()
                        return self.stream._compute()
                    continue
                heard = time.monotonic()
                data = os.read(self.from_child, 1 << 16)
                if not data:   # it ended without a word (killed from outside: the OOM killer): computed here instead
                    self._reap()
                    return self.stream._compute()
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    kind, _, rest = line.decode("utf-8", "replace").partition(" ")
                    if kind == "p":
                        done, total, label = rest.split(" ", 2)
                        report(label, int(done), int(total))
                    elif kind == "ok":
                        self._reap()
                        return self.out
                    else:
                        name, _, text = rest.partition(" ")
                        if name == "Dropped":
                            raise Dropped
                        known = {"MemoryError": MemoryError, "FloatingPointError": FloatingPointError}
                        raise known[name](text) if name in known else RuntimeError(f"{name}: {text}")
        finally:
            self._kill()
            os.close(self.from_child)
            self.close_input()

    def _reap(self) -> None:
        """Wait for the child to end (it has been told to, or has said it is done)."""
        if self._ended:
            return
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:   # reaped already: SIGCHLD ignored by the program that calls rnntui
            pass
        self._ended = True
        if self.pidfd is not None:
            os.close(self.pidfd)

    def _kill(self) -> None:
        if self._ended:
            return
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            else:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
                if not done:
                    os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, ChildProcessError):
            pass
        self._reap()

    # --- the child --------------------------------------------------------------------------------------
    def _child(self, stream: StreamedNorms, messages: int, says: int) -> None:
        code = 1
        try:
            # the parent ends it: a Ctrl-C or Ctrl-\ from the terminal reaches the whole group (no core dump here)
            for sig in (signal.SIGINT, signal.SIGQUIT):
                signal.signal(sig, signal.SIG_IGN)
            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            if hasattr(signal, "pthread_sigmask"):   # forked inside signals.deferred: held back until now
                signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                                                            signal.SIGHUP])
            threading.Thread(target=self._listen, args=(stream, messages), daemon=True).start()

            def progress(label: str, done: int, total: int) -> None:
                os.write(says, f"p {done} {total} {label}\n".encode())

            with reporting(progress):
                out = stream._compute()
            for key, v in out.items():
                self.out[key][...] = v
            os.write(says, b"ok\n")
            code = 0
        except BaseException as exc:  # noqa: BLE001 - said to the parent, which raises it
            try:
                os.write(says, f"err {type(exc).__name__} {str(exc).splitlines()[0] if str(exc) else ''}\n".encode())
            except OSError:
                pass
        finally:
            os._exit(code)

    def _listen(self, stream: StreamedNorms, messages: int) -> None:
        """The child's thread reading the parent's messages into the stream's state."""
        pending = b""
        while True:
            try:
                data = os.read(messages, 1 << 12)
            except OSError:
                data = b""
            if not data:     # the parent closed its end, or died: nothing more will be recorded
                if os.getppid() != self.parent:   # died: no one reads these norms
                    os._exit(1)
                with stream._changed:
                    stream._closed = True
                    stream._changed.notify_all()
                stream.sweeping.clear()
                return
            pending += data
            while len(pending) >= self.MESSAGE:
                value = int.from_bytes(pending[:self.MESSAGE], "little", signed=True)
                pending = pending[self.MESSAGE:]
                if value == self.WIDEN:
                    stream.sweeping.clear()
                else:
                    with stream._changed:
                        stream._recorded = value
                        stream._changed.notify_all()
