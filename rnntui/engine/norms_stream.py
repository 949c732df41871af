"""The step-Jacobian norms of a chain recorded whole, computed while the run records it (`export --jacobian`).

A step's Jacobian dh_t/dh_{t-1} needs that step's forward record and the step before's only, so its norm can be
computed as soon as the forward pass has recorded both. `StreamedNorms` joins each place's forward arrays segment
by segment as the sweep records them, and a thread of its own (an `aside.Aside`) computes the norms chunk by
chunk (diagnostics.step_chunks, the chunks a norm derived when read takes) as each chunk's steps are recorded:
they start with the first segment, not after the forward pass, so the second core works during the forward pass
too. While the sweep runs, one chunk is computed at a time (the sweep has the other core); once it is done, up to
spectral.WORKERS at once. The values are diagnostics.jacobian_norms of the same arrays, chunk for chunk: bit-equal
to the norms a run derives when they are first read.
"""
from __future__ import annotations

import threading

import numpy as np

from rnntui.engine import keys
from rnntui.engine.aside import Aside, Dropped, stopping


class StreamedNorms:
    """Every recurrent place's diag.*.jacnorm of *segs* (a checkpoint.Segments, a plain forward chain), computed
    on their own thread as the sweep hands over each segment's forward record (`add`)."""

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

    def add(self, k: int, rec: dict) -> None:
        """Segment k's forward record *rec* (segments come first to last): its places' arrays are copied into the
        whole ones and *rec* reads them there (held once, not twice); the norms started with the first."""
        segs = self.segs
        a, b = segs.bounds[k]
        if k == 0:
            self._start(rec)
        for key, whole in self.forward.items():
            whole[a:b] = rec[key]
            view = whole[a:b]
            view.flags.writeable = False   # read by the norms' thread while this one runs the backward pass
            rec[key] = view
        with self._changed:
            self._recorded = b
            self._changed.notify_all()

    def _start(self, rec: dict) -> None:
        segs = self.segs
        for key in [key for key in rec if key not in segs.state_keys
                    and any(key.startswith(p.prefix + ".") for p in self.places)]:
            v = rec[key]
            self.forward[key] = np.empty((segs.T,) + v.shape[1:], dtype=v.dtype)
        arrays = dict(self.forward)
        if segs.lengths is not None:
            arrays[keys.META_LENGTHS] = segs.lengths
        for lay in segs.layout:      # the initial states given, under the keys a whole run records them
            for slot, (j, d) in enumerate(segs.slots(lay)):
                for s, v in segs.initial.get(lay.index, {}).items():
                    arrays[f"{keys.place_prefix(lay.index, j, d)}.{s}0"] = v[slot]
        self.arrays = arrays
        self.norms = Aside(self._compute)

    def done_forward(self) -> dict[str, np.ndarray]:
        """The whole forward arrays (every segment added), read-only from now on."""
        for whole in self.forward.values():
            whole.flags.writeable = False
        return self.forward

    def done_sweep(self) -> None:
        """The sweep is over: the norms left may run on every worker (spectral.WORKERS)."""
        self.sweeping.clear()

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
