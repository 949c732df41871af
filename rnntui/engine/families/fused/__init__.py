"""The fused path: each recurrent direction's step loop as one compiled numba kernel (kernels.py), for training
replays, where the NumPy loop's per-step calls are most of the time. Optional: `pip install 'rnntui[fast]'`.

The NumPy loops (families/rnn.py, lstm.py, gru.py) stay the reference. The fused path is taken only
- inside `replay()`: the runs of a training replay (engine/train.py's Trainer), where every iteration runs the
  whole model forward and backward and only the few iterations looked at are kept, and the reruns of one of its
  iterations' records (a what-if, a weight edit, an attribution: whatif.py, attribution.py), so that what they
  leave unchanged is the iteration's own numbers;
- when numba is importable and NumPy's BLAS has the CBLAS gemm the kernels call (fused/blas.py);
- unless RNNTUI_FUSED=off (the environment variable is read at each run);
- for a direction without padding (a batch of different lengths), interventions or a resumed what-if.
Anything else runs the NumPy loop. A direction that ran fused also runs its backward pass fused (the
recorded arrays are the same keys and shapes; `is_fused(run)`).

How close the two are (tests/engine/test_fused.py): the same operations in the same order on the same values
and the products by the same BLAS call, except tanh (kernels.py): a run's recorded arrays agree with the NumPy
loop's to 1e-12 of each array's largest value in float64 and 1e-4 in float32; a replayed training's
losses to 1e-10 relative in float64 (12 iterations of Adam in the tests; benchmarks/train.py prints the last of
100 equal to 12 digits). A run is deterministic either way: an iteration
recomputed from a checkpoint is bit for bit the one training computed, on whichever path it ran.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from rnntui.engine.families.base import DirectionRun, split_record, start_state, weight_grads

_REPLAY: ContextVar[bool] = ContextVar("rnntui_fused_replay", default=False)
_available: bool | None = None
ENV = "RNNTUI_FUSED"


def available() -> bool:
    """Whether the fused kernels can run here: numba importable and NumPy's BLAS bound (fused/blas.py)."""
    global _available
    if _available is None:
        try:
            import numba  # noqa: F401

            from rnntui.engine.families.fused import blas
            _available = blas.bind()
        except (ImportError, OSError):   # no numba, a numba that refuses this NumPy, an llvmlite that cannot load
            _available = False
    return _available


def switched_off() -> bool:
    """RNNTUI_FUSED=off (or 0, no, false): the NumPy loops everywhere."""
    return os.environ.get(ENV, "").strip().lower() in ("off", "0", "no", "false")


def enabled() -> bool:
    """Whether a run started now takes the fused path: inside `replay()`, not switched off, and available."""
    return _REPLAY.get() and not switched_off() and available()


def describe() -> str:
    """What the training cache's key records of the path (engine/train.py): its results differ in the last bits."""
    if switched_off() or not available():
        return "numpy"
    import numba

    return f"fused-{numba.__version__}"


def replaying() -> bool:
    """Whether the runs here are a training replay's (`replay`)."""
    return _REPLAY.get()


@contextmanager
def replay():
    """The runs inside are a training replay's: the fused path where `enabled()`."""
    token = _REPLAY.set(True)
    try:
        yield
    finally:
        _REPLAY.reset(token)


def is_fused(run: DirectionRun) -> bool:
    return "fused" in run.cache


def forward(fam, entry, x, p, reverse: bool, pad=None, state0=None, overrides=None, resume=None):
    """The direction's forward pass by the family's kernel, or None where the NumPy loop runs (see the module)."""
    if pad is not None or overrides is not None or resume is not None or x.dtype not in (np.float32, np.float64):
        return None
    if fam.name not in _PASSES or not enabled():
        return None
    return _PASSES[fam.name][0](entry, np.ascontiguousarray(x), p, reverse, state0)


def backward_of(fam, run: DirectionRun):
    """The backward pass for *run*: the kernel's where its forward ran fused, else the family's (same signature)."""
    if not is_fused(run):
        return fam.backward
    return _PASSES[fam.name][1]


def previous(a: np.ndarray, reverse: bool, first: np.ndarray | None = None) -> np.ndarray:
    """The state each step read: *a* shifted by one step in the loop's order, *first* (else zeros) where it began."""
    out = np.empty_like(a)
    if reverse:
        out[:-1] = a[1:]
        out[-1] = 0 if first is None else first
    else:
        out[1:] = a[:-1]
        out[0] = 0 if first is None else first
    return out


