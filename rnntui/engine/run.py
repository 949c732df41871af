"""Scenario -> Trace: cast to the scenario's dtype, check memory, run, record."""
from __future__ import annotations

from functools import partial
from math import prod

import numpy as np

from rnntui.engine import generate, keys, network
from rnntui.engine.diagnostics import derived_keys
from rnntui.engine.handlers import handler
from rnntui.engine.infer import trace_floats
from rnntui.engine.memory import available_memory
from rnntui.engine.trace import Recording, Trace, TraceInfo
from rnntui.errors import Problem, ScenarioError
from rnntui.sizes import format_size


def estimate_bytes(sc) -> int:
    if getattr(sc, "inputs", None) is not None:   # a graph: each node over the steps of what it reads
        from rnntui.engine.graph import graph_floats

        itemsize = np.dtype(sc.dtype).itemsize
        steps = {name: (v.shape[0] if v.ndim >= 3 or sc.seq else 1) for name, v in sc.inputs.items()}
        return graph_floats(list(sc.layout), steps, sc.B) * itemsize + sum(v.nbytes for v in sc.inputs.values())
    return record_bytes(list(sc.layout), sc.dtype, sc.x, sc.seq, sc.B, sc.decoder_x)


def record_bytes(layout: list, dtype, x, seq: bool, B: int, decoder_x=None) -> int:
    """What a run of *layout* on *x* holds at its peak (each handler's footprint), counted before anything
    is made: the loader refuses with it before it builds the parameters, as run_scenario does."""
    itemsize = np.dtype(dtype).itemsize
    if decoder_x is None:
        return trace_floats(layout, x.shape[0] if seq else 1, B) * itemsize + x.nbytes
    # an encoder-decoder: each part over its own steps
    k = next(i for i, lay in enumerate(layout) if lay.part == "decoder")
    return (trace_floats(layout[:k], x.shape[0], B) + trace_floats(layout[k:], decoder_x.shape[0], B)) \
        * itemsize + x.nbytes + decoder_x.nbytes


def segment_plan(layout: list, B: int, dtype, T: int) -> tuple[int, str | None, int]:
    """The segment length of a checkpointed run of *T* steps, counted on what runs in segments (a many-to-one's
    entries up to its last recurrent one, an encoder); why segments would not help (None when they do); and
    what one step of that part records."""
    from rnntui.engine.checkpoint import segment_steps, step_bytes
    from rnntui.engine.checkpoint_kinds import steps_part

    part = steps_part(list(layout))[0]
    S = segment_steps(part, B, dtype)
    return S, (f"{T:,} steps are one segment of {S:,}" if T <= S else None), step_bytes(part, B, dtype)


def checkpointed_need(layout: list, dtype, x, seq: bool, B: int, decoder_x=None) -> tuple[int | None, str, int]:
    """What a checkpointed run holds at least: the whole input, the parameters and their gradients (which
    checkpointing does not shrink) and a segment's record forward and backward (a lower bound: the LRU and the
    per-step diagnostics come on top); None, and why, when segments would not help (the steps are one segment
    at most); and the segment's length."""
    S, why, per_step = segment_plan(layout, B, dtype, x.shape[0] if seq else 1)
    if why is not None:
        return None, why, S
    itemsize = np.dtype(dtype).itemsize
    params = sum(prod(shape) for lay in layout for shape in lay.params.values()) * itemsize
    decoder = 0 if decoder_x is None else decoder_x.nbytes
    # a segment's record is its per-step share times S (not trace_floats at T=S, which counts some arrays over
    # the layout's own steps, the whole run's), held forward and backward
    return 2 * params + 2 * per_step * S + x.nbytes + decoder, "", S


def too_big_checkpointed(need: int, limit: int, S: int) -> str:
    return (f"even checkpointed, this run would hold about {format_size(need)} (the input, the parameters, their "
            f"gradients and one segment of {S:,} steps), more than the memory limit of {format_size(limit)}; "
            "make the model smaller or raise --max-memory")


def too_big(need: int, limit: int, T: int, B: int) -> str:
    return (f"this run would hold about {format_size(need)} at its peak (its record and its backward pass's working "
            f"arrays), more than the memory limit of {format_size(limit)} "
            f"(T={T}, B={B}); shorten the input, make the model smaller or raise --max-memory")


