"""`diag.*` keys: derived from recorded arrays, computed when first read.

diag.model.{i}.l{j}.{dir}.sat.{g}   (T,)   share of gate g's values (over batch and units) that are
                                           saturated: sigmoid gates below 0.05 or above 0.95, tanh
                                           values (LSTM g, GRU n, RNN h) with |v| above 0.95
diag.model.{i}.l{j}.{dir}.jacnorm   (T, B) spectral norm of dh_t/dh_{t-1} (the step Jacobian the
                                           gradient is multiplied by when it flows back one step), to
                                           relative error JACNORM_RTOL/2
diag.model.{i}.l{j}.{dir}.gradnorm  (T,)   ||dL/dh_t|| over batch and units
diag.nonfinite.first_step           ()     first step t at which a forward-pass array (state, gate, entry
                                           output) holds inf or NaN; if only gradients do, the step where
                                           BPTT first met them; -1 if every value is finite
diag.nonfinite.keys                 (N,)   the keys whose arrays hold inf or NaN
diag.nonfinite.key_first_step       (N,)   for each of them, the first step in the order it was computed
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np

from rnntui.engine import keys, spectral
from rnntui.engine.keys import Place
from rnntui.engine.progress import report

def saturation(values: np.ndarray, sigmoid: bool, lengths: np.ndarray | None = None) -> np.ndarray:
    """Share of values (over batch and units) that are saturated, per step: a sigmoid below 0.05 or
    above 0.95, a tanh with |v| above 0.95. In a batch of different lengths only the samples still
    running at a step count (a padded step's zeros would read as a shut gate)."""
    sat = ((values < 0.05) | (values > 0.95)) if sigmoid else (np.abs(values) > 0.95)
    if lengths is None:
        return sat.reshape(sat.shape[0], -1).mean(axis=1)
    real = np.arange(values.shape[0])[:, None] < np.asarray(lengths)[None, :]
    counted = (sat & real[..., None]).reshape(sat.shape[0], -1).sum(axis=1)
    return counted / (real.sum(axis=1) * values.shape[-1])


STEP_CHUNK_ELEMENTS = 1 << 19  # factor entries (steps * B * k*H) formed at once: bounds memory (a chunk fits spectral.ROW_BUDGET)
JACNORM_RTOL = spectral.DEFAULT_RTOL
CHUNK_SHARES = 2   # the chunks' count is a multiple of this, their sizes equal: the threads that compute them
                   # (spectral.WORKERS, at most 2) finish together (7.3 chunks' worth on two threads took 4 chunks' time)


def step_chunks(n_steps: int, B: int, width: int) -> list[tuple[int, int]]:
    """The chunks (start, stop) of steps whose Jacobian norms are computed at once: at most STEP_CHUNK_ELEMENTS
    factor entries each (B * width a step), as many as that needs rounded up to a multiple of CHUNK_SHARES, of
    equal sizes. A constant of the run, not of the machine: the norms' last bits depend on the chunks."""
    per = max(1, STEP_CHUNK_ELEMENTS // (B * width))
    count = -(-n_steps // per)
    if count > 1:
        count = -(-count // CHUNK_SHARES) * CHUNK_SHARES
    per = max(1, -(-n_steps // max(count, 1)))
    return [(s0, min(n_steps, s0 + per)) for s0 in range(0, n_steps, per)]


def jacobian_norms(entry, arrays, params, place: Place, steps=None, *, ready=None, narrow=None) -> np.ndarray:
    """Largest singular value of each step's Jacobian dh_t/dh_{t-1}, to relative error JACNORM_RTOL/2
    (rnntui.engine.spectral: batched Lanczos on JᵀJ, J never formed; rounding adds ~1e-15, or the
    dtype's precision when the trace is float32). *steps*: indices (default all); returns
    (len(steps), B) in the trace's dtype; NaN where a Jacobian is not finite.

    While a run still records *arrays* (norms_stream): *ready(n)* returns once steps 0 .. n-1 are recorded, and
    is called before a chunk reads them; while the threading.Event *narrow* is set, one chunk is computed at a
    time (spectral.map_chunks)."""
    prefix = place.prefix
    name = place.param("weight_hh")
    if entry.aliases:   # a graph node that shares its module reads the owner's (the family's factors too)
        params = {**params, **{n: params[o] for n, o in entry.aliases.items() if o in params}}
    W = params[name]
    h = arrays[place.key("h")]
    T, B, H = h.shape
    steps = np.arange(T) if steps is None else np.atleast_1d(np.asarray(steps))
    blocks = W.reshape(W.shape[0] // H, H, H)  # PyTorch's gate blocks of W_hh
    out = np.empty((len(steps), B), dtype=W.dtype)
    label, total, done = f"Jacobian norms {prefix}", len(steps) * B, 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        report(label, done, total)

    lengths = packed_lengths(arrays, entry)

    scratch = threading.local()   # each thread's working arrays, made once for all its chunks

    def norms(chunk: np.ndarray) -> np.ndarray:
        if ready is not None:
            ready(int(chunk.max()) + 1)   # the chunk's steps and the ones before each (its Jacobians read them)
        a, D = entry.family.jacobian_factors(entry, arrays, place, params, chunk)
        got = spectral.step_spectral_norms(a, D, blocks, rtol=JACNORM_RTOL, scratch=scratch.__dict__)
        if lengths is not None:  # a padded step's state is zero whatever came before: no Jacobian
            got[chunk[:, None] >= lengths[None, :]] = 0
        return got

    # the chunks on up to spectral.WORKERS threads (each its own factors and Lanczos), reported as each is done
    chunks = step_chunks(len(steps), B, W.shape[0])
    for (s0, s1), got in zip(chunks, spectral.map_chunks(norms, (steps[s0: s1] for s0, s1 in chunks),
                                                                    narrow=narrow)):
        out[s0: s1] = got
        if len(steps) > 1:
            advance(got.size)
    return out


def packed_lengths(arrays, entry) -> np.ndarray | None:
    """Each sample's length where *entry* runs over a packed input in which some sample stops before
    the entry's last step, else None (also for older traces, and for an encoder-decoder's decoder)."""
    if keys.META_LENGTHS not in arrays or entry.part == "decoder":
        return None
    lengths = np.asarray(arrays[keys.META_LENGTHS])
    return lengths if (lengths < entry.steps).any() else None


def jacnorm_floats(entry, steps: int, B: int) -> int:
    """Numbers one place's diag.*.jacnorm holds at once while derived: the family's factor arrays
    over a chunk of steps, or the factors D with the Lanczos working set, whichever is larger, for each of the
    chunks computed at once (spectral.WORKERS threads)."""
    fam, H = entry.family, entry.hidden_size
    kH = fam.n_blocks * H
    chunk = min(steps, max(1, STEP_CHUNK_ELEMENTS // (B * kH)))
    factors = fam.jacobian_arrays * chunk * B * H
    at_once = min(spectral.WORKERS, -(-steps // chunk))
    return at_once * max(factors, chunk * B * (kH + H) + spectral.working_floats(chunk * B, fam.n_blocks, H))


JACNORM_AUTO_LIMIT = 1 << 28  # steps * B * k * H^2 summed over directions: about a second of Lanczos


def jacnorm_cost(info) -> int:
    """Work of every diag.*.jacnorm of a run, in units of one multiply-add per Jacobian entry."""
    from rnntui.engine.graph_diag import carries, jacnorm_work

    return sum(e.steps * info.B * e.family.n_blocks * e.hidden_size ** 2 * e.num_layers * len(e.directions)
               for e in info.entries if e.recurrent) + \
        sum(jacnorm_work(e, info.B) for e in info.entries if carries(e))   # a graph's recurrences


def lazy_jacnorms(info, arrays: dict, wanted) -> dict:
    """Derivations of the diag.*.jacnorm keys a saved trace left out (*wanted*: its meta.not_computed)."""
    params = {k[len(keys.PARAM_PREFIX):]: v for k, v in arrays.items() if k.startswith(keys.PARAM_PREFIX)}
    from rnntui.engine.graph_diag import carries, jacobian_norms as steps_node_norms

    out = {}
    for place in info.places:
        if place.recurrent and place.diag_key("jacnorm") in wanted:
            out[place.diag_key("jacnorm")] = partial(jacobian_norms, info.entries[place.entry], arrays, params, place)
        elif carries(info.entries[place.entry]) and place.diag_key("jacnorm") in wanted:
            out[place.diag_key("jacnorm")] = partial(steps_node_norms, info, info.entries[place.entry], arrays, params)
    return out


class ParamView(Mapping):
    """Parameters read from a trace's `param.*` keys."""

    def __init__(self, trace):
        self._trace = trace

    def __getitem__(self, name):
        return self._trace[keys.param(name)]

    def __iter__(self):
        return (k[len(keys.PARAM_PREFIX):] for k in self._trace if k.startswith(keys.PARAM_PREFIX))

    def __len__(self):
        return sum(1 for _ in self)


def jacobian_norm_at(trace, place: Place, t: int) -> np.ndarray:
    """(B,) norms for one step, read from a trace: what a view shows without the whole array."""
    key = place.diag_key("jacnorm")
    if trace.is_computed(key):
        return trace[key][t]
    entry = trace.info.entries[place.entry]
    return jacobian_norms(entry, trace, ParamView(trace), place, steps=[t])[0]


def _first_step(a: np.ndarray, backwards: bool) -> int:
    if a.ndim == 0:
        return -1 if np.isfinite(a) else 0
    bad = ~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
    if not bad.any():
        return -1
    idx = np.flatnonzero(bad)
    return int(idx[-1] if backwards else idx[0])


def _is_per_step(key: str, seq_entries: set[int]) -> bool:
    """Whether axis 0 of this array is the step t."""
    if key in (keys.INPUT, keys.GRAD_INPUT, keys.STEP_LOSS, keys.SAMPLE_STEP_LOSS) or key.startswith(keys.STEP_GRADNORM_PREFIX):
        return True
    parts = key.removeprefix(keys.GRAD_PREFIX).split(".")
    if parts[0] != "model" or len(parts) < 3 or not parts[1].isdigit():
        return False
    return parts[2].startswith("l") and parts[2][1:].isdigit() or int(parts[1]) in seq_entries


def _all_finite(a: np.ndarray) -> bool:
    """Whether every value of *a* is finite: its sum is (an inf or NaN anywhere makes the sum inf or NaN), else
    value by value (a sum of finite values can overflow). One pass, no array of booleans, when all are."""
    with np.errstate(all="ignore"):
        if np.isfinite(np.add.reduce(a, axis=None)):
            return True
    return bool(np.isfinite(a).all())


@dataclass(frozen=True)
class BadRows:
    """Where an array that is not held whole (a checkpointed trace's, engine/checkpoint.py) holds inf or NaN,
    found segment by segment: its first and last such row along axis 0 (-1, -1: every value is finite)."""

    ndim: int
    dtype: np.dtype
    first: int = -1
    last: int = -1

    def seen(self, a: np.ndarray, offset: int) -> "BadRows":
        """This summary with rows *offset*.. (array *a*) looked at too."""
        bad = ~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
        if not bad.any():
            return self
        idx = np.flatnonzero(bad) + offset
        first = int(idx[0]) if self.first < 0 else min(self.first, int(idx[0]))
        return BadRows(self.ndim, self.dtype, first, max(self.last, int(idx[-1])))


def nonfinite(arrays: dict, entries, seq: bool) -> dict[str, np.ndarray]:
    """*arrays* may hold `BadRows` in place of arrays not held whole."""
    seq_entries = {e.index for e in entries if e.seq_out} if seq else set()
    found, firsts, forward_firsts, other = [], [], [], False
    for key, a in arrays.items():
        if key.startswith(keys.META_PREFIX) or key == "tokens" or not np.issubdtype(a.dtype, np.floating):
            continue
        summary = a if isinstance(a, BadRows) else None
        if (summary.first < 0) if summary else _all_finite(a):
            continue
        grad = key.startswith((keys.GRAD_PREFIX, keys.GRADNORM_PREFIX))
        bwd = ".bwd." in key
        per_step = seq and a.ndim >= 1 and _is_per_step(key, seq_entries)

        def first_step(backwards: bool) -> int:
            if summary:
                return summary.last if backwards else summary.first
            return _first_step(a, backwards)

        # the order a per-step array was computed in: BPTT and the backward direction run t = T-1 .. 0
        first = first_step(backwards=(grad != bwd)) if per_step else -1
        found.append(key)
        firsts.append(first)
        if per_step and not grad:
            forward_firsts.append(first_step(backwards=False))
        else:
            other = True
    if forward_firsts:
        first_step = min(forward_firsts)
    else:
        first_step = max((f for f in firsts if f >= 0), default=0) if (found and other) else -1
    return {
        keys.NONFINITE_FIRST_STEP: np.asarray(first_step, dtype=np.int64),
        keys.NONFINITE_KEYS: np.asarray(found, dtype=str) if found else np.zeros(0, dtype="<U1"),
        keys.NONFINITE_KEY_FIRST_STEP: np.asarray(firsts, dtype=np.int64),
    }


def row_norms(a: np.ndarray) -> np.ndarray:
    """The L2 norm of each row (the first axis) over the rest, as sqrt(sum(x²)); a row whose squares would
    overflow or underflow (a finite gradient of 1e160, or of 1e-170; float32 from 1e19) is scaled by its
    largest magnitude first, so a row of finite values never gets an inf or zero norm from the squaring.
    A row with inf or NaN in it keeps its inf or NaN norm."""
    flat = a.reshape(a.shape[0], -1)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        out = np.sqrt((flat ** 2).sum(axis=1))
        if flat.shape[1] == 0 or not np.issubdtype(flat.dtype, np.floating):
            return out
        info = np.finfo(flat.dtype)
        small = np.sqrt(info.tiny / info.eps)
        # only rows whose sum may have overflowed or underflowed need their largest magnitude (a row with
        # max < small has a norm below sqrt(n) * small): the common row costs no second pass
        rows = np.flatnonzero(~np.isfinite(out) | (out < np.sqrt(flat.shape[1]) * small))
        if rows.size:
            big = np.abs(flat[rows]).max(axis=1)
            ok = np.isfinite(big) & (big > 0) & (~np.isfinite(out[rows]) | (big < small))
            rows, big = rows[ok], big[ok]
        if rows.size:
            scaled = flat[rows] / big[:, None]
            out = out.copy()
            out[rows] = big * np.sqrt((scaled * scaled).sum(axis=1))  # inf only if the norm itself is
    return out


def vector_norm(a) -> float:
    """The L2 norm of all of *a*, as `row_norms` takes it (no overflow or underflow from the squaring: a
    float32 gradient of 1e-24 has a norm of 1e-24, not 0)."""
    a = np.asarray(a)
    return float(row_norms(a.reshape(1, -1))[0]) if a.size else 0.0


def place_derived(info, arrays: dict, params: dict, place) -> dict:
    """Key -> zero-argument function: a recurrent place's saturation, step Jacobian norms and ||dL/dh_t||."""
    e = info.entries[place.entry]
    fam = e.family
    out = {}
    for name, src in fam.saturation(e).items():
        out[place.diag_key(f"sat.{name}")] = partial(saturation, arrays[place.key(src)], fam.is_sigmoid(name),
                                                     packed_lengths(arrays, e))
    out[place.diag_key("jacnorm")] = partial(jacobian_norms, e, arrays, params, place)
    out[place.diag_key("gradnorm")] = partial(row_norms, arrays[place.grad_key("h")])
    return out


def derived_keys(info, arrays: dict, params: dict) -> dict:
    """Key -> zero-argument function, for Trace's lazy diagnostics."""
    from rnntui.engine.graph_diag import carries, derived

    out = {}
    for place in info.places:
        if not place.recurrent:
            if carries(info.entries[place.entry]):   # a graph's recurrence node (engine/graph_diag.py)
                out.update(derived(info, arrays, params, place))
            continue
        out.update(place_derived(info, arrays, params, place))
    cache: dict = {}

    def nf(key):
        if not cache:
            cache.update(nonfinite(arrays, info.entries, info.seq))
        return cache[key]

    for key in (keys.NONFINITE_FIRST_STEP, keys.NONFINITE_KEYS, keys.NONFINITE_KEY_FIRST_STEP):
        out[key] = partial(nf, key)
    return out
