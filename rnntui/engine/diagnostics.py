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

from collections.abc import Mapping
from functools import partial

import numpy as np

from rnntui.engine import spectral
from rnntui.engine.progress import report
from rnntui.engine.recurrent import GRUCell, LSTMCell

SIGMOID_GATES = {"i", "f", "o", "r", "z"}


def saturation(values: np.ndarray, gate: str) -> np.ndarray:
    v = values.reshape(values.shape[0], -1)
    if gate in SIGMOID_GATES:
        sat = (v < 0.05) | (v > 0.95)
    else:
        sat = np.abs(v) > 0.95
    return sat.mean(axis=1)


def _prev_at(a: np.ndarray, steps: np.ndarray, reverse: bool) -> np.ndarray:
    """The value each of *steps* read as its previous state (zeros where the pass began)."""
    idx = steps + (1 if reverse else -1)
    ok = (idx >= 0) & (idx < a.shape[0])
    out = np.zeros((len(steps),) + a.shape[1:], dtype=a.dtype)
    out[ok] = a[idx[ok]]
    return out


def _step_jacobian_factors(entry, arrays, prefix: str, params, j: int, d: str, steps: np.ndarray):
    """Return (a, D) with dh_t/dh_{t-1} = diag(a) + sum_k diag(D_k) W_hh[k] (PyTorch row blocks)."""
    reverse = d == "bwd"
    h = arrays[f"{prefix}.h"]
    H = h.shape[-1]
    if entry.type == "rnn":
        if entry.nonlinearity == "tanh":
            hs = h[steps]
            return None, 1 - hs * hs
        if entry.nonlinearity == "relu":
            return None, (arrays[f"{prefix}.pre"][steps] > 0).astype(h.dtype)
        return None, np.ones((len(steps),) + h.shape[1:], dtype=h.dtype)
    if entry.type == "lstm":
        c = arrays[f"{prefix}.c"]
        i, f, g, o = (arrays[f"{prefix}.gates.{k}"][steps] for k in "ifgo")
        TC = np.tanh(c[steps])
        G = np.concatenate([o, i, f, g], axis=-1)
        Kc, Ko, Kifg = LSTMCell.coefficients(G, TC, _prev_at(c, steps, reverse))
        D = np.concatenate([Kc * Kifg[:, :, 0], Kc * Kifg[:, :, 1], Kc * Kifg[:, :, 2], Ko], axis=-1)
        return None, D
    # gru
    r, z, n = (arrays[f"{prefix}.gates.{k}"][steps] for k in "rzn")
    h_prev = _prev_at(h, steps, reverse)
    sfx = f"_l{j}{'_reverse' if reverse else ''}"
    HPn = h_prev @ params[f"{entry.index}.weight_hh{sfx}"][2 * H:].T + params[f"{entry.index}.bias_hh{sfx}"][2 * H:]
    Kn, Kz, Kr = GRUCell.coefficients(np.concatenate([r, z, n], axis=-1), HPn, h_prev)
    return z, np.concatenate([Kn * Kr, Kz, Kn * r], axis=-1)


STEP_CHUNK_ELEMENTS = 1 << 23  # factor entries (steps * B * k*H) formed at once: bounds memory, not accuracy
JACNORM_RTOL = spectral.DEFAULT_RTOL


