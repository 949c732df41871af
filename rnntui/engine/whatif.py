"""What-if on a recorded trace: the run recomputed with a list of interventions, forward only from the first
step they change and backward in full.

    from rnntui.engine.whatif import what_if
    new = what_if(trace, [{"at": "model.0.l0.fwd", "t": 5, "set": "h", "units": [3], "value": 0.0}])
    undone = what_if(new, [])            # the original run again (or keep the original Trace)

*interventions* is the whole list the new trace runs with, not an addition to the trace's own; the trace's
own are `recorded(trace)` (engine/interventions.py). Only what they change is recomputed:

* each place's forward loop starts at the first step (in its order) where the two lists differ or where
  its input differs from the recorded run; the steps before are copied from the record, with the state
  the loop resumes from (the caches its backward needs are rebuilt from the record, without a loop);
* so sub-layers, entries and the other direction of a bidirectional entry that read nothing changed are
  copied whole; a forward direction above an intervened one resumes at the same step, a backward direction
  above it restarts at the last step (it reads the changed steps first);
* entries without steps of their own (dense, activation, conv) run again: one product each;
* backward, the loss and the diagnostics run in full: every gradient may change.

The result equals a full recompute (`what_if(..., resume=False)`, or `rnntui.run` of the scenario with the
same `interventions:`) to the bit: the copied values are the ones a full run computes, and the caches are
rebuilt with the same operations the loop uses (tests/engine/test_interventions.py checks it).
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np

from rnntui.engine import keys, network
from rnntui.engine.context import RunContext
from rnntui.engine.families import fused
from rnntui.engine.interventions import (META, MASK, Intervention, InterventionProblem, coerce, compile_all,
                                         first_difference, record_masks, recorded)
from rnntui.errors import RnntuiError


class WhatIfError(RnntuiError):
    """Interventions that cannot be applied to this trace (the message names which and why)."""

    title = "what-if error"


class Plan:
    """What one run applies: the interventions compiled by place, and (when resuming) the recorded run with
    the interventions it was made with."""

    def __init__(self, items: Sequence[Intervention], entries, base=None, base_items: Sequence[Intervention] = ()):
        self.items = tuple(items)
        self.compiled = compile_all(self.items, entries)
        self.base = base
        self.base_compiled = compile_all(base_items, entries)

    def overrides(self, prefix: str):
        return self.compiled.get(prefix)

    def resume(self, prefix: str, reverse: bool, T: int, changed, names) -> tuple:
        """(resume, changed_out) for one place: `resume` is (t0, record) for the family's forward, or None to
        run the whole loop; `changed_out` the steps (lo, hi) of its states that differ from the record."""
        if self.base is None:
            return None, (0, T - 1)
        starts = []
        own = first_difference(self.base_compiled.get(prefix), self.compiled.get(prefix), reverse)
        if own is not None:
            starts.append(own)
        if changed is not None:
            starts.append(min(changed[1], T - 1) if reverse else changed[0])
        if reverse:
            t0 = max(starts) if starts else -1
            out = None if t0 < 0 else (0, t0)
            whole = t0 == T - 1
        else:
            t0 = min(starts) if starts else T
            out = None if t0 >= T else (t0, T - 1)
            whole = t0 == 0
        if whole:
            return None, out
        record = {n: np.asarray(self.base[f"{prefix}.{n}"]) for n in names}
        return (t0, record), out


def _supported(info) -> None:
    if any(e.part for e in info.entries):
        raise WhatIfError("interventions run on whole-sequence models; this trace is an encoder-decoder")
    if info.feed == "output":
        raise WhatIfError("interventions run on whole-sequence models; this trace is a generator (feed: output)")


def check(items, info) -> tuple[Intervention, ...]:
    """Interventions (Intervention objects or scenario-form dicts) checked against a trace's model."""
    _supported(info)
    try:
        return coerce(items, info.entries, info.T)
    except InterventionProblem as exc:
        raise WhatIfError(str(exc)) from None


def _inputs(trace):
    """What the run read, from its record: input, parameters, target, lengths, initial states."""
    info = trace.info
    dtype = np.dtype(info.dtype)
    x = np.ascontiguousarray(trace[keys.INPUT], dtype=dtype)
    params = {n: np.ascontiguousarray(trace[keys.param(n)], dtype=dtype) for e in info.entries for n in e.params}
    target = np.asarray(trace[keys.META_TARGET]) if keys.META_TARGET in trace else None
    if target is not None and info.loss == "mse":
        target = target.astype(dtype)
    lengths = None if info.lengths is None else np.asarray(info.lengths, dtype=np.int64)
    return x, params, target, lengths, _initial(trace, dtype)


