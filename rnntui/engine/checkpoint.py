"""Checkpointed runs: a long sequence recorded as segments of steps, any of them recomputed exactly on demand.

A run whose whole record would not fit the memory limit keeps, instead of every array over every step:

- each recurrent place's state at every segment boundary (`starts`: where a forward direction enters the
  segment, the state of the step before it; where a backward direction enters it, the state of the step
  after it), found in one forward sweep;
- the gradient entering each segment through time (`gins`: dL/dh, dL/dc from the step after it for a
  forward direction, from the step before it for a backward one), found in the backward sweep;
- everything small: per-step arrays with at most two axes (loss.step, gradnorm.step.*), each place's
  saturation and ||dL/dh_t|| per step (computed in the sweep), where inf or NaN first appears, the
  parameters' gradients and the loss.

A segment is then recomputed by running the same walk (network.Walk, the families' loops) over its steps
from its boundary states, and its backward pass from its boundary gradients: the same operations in the
same order as the sweep, so the numbers are the sweep's to the bit. A run recorded whole
(`Segments.sweep(keep=True)`) goes through the same segments and keeps every one, so a full recording and a
checkpointed one of the same run are equal bit for bit (tests/engine/test_checkpoint.py). Runs shorter than
two segments, and runs checkpointing does not cover (`why_whole`), are recorded whole by network.run_network.

The segment length depends on the model and batch only (`segment_steps`), never on the memory limit, so a
run gives the same numbers whichever way it is recorded.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace

import numpy as np

from rnntui.engine import keys, recording
from rnntui.engine.context import RunContext
from rnntui.engine.families import fused
from rnntui.engine.diagnostics import BadRows, row_norms, saturation
from rnntui.engine.handlers import handler
from rnntui.engine.infer import trace_floats
from rnntui.engine.losses import loss_and_grad, sample_step_losses
from rnntui.engine.walk import Walk
from rnntui.engine.aside import norms_wanted
from rnntui.engine.norms_stream import StreamedNorms
from rnntui.engine.progress import report
from rnntui.engine.trace import Trace, TraceWrapper, _freeze
from rnntui.npyfiles import write_npz

SEGMENT_BYTES = 12 << 20      # what one segment's record holds, about: sets the segment's length (a segment is
                              # recomputed, forward and backward, in under 100 ms at H=256: benchmarks/long.py)
SEGMENT_MIN, SEGMENT_MAX, SEGMENT_ALIGN = 64, 4096, 64


RECURRENCE_SEGMENT_MAX = 256  # a graph's recurrence node runs its step graph in Python, a walk per step (about 0.4 ms
                              # a step forward and backward for a small cell): 256 steps recompute in about 100 ms


def initial_state_arrays(initial: dict, layout: list) -> dict:
    """The initial states given (entry index -> state name -> (layers * directions, B, H)), under the keys a whole
    run records them (`<place>.h0`, `<place>.c0`)."""
    entries = {lay.index: lay for lay in layout}
    return {f"{keys.place_prefix(i, j, d)}.{s}0": v[slot] for i, states in initial.items()
            for slot, (j, d) in enumerate(Segments.slots(entries[i])) for s, v in states.items()}


def step_bytes(layout: list, B: int, dtype) -> int:
    """What one more step adds to a run's record of *layout* (at least 1)."""
    return max(1, (trace_floats(layout, 2, B) - trace_floats(layout, 1, B)) * np.dtype(dtype).itemsize)


def segment_steps(layout: list, B: int, dtype) -> int:
    """Steps per segment for *layout* and a batch of *B*: about SEGMENT_BYTES of record, a multiple of 64 (at
    most RECURRENCE_SEGMENT_MAX where a graph's recurrence node runs)."""
    from rnntui.engine.graph_diag import carries

    S = SEGMENT_BYTES // step_bytes(layout, B, dtype)
    top = min(SEGMENT_MAX, RECURRENCE_SEGMENT_MAX) if any(carries(lay) for lay in layout) else SEGMENT_MAX
    return int(min(top, max(min(SEGMENT_MIN, top), S - S % SEGMENT_ALIGN)))


def why_whole(sc) -> str | None:
    """Why a run of scenario *sc* cannot be checkpointed (recorded whole instead), or None when it can."""
    if getattr(sc, "dropout_masks", None) or (getattr(sc, "train", None) is not None and _has_dropout(sc)):
        return "a training iteration with dropout is recorded whole (its masks are drawn over every step)"
    if sc.feed == "output":
        return "a generator (each step reads the one before's output) is recorded whole"
    if tuple(getattr(sc, "interventions", ())):
        return "a what-if is recorded whole"
    if not sc.seq:
        return "an input without steps is recorded whole"
    if getattr(sc, "inputs", None) is not None:
        from rnntui.engine.checkpoint_kinds import why_whole_graph

        return why_whole_graph(sc)
    return why_whole_layout(list(sc.layout))


def _has_dropout(sc) -> bool:
    """Whether a training run of *sc* draws dropout masks (engine/train.py's `_dropout_places`)."""
    return any(lay.dropout > 0 and (lay.type == "dropout" or lay.recurrent) for lay in sc.layout)


def why_whole_layout(layout: list) -> str | None:
    from rnntui.engine.checkpoint_kinds import steps_part
    from rnntui.engine.graph_diag import carries   # a graph's recurrence carries its states as a recurrent entry

    layout, why = steps_part(layout)      # a many-to-one's entries up to its last recurrent one
    if why is not None:
        return why
    recurrent = [lay for lay in layout if lay.recurrent]
    carriers = [lay for lay in layout if carries(lay)]
    for lay in layout:
        if not (lay.seq_in and lay.seq_out):
            return (f"entry {lay.index} ({lay.type}) ends the steps (many-to-one): recorded whole "
                    "(checkpointing covers entries that keep every step, and a recurrent entry that keeps its "
                    "final state)")
        if not lay.recurrent and not carries(lay) and handler(lay.type).mixes_steps(lay, False):
            return f"entry {lay.index} ({lay.type}) mixes steps: recorded whole"
    if not recurrent and not carriers:
        return "nothing recurrent: recorded whole"
    bidir = [lay for lay in recurrent if len(lay.directions) == 2]
    if bidir and (len(recurrent) > 1 or bidir[0].num_layers > 1):
        return ("a bidirectional layer with another recurrent layer is recorded whole (the layer above reads "
                "its backward direction, which needs the whole sequence before the first step)")
    return None


def _state_keys(layout) -> set[str]:
    """The keys a segment records about its boundary states (`{place}.h0`, `grad.{place}.h0`, ...)."""
    out = set()
    for lay in layout:
        if lay.recurrent:
            for j in range(lay.num_layers):
                for d in lay.directions:
                    prefix = keys.place_prefix(lay.index, j, d)
                    for s in lay.family.states:
                        out.add(f"{prefix}.{s}0")
                        out.add(keys.grad(f"{prefix}.{s}0"))
    return out


class SegmentLRU:
    """The most recently used segments' records (a small LRU; the engine imports nothing of the UI)."""

    def __init__(self, capacity: int):
        self.capacity = max(1, capacity)
        self._items: OrderedDict[tuple, dict] = OrderedDict()

    def get(self, key):
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key, value) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __contains__(self, key) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class SweepResult:
    arrays: dict            # key -> array (small, whole) or BadRows (big: per segment); the order a run records
    diag: dict              # key -> kept per-step diagnostic (sat, gradnorm)
    grads: dict             # parameter name -> gradient
    loss: np.ndarray
    big: dict               # key -> (shape, dtype) of the arrays recomputed per segment
    rows: dict              # what views read over every step of an array not kept (`kept_rows`)
    terms: dict             # diag.*.term_gradnorm of every place, from the sweep's lean passes
    norms: object = None    # an aside.Aside computing every diag.*.jacnorm (`Segments.norms_stream`), or None