def jacobian_norms(entry, arrays, params, j: int, d: str, steps=None) -> np.ndarray:
    """Largest singular value of each step's Jacobian dh_t/dh_{t-1}, to relative error JACNORM_RTOL/2
    (rnntui.engine.spectral: batched Lanczos on JᵀJ, J never formed; rounding adds ~1e-15, or the
    dtype's precision when the trace is float32). *steps*: indices (default all); returns
    (len(steps), B) in the trace's dtype; NaN where a Jacobian is not finite."""
    prefix = f"model.{entry.index}.l{j}.{d}"
    W = params[f"{entry.index}.weight_hh_l{j}{'_reverse' if d == 'bwd' else ''}"]
    h = arrays[f"{prefix}.h"]
    T, B, H = h.shape
    steps = np.arange(T) if steps is None else np.atleast_1d(np.asarray(steps))
    blocks = W.reshape(W.shape[0] // H, H, H)  # PyTorch's gate blocks of W_hh
    out = np.empty((len(steps), B), dtype=W.dtype)
    per = max(1, STEP_CHUNK_ELEMENTS // (B * W.shape[0]))
    label, total, done = f"Jacobian norms {prefix}", len(steps) * B, 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        report(label, done, total)

    for s0 in range(0, len(steps), per):
        a, D = _step_jacobian_factors(entry, arrays, prefix, params, j, d, steps[s0: s0 + per])
        out[s0: s0 + per] = spectral.step_spectral_norms(a, D, blocks, rtol=JACNORM_RTOL,
                                                         progress=advance if len(steps) > 1 else None)
    return out


JACNORM_AUTO_LIMIT = 1 << 28  # steps * B * k * H^2 summed over directions: about a second of Lanczos


def jacnorm_cost(info) -> int:
    """Work of every diag.*.jacnorm of a run, in units of one multiply-add per Jacobian entry."""
    return sum(e.steps * info.B * len(e.gates or "h") * e.hidden_size ** 2 * e.num_layers * len(e.directions)
               for e in info.entries if e.recurrent)


def lazy_jacnorms(info, arrays: dict, keys) -> dict:
    """Derivations of the diag.*.jacnorm *keys* a saved trace left out (meta.not_computed)."""
    params = {k[len("param."):]: v for k, v in arrays.items() if k.startswith("param.")}
    out = {}
    for e in info.entries:
        if not e.recurrent:
            continue
        for j in range(e.num_layers):
            for d in e.directions:
                key = f"diag.model.{e.index}.l{j}.{d}.jacnorm"
                if key in keys:
                    out[key] = partial(jacobian_norms, e, arrays, params, j, d)
    return out


class ParamView(Mapping):
    """Parameters read from a trace's `param.*` keys."""

    def __init__(self, trace):
        self._trace = trace

    def __getitem__(self, name):
        return self._trace[f"param.{name}"]

    def __iter__(self):
        return (k[len("param."):] for k in self._trace if k.startswith("param."))

    def __len__(self):
        return sum(1 for _ in self)


def jacobian_norm_at(trace, entry, j: int, d: str, t: int) -> np.ndarray:
    """(B,) norms for one step, read from a trace: what a view shows without the whole array."""
    key = f"diag.model.{entry.index}.l{j}.{d}.jacnorm"
    if trace.is_computed(key):
        return trace[key][t]
    return jacobian_norms(entry, trace, ParamView(trace), j, d, steps=[t])[0]


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
    if key == "input" or key.startswith("gradnorm.step."):
        return True
    parts = key.removeprefix("grad.").split(".")
    if parts[0] != "model" or len(parts) < 3 or not parts[1].isdigit():
        return False
    return parts[2].startswith("l") and parts[2][1:].isdigit() or int(parts[1]) in seq_entries


def nonfinite(arrays: dict, entries, seq: bool) -> dict[str, np.ndarray]:
    seq_entries = {e.index for e in entries if e.seq_out} if seq else set()
    keys, firsts, forward_firsts, other = [], [], [], False
    for key, a in arrays.items():
        if key.startswith("meta.") or key == "tokens" or not np.issubdtype(a.dtype, np.floating):
            continue
        if np.isfinite(a).all():
            continue
        grad = key.startswith(("grad.", "gradnorm."))
        bwd = ".bwd." in key
        per_step = seq and a.ndim >= 1 and _is_per_step(key, seq_entries)
        # the order a per-step array was computed in: BPTT and the backward direction run t = T-1 .. 0
        first = _first_step(a, backwards=(grad != bwd)) if per_step else -1
        keys.append(key)
        firsts.append(first)
        if per_step and not grad:
            forward_firsts.append(_first_step(a, backwards=False))
        else:
            other = True
    if forward_firsts:
        first_step = min(forward_firsts)
    else:
        first_step = max((f for f in firsts if f >= 0), default=0) if (keys and other) else -1
    return {
        "diag.nonfinite.first_step": np.asarray(first_step, dtype=np.int64),
        "diag.nonfinite.keys": np.asarray(keys, dtype=str) if keys else np.zeros(0, dtype="<U1"),
        "diag.nonfinite.key_first_step": np.asarray(firsts, dtype=np.int64),
    }


def derived_keys(entries, arrays: dict, params: dict, seq: bool) -> dict:
    """Key -> zero-argument function, for Trace's lazy diagnostics."""
    out = {}
    for e in entries:
        if not e.recurrent:
            continue
        for j in range(e.num_layers):
            for d in e.directions:
                prefix = f"model.{e.index}.l{j}.{d}"
                names = e.gates if e.gates else ("h",)
                for g in names:
                    src = f"{prefix}.gates.{g}" if e.gates else f"{prefix}.h"
                    if e.type == "rnn" and e.nonlinearity != "tanh":
                        continue
                    out[f"diag.{prefix}.sat.{g}"] = partial(saturation, arrays[src], g)
                out[f"diag.{prefix}.jacnorm"] = partial(jacobian_norms, e, arrays, params, j, d)
                gh = arrays[f"grad.{prefix}.h"]
                out[f"diag.{prefix}.gradnorm"] = partial(
                    lambda a: np.sqrt((a.reshape(a.shape[0], -1) ** 2).sum(axis=1)), gh)
    cache: dict = {}

    def nf(key):
        if not cache:
            cache.update(nonfinite(arrays, entries, seq))
        return cache[key]

    for key in ("diag.nonfinite.first_step", "diag.nonfinite.keys", "diag.nonfinite.key_first_step"):
        out[key] = partial(nf, key)
    return out