def _initial(trace, dtype) -> dict:
    """The initial states a run's recurrent entries started from, from their record (`{place}.h0`, ...)."""
    initial = {}
    for e in trace.info.entries:
        if not e.recurrent:
            continue
        prefixes = [keys.place_prefix(e.index, j, d) for j in range(e.num_layers) for d in e.directions]
        states = {s: [f"{p}.{s}0" for p in prefixes] for s in e.family.states}
        if all(k in trace for k in states["h"]):
            initial[e.index] = {s: np.stack([np.asarray(trace[k], dtype=dtype) for k in ks])
                                for s, ks in states.items() if all(k in trace for k in ks)}
    return initial


def refuse_over_the_limit(trace, what: str = "a what-if") -> None:
    """A what-if (*what*: or another run it recomputes) is recorded whole: on a run checkpointed because its whole
    recording would pass the memory limit (engine/checkpoint.py), WhatIfError before anything is computed, with
    both sizes (it recorded the what-if whole whatever the limit: 430 MiB for a 50,000-step LSTM checkpointed
    under 48 MiB)."""
    from rnntui.sizes import format_size

    base = getattr(trace, "whole", trace)
    rec, limit = getattr(base, "recording", None), getattr(base, "limit", None)
    if getattr(base, "segments", None) is None or rec is None or limit is None or rec.need <= limit:
        return
    raise WhatIfError(f"{what} is recorded whole, and this run's whole recording would hold about "
                      f"{format_size(rec.need)} at its peak, more than the memory limit of {format_size(limit)} (so "
                      "it is checkpointed); raise --max-memory to have it")


def what_if(trace, interventions, resume: bool = True):
    """A new Trace: *trace*'s run with *interventions* (the whole list; [] gives the run without any).

    *resume* False recomputes every step from the recorded input and parameters (the reference the
    resumed result equals). Raises WhatIfError for interventions this trace cannot take."""
    from rnntui.engine.diagnostics import derived_keys
    from rnntui.engine.trace import Trace

    info = trace.info
    refuse_over_the_limit(trace)
    items = check(interventions, info)
    base_items = recorded(trace)
    plan = Plan(items, info.entries, trace if resume else None, base_items)
    x, params, target, lengths, initial = _inputs(trace)
    buffers = {n: np.asarray(trace[keys.buffer(n)]) for e in info.entries for n in e.buffers}
    training = keys.META_TRAINING in trace   # a training iteration's record: batchnorm's batch statistics
    # and the dropout masks that iteration drew (recorded under model.{i}.mask / model.{i}.l{j}.dropout_mask):
    # without them the what-if would rerun a different network
    masks = {k: np.asarray(trace[k]) for k in trace if keys.is_dropout_mask(k)} or None
    lazy: dict = {}
    # on the path the training replay took (families/fused), so a what-if's unchanged places are the iteration's own
    with np.errstate(all="ignore"), (fused.replay() if training else nullcontext()):
        if info.inputs:   # a graph model: every node again (no resume), with its named inputs and their lengths
            from rnntui.engine.graph import recorded_inputs, run_graph

            inputs, by_input = recorded_inputs(trace)
            ctx = RunContext(params, dtype=np.dtype(info.dtype), training=training, buffers=buffers, masks=masks,
                             lengths=by_input, plan=Plan(items, info.entries), initial=initial)
            rec = run_graph(list(info.entries), inputs, ctx, info.loss, target, derived=lazy)
        else:
            ctx = RunContext.chain(params, lengths, initial=initial, plan=plan, masks=masks, buffers=buffers,
                                   training=training, dtype=info.dtype)
            rec = network.run_network(list(info.entries), x, ctx, info.loss, target, info.seq, derived=lazy)
    stale = (META, keys.META_NOT_COMPUTED)
    arrays = {k: trace[k] for k in trace if trace.is_computed(k) and k not in rec and k not in stale
              and not k.startswith(keys.DIAG_PREFIX) and f".{MASK}." not in k}
    arrays.update(rec)
    if items:
        record_masks(arrays, items, info.entries, info.B, info.lengths)
    derived = derived_keys(info, arrays, params)
    derived.update(lazy)
    return Trace(arrays, info, derived)


__all__ = ["Intervention", "Plan", "WhatIfError", "check", "recorded", "what_if"]
