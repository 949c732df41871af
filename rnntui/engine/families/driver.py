"""The recurrence driver: the one step loop every recurrent family runs in.

A family (rnn.py, lstm.py, gru.py) gives its step maths only: `Family.forward_steps` returns a
`ForwardSteps` (its arrays and `step(t, put)`, which computes step t from the states step t reads) and
`Family.backward_steps` a `BackwardSteps` (`step(t, ov)`, which reads the gradients reaching step t's states
from the step after it and writes those reaching the states it read, into the driver's rows). Everything the loops share
is here, once:

- the states: each state (h, and an LSTM's c) is one (T + 1, B, H) array whose extra row holds the initial
  state (PyTorch's h_0 / c_0, zeros without one), so `prev[s][t]`, the state step t reads, is a view and
  never a copy, at the pass's first step too; backward reads the same views (no shifted copy), and keeps
  what reaches each state through time in rows laid out the same way (the record's through-time term is a
  view of them, written by the step that computes it: no copy a step);
- the order of the steps (a reverse direction runs t = T-1 .. 0) and, backward, the opposite order;
- padding (a batch of different lengths, `base.padding`): the states are zeroed at a sample's padded
  steps as they are made, every other per-step array the family lists in `ForwardSteps.padded` once after
  the loop; backward, the gradients entering a padded step and dL/dh_t there are zeroed, so the family's
  maths gives zeros there from the zeros the forward pass recorded;
- what-if overrides (engine/interventions.py `Overrides`): `put` (forward) and `ov` (backward, for `cut` and
  `cut_copy`) are handed to the family's step, which calls them where a value is final; without
  interventions they are None and the step never looks further;
- resume (`Resume`): the steps before `t0` copied from a record (engine/whatif.py), or a segment [t0, stop)
  run from given states (checkpointed traces): `forward(..., resume=Resume(t0, states=..., stop=...))`;
- the final-gradient injection (`final=`: a gradient reaching the last states from outside the sequence,
  at each sample's own last step with `final_steps`), the record of what came through time for every state
  and the split of dL/dh_t (`base.split_record`), and `state0` (dL/d(initial state)) out;
- the weight gradients, one product each after the loop (`base.weight_grads`).

The step product (`base.StepProduct`: W v for one step into a fixed (rows, B) buffer) is the families'.

A fused kernel (numba, ...) may stand for a family's whole forward loop where no hook is needed: set
`ForwardSteps.fused` to a callable taking the steps (a range, in the loop's order); the driver calls it
instead of `step` when the run has no padding and no interventions.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from rnntui.engine.families.base import (DirectionGrads, DirectionRun, inject_final, order, split_record,
                                         start_state, step_rows, weight_grads, zero_padded)
from rnntui.engine.keys import THROUGH_TIME


@dataclass
class ForwardSteps:
    """A family's forward step maths over the arrays it allocated (`Family.forward_steps`)."""

    step: Callable                           # step(t, put): step t from the states at prev[.][t]; put(name, t, a)
    named: dict[str, np.ndarray]             # every recorded value by its key relative to the place: (T, B, H)
    cache: dict = field(default_factory=dict)  # what the family's backward reads
    padded: tuple = ()                       # per-step arrays (T, ...) zeroed at padded steps after the loop
    restore: Callable | None = None          # restore(kept): rebuild the caches of steps copied from a record
    fused: Callable | None = None            # fused(steps): the whole loop without hooks (a fused kernel)


@dataclass
class BackwardSteps:
    """A family's backward step maths (`Family.backward_steps`)."""

    step: Callable                           # step(t, ov): from into[s][t] and DH[t], writes out[s][t]
    finish: Callable                         # finish() -> (d_ih, d_hh, perm): the pre-activation gradients
    records: dict = field(default_factory=dict)  # what it records beside dL/dh_t (an LSTM's dL/dc_t, ...)


@dataclass(frozen=True)
class Resume:
    """Where a direction's loop starts (and stops), for a run that does not compute every step.

    t0: the first step computed, in the loop's order (a reverse direction's loop runs T-1 .. 0).
    record: name -> a recorded (T, B, H) array (the names of `ForwardSteps.named` it holds): the steps
        before t0 are copied from it, states included (engine/whatif.py).
    states: name -> (B, H): the state step t0 reads (what the step before it made), instead of the
        record's (a checkpointed trace resumes a segment from the states at its boundary).
    stop: the step the loop stops before, in its order (None: the pass's end).
    The steps neither computed nor copied are zeros."""

    t0: int
    record: Mapping | None = None
    states: Mapping | None = None
    stop: int | None = None

    @classmethod
    def of(cls, resume) -> "Resume | None":
        """A Resume from a Resume, a (t0, record) pair (engine/whatif.py's), or None."""
        if resume is None or isinstance(resume, Resume):
            return resume
        t0, record = resume
        return cls(t0, record)

    def steps(self, T: int, reverse: bool) -> tuple[range, slice]:
        """The steps computed, in the loop's order, and the steps before them (copied from a record)."""
        if reverse:
            stop = -1 if self.stop is None else self.stop
            return range(self.t0, stop, -1), slice(self.t0 + 1, T)
        return range(self.t0, T if self.stop is None else self.stop), slice(0, self.t0)