def cast_buffers(buffers: dict, dtype) -> dict:
    """Buffers in the run's dtype, but counts (batchnorm's num_batches_tracked) stay whole numbers."""
    return {k: np.array(v, dtype=np.int64 if np.asarray(v).dtype.kind in "iu" else dtype)  # array, not
            for k, v in buffers.items()}                                                  # ascontiguousarray: keeps 0-d


def choose_recording(sc, limit: int, recording: str | None = None) -> tuple[Recording, int]:
    """Whole or checkpointed (engine/checkpoint.py), and why: whole when the estimate fits *limit*, else
    checkpointed where the run can be; (the choice, the segment length: 0 for a run recorded in one piece).
    *recording* "full" or "checkpointed" forces a choice (tests, benchmarks)."""
    from rnntui.engine import checkpoint

    need = estimate_bytes(sc)
    why = checkpoint.why_whole(sc)
    T = sc.x.shape[0] if sc.seq else sc.T     # the steps the segments cut (an encoder-decoder's: its encoder's)
    S = 0
    if why is None:
        S, why, _ = segment_plan(list(sc.layout), sc.B, sc.dtype, T)
    mode = recording or ("checkpointed" if need > limit else "full")
    if mode == "checkpointed" and why is not None:
        if recording is None:
            raise ScenarioError([Problem(sc.file, None, None, "", too_big(need, limit, T, sc.B)
                                         + f"; it cannot be checkpointed: {why}")])
        raise ValueError(f"cannot be checkpointed: {why}")
    segments = -(-T // S) if why is None else 0
    reason = "" if why is not None else f"computed in {segments:,} segments of {S:,} steps, every array kept"
    if mode == "checkpointed":
        reason = ""
    return Recording(mode, need, limit, reason, S if why is None else 0, segments, steps=T), (S if why is None else 0)


def run_once(sc, max_memory: int | None = None, iteration: int | None = None,
             recording: str | None = None) -> Trace:
    """Run forward and backward once; raise ScenarioError if the trace would not fit in memory and cannot be
    checkpointed (engine/checkpoint.py: a long run of per-step entries is then recorded as segments, each
    recomputed when read). A scenario's `train:` is not read here: engine/scenario_run.py's `run_scenario` runs
    its iterations (engine/train.py), each of them one run of this. *iteration*: the training iteration this
    run is, recorded as `meta.iteration`. *recording*: "full" or "checkpointed" instead of the memory limit's
    choice."""
    started = start_run(sc, max_memory, iteration, recording, shown=False)
    return started.finish() if isinstance(started, SweepingRun) else started


def start_run(sc, max_memory: int | None = None, iteration: int | None = None,
              recording: str | None = None, shown: bool = True):
    """`run_once`, except that a checkpointed run comes back before its sweep as a `SweepingRun`, whose caller
    drives the sweep (the debugger: the first segment, shown, then the rest in a worker) and finishes it into
    the trace run_once returns; any other run comes back as its Trace. *shown*: the first segment's forward
    record is kept in the forward LRU (the first screen reads it)."""
    limit = available_memory() // 2 if max_memory is None else max_memory
    chosen, S = choose_recording(sc, limit, recording)
    dtype = np.dtype(sc.dtype)
    x = np.ascontiguousarray(sc.x, dtype=dtype)
    params = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in sc.params.items()}
    buffers = cast_buffers(getattr(sc, "buffers", {}), dtype)
    training = getattr(sc, "training", False)
    target = sc.target
    if target is not None and sc.loss == "mse":
        target = target.astype(dtype)
    lazy: dict = {}
    items = tuple(getattr(sc, "interventions", ()))
    plan = None
    if items:
        from rnntui.engine.whatif import Plan

        plan = Plan(items, list(sc.layout))
    graph = getattr(sc, "inputs", None) is not None
    if S:   # in segments (engine/checkpoint.py, of the run's kind: engine/checkpoint_kinds.py)
        from rnntui.engine.checkpoint_kinds import segments_for

        initial = {i: {k: v.astype(dtype) for k, v in st.items()} for i, st in sc.initial_states.items()}
        with np.errstate(all="ignore"):
            segments = segments_for(list(sc.layout), params, x, sc.loss, target, sc.lengths, initial, S,
                                    None if sc.decoder_x is None else sc.decoder_x.astype(dtype), buffers,
                                    {n: np.ascontiguousarray(v, dtype=dtype) for n, v in sc.inputs.items()}
                                    if graph else None, dict(sc.input_lengths) if graph else None)
        run = SweepingRun(sc, chosen, limit, iteration, segments, initial, params, buffers, x, shown)
        if chosen.mode == "checkpointed" and run.shows_first:
            return run
        return run.finish()
    with np.errstate(all="ignore"):
        if graph and not S:
            from rnntui.engine.context import RunContext
            from rnntui.engine.graph import run_graph

            ctx = RunContext(params, dtype=dtype, training=training, buffers=buffers, plan=plan,
                             masks=getattr(sc, "dropout_masks", None), lengths=dict(sc.input_lengths),
                             initial={i: {k: v.astype(dtype) for k, v in st.items()}
                                      for i, st in sc.initial_states.items()})
            inputs = {n: np.ascontiguousarray(v, dtype=dtype) for n, v in sc.inputs.items()}
            arrays = run_graph(list(sc.layout), inputs, ctx, sc.loss, target, derived=lazy)
        else:
            from rnntui.engine.context import RunContext

            ctx = RunContext.chain(params, sc.lengths, plan=plan, masks=getattr(sc, "dropout_masks", None),
                                   initial={i: {k: v.astype(dtype) for k, v in st.items()}
                                            for i, st in sc.initial_states.items()},
                                   buffers=buffers, training=training, dtype=dtype)
            arrays = network.run_network(list(sc.layout), x, ctx, sc.loss, target, sc.seq, derived=lazy,
                                       decoder_x=None if sc.decoder_x is None else sc.decoder_x.astype(dtype),
                                       feed=sc.feed)
    if items:
        from rnntui.engine.interventions import record_masks

        record_masks(arrays, items, list(sc.layout), sc.B, sc.lengths)
    info = record_meta(sc, arrays, x, iteration)
    derived = derived_keys(info, arrays, params)  # a shared parameter is read under the owner's name
    derived.update(lazy)
    trace = Trace(arrays, info, derived)
    trace.recording = chosen
    return trace