def _state(state0, name, B, H, dtype):
    return np.ascontiguousarray(start_state(state0, name, B, H, dtype))


def _final(final, final_steps, name, B, H, dtype):
    if final_steps is not None:   # only a packed batch has them, and a packed batch never runs fused
        raise ValueError("a fused run has no padding: no per-sample final steps")
    return _state(final, name, B, H, dtype)


def _grads(x, p, run, dA, dB, DH, record, reverse, perm, lean):
    h_prev = None if lean else previous(run.h, reverse, run.cache.get("h0"))
    return weight_grads(x, p, h_prev, dA, dB, DH, record, perm, lean=lean)


# --- RNN ----------------------------------------------------------------------------------------------------
_ACTS = {"tanh": 0, "relu": 1, "identity": 2}


def _rnn_forward(entry, x, p, reverse, state0):
    from rnntui.engine.families.fused import kernels

    T, B, _ = x.shape
    H = p["weight_hh"].shape[1]
    P = (x.reshape(T * B, -1) @ p["weight_ih"].T).reshape(T, B, H)
    P += p["bias_ih"] + p["bias_hh"]
    Hs = np.empty_like(P)
    h = _state(state0, "h", B, H, x.dtype)
    kernels.rnn_forward(P, np.ascontiguousarray(p["weight_hh"]), h, reverse, _ACTS[entry.nonlinearity], Hs,
                        np.empty((H, B), dtype=x.dtype))
    return DirectionRun(Hs, {"h": Hs, "pre": P}, {"fused": True, "h0": None if state0 is None else h})


def _rnn_backward(entry, x, p, run, dh_ext, reverse, final=None, final_steps=None, lean=False):
    from rnntui.engine.families.fused import kernels

    T, B, H = run.h.shape
    h, pre = run.h, run.record["pre"]
    nl = entry.nonlinearity
    K = 1 - h * h if nl == "tanh" else (pre > 0).astype(h.dtype) if nl == "relu" else np.ones_like(h)
    DH, TT, dA = np.empty_like(h), np.empty_like(h), np.empty_like(h)
    dh0 = kernels.rnn_backward(K, np.ascontiguousarray(dh_ext), np.ascontiguousarray(p["weight_hh"].T),
                               _final(final, final_steps, "h", B, H, x.dtype), reverse, DH, TT, dA,
                               np.empty((H, B), dtype=x.dtype))
    grads = _grads(x, p, run, dA, dA, DH, split_record(DH, dh_ext, TT), reverse, None, lean)
    grads.state0 = {"h": dh0}
    return grads


# --- LSTM: rows reordered to (o, i, f, g) and the sigmoid rows halved, as families/lstm.py runs them ---------
def _lstm_perm(H):
    i, f, g, o = (np.arange(k * H, (k + 1) * H) for k in range(4))
    return np.concatenate([o, i, f, g])


def _lstm_forward(entry, x, p, reverse, state0):
    from rnntui.engine.families.fused import kernels

    T, B, _ = x.shape
    H = p["weight_hh"].shape[1]
    perm = _lstm_perm(H)
    scale = np.ones(4 * H, dtype=x.dtype)
    scale[: 3 * H] = 0.5
    Wih = p["weight_ih"][perm] * scale[:, None]
    M = np.ascontiguousarray(p["weight_hh"][perm] * scale[:, None])
    b = (p["bias_ih"] + p["bias_hh"])[perm] * scale
    G = (x.reshape(T * B, -1) @ Wih.T).reshape(T, B, 4 * H)
    G += b
    Cs, TC, Hs = (np.empty((T, B, H), dtype=x.dtype) for _ in range(3))
    h, c = _state(state0, "h", B, H, x.dtype), _state(state0, "c", B, H, x.dtype)
    kernels.lstm_forward(G, M, h, c, reverse, Cs, TC, Hs, np.empty((4 * H, B), dtype=x.dtype))
    rec = {"h": Hs, "c": Cs, "gates.i": G[..., H: 2 * H], "gates.f": G[..., 2 * H: 3 * H],
           "gates.g": G[..., 3 * H:], "gates.o": G[..., :H]}
    cache = {"fused": True, "G": G, "TC": TC, "perm": perm, "h0": None, "c0": None}
    if state0 is not None:
        cache["h0"], cache["c0"] = h, c
    return DirectionRun(Hs, rec, cache)


