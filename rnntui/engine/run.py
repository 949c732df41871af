"""Scenario -> Trace: cast to the scenario's dtype, check memory, run, record."""
from __future__ import annotations

import numpy as np

from rnntui.engine import generate, network
from rnntui.engine.diagnostics import derived_keys
from rnntui.engine.layout import trace_floats
from rnntui.engine.trace import Trace, TraceInfo
from rnntui.errors import Problem, ScenarioError
from rnntui.sizes import format_size


def available_memory() -> int:
    """The memory the system can give without swapping (psutil's `available`, on every platform psutil
    supports); the default limits are half of it."""
    import psutil

    return int(psutil.virtual_memory().available)


def estimate_bytes(sc) -> int:
    itemsize = np.dtype(sc.dtype).itemsize
    layout = list(sc.layout)
    if sc.decoder_x is None:
        return trace_floats(layout, sc.x.shape[0] if sc.seq else 1, sc.B) * itemsize + sc.x.nbytes
    # an encoder-decoder: each part over its own steps
    k = next(i for i, lay in enumerate(layout) if lay.part == "decoder")
    return (trace_floats(layout[:k], sc.x.shape[0], sc.B) + trace_floats(layout[k:], sc.decoder_x.shape[0], sc.B)) \
        * itemsize + sc.x.nbytes + sc.decoder_x.nbytes


def cast_buffers(buffers: dict, dtype) -> dict:
    """Buffers in the run's dtype, but counts (batchnorm's num_batches_tracked) stay whole numbers."""
    return {k: np.array(v, dtype=np.int64 if np.asarray(v).dtype.kind in "iu" else dtype)  # array, not
            for k, v in buffers.items()}                                                  # ascontiguousarray: keeps 0-d


def run_scenario(sc, max_memory: int | None = None, iteration: int | None = None) -> Trace:
    """Run forward and backward; raise ScenarioError if the trace would not fit in memory.
    A scenario with `train:` runs its iterations (engine/train.py) and returns a TrainTrace.
    *iteration*: the training iteration this run is (engine/train.py), recorded as `meta.iteration`."""
    if getattr(sc, "train", None) is not None:
        from rnntui.engine.train import train_scenario

        return train_scenario(sc, max_memory)
    limit = available_memory() // 2 if max_memory is None else max_memory
    need = estimate_bytes(sc)
    if need > limit:
        raise ScenarioError([Problem(sc.file, None, None, "", (
            f"this run would record about {format_size(need)}, more than the limit of {format_size(limit)} "
            f"(T={sc.T}, B={sc.B}); shorten the input or raise --max-memory"))])
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
    with np.errstate(all="ignore"):
        arrays = network.run_network(list(sc.layout), x, params, sc.loss, target, sc.seq, derived=lazy,
                                     lengths=sc.lengths,
                                     decoder_x=None if sc.decoder_x is None else sc.decoder_x.astype(dtype),
                                     initial={i: {k: v.astype(dtype) for k, v in st.items()}
                                              for i, st in sc.initial_states.items()},
                                     feed=sc.feed, plan=plan, masks=getattr(sc, "dropout_masks", None),
                                     buffers=buffers, training=training)
    if items:
        from rnntui.engine.interventions import record_masks

        record_masks(arrays, items, list(sc.layout), sc.B, sc.lengths)
    info = TraceInfo(
        name=sc.name, description=sc.description, mode=sc.mode, dtype=sc.dtype, loss=sc.loss, file=sc.file,
        entries=tuple(sc.layout), T=sc.T, B=sc.B, seq=sc.seq, class_names=sc.class_names, events=sc.events,
        lengths=None if sc.lengths is None else tuple(int(n) for n in sc.lengths), feed=sc.feed,
        compare=sc.compare,
        watch=getattr(sc, "watch", ()), breakpoints=getattr(sc, "breakpoints", ()),
    )
    arrays["meta.version"] = np.asarray(1)
    if iteration is not None:  # which iteration of a training run this record is (the expressions' `iteration`)
        arrays["meta.iteration"] = np.asarray(iteration, dtype=np.int64)
    if training and any(lay.handler.takes_buffers for lay in sc.layout):
        # a training iteration's record of a model it changes (batchnorm's batch statistics; what_if reads it)
        arrays["meta.training"] = np.asarray(True)
    arrays["meta.scenario"] = np.asarray(sc.text)
    arrays["meta.layout"] = np.asarray(info.to_json())
    arrays.setdefault("input", x)  # a generator records what each step read (its fed-back outputs)
    full = sc.T if sc.decoder_x is None else sc.x.shape[0]  # an encoder-decoder's lengths are its source's
    arrays["meta.lengths"] = (np.full(sc.B, full, dtype=np.int64) if sc.lengths is None
                              else np.asarray(sc.lengths, dtype=np.int64))
    if sc.tokens is not None and sc.feed == "output" and generate.feeds_ids(list(sc.layout)):
        # an arg-max generator read the tokens it chose: record those, not the one it was given
        arrays["tokens"], arrays["token_ids"] = generate.generated_tokens(arrays["input"], sc.tokens.ndim == 2, sc.vocab)
    else:
        if sc.tokens is not None:
            arrays["tokens"] = np.asarray(sc.tokens, dtype=str)
        if getattr(sc, "token_ids", None) is not None:
            arrays["token_ids"] = np.asarray(sc.token_ids, dtype=np.int64)
    if sc.vocab is not None:
        arrays["meta.vocab"] = np.asarray(sc.vocab, dtype=str)
    if sc.target is not None:
        arrays["meta.target"] = np.asarray(sc.target)
    if sc.decoder_tokens is not None:
        arrays["decoder.tokens"] = np.asarray(sc.decoder_tokens, dtype=str)
    if sc.decoder_token_ids is not None:
        arrays["decoder.token_ids"] = np.asarray(sc.decoder_token_ids, dtype=np.int64)
    if sc.decoder_vocab is not None:
        arrays["meta.decoder_vocab"] = np.asarray(sc.decoder_vocab, dtype=str)
    derived = derived_keys(info, arrays, params)
    derived.update(lazy)
    return Trace(arrays, info, derived)