def record_meta(sc, arrays: dict, x, iteration: int | None) -> TraceInfo:
    """What a run records beside its arrays (the scenario, the layout, the lengths, tokens, vocabularies and
    target), put in *arrays*; the run's TraceInfo."""
    graph = getattr(sc, "inputs", None) is not None
    info = TraceInfo(
        name=sc.name, description=sc.description, mode=sc.mode, dtype=sc.dtype, loss=sc.loss, file=sc.file,
        entries=tuple(sc.layout), T=sc.T, B=sc.B, seq=sc.seq, class_names=sc.class_names, events=sc.events,
        lengths=None if sc.lengths is None else tuple(int(n) for n in sc.lengths), feed=sc.feed,
        compare=sc.compare,
        watch=getattr(sc, "watch", ()), breakpoints=getattr(sc, "breakpoints", ()),
        inputs=tuple(sc.inputs) if graph else (),
    )
    arrays[keys.META_VERSION] = np.asarray(1)
    if iteration is not None:  # which iteration of a training run this record is (the expressions' `iteration`)
        arrays[keys.META_ITERATION] = np.asarray(iteration, dtype=np.int64)
    if getattr(sc, "training", False) and any(handler(lay.type).has_buffers for lay in sc.layout):
        # a training iteration's record of a model it changes (batchnorm's batch statistics; what_if reads it)
        arrays[keys.META_TRAINING] = np.asarray(True)
    arrays[keys.META_SCENARIO] = np.asarray(sc.text)
    if getattr(sc, "sample_ids", None) is not None:   # the batch is some samples of a larger data
        arrays[keys.SAMPLE_IDS] = np.asarray(sc.sample_ids, dtype=np.int64)
        arrays[keys.SAMPLES_TOTAL] = np.asarray(sc.samples_total, dtype=np.int64)
    arrays[keys.META_LAYOUT] = np.asarray(info.to_json())
    arrays.setdefault("input", x)  # a generator records what each step read (its fed-back outputs)
    full = sc.T if sc.decoder_x is None else sc.x.shape[0]  # an encoder-decoder's lengths are its source's
    arrays[keys.META_LENGTHS] = (np.full(sc.B, full, dtype=np.int64) if sc.lengths is None
                              else np.asarray(sc.lengths, dtype=np.int64))
    if sc.tokens is not None and sc.feed == "output" and generate.feeds_ids(list(sc.layout)):
        # an arg-max generator read the tokens it chose: record those, not the one it was given
        arrays["tokens"], arrays["token_ids"] = generate.generated_tokens(arrays["input"], sc.tokens.ndim == 2, sc.vocab)
    else:
        if sc.tokens is not None:
            arrays["tokens"] = np.asarray(sc.tokens, dtype=str)
        if getattr(sc, "token_ids", None) is not None:
            arrays["token_ids"] = np.asarray(sc.token_ids, dtype=np.int64)
    for name, (tokens, ids) in getattr(sc, "input_tokens", {}).items():   # a graph's other token inputs
        arrays[keys.input_tokens(name)] = np.asarray(tokens, dtype=str)
        if ids is not None:
            arrays[keys.input_token_ids(name)] = np.asarray(ids, dtype=np.int64)
    if sc.vocab is not None:
        arrays[keys.META_VOCAB] = np.asarray(sc.vocab, dtype=str)
    if sc.target is not None:
        arrays[keys.META_TARGET] = np.asarray(sc.target)
    if sc.decoder_tokens is not None:
        arrays[keys.DECODER_TOKENS] = np.asarray(sc.decoder_tokens, dtype=str)
    if sc.decoder_token_ids is not None:
        arrays[keys.DECODER_TOKEN_IDS] = np.asarray(sc.decoder_token_ids, dtype=np.int64)
    if sc.decoder_vocab is not None:
        arrays[keys.META_DECODER_VOCAB] = np.asarray(sc.decoder_vocab, dtype=str)
    return info