def _lstm_backward(entry, x, p, run, dh_ext, reverse, final=None, final_steps=None, lean=False):
    from rnntui.engine.families.fused import kernels

    T, B, H = run.h.shape
    G, TC, perm = run.cache["G"], run.cache["TC"], run.cache["perm"]
    c_prev = previous(run.record["c"], reverse, run.cache.get("c0"))
    DH, DC, TT, CT, CH = (np.empty((T, B, H), dtype=x.dtype) for _ in range(5))
    dZ = np.empty((T, B, 4 * H), dtype=x.dtype)
    dh0, dc0 = kernels.lstm_backward(
        G, TC, c_prev, np.ascontiguousarray(dh_ext), np.ascontiguousarray(p["weight_hh"][perm].T),
        _final(final, final_steps, "h", B, H, x.dtype), _final(final, final_steps, "c", B, H, x.dtype), reverse,
        DH, DC, TT, CT, CH, dZ, np.empty((H, B), dtype=x.dtype))
    record = split_record(DH, dh_ext, TT)
    record.update({"c": DC, "c.from_h": CH, "c.through_time": CT})
    grads = _grads(x, p, run, dZ, dZ, DH, record, reverse, perm, lean)
    grads.state0 = {"h": dh0, "c": dc0}
    return grads


# --- GRU: the r and z rows halved, b_hr and b_hz with the input's bias, as families/gru.py runs them ----------
def _gru_forward(entry, x, p, reverse, state0):
    from rnntui.engine.families.fused import kernels

    T, B, _ = x.shape
    H = p["weight_hh"].shape[1]
    scale = np.ones(3 * H, dtype=x.dtype)
    scale[: 2 * H] = 0.5
    G = (x.reshape(T * B, -1) @ (p["weight_ih"] * scale[:, None]).T).reshape(T, B, 3 * H)
    bias = p["bias_ih"].copy()
    bias[: 2 * H] += p["bias_hh"][: 2 * H]
    G += bias * scale
    M = np.ascontiguousarray(p["weight_hh"] * scale[:, None])
    Hs, HPn = np.empty((T, B, H), dtype=x.dtype), np.empty((T, B, H), dtype=x.dtype)
    h = _state(state0, "h", B, H, x.dtype)
    kernels.gru_forward(G, M, np.ascontiguousarray(p["bias_hh"][2 * H:]), h, reverse, Hs, HPn,
                        np.empty((3 * H, B), dtype=x.dtype))
    rec = {"h": Hs, "gates.r": G[..., :H], "gates.z": G[..., H: 2 * H], "gates.n": G[..., 2 * H:]}
    return DirectionRun(Hs, rec, {"fused": True, "G": G, "HPn": HPn, "h0": None if state0 is None else h})


def _gru_backward(entry, x, p, run, dh_ext, reverse, final=None, final_steps=None, lean=False):
    from rnntui.engine.families.fused import kernels

    T, B, H = run.h.shape
    G, HPn, h0 = run.cache["G"], run.cache["HPn"], run.cache.get("h0")
    h_prev = previous(run.h, reverse, h0)
    DH, TT = np.empty((T, B, H), dtype=x.dtype), np.empty((T, B, H), dtype=x.dtype)
    dX, dHp = np.empty((T, B, 3 * H), dtype=x.dtype), np.empty((T, B, 3 * H), dtype=x.dtype)
    dh0 = kernels.gru_backward(G, HPn, h_prev, np.ascontiguousarray(dh_ext), np.ascontiguousarray(p["weight_hh"].T),
                               _final(final, final_steps, "h", B, H, x.dtype), reverse, DH, TT, dX, dHp,
                               np.empty((H, B), dtype=x.dtype))
    grads = _grads(x, p, run, dX, dHp, DH, split_record(DH, dh_ext, TT), reverse, None, lean)
    grads.state0 = {"h": dh0}
    return grads


_PASSES = {"rnn": (_rnn_forward, _rnn_backward), "lstm": (_lstm_forward, _lstm_backward),
           "gru": (_gru_forward, _gru_backward)}

__all__ = ["ENV", "available", "backward_of", "describe", "enabled", "forward", "is_fused", "replay",
           "switched_off"]