class Segments:
    """One run of a chain of per-step entries over (T, B, ...) input *x*, in segments of `S` steps."""

    def __init__(self, layout: list, params: dict, x: np.ndarray, loss_kind: str, target, lengths=None,
                 initial: dict | None = None, S: int | None = None):
        self.layout, self.params, self.x = layout, params, x
        self.loss_kind, self.target = loss_kind, target
        self.buffers: dict = {}     # state that is no parameter, as the run read it (an eval batchnorm's statistics)
        self.norms_room: int | None = None   # bytes the norms alongside may hold besides the run (None: no limit)
        # the path the run's step loops took (a training replay's fused kernels) and what it recorded (a lean
        # iteration's): a segment recomputed later, on any thread, takes the same (`on_path`)
        self.path = {"replay": fused.replaying(), "step_norms": recording.step_norms()}
        self.lengths = None if lengths is None else np.asarray(lengths)
        self.initial = initial or {}
        T, B = x.shape[:2]
        self.T, self.B, self.dtype = T, B, x.dtype
        self.S = segment_steps(layout, B, x.dtype) if S is None else S
        self.bounds = [(a, min(a + self.S, T)) for a in range(0, T, self.S)]
        K = len(self.bounds)
        self.real = None if self.lengths is None else np.arange(T)[:, None] < self.lengths[None, :]
        last = layout[-1]
        real_count = T * B if self.real is None else int(self.real.sum())
        self.n = real_count * int(np.prod(last.out_shape)) if loss_kind == "mse" else real_count
        self.sample_steps = (np.full(B, T, dtype=np.int64) if self.real is None
                             else self.real.sum(axis=0))
        self.bidir = any(len(lay.directions) == 2 for lay in layout if lay.recurrent)
        self.state_keys = _state_keys(layout)
        # boundary states and gradients: entry index -> state name -> (K, layers * directions, B, H)
        self.starts: dict[int, dict[str, np.ndarray]] = {}
        self.gins: dict[int, dict[str, np.ndarray]] = {}
        for lay in layout:
            if not lay.recurrent:
                continue
            shape = (K, lay.num_layers * len(lay.directions), B, lay.hidden_size)
            self.starts[lay.index] = {s: np.zeros(shape, dtype=x.dtype) for s in lay.family.states}
            self.gins[lay.index] = {s: np.zeros(shape, dtype=x.dtype) for s in lay.family.states}
            for s, v in self.initial.get(lay.index, {}).items():
                for slot, (j, d) in enumerate(self.slots(lay)):
                    self.starts[lay.index][s][0 if d == "fwd" else K - 1, slot] = v[slot]
        self.swept = False
        self.progress = SweepProgress(K, self.bidir)   # how far the sweep is (`Sweep`); finished once swept
        self.lock = threading.RLock()
        self.cache = SegmentLRU(8)
        self.forward_cache = SegmentLRU(8)

    def on_path(self) -> ExitStack:
        """A context in which the step loops take the path the run took and record what it recorded (`path`)."""
        stack = ExitStack()
        if self.path.get("replay"):
            stack.enter_context(fused.replay())
        if not self.path.get("step_norms", True):
            stack.enter_context(recording.lean())
        return stack

    # --- where things are -------------------------------------------------------------------------
    @staticmethod
    def slots(lay) -> list[tuple[int, str]]:
        """(sub-layer, direction) of each row of an entry's state arrays (PyTorch's h_0 layout)."""
        return [(j, d) for j in range(lay.num_layers) for d in lay.directions]

    def norms_stream(self) -> StreamedNorms | None:
        """Every recurrent place's diag.*.jacnorm, to be computed in a child process or on a thread as the forward
        pass records its segments (norms_stream.StreamedNorms): a chain's only (`plain_chain`: a kind with a pass of its
        own around the segments derives them when first read, as before), and only where `norms_room` leaves room
        for their working arrays beside the run's (else None: derived after the run, when read)."""
        from rnntui.engine.diagnostics import jacnorm_floats

        if not self.plain_chain or self.bidir:
            return None
        entries = {lay.index: lay for lay in self.layout}
        places = [p for p in keys.places_of(self.layout) if p.recurrent]
        working = max((jacnorm_floats(entries[p.entry], self.T, self.B) for p in places), default=0) * self.dtype.itemsize
        if not places or (self.norms_room is not None and working > self.norms_room):
            return None
        return StreamedNorms(self, places, entries)

    def segment_of(self, t: int) -> int:
        return min(t // self.S, len(self.bounds) - 1)

    def segments_for(self, a: int, b: int) -> range:
        """The segments holding steps a .. b-1."""
        if b <= a:
            return range(0)
        return range(self.segment_of(a), self.segment_of(b - 1) + 1)

    # --- one segment ----------------------------------------------------------------------------
    def _forward(self, k: int):
        a, b = self.bounds[k]
        lengths = None if self.lengths is None else self.lengths - a   # the pad mask is of the run's steps
        walk = Walk(self.layout, RunContext.chain(self.params, lengths, buffers=self.buffers))
        rec: dict = {}
        start = {i: {s: v[k] for s, v in st.items()} for i, st in self.starts.items()}
        walk.forward(self.x[a:b], rec, start=start)
        for i, lay in enumerate(self.layout):
            if lay.recurrent:
                # a gradient entering this segment enters every sample at the segment's end, not at each
                # sample's own last step of the run (which the packed handler would look for)
                walk.caches[i]["packed"] = False
        return walk, rec

    def _loss(self, k: int, walk):
        a, b = self.bounds[k]
        out, last = walk.outs[-1], self.layout[-1]
        logits = walk.pres[-1] if (self.loss_kind == "cross_entropy" and last.activation == "softmax") else None
        target = None if self.target is None else self.target[a:b]
        real = None if self.real is None else self.real[a:b]
        loss, g, g_pre, step_loss = loss_and_grad(self.loss_kind, out, logits, target, steps_first=True,
                                                  real=real, n=self.n)
        sample = sample_step_losses(self.loss_kind, out, logits, target, real, steps=self.sample_steps)
        return loss, g, g_pre, step_loss, sample

    def _walk_backward(self, walk, g, g_pre, grads: dict, rec: dict, finals: dict, lean: str = ""):
        """Walk.backward with each recurrent entry's gradient entering the segment (*finals*)."""
        n = len(self.layout)
        first = min((k for k in range(n) if self.layout[k].recurrent), default=-1)
        for k in range(n - 1, -1, -1):
            lay, hd = self.layout[k], walk.handlers[k]
            if g is not None:      # None: the last entry's gradient comes from elsewhere (checkpoint_kinds)
                rec[keys.grad(keys.out(lay.index))] = g
            kw = {}
            if hd.recurrent:
                kw["final"] = finals[lay.index]
                if lean:
                    kw["lean"] = True
                    if k == first:
                        kw["only"] = lean
            g = hd.backward(lay, walk.ins[k], walk.pres[k], walk.outs[k], walk.caches[k], g, self.params, grads,
                            rec, g_pre if k == n - 1 else None, **kw)
        return g

    def _backward(self, k: int, walk, rec: dict, grads: dict):
        loss, g, g_pre, step_loss, sample = self._loss(k, walk)
        finals = {i: {s: v[k] for s, v in st.items()} for i, st in self.gins.items()}
        rec[keys.GRAD_INPUT] = self._walk_backward(walk, g, g_pre, grads, rec, finals)
        rec[keys.OUTPUT] = walk.outs[-1]
        if step_loss is not None:
            rec[keys.STEP_LOSS] = np.asarray(step_loss, dtype=self.dtype)
            rec[keys.SAMPLE_STEP_LOSS] = np.asarray(sample, dtype=self.dtype)
        return loss, g, g_pre

    def _carry_states(self, k: int, rec: dict, direction: str) -> None:
        """The states *direction*'s places end segment k with: where the next segment in its order starts."""
        K = len(self.bounds)
        nxt = k + 1 if direction == "fwd" else k - 1
        if not 0 <= nxt < K:
            return
        for lay in self.layout:
            if not lay.recurrent:
                continue
            for slot, (j, d) in enumerate(self.slots(lay)):
                if d != direction:
                    continue
                prefix = keys.place_prefix(lay.index, j, d)
                for s in lay.family.states:
                    a = rec[f"{prefix}.{s}"]
                    self.starts[lay.index][s][nxt, slot] = a[-1] if d == "fwd" else a[0]

    def _carry_grads(self, k: int, walk, direction: str) -> None:
        """The gradients *direction*'s places leave segment k with: what enters the next one in BPTT's order."""
        K = len(self.bounds)
        nxt = k - 1 if direction == "fwd" else k + 1
        if not 0 <= nxt < K:
            return
        for i, lay in enumerate(self.layout):
            if not lay.recurrent:
                continue
            d0 = walk.caches[i]["dstate0"]
            for slot, (j, d) in enumerate(self.slots(lay)):
                if d == direction:
                    for s in lay.family.states:
                        self.gins[lay.index][s][nxt, slot] = d0[s][slot]

    # --- the sweep --------------------------------------------------------------------------------
    def sweep(self, keep: bool = False, label: str = "recording") -> SweepResult:
        """Forward through every segment, then backward: the boundaries, the small arrays, the gradients
        and the loss. *keep*: every segment's record too (a whole recording), concatenated in `arrays`.
        The same as driving a `Sweep` to its end (a caller that shows the first segment first drives it in
        pieces)."""
        return Sweep(self, keep, label).run()

    def _rows(self, k: int, rec: dict, parts: dict) -> None:
        """Per step and sample, what the timeline draws from arrays not kept: ||dLoss/dx_t|| (as
        render/prediction.saliency computes it) and the output's arg-max (the predicted class)."""
        K = len(self.bounds)
        g = np.asarray(rec[keys.GRAD_INPUT], dtype=float)
        parts.setdefault("saliency", [None] * K)[k] = np.sqrt((g.reshape(g.shape[0], g.shape[1], -1) ** 2).sum(axis=2))
        if keys.OUTPUT in rec:     # an output of every step (a many-to-one run's is its tail's, kept whole)
            out = rec[keys.OUTPUT]
            parts.setdefault("argmax", [None] * K)[k] = out.reshape(out.shape[0], out.shape[1], -1).argmax(axis=-1)
        for lay in self.layout:   # each sample's own ||dL/dh_t|| (render/views/recurrent.sample_gradnorm)
            if lay.recurrent:
                for j, d in self.slots(lay):
                    dh = rec[keys.grad(f"{keys.place_prefix(lay.index, j, d)}.h")]
                    parts.setdefault(f"gradnorm:{keys.place_prefix(lay.index, j, d)}", [None] * K)[k] = np.stack(
                        [row_norms(dh[:, b]) for b in range(dh.shape[1])], axis=1)

    def _diagnostics(self, k: int, rec: dict, diag: dict) -> None:
        """Each recurrent place's saturation and ||dL/dh_t|| over segment k's steps (diagnostics.derived_keys'
        sat and gradnorm, row by row the same)."""
        a, b = self.bounds[k]
        K = len(self.bounds)
        lengths = None if self.lengths is None or not (self.lengths < self.T).any() else self.lengths - a
        for lay in self.layout:
            if not lay.recurrent:
                continue
            fam = lay.family
            for j in range(lay.num_layers):
                for d in lay.directions:
                    prefix = keys.place_prefix(lay.index, j, d)
                    for name, src in fam.saturation(lay).items():
                        key = keys.diag(prefix, f"sat.{name}")
                        diag.setdefault(key, [None] * K)[k] = saturation(rec[f"{prefix}.{src}"], fam.is_sigmoid(name),
                                                                         lengths)
                    key = keys.diag(prefix, "gradnorm")
                    diag.setdefault(key, [None] * K)[k] = row_norms(rec[keys.grad(f"{prefix}.h")])

    def _state_records(self, k: int, rec: dict, small: dict) -> None:
        """dL/dh_0 (dL/dc_0) of each place: from the first segment for a forward direction, the last for a
        backward one, where its pass began."""
        K = len(self.bounds)
        for lay in self.layout:
            if not lay.recurrent:
                continue
            for j, d in self.slots(lay):
                if k != (0 if d == "fwd" else K - 1):
                    continue
                prefix = keys.place_prefix(lay.index, j, d)
                for s in lay.family.states:
                    small[keys.grad(f"{prefix}.{s}0")] = rec[keys.grad(f"{prefix}.{s}0")]

    def term_pass(self, direction: str) -> "TermPass":
        """The sweep's pass of *direction*'s one-term gradients (network.one_term_gradients' keys)."""
        return TermPass(self, direction)

    def covers(self, index: int) -> bool:
        """Whether entry *index* runs in the segments (else it is run and kept whole: checkpoint_kinds)."""
        return any(lay.index == index for lay in self.layout)

    def term_steps(self) -> dict[str, np.ndarray]:
        """Each `term_gradnorm` key the sweep's term passes measure -> the step each sample's term entered at
        (network.one_term_gradients' `term_step`): its last real step for a forward direction, 0 for a backward one."""
        last = np.full(self.B, self.T - 1) if self.lengths is None else np.asarray(self.lengths) - 1
        return {keys.diag(keys.place_prefix(lay.index, j, d), "term_gradnorm"):
                (last if d == "fwd" else np.zeros(self.B, dtype=last.dtype))
                for lay in self.layout if lay.recurrent for j in range(lay.num_layers) for d in lay.directions}

    def before_backward(self) -> Iterator[None]:
        """A pass of this kind of run between the forward phase and the backward ones (`Sweep`), a segment at a
        time (a yield after each); none for a chain."""
        return iter(())

    def finish_sweep(self, result: "SweepResult") -> None:
        """What this kind of run adds to the sweep's *result* (a many-to-one's tail); nothing for a chain."""

    def extra_arrays(self) -> dict[str, np.ndarray]:
        """What a saved trace of this kind of run keeps besides the boundaries (checkpoint_kinds)."""
        return {}

    @property
    def plain_chain(self) -> bool:
        """Whether this is a chain of per-step entries, no kind with a pass of its own around the segments
        (checkpoint_kinds: a many-to-one's tail, a decoder, a graph's inputs)."""
        kind = type(self)
        return kind.before_backward is Segments.before_backward and kind.finish_sweep is Segments.finish_sweep

    own_pieces = 0
    """How many pieces `before_backward` yields (the sweep's progress counts them: `SweepProgress.own`)."""
    own_states = 0
    """How many of those pieces come first and find a bidirectional entry's backward direction's states, from the
    last segment down (`checkpoint_kinds.backward_states_first`): the segments they have been through are ready
    forward from then on, as after the sweep's own "states" phase (which finds them again, to the same bits)."""
    own_what = ""
    """What the kind's own pass computes, as a view waiting for it says it ("the head after the last step (...)")."""
    own_label = ""
    """... in a few words, as the sweep's progress names its phase ("the head")."""

    def tail_of(self, key: str) -> bool:
        """Whether *key* is recorded by this kind's own pass (`before_backward`: a many-to-one's head, a decoder),
        not by the segments: a run still sweeping (`SweepingTrace`) cannot read it, nor say whether the finished
        run holds it, before that pass is done. None for a chain."""
        return False

    def tail_record(self) -> dict[str, np.ndarray]:
        """What the kind's own pass recorded, once it is done, as the finished run records it (its arrays and the
        loss, to the bit); nothing for a chain."""
        return {}

    def known_arrays(self) -> dict[str, np.ndarray]:
        """What the finished run records that is known before its sweep, besides the scenario's and the
        parameters (a graph's named inputs); nothing for a chain."""
        return {}

    def load_extra(self, arrays: dict) -> None:
        """`extra_arrays` read back from a saved trace (*arrays*)."""

    # --- on demand ----------------------------------------------------------------------------------
    def segment(self, k: int, backward: bool = True) -> dict:
        """Segment k's record (every key over its steps), recomputed from its boundaries or from the cache.
        *backward* False: the forward pass's keys and the output only (cheaper; needs only the forward sweep's
        states). While the sweep runs (`Sweep`), a segment whose boundaries it has not reached raises NotReady:
        it is never computed from boundaries not yet known."""
        with self.lock, self.on_path():
            rec = self.cache.get(k)
            if rec is None and not backward:
                rec = self.forward_cache.get(k)
            if rec is not None:
                return rec
            progress = self.progress
            if not (progress.backward_ready(k) if backward else progress.forward_ready(k)):
                raise NotReady("the backward pass" if backward else "the forward pass", progress.fraction)
            walk, rec = self._forward(k)
            if backward:
                self._backward(k, walk, rec, {})
                self.cache.put(k, rec)
            else:
                rec[keys.OUTPUT] = walk.outs[-1]
                self.forward_cache.put(k, rec)
            return rec

    def term_gradnorms(self, direction: str) -> dict[str, np.ndarray]:
        """network.one_term_gradients' `term_gradnorm` of every place of *direction*, segment by segment
        (`TermPass`), each segment's forward pass recomputed (the sweep computes them on its own walks)."""
        with self.on_path():
            return self._term_gradnorms(direction)

    def _term_gradnorms(self, direction: str) -> dict[str, np.ndarray]:
        K = len(self.bounds)
        terms = self.term_pass(direction)
        order = range(K - 1, -1, -1) if direction == "fwd" else range(K)
        for n, k in enumerate(order):
            walk, _ = self._forward(k)
            _, g, g_pre, _, _ = self._loss(k, walk)
            terms.step(k, walk, g, g_pre)
            report(f"one loss term's gradient ({direction})", n + 1, K)
        return terms.out


@dataclass(frozen=True)
class SweepProgress:
    """How far a sweep is (`Sweep`), as counts of segments; frozen: a snapshot a reader keeps while the sweep
    goes on. A sweep runs its phases in order: "forward" (each forward direction's boundary states, segment 0
    up), for a bidirectional entry "states" (its backward direction's states and a first backward pass, from
    the last segment down), then "backward" (the backward pass that is kept: from the last segment down, for a
    bidirectional entry from the first up), then "done"."""

    K: int                  # segments in the run
    bidir: bool
    forward: int = 0        # segments the forward phase has been through (from segment 0)
    states: int = 0         # ... the "states" phase (a bidirectional entry's, from the last segment)
    backward: int = 0       # ... the backward phase (from the last segment; a bidirectional one from the first)
    own: int = 0            # pieces of the kind's own pass done (`Segments.before_backward`: a many-to-one's head)
    own_total: int = 0      # ... of how many (0: a chain has none)
    own_states: int = 0     # ... of which the first find the backward direction's states (`Segments.own_states`)
    own_what: str = ""      # what that pass computes (`Segments.own_what`)
    own_label: str = ""     # ... in a few words (`Segments.own_label`)

    @property
    def total(self) -> int:
        return self.K * (3 if self.bidir else 2) + self.own_total

    @property
    def done(self) -> int:
        return self.forward + self.states + self.backward + self.own

    @property
    def own_done(self) -> bool:
        """Whether the kind's own pass is done (what it records, `Segments.tail_record`, is then known)."""
        return self.forward == self.K and self.own == self.own_total

    @property
    def fraction(self) -> float:
        return self.done / max(1, self.total)

    @property
    def complete(self) -> bool:
        return self.backward == self.K

    @property
    def phase(self) -> str:
        if self.forward < self.K:
            return "forward"
        if self.own < self.own_total:
            return "own"
        if self.bidir and self.states < self.K:
            return "states"
        return "backward" if self.backward < self.K else "done"

    def forward_ready(self, k: int) -> bool:
        """Whether segment k's forward pass can be recomputed from its boundaries: every direction's state
        entering it is known."""
        return k < self.forward and (not self.bidir or k >= self.K - self.states_found)

    @property
    def states_found(self) -> int:
        """Segments, from the last down, whose backward direction's states are known: the "states" phase's, or the
        kind's own pass's where it finds them first (`own_states`)."""
        return max(self.states, min(self.own, self.own_states))

    def backward_ready(self, k: int) -> bool:
        """Whether segment k's backward pass can be: the gradients entering it are the final ones."""
        if self.complete:
            return True
        return k < self.backward if self.bidir else k >= self.K - self.backward

    def forward_segments(self) -> tuple[int, int]:
        """The segments k0 .. k1-1 whose forward pass is ready: from segment 0 up to where the forward sweep is;
        for a bidirectional entry none until the forward direction's sweep is done, then from where its backward
        direction's states have come down to, to the last."""
        if not self.bidir:
            return 0, self.forward
        found = self.states_found
        return (self.K - found, self.K) if self.forward == self.K and found else (0, 0)

    @classmethod
    def finished(cls, K: int, bidir: bool) -> SweepProgress:
        return cls(K, bidir, K, K if bidir else 0, K)

    @classmethod
    def start(cls, segs: "Segments") -> SweepProgress:
        """A sweep of *segs* before its first piece."""
        return cls(len(segs.bounds), segs.bidir, own_total=segs.own_pieces, own_states=segs.own_states,
                   own_what=segs.own_what, own_label=segs.own_label)


class NotReady(Exception):
    """What a reader asked of a run whose sweep has not computed it yet (`SweepProgress`): *fraction* of the
    sweep done; *what* it waits for ("the backward pass", "the forward pass")."""

    def __init__(self, what: str, fraction: float, steps: tuple[int, int] | None = None, failed: str = "",
                 bidir: bool = False, loss_known: bool = False):
        super().__init__(f"{what}: not computed: the sweep failed ({failed})" if failed else
                         f"{what}: computing ({fraction:.0%} of the sweep done)")
        self.what, self.fraction = what, fraction
        self.steps = steps
        """The steps a .. b-1 whose forward pass is ready, (a, b) (None: not said)."""
        self.failed = failed
        """Why the sweep stopped, when it failed: what waits for it will not come."""
        self.bidir = bidir
        """A bidirectional entry's run: a step's forward pass also waits for its backward direction's states."""
        self.loss_known = loss_known
        """The run's loss is known already (a many-to-one's head or a decoder ran before the backward sweep): what
        waits for the backward pass waits for its gradients only."""


class Sweep:
    """`Segments.sweep` in pieces, for a caller that shows the first segment before the rest is swept (the
    debugger: `rnntui run` on a long run). `advance()` runs one segment of the current phase and says whether
    there is more; the first call runs segment 0's forward pass (*cache_first*: kept in the forward LRU, where the
    first screen reads it). Each call publishes its `SweepProgress` on the segments (`segments.progress`) once
    that segment's boundaries are written, so a reader on another thread only reads what is done; `result`
    (a `SweepResult`) is set by the last call. The operations and their order are `sweep`'s to the bit: `run()`
    is `sweep`."""

    def __init__(self, segments: Segments, keep: bool = False, label: str = "recording", cache_first: bool = False):
        self.segments, self.keep, self.label, self.cache_first = segments, keep, label, cache_first
        self.result: SweepResult | None = None
        self._stream: StreamedNorms | None = None    # the step-Jacobian norms computed alongside (`Segments.norms_stream`)
        segments.progress = SweepProgress.start(segments)
        self._pieces = self._run()

    @property
    def progress(self) -> SweepProgress:
        return self.segments.progress

    def advance(self) -> bool:
        """One segment more of the sweep; False once it is done (`result` set)."""
        if self.result is not None:
            return False
        try:
            with self.segments.on_path():     # on whichever thread drives it
                next(self._pieces)
        except StopIteration as stop:
            self.result = stop.value
            return False
        except BaseException:
            if self._stream is not None:   # nothing computes on for a sweep that failed
                self._stream.close()
            raise
        return True

    def run(self) -> SweepResult:
        """The rest of the sweep, to its end."""
        while self.advance():
            pass
        return self.result

    def _publish(self, **counts) -> None:
        segs = self.segments
        segs.progress = replace(segs.progress, **counts)
        report(self.label, segs.progress.done, segs.progress.total)

    def _run(self):
        segs, keep = self.segments, self.keep
        K = len(segs.bounds)
        kept: dict[int, tuple] = {}
        # a chain recorded whole, to be saved with its step-Jacobian norms: they need the forward records only, so
        # they are computed in a child process or on a thread as the segments are recorded, while this one runs on
        stream = segs.norms_stream() if keep and not segs.bidir and norms_wanted() else None
        self._stream = stream
        if stream is not None:   # a sweep left unfinished (never advanced again) leaves no thread waiting for it
            weakref.finalize(self, stream.stop)
        for k in range(K):       # forward directions' boundary states
            walk, rec = segs._forward(k)
            segs._carry_states(k, rec, "fwd")
            if keep and not segs.bidir:
                kept[k] = (walk, rec)
                if stream is not None:
                    stream.add(k, rec)
            elif k == 0 and self.cache_first and not segs.bidir:   # the first screen reads it (Segments.segment)
                with segs.lock:
                    segs.forward_cache.put(0, {**rec, keys.OUTPUT: walk.outs[-1]})
            self._publish(forward=k + 1)
            yield
        forward = {} if stream is None else stream.done_forward()
        norms = None if stream is None else stream.norms
        # the verdict's one-term gradients, each direction's lean pass on the walk its BPTT order visits (set up
        # after the forward phase: its arrays never delay the first segment)
        terms = {d: segs.term_pass(d) for d in (("fwd", "bwd") if segs.bidir else ("fwd",))}
        for n, _ in enumerate(segs.before_backward()):   # a kind's own pass before any backward one (checkpoint_kinds)
            self._publish(own=n + 1)
            yield
        if segs.bidir:
            # the backward direction's states from the last segment down, and the forward direction's
            # gradients (the bidirectional entry is the only recurrent one: its backward direction's
            # gradients, still zeros here, reach no other recurrent place)
            for n, k in enumerate(range(K - 1, -1, -1)):
                walk, rec = segs._forward(k)
                segs._carry_states(k, rec, "bwd")
                _, g, g_pre = segs._backward(k, walk, rec, {})
                segs._carry_grads(k, walk, "fwd")
                terms["fwd"].step(k, walk, g, g_pre)
                if keep:
                    kept[k] = (walk, {key: v for key, v in rec.items() if not key.startswith((keys.GRAD_PREFIX, keys.LOSS,
                                                                                              keys.GRADNORM_PREFIX))})
                self._publish(states=n + 1)
                yield
            order = range(K)                  # then forward, carrying the backward direction's gradients
            carry = "bwd"
        else:
            order = range(K - 1, -1, -1)
            carry = "fwd"
        parts: dict[str, list] = {}
        parts_rows: dict[str, list] = {}
        rows: dict[str, np.ndarray] = {}
        small: dict[str, np.ndarray] = {}
        summaries: dict[str, BadRows] = {}
        big: dict[str, tuple] = {}
        diag: dict[str, list] = {}
        grads: dict[str, np.ndarray] = {}
        losses = [None] * K
        key_order: list[str] | None = None
        for n, k in enumerate(order):
            walk, rec = kept.pop(k) if keep else segs._forward(k)
            seg_grads: dict = {}
            losses[k], g, g_pre = segs._backward(k, walk, rec, seg_grads)
            segs._carry_grads(k, walk, carry)
            terms[carry].step(k, walk, g, g_pre)
            for name, g in seg_grads.items():
                grads[name] = g if name not in grads else grads[name] + g
            a, b = segs.bounds[k]
            if key_order is None:
                key_order = [key for key in rec if key not in segs.state_keys]
            for key in key_order:
                v = rec[key]
                if v.shape[0] != b - a:
                    raise ValueError(f"{key}: not one row per step ({v.shape}); cannot be checkpointed")
                if v.ndim >= 3:
                    big[key] = ((segs.T,) + v.shape[1:], v.dtype)
                    if key.startswith(keys.GRAD_PREFIX) and not keep:   # the bars' all-step scale, per sample
                        flat = np.abs(v.reshape(v.shape[0], v.shape[1], -1))
                        top = np.where(np.isfinite(flat), flat, 0).max(axis=(0, 2))
                        name = f"top:{key}"
                        rows[name] = top if name not in rows else np.maximum(rows[name], top)
                    if not keep:
                        summary = summaries.get(key) or BadRows(v.ndim, v.dtype)
                        summaries[key] = summary.seen(v, a)
                        continue
                parts.setdefault(key, [None] * K)[k] = v
            segs._diagnostics(k, rec, diag)
            if not keep:
                segs._rows(k, rec, parts_rows)
            segs._state_records(k, rec, small)
            if n + 1 < K:
                self._publish(backward=n + 1)
                yield
        arrays: dict = {}
        for key in key_order:   # the forward arrays the norms read were joined for them already: the same ones
            arrays[key] = forward[key] if key in forward else (np.concatenate(parts[key]) if key in parts
                                                                 else summaries[key])
        arrays.update(small)
        loss = summed_loss(losses, segs.dtype)
        segs.swept = True
        rows.update({key: np.concatenate(v) for key, v in parts_rows.items()})
        terms_out = {key: v for t in terms.values() for key, v in t.out.items()}
        result = SweepResult(arrays, {key: np.concatenate(v) for key, v in diag.items()}, grads,
                             loss, {} if keep else big, rows, terms_out, norms)
        segs.finish_sweep(result)
        if stream is not None:
            stream.done_sweep()
        self._publish(backward=K)     # the last segment's report, once everything is in
        return result


def summed_loss(parts, dtype) -> np.ndarray:
    """A run's loss from its segments' shares (*parts*), added first to last as the sweep adds them."""
    loss = np.asarray(0, dtype=dtype)
    for part in parts:
        loss = loss + np.asarray(part, dtype=dtype)
    return np.asarray(loss, dtype=dtype)


class TermPass:
    """network.one_term_gradients of one direction, a segment at a time in that direction's BPTT order (from
    the last segment down for a forward direction, from the first up for a backward one): a lean backward
    pass seeded with each sample's one loss term (its last real step for the forward direction, step 0 for
    the backward one), carried from segment to segment as the main pass carries its gradients."""

    def __init__(self, segs: Segments, direction: str):
        self.segs, self.direction = segs, direction
        last = (np.full(segs.B, segs.T - 1) if segs.lengths is None else segs.lengths - 1)
        self.start = last if direction == "fwd" else np.zeros(segs.B, dtype=last.dtype)
        self.gins = {i: {s: np.zeros(v.shape, v.dtype) for s, v in st.items()} for i, st in segs.gins.items()}
        self.places = [keys.place_prefix(lay.index, j, d) for lay in segs.layout if lay.recurrent
                       for j in range(lay.num_layers) for d in lay.directions if d == direction]
        self.out = {keys.diag(p, "term_gradnorm"): np.empty((segs.T, segs.B), dtype=segs.dtype) for p in self.places}

    def finals(self, k: int, walk) -> dict:
        """What enters segment k's recurrent entries through time in this pass (entry -> state -> rows)."""
        return {i: {s: v[k] for s, v in st.items()} for i, st in self.gins.items()}

    def step(self, k: int, walk, g, g_pre) -> None:
        """Segment k, on its forward *walk* and the loss's gradient *g* (*g_pre*) over its steps."""
        segs, direction, start = self.segs, self.direction, self.start
        K = len(segs.bounds)
        a, b = segs.bounds[k]
        rows = np.flatnonzero((start >= a) & (start < b))
        g1 = np.zeros_like(g)
        g1[start[rows] - a, rows] = g[start[rows] - a, rows]
        p1 = None
        if g_pre is not None:
            p1 = np.zeros_like(g_pre)
            p1[start[rows] - a, rows] = g_pre[start[rows] - a, rows]
        self.scratch = scratch = {}    # the pass's record of segment k (a graph's recurrences read it: checkpoint_kinds)
        segs._walk_backward(walk, g1, p1, {}, scratch, self.finals(k, walk), lean=direction)
        nxt = k - 1 if direction == "fwd" else k + 1
        if 0 <= nxt < K:
            for i, lay in enumerate(segs.layout):
                if lay.recurrent:
                    d0 = walk.caches[i]["dstate0"]
                    for slot, (j, d) in enumerate(segs.slots(lay)):
                        if d == direction:
                            for s in lay.family.states:
                                self.gins[lay.index][s][nxt, slot] = d0[s][slot]
        for prefix in self.places:
            dh = scratch[keys.grad(f"{prefix}.h")]
            self.out[keys.diag(prefix, "term_gradnorm")][a:b] = row_norms(dh.reshape(-1, dh.shape[-1])).reshape(
                dh.shape[:2])


class NotInMemory(MemoryError):
    """A whole array of a checkpointed trace that is larger than the memory limit: read it with
    `trace.steps(key, a, b)`."""


def iter_segments(trace, key: str) -> Iterator[tuple[int, np.ndarray]]:
    """(first step, rows) of *key* segment by segment, for a checkpointed trace; the whole array at 0 for any
    other trace: streams over a long run within the memory limit (rnntui check)."""
    segs = getattr(trace, "segments", None)
    if segs is None or key not in getattr(trace, "big", {}):
        yield 0, trace[key]
        return
    for k, (a, b) in enumerate(segs.bounds):
        yield a, segs.segment(k, backward=key.startswith(keys.GRAD_PREFIX) or key == keys.GRAD_INPUT)[key]


# --- the trace ------------------------------------------------------------------------------------------

def lru_capacity(segment_bytes: int, limit: int) -> int:
    """Segments the LRU keeps: a quarter of the memory limit, 2 to 16 of them."""
    return int(min(16, max(2, (limit // 4) // max(1, segment_bytes))))


class CheckpointedTrace(Trace):
    """A Trace whose large per-step arrays (`big`) are recomputed segment by segment when read.

    `trace[key]` gives the whole array when it fits the memory limit (recomputing every segment; not
    kept), else raises `NotInMemory`; `trace.steps(key, a, b)` recomputes only the segments holding
    steps a .. b-1, through an LRU of recent segments. Everything else is held as in any trace."""

    def __init__(self, arrays, info, derived, segments: Segments, big: dict, limit: int, path=None,
                 rows: dict | None = None):
        super().__init__(arrays, info, derived, path)
        self.segments = segments
        self.big = dict(big)
        self.rows = dict(rows or {})
        """What views read over every step of an array not kept, computed in the sweep: "saliency" (T, B),
        "argmax" (T, B) of the output, and "top:{key}" (B,), the largest finite |value| of each sample."""
        self.limit = limit
        seg = sum(int(np.prod((segments.S,) + tuple(shape[1:]))) * np.dtype(dt).itemsize
                  for shape, dt in self.big.values())
        self.segment_bytes = seg
        segments.cache = SegmentLRU(lru_capacity(seg, limit))

    def nbytes(self, key: str) -> int:
        shape, dtype = self.big[key]
        return int(np.prod(shape)) * np.dtype(dtype).itemsize

    def __getitem__(self, key: str) -> np.ndarray:
        if key in self.big:
            from rnntui.sizes import format_size

            if self.nbytes(key) > self.limit:
                raise NotInMemory(
                    f"{key} holds {format_size(self.nbytes(key))}, more than the memory limit of "
                    f"{format_size(self.limit)}: read steps of it with trace.steps(key, a, b)")
            return self.steps(key, 0, self.segments.T, progress=True)
        return super().__getitem__(key)

    def steps(self, key: str, a: int, b: int, progress: bool = False) -> np.ndarray:
        if key not in self.big:
            return super().steps(key, a, b)
        segs = self.segments
        a, b = max(0, a), min(segs.T, b)
        shape, dtype = self.big[key]
        out = np.empty((max(0, b - a),) + tuple(shape[1:]), dtype=dtype)
        backward = key.startswith(keys.GRAD_PREFIX)
        ks = segs.segments_for(a, b)
        for n, k in enumerate(ks):
            s0, s1 = segs.bounds[k]
            rec = segs.segment(k, backward)
            if key not in rec:      # the output, dL/d(input): made with the loss
                rec = segs.segment(k, True)
            lo, hi = max(a, s0), min(b, s1)
            out[lo - a: hi - a] = rec[key][lo - s0: hi - s0]
            if progress:
                report(f"reading {key}", n + 1, len(ks))
        return _freeze(out)

    def __iter__(self):
        yield from list(self._arrays)
        yield from [k for k in self.big if k not in self._arrays]
        yield from list(self._derived)

    def __len__(self) -> int:
        return len(self._arrays) + len(self.big) + len(self._derived)

    def __contains__(self, key) -> bool:
        return key in self.big or super().__contains__(key)

    def is_computed(self, key: str) -> bool:
        return key not in self.big and super().is_computed(key)

    def is_ready(self, key: str, t: int) -> bool:
        """Whether step *t* of *key* reads without recomputing a segment."""
        if key not in self.big:
            return self.is_computed(key)
        k = self.segments.segment_of(t)
        return k in self.segments.cache or (not key.startswith(keys.GRAD_PREFIX) and k in self.segments.forward_cache)

    def full_bytes(self, jacobian: bool | str = True) -> int:
        """About what `save(full=True)` writes: every array, the derived ones as their shapes say."""
        from rnntui.engine import diagnostics

        if jacobian == "auto":
            jacobian = diagnostics.jacnorm_cost(self.info) <= diagnostics.JACNORM_AUTO_LIMIT
        per = self.segments.T * self.segments.B * np.dtype(self.segments.dtype).itemsize
        derived = sum(per for k in self._derived if jacobian or not k.endswith(".jacnorm"))
        return (sum(self.nbytes(k) for k in self.big) + sum(np.asarray(v).nbytes for v in self._arrays.values())
                + derived)

    def save(self, path, *, jacobian: bool | str = True, full: bool = False) -> list[str]:
        """The checkpoints and the small arrays (docs/trace-format.md, "Checkpointed traces"), reopened
        with the same recompute; *full*: every array whole, written one at a time."""
        from rnntui.engine import diagnostics

        if jacobian == "auto":
            jacobian = diagnostics.jacnorm_cost(self.info) <= diagnostics.JACNORM_AUTO_LIMIT
        skip = [] if jacobian else [k for k in self._derived if k.endswith(".jacnorm")]
        names = [k for k in self if k not in skip and k != keys.META_NOT_COMPUTED]
        if not full:
            names = [k for k in names if k not in self.big]

        def items():
            for k in names:
                yield k, np.asarray(self[k])
            if skip:
                yield keys.META_NOT_COMPUTED, np.asarray(skip, dtype=str)
            if not full:
                yield from checkpoint_arrays(self).items()

        write_npz(path, items())
        return skip



SWEPT_PREFIXES = (keys.GRAD_PREFIX, keys.DIAG_PREFIX, keys.GRADNORM_PREFIX)
SWEPT_KEYS = (keys.LOSS, keys.STEP_LOSS, keys.SAMPLE_STEP_LOSS, keys.OUTPUT)
"""What a sweep records besides a segment's forward record: a run still sweeping (`SweepingTrace`) cannot say
yet whether it will hold such a key."""


class SweepingTrace(CheckpointedTrace):
    """A checkpointed run while its sweep runs (`Sweep`, driven by run.SweepingRun): what the debugger shows
    before the sweep is done. It holds what does not depend on the sweep (the scenario, the input, the
    parameters, the lengths and tokens) and reads the forward pass's arrays (`big`: the keys of a segment's
    forward record) step by step, from the segments the sweep has been through; everything else (the loss,
    gradients, diagnostics, the kept rows) is not known yet: reading it, or asking whether the run will have it,
    raises NotReady (what it waits for, and the fraction of the sweep done), as does a step whose segment the
    forward sweep has not reached. A kind with a pass of its own between the forward sweep and the backward one
    (checkpoint_kinds: a many-to-one's head, an encoder-decoder's decoder) holds what that pass records once it
    is done (`Segments.tail_record`, the loss with it), and says NotReady for its keys (`Segments.tail_of`) until
    then. Frozen at `progress`, the sweep's progress when it was made: its answers never change under a reader,
    and a later snapshot (`SweepingRun.preview`) is another object; the finished run is the CheckpointedTrace
    `SweepingRun.finish` returns."""

    def __init__(self, arrays, info, segments: Segments, big: dict, limit: int, later=(), failed: str = "",
                 progress: SweepProgress | None = None):
        Trace.__init__(self, arrays, info, {})
        self.failed = failed
        """Why the sweep stopped, when it failed (what it did not reach is then never computed)."""
        self.segments, self.big, self.limit, self.rows = segments, dict(big), limit, {}
        self.later = frozenset(later)
        """The keys of a segment's forward record that the finished run holds whole (fewer than three axes: joined
        at the sweep's end): NotReady until then."""
        self.progress: SweepProgress = segments.progress if progress is None else progress
        self.segment_bytes = 0

    def _not_ready(self, what: str = "the backward pass") -> NotReady:
        return NotReady(what, self.progress.fraction, self.forward_steps(), self.failed, self.progress.bidir,
                        loss_known=keys.LOSS in self._arrays)

    def forward_steps(self) -> tuple[int, int]:
        """The steps a .. b-1 whose forward pass is ready in this snapshot, (a, b)."""
        k0, k1 = self.progress.forward_segments()
        bounds = self.segments.bounds
        return (bounds[k0][0], bounds[k1 - 1][1]) if k1 > k0 else (0, 0)

    def __getitem__(self, key: str) -> np.ndarray:
        if key in self._arrays:
            return self._arrays[key]
        if key in self.big:
            raise self._not_ready("the forward pass")
        if key in self:
            raise self._not_ready()
        raise KeyError(key)

    def _waits_for_own_pass(self, key) -> bool:
        return isinstance(key, str) and not self.progress.own_done and self.segments.tail_of(key)

    def __contains__(self, key) -> bool:
        """True for what it holds; for a key of a kind the sweep records (a gradient, a diagnostic, the loss, an
        array of a place), NotReady: whether the finished run has it is not known yet, as for a key of the
        kind's own pass (`Segments.tail_of`: a many-to-one's head, a decoder) before it is done; False for any
        other (a training run's keys, a sample's ids: a run the sweep finishes has them only if it holds them
        now)."""
        if key in self._arrays or key in self.big:
            return True
        if self._waits_for_own_pass(key):
            raise self._not_ready(self.segments.own_what)
        if isinstance(key, str) and (key in self.later or key.startswith(SWEPT_PREFIXES) or key in SWEPT_KEYS):
            raise self._not_ready()
        return False   # what the finished run holds besides: the same as this (an initial state given, ...)

    def __iter__(self):
        yield from list(self._arrays)
        yield from list(self.big)

    def __len__(self) -> int:
        return len(self._arrays) + len(self.big)

    def is_computed(self, key: str) -> bool:
        return key in self._arrays

    def is_ready(self, key: str, t: int) -> bool:
        if key in self._arrays:
            return True
        return key in self.big and self.progress.forward_ready(self.segments.segment_of(t))

    def steps(self, key: str, a: int, b: int, progress: bool = False) -> np.ndarray:
        if key not in self.big:
            if key in self._arrays:
                return self._arrays[key][a:b]
            if self._waits_for_own_pass(key):
                raise self._not_ready(self.segments.own_what)
            raise self._not_ready()
        segs = self.segments
        for k in segs.segments_for(max(0, a), min(segs.T, b)):
            if not self.progress.forward_ready(k):   # this snapshot's answer, whatever the sweep did since
                raise self._not_ready("the forward pass")
        return super().steps(key, a, b, progress)

    def save(self, path, **kw):
        raise self._not_ready()


def sweeping(trace) -> SweepProgress | None:
    """How far the sweep of *trace* is, read through any wrapper, while it runs (a `SweepingTrace`); None for
    any other trace."""
    while trace is not None and not isinstance(trace, SweepingTrace):
        trace = getattr(trace, "whole", None)
    return None if trace is None else trace.progress


def checkpoint_arrays(trace) -> dict[str, np.ndarray]:
    """What a saved checkpointed trace adds to its small arrays: the segment length, the big arrays' shapes,
    and each recurrent entry's boundary states and gradients."""
    import json

    segs = trace.segments
    out = {keys.META_CHECKPOINT: np.asarray(json.dumps({
        "segment_steps": segs.S,
        "big": {k: [list(shape), np.dtype(dt).str] for k, (shape, dt) in trace.big.items()},
        "recording": None if trace.recording is None else trace.recording.__dict__,
        "path": segs.path,
    }))}
    for i, st in segs.starts.items():
        for s, v in st.items():
            out[keys.checkpoint_start(i, s)] = v
    for i, st in segs.gins.items():
        for s, v in st.items():
            out[keys.checkpoint_grad(i, s)] = v
    for name, v in trace.rows.items():
        out[keys.checkpoint_row(name)] = v
    out.update(segs.extra_arrays())
    return out


def kept_row(trace, name: str):
    """A row the sweep of a checkpointed trace kept (CheckpointedTrace.rows), read through any wrapper; None
    for any other trace."""
    source = {"saliency": keys.GRAD_INPUT, "argmax": keys.OUTPUT}.get(name, name[4:] if name.startswith("top:") else None)
    while trace is not None and not hasattr(trace, "rows"):
        remap = getattr(trace, "source_key", None)
        if source is not None and remap is not None and remap(source) != source:
            return None    # the wrapper reads another array under that name (an encoder-decoder's decoder part)
        trace = getattr(trace, "whole", None)
    return None if trace is None else trace.rows.get(name)


class _Window:
    """Steps lo .. hi-1 of a checkpointed trace as whole arrays (jacobian_factors' view of a chunk)."""

    def __init__(self, trace, lo: int, hi: int):
        self.trace, self.lo, self.hi = trace, lo, hi

    def __getitem__(self, key):
        if key == keys.META_LENGTHS:
            return np.asarray(self.trace[key]) - self.lo
        if key in self.trace.big or (key in self.trace and key.startswith((keys.MODEL_PREFIX, keys.grad(keys.MODEL_PREFIX)))
                                     and np.ndim(self.trace[key]) >= 2):
            return self.trace.steps(key, self.lo, self.hi)
        return self.trace[key]

    def __contains__(self, key) -> bool:
        return key in self.trace


def windowed_jacnorm(trace, entry, params, place) -> np.ndarray:
    """diagnostics.jacobian_norms of a checkpointed trace: the same chunks of steps, each read through a
    window of the segments that hold it (with the steps beside it, whose states a step reads)."""
    from rnntui.engine.diagnostics import jacobian_norms, step_chunks

    name = place.param("weight_hh")
    W = params[entry.aliases.get(name, name)]
    T, B = trace.segments.T, trace.segments.B
    out = np.empty((T, B), dtype=W.dtype)
    for s0, s1 in step_chunks(T, B, W.shape[0]):
        lo, hi = max(0, s0 - 1), min(T, s1 + 1)
        out[s0:s1] = jacobian_norms(entry, _Window(trace, lo, hi), params, place, steps=np.arange(s0 - lo, s1 - lo))
    return out


class _GraphWindow(_Window):
    """A graph's steps lo .. hi-1: its named inputs sliced and their lengths shifted too."""

    def __getitem__(self, key):
        if key.startswith(keys.input_lengths("")):
            return np.asarray(self.trace[key]) - self.lo
        if key.startswith(keys.input_key("")) and key in self.trace and np.ndim(self.trace[key]) >= 2:
            return np.asarray(self.trace[key])[self.lo:self.hi]
        return super().__getitem__(key)


def graph_window(trace, lo: int, hi: int):
    """Steps lo .. hi-1 of *trace* read as whole arrays, recomputing only the segments that hold them, where it
    is (read through any wrapper) a checkpointed graph's; None for any other trace."""
    inner = trace      # a graph's wrappers (the TUI's ShownTrace, Stepwise) read the same arrays under the same names
    while inner is not None and not isinstance(inner, CheckpointedTrace):
        inner = getattr(inner, "whole", None)
    if inner is None or not inner.info.inputs:
        return None
    return _GraphWindow(inner, max(0, lo), min(inner.segments.T, hi))


def windowed_steps_jacnorm(trace, entry, params) -> np.ndarray:
    """graph_diag.jacobian_norms of a graph's recurrence node in a checkpointed trace: a segment's steps at a
    time, each through a window of them and the step before (whose states step t's Jacobian starts from); each
    step's norm is computed on its own, so the numbers are the whole trace's."""
    from rnntui.engine.graph_diag import jacobian_norms

    segs = trace.segments
    out = np.empty((segs.T, segs.B), dtype=segs.dtype)
    for a, b in segs.bounds:
        lo = max(0, a - 1)
        out[a:b] = jacobian_norms(trace.info, entry, _GraphWindow(trace, lo, b), params, steps=np.arange(a - lo, b - lo))
    return out


def jacnorm_of(trace, entry, params, place):
    """The lazy Jacobian norms of *place* of a checkpointed trace: through windows of segments where its entry
    runs in them, else (a decoder, kept whole) as a whole trace derives them."""
    from functools import partial

    from rnntui.engine.diagnostics import jacobian_norms

    if trace.segments.covers(entry.index):
        return partial(windowed_jacnorm, trace, entry, params, place)
    return partial(jacobian_norms, entry, trace, params, place)


def is_checkpointed(arrays) -> bool:
    return keys.META_CHECKPOINT in arrays


def _meta(arrays: dict, path):
    import json

    from rnntui.errors import Problem, ScenarioError

    try:
        meta = json.loads(str(arrays[keys.META_CHECKPOINT]))
        S = int(meta["segment_steps"])
        big = {str(k): (tuple(int(n) for n in shape), np.dtype(dt)) for k, (shape, dt) in meta["big"].items()}
        if any(dt.kind not in "biuf" or any(n < 0 for n in shape) for shape, dt in big.values()):
            raise ValueError("an array of a kind rnntui does not write")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ScenarioError([Problem(str(path), None, None, "",
                                     f"cannot read this checkpointed trace: meta.checkpoint is not what rnntui "
                                     f"writes ({exc})")]) from None
    return meta, S, big


def placeholders(arrays: dict, path) -> dict:
    """The arrays a saved checkpointed trace recomputes, as zero-stride stand-ins of their shapes (for the
    trace checker, which checks that every array the layout implies is there); none for any other trace."""
    if not is_checkpointed(arrays):
        return {}
    _, _, big = _meta(arrays, path)
    return {k: np.broadcast_to(np.zeros((), dtype=dt), shape) for k, (shape, dt) in big.items()}


def restore(arrays: dict, info, path, limit: int):
    """A saved checkpointed trace reopened: its small arrays as saved, its big arrays recomputed per segment
    from the saved boundaries, exactly as the run that saved it would have (the same walk, the same
    segments). Checked first: every boundary array the layout implies is there with its shape."""
    import json
    from functools import partial

    from rnntui.errors import Problem, ScenarioError
    from rnntui.engine.checkpoint_kinds import segments_for
    from rnntui.engine.trace import Recording

    def bad(what: str):
        return ScenarioError([Problem(str(path), None, None, "", f"cannot read this checkpointed trace: {what}")])

    meta, S, big = _meta(arrays, path)
    layout = list(info.entries)
    why = why_whole_layout(layout)
    if S < 1:
        raise bad(f"{keys.META_CHECKPOINT}'s segment_steps: expected a whole number from 1, found {S}")
    if why is not None or not info.seq:
        raise bad(why or "no steps")
    params = {k[len(keys.PARAM_PREFIX):]: v for k, v in arrays.items() if k.startswith(keys.PARAM_PREFIX)}
    x = arrays.get(keys.INPUT)
    decoder_x = arrays.get(keys.DECODER_INPUT)     # an encoder-decoder's: info.T counts the decoder's steps
    T = info.T if decoder_x is None else (x.shape[0] if x is not None and x.ndim >= 2 else -1)
    if x is None or x.ndim < 2 or x.shape[0] != T or x.shape[1] != info.B or (
            decoder_x is not None and (decoder_x.ndim < 2 or decoder_x.shape[:2] != (info.T, info.B))):
        raise bad("its input is missing or not (T, B, ...)")
    lengths = None if info.lengths is None else np.asarray(info.lengths)
    initial: dict = {}
    for lay in layout:
        if lay.recurrent:
            for s in lay.family.states:
                rows = [arrays.get(f"{keys.place_prefix(lay.index, j, d)}.{s}0") for j, d in Segments.slots(lay)]
                if all(r is not None for r in rows):
                    initial.setdefault(lay.index, {})[s] = np.stack(rows)
    target = arrays.get(keys.META_TARGET)
    if target is not None and info.loss == "mse":
        target = target.astype(x.dtype)
    inputs = input_lengths = None
    if info.inputs:    # a graph's inputs by name, and the lengths of those with samples of their own lengths
        inputs = {n: arrays.get(keys.input_key(n)) for n in info.inputs}
        if any(v is None or v.ndim < 2 or v.shape[:2] != x.shape[:2] for v in inputs.values()):
            raise bad("an input of the graph is missing or not (T, B, ...) as the first")
        input_lengths = {n: arrays[keys.input_lengths(n)] for n in info.inputs if keys.input_lengths(n) in arrays}
    segs = segments_for(layout, params, x, info.loss, target, lengths, initial, S, decoder_x, inputs=inputs,
                        input_lengths=input_lengths)
    K = len(segs.bounds)
    for i, st in segs.starts.items():
        for s, v in st.items():
            for name, into in ((keys.checkpoint_start(i, s), segs.starts), (keys.checkpoint_grad(i, s), segs.gins)):
                saved = arrays.get(name)
                if saved is None or saved.shape != v.shape or saved.dtype != v.dtype:
                    raise bad(f"{name}: expected {v.dtype} {v.shape} ({K} segments of {S} steps)")
                into[i][s] = np.array(saved)
    segs.buffers = {k[len(keys.buffer("")):]: v for k, v in arrays.items() if k.startswith(keys.buffer(""))}
    taken = meta.get("path")
    if isinstance(taken, dict):     # recomputed on the path the run took (a training replay's fused kernels)
        segs.path = {"replay": bool(taken.get("replay")), "step_norms": bool(taken.get("step_norms", True))}
    try:
        segs.load_extra(arrays)
    except ValueError as exc:
        raise bad(str(exc)) from None
    segs.swept = True
    segs.progress = SweepProgress.finished(K, segs.bidir)
    kept = {k: v for k, v in arrays.items() if not k.startswith(keys.CHECKPOINT_PREFIX) and k != keys.META_CHECKPOINT}
    derived = {}
    if keys.META_NOT_COMPUTED in kept:
        left = set(kept[keys.META_NOT_COMPUTED].tolist())
    else:
        left = set()
    rows = {k[len(keys.checkpoint_row("")):]: v for k, v in arrays.items() if k.startswith(keys.checkpoint_row(""))}
    wrong = check_rows(rows, segs.T, info.B, big)
    if wrong is not None:
        raise bad(wrong)
    cls = CheckpointedTrace
    if keys.TRAIN_LOSS in kept:     # a training run's: its iterations' numbers and this iteration's record
        from rnntui.engine.checkpoint_kinds import SavedCheckpointedTrainTrace as cls
    trace = cls(kept, info, derived, segs, big, limit, path, rows)
    from rnntui.engine.graph_diag import carries

    for place in info.places:
        if place.recurrent and place.diag_key("jacnorm") in left:
            trace._derived[place.diag_key("jacnorm")] = jacnorm_of(trace, info.entries[place.entry], params, place)
        elif carries(info.entries[place.entry]) and place.diag_key("jacnorm") in left:   # a graph's recurrence
            trace._derived[place.diag_key("jacnorm")] = partial(windowed_steps_jacnorm, trace,
                                                                info.entries[place.entry], params)
    rec = meta.get("recording")
    if rec is not None:
        try:
            trace.recording = Recording.reopened_from(rec if isinstance(rec, dict) else {})
        except ValueError as exc:
            raise bad(str(exc)) from None
    return trace


def check_rows(rows: dict, T: int, B: int, big: dict) -> str | None:
    """What is wrong with the rows a saved checkpointed trace keeps for its views (`CheckpointedTrace.rows`:
    "saliency", "argmax" and "gradnorm:{place}" (T, B), "top:{key}" (B,) of an array recomputed), or None."""
    out = big.get(keys.OUTPUT)
    classes = int(np.prod(out[0][2:])) if out is not None else None
    for name, v in rows.items():
        key = keys.checkpoint_row(name)
        if name.startswith("top:") and name[4:] in big:
            want = (B,)
        elif name in ("saliency", "argmax") or name.startswith("gradnorm:"):
            want = (T, B)
        else:
            return f"{key}: not a row rnntui keeps"
        kind = "iu" if name == "argmax" else "f"
        if v.shape != want or v.dtype.kind not in kind:
            return f"{key}: expected {'whole numbers' if kind == 'iu' else 'float'} {want}; found {v.dtype} {v.shape}"
        if name == "argmax" and v.size and (classes is None or v.min() < 0 or v.max() >= classes):
            return f"{key}: expected class indices 0..{(classes or 0) - 1}; found {v.min()}..{v.max()}"
    return None


class StepRows:
    """A checkpointed trace's per-step array as a view reads it: indexing the step axis with a step or a
    range of steps recomputes only the segments that hold them (`trace.steps`); `rows[:, b]` (every step,
    some of the other axes) is another StepRows, read the same way; anything else (np.asarray, a fancy index
    over steps) reads the whole array, which the memory limit may refuse (NotInMemory)."""

    def __init__(self, trace, key: str, after: tuple = ()):
        self.trace, self.key, self.after = trace, key, after
        shape, dtype = trace.big[key]
        probe = np.empty((1,) + tuple(shape[1:]), dtype=dtype)
        for idx in after:
            probe = probe[idx]
        self.shape, self.dtype = (shape[0],) + probe.shape[1:], np.dtype(dtype)
        self.ndim = len(self.shape)
        self.size = int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def _rows(self, a: int, b: int) -> np.ndarray:
        out = self.trace.steps(self.key, a, b)
        for idx in self.after:
            out = out[idx]
        return out

    def __getitem__(self, idx):
        parts = idx if isinstance(idx, tuple) else (idx,)
        first, rest = (parts[0] if parts else slice(None)), tuple(parts[1:])
        T = self.shape[0]
        if isinstance(first, (int, np.integer)) and not isinstance(first, bool):
            t = int(first) + (T if first < 0 else 0)
            if not 0 <= t < T:
                raise IndexError(f"step {int(first)} of {self.key}: expected 0..{T - 1}")
            return self._rows(t, t + 1)[(0,) + rest]
        if isinstance(first, slice):
            a, b, step = first.indices(T)
            if step == 1 and b - a < T:
                return self._rows(a, b)[(slice(None),) + rest]
            if step == 1 and all(isinstance(r, (int, np.integer, slice)) for r in rest):
                return StepRows(self.trace, self.key, self.after + ((slice(None),) + rest,)) if rest else self
        arrays = [np.asarray(p) for p in parts if not isinstance(p, slice)]
        if len(parts) <= self.ndim and arrays and all(a.dtype.kind in "iu" for a in arrays) \
                and all(not isinstance(p, slice) for p in parts) and np.ndim(first) == 1 and len(first) <= 4096:
            # a few (t, b, ...) picked together (predictions at some steps): one step at a time
            picks = np.broadcast_arrays(*[np.asarray(p) for p in parts])
            if not len(picks[0]):
                return np.zeros((0,) + self.shape[len(parts):], dtype=self.dtype)
            return np.stack([self[tuple(int(p[i]) for p in picks)] for i in range(len(picks[0]))])
        return np.asarray(self)[idx]

    def __array__(self, dtype=None, copy=None):
        a = self.trace[self.key]
        for idx in self.after:
            a = a[idx]
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        return f"<steps of {self.key} {self.shape}, recomputed per segment>"


class Stepwise(TraceWrapper):
    """A checkpointed trace as the views and reports read it: each recomputed array a `StepRows`."""

    def __getitem__(self, key: str):
        if key in self.whole.big:
            return StepRows(self.whole, key)
        return self.whole[key]


def stepwise(trace):
    """*trace* read step by step where it is checkpointed (`Stepwise`); any other trace as it is."""
    return Stepwise(trace) if isinstance(trace, CheckpointedTrace) else trace