class SweepingRun:
    """A run in segments (engine/checkpoint.py) whose sweep its caller drives: `advance()` runs one segment of
    the sweep (`Sweep`), `preview()` is the run as far as the sweep is (a `SweepingTrace`: what is known before
    the sweep, and the forward pass of the segments it has been through), `finish()` sweeps the rest and returns
    the trace `run_once` returns, the same to the bit however it was driven."""

    def __init__(self, sc, chosen: Recording, limit: int, iteration, segments, initial: dict, params: dict,
                 buffers: dict, x, shown: bool = True):
        from rnntui.engine.checkpoint import Sweep

        self.sc, self.chosen, self.limit, self.iteration = sc, chosen, limit, iteration
        self.segments, self.initial, self.params, self.buffers, self.x = segments, initial, params, buffers, x
        self.shows_first = shown and chosen.mode == "checkpointed"
        """Whether the caller shows the run before its sweep is done (`preview`); else it finishes it first."""
        # what the run may hold besides what its estimate counted: the norms computed alongside its backward pass
        # (`Segments.norms_stream`) hold their working arrays at the same time as it, not after it
        segments.norms_room = limit - chosen.need
        self.sweep = Sweep(segments, keep=chosen.mode == "full", cache_first=self.shows_first)
        self._trace = None
        self._known: dict | None = None
        self._tail: dict | None = None      # what the preview holds once the kind's own pass is done

    @property
    def progress(self):
        return self.segments.progress

    def advance(self) -> bool:
        """One segment more of the sweep; False once it is done."""
        with np.errstate(all="ignore"):
            return self.sweep.advance()

    def preview(self, failed: str = ""):
        """The run as far as the sweep is now (engine/checkpoint.py `SweepingTrace`, frozen at this progress):
        what does not depend on the sweep (the scenario, the input, the parameters), the forward pass of the
        segments the sweep has been through, and once the kind's own pass is done what it recorded (a
        many-to-one's head and loss, a decoder: `Segments.tail_record`); everything else raises NotReady.
        *failed*: why the sweep stopped (what it did not reach is then never computed, and NotReady says so)."""
        from rnntui.engine.checkpoint import SweepingTrace, initial_state_arrays

        progress = self.segments.progress     # one snapshot: what the preview holds and what it says are ready
        if self._known is None:
            known: dict = {}
            self._info = record_meta(self.sc, known, self.x, self.iteration)
            known.update(initial_state_arrays(self.initial, self.sc.layout))   # what finish() records first
            for name, v in self.params.items():
                known[keys.param(name)] = v
            for name, v in self.buffers.items():
                known[keys.buffer(name)] = v
            segs = self.segments
            known.update(segs.known_arrays())
            self._known = known
            if progress.forward_ready(0):
                rec = segs.segment(0, backward=False)   # the sweep's first piece keeps it
            else:   # a bidirectional entry's segment 0 waits for its backward direction: its keys and shapes
                walk, rec = segs._forward(0)
                rec[keys.OUTPUT] = walk.outs[-1]
            # what the segments record, not what the kind's own pass does (a many-to-one's output is its head's)
            rec = {k: v for k, v in rec.items() if k not in segs.state_keys and not segs.tail_of(k)}
            self._big = {k: ((segs.T,) + v.shape[1:], v.dtype) for k, v in rec.items() if np.ndim(v) >= 3}
            self._later = {k for k in rec if k not in self._big}
        known = self._known
        if progress.own_done:
            if self._tail is None:
                self._tail = {**self._known, **self.segments.tail_record()}
            known = self._tail
        trace = SweepingTrace(known, self._info, self.segments, self._big, self.limit, self._later, failed, progress)
        trace.recording = self.chosen
        return trace

    def finish(self) -> Trace:
        """The rest of the sweep, and the run's trace: what run_once returns."""
        if self._trace is not None:
            return self._trace
        from rnntui.engine.checkpoint import initial_state_arrays
        from rnntui.engine.walk import record_weights

        with np.errstate(all="ignore"):
            swept = self.sweep.run()
        sc, segments, chosen = self.sc, self.segments, self.chosen
        lazy: dict = {}
        arrays = swept.arrays
        arrays.update(initial_state_arrays(self.initial, sc.layout))   # as a whole run records them
        arrays[keys.LOSS] = swept.loss
        record_weights(arrays, self.params, swept.grads, self.buffers)
        lazy.update(segment_term_gradients(segments, swept.terms))
        info = record_meta(sc, arrays, self.x, self.iteration)
        if chosen.mode == "checkpointed":
            trace = checkpointed_trace(arrays, info, self.params, lazy, segments, swept, self.limit)
        else:
            derived = derived_keys(info, arrays, self.params)  # a shared parameter is read under the owner's name
            derived.update(lazy)
            if swept.norms is not None:   # computed alongside the backward pass: read when they are done
                derived.update({key: partial(_computed, swept.norms, key, fn) for key, fn in derived.items()
                                if key.endswith(".jacnorm")})
            trace = Trace(arrays, info, derived)
        trace.recording = chosen
        self._trace = trace
        return trace