def state_rows(states: tuple[str, ...], T: int, B: int, H: int, dtype, reverse: bool, state0=None,
               fill=np.empty) -> tuple[dict, dict]:
    """Each state's (T + 1, B, H) rows (*fill* makes them), seen as `cur` (the value step t makes) and `prev`
    (the value step t reads: the initial state, from *state0* or zeros, where the pass begins); a loop in
    the *reverse* order reads row t + 1 and writes row t."""
    cur, prev = {}, {}
    for s in states:
        rows = fill((T + 1, B, H), dtype=dtype)
        edge = T if reverse else 0
        rows[edge] = start_state(state0, s, B, H, dtype)
        cur[s], prev[s] = (rows[:T], rows[1:]) if reverse else (rows[1:], rows[:T])
    return cur, prev


def forward(fam, entry, x, p, reverse: bool, pad=None, state0=None, overrides=None, resume=None) -> DirectionRun:
    """One direction of a recurrent sub-layer: `Family.forward`'s contract (families/base.py)."""
    T, B, _ = x.shape
    H = p["weight_hh"].shape[1]
    resume = Resume.of(resume)
    partial = resume is not None and resume.record is None
    cur, prev = state_rows(fam.states, T, B, H, x.dtype, reverse, state0, np.zeros if partial else np.empty)
    fs = fam.forward_steps(entry, x, p, reverse, cur, prev)
    steps = order(T, reverse)
    if resume is not None:
        steps, kept = resume.steps(T, reverse)
        if resume.record is not None:
            for name, a in fs.named.items():
                if name in resume.record:
                    a[kept] = resume.record[name][kept]
            if fs.restore is not None:
                fs.restore(kept)
        if resume.states is not None and len(steps):
            for s, v in resume.states.items():
                prev[s][steps[0]] = v
    if overrides is None and pad is None:
        if fs.fused is not None:
            fs.fused(steps)
        else:
            step = fs.step
            for t in steps:
                step(t, None)
    else:
        step, put, made = fs.step, None if overrides is None else overrides.put, tuple(cur.values())
        for t in steps:
            step(t, put)
            if pad is not None:
                for a in made:
                    zero_padded(a[t], pad, t)
    if pad is not None:
        for a in fs.padded:
            zero_padded(a, pad)
    if partial:   # a segment: the steps it did not compute hold zeros, not what the arrays held before
        outside = np.ones(T, dtype=bool)
        outside[list(steps)] = False
        for a in fs.padded:
            a[outside] = 0
    cache = dict(fs.cache, pad=pad, ov=overrides, prev=prev)
    return DirectionRun(cur["h"], fs.named, cache)


def through_key(state: str) -> str:
    """The record's key (relative to the place) of what reached *state* through time."""
    return f"{state}.{THROUGH_TIME.split('.', 1)[1]}"


def backward(fam, entry, x, p, run: DirectionRun, dh_ext, reverse: bool, final=None, final_steps=None,
             lean=False) -> DirectionGrads:
    """BPTT of one direction: `Family.backward`'s contract (families/base.py).

    What reaches each state through time lives in (T + 1, B, H) rows as the states do forward (one (B, H)
    buffer seen at every row in a lean pass): `into[s][t]` what enters step t from the step after it (the
    record's through-time term), `out[s][t]` what step t sends to the state it read, written there by the
    family's step; the row past the last step is dL/d(initial state)."""
    T, B, H = run.h.shape
    states = fam.states
    DH = np.empty((T, B, H), dtype=x.dtype)
    back = not reverse    # the order backward runs in: a forward direction's from T-1 down to 0
    rows = np.empty if not lean else (lambda shape, dtype: step_rows(shape[0], *shape[1:], dtype, keep=False))
    out, into = state_rows(states, T, B, H, x.dtype, back, None if final_steps is not None else final, rows)
    bs = fam.backward_steps(entry, x, p, run, DH, into, out, lean)
    pad, ov = run.cache.get("pad"), run.cache.get("ov")
    step, ext, dh, ih = bs.step, dh_ext, DH, into["h"]
    if final_steps is None and pad is None:   # the plain loop: nothing to check a step
        for t in order(T, back):
            np.add(ext[t], ih[t], dh[t])
            step(t, ov)
    else:
        entering = [into[s] for s in states]
        for t in order(T, back):
            if final_steps is not None:  # each sample's last state is at its own step (a packed batch)
                for s, g in zip(states, entering):
                    inject_final(g[t], final, s, final_steps, t)
            if pad is not None:   # nothing enters a padded step: it made nothing
                for g in entering:
                    zero_padded(g[t], pad, t)
            np.add(ext[t], ih[t], dh[t])
            if pad is not None:
                zero_padded(dh[t], pad, t)
            step(t, ov)
    d_ih, d_hh, perm = bs.finish()
    record = split_record(DH, dh_ext, into["h"])
    record.update(bs.records)
    for s in states[1:]:
        record[through_key(s)] = into[s]
    grads = weight_grads(x, p, run.cache["prev"]["h"], d_ih, d_hh, DH, record, perm, lean=lean)
    last = order(T, back)[-1]
    grads.state0 = {s: out[s][last] for s in states}
    return grads


__all__ = ["BackwardSteps", "ForwardSteps", "Resume", "backward", "forward", "state_rows", "through_key"]