def _computed(norms, key: str, derive) -> np.ndarray:
    """*key* of what *norms* (an aside.Aside) computes, once it is done; *derive()* when they were dropped (a
    save that stopped, which waited for them: a later read computes them here)."""
    from rnntui.engine.aside import Dropped, stopping

    try:
        return norms.result()[key]
    except Dropped:
        if stopping() or not norms.dropped:
            raise
        return derive()


def segment_term_gradients(segments, terms: dict) -> dict:
    """network.one_term_gradients' keys for a run in segments, as the sweep computed them (*terms*)."""
    from functools import partial

    def norms(key: str):
        return terms[key]

    out = {}
    for key, start in segments.term_steps().items():
        if key in terms:     # none where the loss is not over the steps (a many-to-one run)
            out[key] = partial(norms, key)
            out[key[: -len("term_gradnorm")] + "term_step"] = partial(np.array, start, dtype=np.int64)
    return out


def checkpointed_trace(arrays: dict, info, params: dict, lazy: dict, segments, swept, limit: int):
    """The trace of a checkpointed run: where inf or NaN appears (the sweep's summaries of the arrays not kept,
    in the order a whole run records them), the kept per-step diagnostics, and the Jacobian norms derived
    through windows of segments."""
    from functools import partial

    from rnntui.engine.checkpoint import CheckpointedTrace, windowed_jacnorm, windowed_steps_jacnorm
    from rnntui.engine.diagnostics import BadRows, nonfinite, place_derived
    from rnntui.engine.graph_diag import carries

    arrays.update(nonfinite(arrays, info.entries, info.seq))
    arrays = {k: v for k, v in arrays.items() if not isinstance(v, BadRows)}
    arrays.update(swept.diag)
    trace = CheckpointedTrace(arrays, info, lazy, segments, swept.big, limit, rows=swept.rows)
    for place in info.places:
        if place.recurrent:
            entry = info.entries[place.entry]
            if segments.covers(entry.index):
                trace._derived[place.diag_key("jacnorm")] = partial(windowed_jacnorm, trace, entry, params, place)
            else:   # a part run whole (a decoder): its diagnostics as a whole run's (its arrays are kept)
                trace._derived.update(place_derived(info, arrays, params, place))
        elif carries(info.entries[place.entry]):    # a graph's recurrence: its other diagnostics are the sweep's
            trace._derived[place.diag_key("jacnorm")] = partial(windowed_steps_jacnorm, trace,
                                                                info.entries[place.entry], params)
    return trace
