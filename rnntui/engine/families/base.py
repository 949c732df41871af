"""What every recurrent family shares: the per-direction record, padding, the step product, weight
gradients, and the `Family` base class that one module per family (rnn.py, lstm.py, gru.py) fills in with
its step maths (the loop around them is driver.py's).

Shapes (numpydoc style):

x : (T, B, D) input of the sub-layer, time first
h, c, gates : (T, B, H), indexed by position in the sequence; a reverse direction
    runs t = T-1 .. 0 and its state at index t has read steps T-1 down to t.

The input projection of all steps is one matrix product; each step then costs one
product with the recurrent matrix. Weight gradients are one product each at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from rnntui.engine.fields import LAYERS_MAX, choice, fraction, size
from rnntui.engine.keys import FROM_OUTPUT, THROUGH_TIME
from rnntui.numfmt import fmt

STEMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass(frozen=True)
class RecurrentConfig:
    """The keys every recurrent entry takes (a family may add its own)."""

    hidden_size: int = size(doc="units per direction")
    num_layers: int = size(1, doc="stacked sub-layers, joined as in PyTorch", maximum=LAYERS_MAX)
    bidirectional: bool = choice(False, doc="a second pass from the last step to the first")
    merge: Literal["concat", "sum", "mean", "mul"] = choice("concat", doc="how the two directions form the output")
    dropout: float = fraction(0.0, doc="dropout on each sub-layer's output but the last's, in training (as nn.LSTM)")


@dataclass(frozen=True)
class CellConfig:
    """The keys of the family's one-step cell in a recurrence's step graph (nn.LSTMCell, ...)."""

    hidden_size: int = size(doc="units of the state")


@dataclass
class DirectionRun:
    """What one direction recorded: public arrays plus the caches backward needs."""

    h: np.ndarray
    record: dict[str, np.ndarray]            # trace keys relative to model.i.lj.dir
    cache: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DirectionGrads:
    dx: np.ndarray                           # (T, B, D)
    params: dict[str, np.ndarray]            # by stem: weight_ih, weight_hh, bias_ih, bias_hh
    record: dict[str, np.ndarray]            # h (and c): total dL/dh_t, dL/dc_t, and their split
    step_pre_ih: np.ndarray                  # (T, B, gH) gradient of the input projection per step
    step_pre_hh: np.ndarray                  # (T, B, gH) gradient of the recurrent projection per step
    h_prev: np.ndarray                       # (T, B, H) state each step read
    state0: dict = field(default_factory=dict)  # dL/dh_0 (and dL/dc_0): what reached the initial state


def padding(lengths: np.ndarray | None, T: int) -> np.ndarray | None:
    """(T, B, 1) True at the padded steps of a batch of different lengths (t >= the sample's length).

    PyTorch's packed sequences, as a mask: a padded step's state, gates and gradients are zero, so the
    backward direction starts each sample from a zero state at its own last step, and nothing flows
    between a sample's real steps and its padding. The forward direction never reads its padding."""
    if lengths is None:
        return None
    return (np.arange(T)[:, None] >= np.asarray(lengths)[None, :])[:, :, None]


def zero_padded(a: np.ndarray, pad: np.ndarray | None, t: int | None = None) -> None:
    """Set *a* (all steps, or step *t*) to zero at the padded steps, in place (NaN too: not a product)."""
    if pad is not None:
        np.copyto(a, 0, where=pad if t is None else pad[t])


def order(T: int, reverse: bool) -> range:
    """The steps in the order a direction computes them."""
    return range(T - 1, -1, -1) if reverse else range(T)


def previous_at(a: np.ndarray, steps: np.ndarray, reverse: bool, first: np.ndarray | None = None) -> np.ndarray:
    """The value each of *steps* read as its previous state (the initial state where the pass began)."""
    idx = steps + (1 if reverse else -1)
    ok = (idx >= 0) & (idx < a.shape[0])
    out = np.zeros((len(steps),) + a.shape[1:], dtype=a.dtype)
    out[ok] = a[idx[ok]]
    if first is not None:
        out[~ok] = first
    return out


def inject_final(rec: np.ndarray, final: dict | None, name: str, steps: np.ndarray, t: int) -> None:
    """Add the gradient reaching each sample's final state to the recurrent gradient at the step where
    that state is (its own last step in a packed batch), in place."""
    if final is None or name not in final:
        return
    here = steps == t
    if here.any():
        rec[here] += final[name][here]


def start_state(state0: dict | None, name: str, B: int, H: int, dtype) -> np.ndarray:
    """The state a direction starts from: PyTorch's h_0 (c_0) for this sub-layer and direction, or zeros."""
    if state0 is not None and name in state0:
        return np.array(state0[name], dtype=dtype, copy=True)
    return np.zeros((B, H), dtype=dtype)


def initial(arrays, place, name: str) -> np.ndarray | None:
    """The recorded initial state (`{place}.h0` / `.c0`) of a run that was given one, else None (zeros)."""
    key = place.key(f"{name}0")
    return arrays[key] if key in arrays else None


class StepProduct:
    """`v @ M.T` for one step's (B, n) *v*, the product every step of a recurrence makes.

    Computed as `M @ v.T` into a (rows, B) buffer and returned as its (B, rows) transposed view: for a
    batch much smaller than the layer, OpenBLAS's kernels run up to twice as fast in that orientation
    (float64; benchmarks/train.py). The view is the buffer itself: each call overwrites what the one
    before returned, so a caller keeps a result only until its next call."""

    def __init__(self, M: np.ndarray, B: int):
        self.M = np.ascontiguousarray(M)
        self.buf = np.empty((M.shape[0], B), dtype=M.dtype)
        self.out = self.buf.T                # what every call returns: (B, rows), the buffer seen transposed

    def __call__(self, v: np.ndarray) -> np.ndarray:
        np.matmul(self.M, v.T, out=self.buf)
        return self.out

    def rows(self, rows: np.ndarray) -> tuple[np.ndarray, bool]:
        """Where each step's product goes (indexed by step) to land in *rows* (T, B, n) at its step, and whether
        it must then be copied there from `out`: one sample's row seen as (n, 1) is contiguous and takes the
        product itself (the same BLAS call, the same numbers); for more samples it would be another call, so
        the buffer takes it (seen at every step)."""
        if self.buf.shape[1] == 1:
            return rows.transpose(0, 2, 1), False
        return np.lib.stride_tricks.as_strided(self.buf, (len(rows),) + self.buf.shape, (0,) + self.buf.strides), True


def transposed(a: np.ndarray) -> np.ndarray:
    """A (T, B, n) array seen as (T, n, B): step t's (B, n) slice transposed, as a product reads it."""
    return a.transpose(0, 2, 1)


def step_rows(T: int, B: int, n: int, dtype, keep: bool = True) -> np.ndarray:
    """A (T, B, n) array a backward loop writes one step at a time: a real one where it is kept (recorded),
    else one (B, n) buffer seen at every step (stride 0), for a lean pass that needs a value only within
    its step."""
    if keep:
        return np.empty((T, B, n), dtype=dtype)
    buf = np.empty((B, n), dtype=dtype)
    return np.lib.stride_tricks.as_strided(buf, (T, B, n), (0,) + buf.strides)


def weight_grads(x, p, h_prev, d_ih, d_hh, DH, record, perm=None, lean=False) -> DirectionGrads:
    """Weight gradients as one product each; *h_prev* (T, B, H) the state each step read; *perm* maps
    PyTorch rows to the rows of d_ih/d_hh.
    *lean*: dL/d(input) and dL/dh_t only (the one-term pass, network.one_term_gradients): no weight
    gradient, no split of dL/dh_t, no per-step products; "h": dL/dh_t alone."""
    T, B, D = x.shape
    if lean:  # lean == "h": not even dL/d(input) (nothing reads it: zeros)
        W_ih = p["weight_ih"] if perm is None else p["weight_ih"][perm]
        dx = np.zeros_like(x) if lean == "h" else (d_ih.reshape(T * B, -1) @ W_ih).reshape(T, B, D)
        return DirectionGrads(dx, {}, {"h": DH}, None, None, None)
    gH = d_ih.shape[-1]
    a = d_ih.reshape(T * B, gH)
    b = d_hh.reshape(T * B, gH)
    W_ih = p["weight_ih"] if perm is None else p["weight_ih"][perm]
    grads = {
        "weight_ih": a.T @ x.reshape(T * B, D),
        "weight_hh": b.T @ h_prev.reshape(T * B, -1),
        "bias_ih": a.sum(axis=0),
        "bias_hh": b.sum(axis=0),
    }
    if perm is not None:
        inv = np.empty_like(perm)
        inv[perm] = np.arange(len(perm))   # the inverse permutation
        grads = {k: v[inv] for k, v in grads.items()}
    dx = (a @ W_ih).reshape(T, B, D)
    return DirectionGrads(dx, grads, record, d_ih, d_hh, h_prev)


def split_record(DH, dh_ext, through) -> dict[str, np.ndarray]:
    """dL/dh_t and the two terms it is the sum of, each as computed (never one as the other's difference)."""
    return {"h": DH, FROM_OUTPUT: dh_ext, THROUGH_TIME: through}


def previous_next(direction: str) -> tuple[str, str]:
    """The step whose state a direction's step t reads, and the step that reads step t's: ("t-1", "t+1")
    for the forward direction, ("t+1", "t-1") for the backward one, which runs from t = T-1 down to 0."""
    return ("t+1", "t-1") if direction == "bwd" else ("t-1", "t+1")


class Family:
    """One recurrent family: its equations, gates, parameters, forward and backward, step Jacobian,
    and the words the views and reports use. Subclasses are registered in `families/__init__.py`.

    Every method that depends on an entry's options (the vanilla RNN's nonlinearity) takes the
    entry's `EntryInfo`.
    """

    name: str = ""
    title: str = ""                          # "LSTM", shown in panel titles
    gates: tuple[str, ...] = ()              # trace order, PyTorch's row-block order of W_ih / W_hh
    sigmoid_gates: frozenset[str] = frozenset()
    gate_words: dict[str, str] = {}          # "f": "forget gate"
    states: tuple[str, ...] = ("h",)         # per-step states recorded (and their gradients)
    n_blocks: int = 1                        # row blocks of W_ih / W_hh (gates, or 1 for the RNN)
    config: type = RecurrentConfig           # the scenario keys of an entry of this family
    cell_config: type = CellConfig           # the keys of its cell (`{name}_cell`, engine/ops/cells.py)
    # Memory, in (T, B, H) arrays per direction, counted from forward, backward and jacobian_factors
    # (entries/recurrent.py turns them into the entry's layout.Footprint; benchmarks/memory.py checks):
    forward_arrays: int = 0                  # what forward returns and backward reads
    record_arrays: int = 0                   # what backward records (dh_ext is the caller's)
    backward_arrays: int = 0                 # backward's working arrays at their peak, weight_grads' h_prev too
    jacobian_arrays: int = 0                 # jacobian_factors' arrays at their peak, per step chunk

    # --- the maths ------------------------------------------------------------------------------
    # A family gives its step maths (forward_steps, backward_steps); the loop around them, with padding,
    # initial states, interventions, resume and the final gradient, is the driver's (families/driver.py).
    def forward(self, entry, x, p, reverse: bool, pad=None, state0=None, overrides=None,
                resume=None) -> DirectionRun:
        """*pad*: see `padding`; *state0*: {"h": (B, H)[, "c": ...]}, the initial state (zeros without it).
        *overrides*: the interventions at this place (engine/interventions.py `Overrides`): each value named
        there is overwritten as soon as it is computed. *resume*: a `driver.Resume`, or (t0, record): the steps
        before t0 (in the loop's order) are copied from *record* (name -> recorded (T, B, H) array) instead of
        computed. The run keeps pad, the states each step read and overrides in its cache for backward."""
        from rnntui.engine.families import driver

        return driver.forward(self, entry, x, p, reverse, pad, state0, overrides, resume)

    def backward(self, entry, x, p, run: DirectionRun, dh_ext, reverse: bool,
                 final=None, final_steps=None, lean: bool = False) -> DirectionGrads:
        """*final*: {"h": (B, H)[, "c": ...]}, a gradient reaching the last state computed from outside the
        sequence (a decoder that started from it): it enters BPTT as the gradient through time there,
        at *final_steps* (B,) where each sample's final state is (default: where the pass ends).
        The result's `state0` holds dL/dh_0 (dL/dc_0). *lean*: the (dh, dc) recursion alone, for the
        one-term pass: the result holds dx, `record["h"]` and `state0`, nothing else (`weight_grads`; "h": dx is
        zeros)."""
        from rnntui.engine.families import driver

        return driver.backward(self, entry, x, p, run, dh_ext, reverse, final, final_steps, lean)

    def forward_steps(self, entry, x, p, reverse: bool, cur: dict, prev: dict):  # pragma: no cover - abstract
        """The forward step maths over one direction's input *x* (T, B, D) and parameters *p* (by stem): a
        `driver.ForwardSteps` whose `step(t, put)` writes step t's states into `cur[s][t]` from `prev[s][t]`
        (the driver's (T, B, H) views, one per name in `states`), calling `put(name, t, value)` (when not None)
        on each value of `settable` as soon as it is final."""
        raise NotImplementedError

    def backward_steps(self, entry, x, p, run: DirectionRun, DH, into, out, lean):  # pragma: no cover - abstract
        """The backward step maths: a `driver.BackwardSteps` whose `step(t, ov)` reads dL/dh_t in `DH[t]` (the
        driver's sum of the output's share and what came through time, padding zeroed) and the other states'
        gradients through time in `into[s][t]`, and writes what reaches the states step t read into
        `out[s][t]` (one per name in `states`; `StepProduct.rows` for a product). *ov*: the interventions
        (`cut`, `cut_copy`) or None. *lean*: see `backward`."""
        raise NotImplementedError

    def param_shapes(self, H: int, D: int) -> dict[str, tuple[int, ...]]:
        """Its parameters by PyTorch stem (weight_ih, weight_hh, bias_ih, bias_hh) for H units reading D
        features: `n_blocks` row blocks of H, in PyTorch's gate order."""
        g = self.n_blocks * H
        return {"weight_ih": (g, D), "weight_hh": (g, H), "bias_ih": (g,), "bias_hh": (g,)}

    def jacobian_factors(self, entry, arrays, place, params, steps: np.ndarray):  # pragma: no cover
        """(a, D) with dh_t/dh_{t-1} = diag(a) + Σ_k diag(D_k) W_hh[k] (PyTorch's row blocks), at *steps*;
        a is None where the Jacobian has no diagonal term."""
        raise NotImplementedError

    def settable(self, entry) -> tuple[str, ...]:
        """What an intervention may overwrite: the states and the gates (keys relative to the place)."""
        return self.states + tuple(f"gates.{g}" for g in self.gates)

    # --- what is recorded and watched -----------------------------------------------------------
    def saturation(self, entry) -> dict[str, str]:
        """Name -> the recorded array (relative to the place) whose saturation is counted."""
        return {g: f"gates.{g}" for g in self.gates}

    def is_sigmoid(self, name: str) -> bool:
        return name in self.sigmoid_gates

    # --- words ----------------------------------------------------------------------------------
    def equations(self, entry, direction: str = "fwd") -> list[str]:  # pragma: no cover - abstract
        """The cell's equations as *direction* runs them: the forward direction reads the state of step t-1,
        the backward direction (t = T-1 down to 0) the state of step t+1 (`previous_next`)."""
        raise NotImplementedError

    def describe(self, entry) -> str:
        """The configuration column of a model table."""
        conf = f"hidden {entry.hidden_size}, layers {entry.num_layers}"
        if len(entry.directions) == 2:
            conf += f", bidirectional ({entry.merge})"
        if entry.reduce_final:
            conf += ", final state only"
        return conf

    def forward_rows(self, entry) -> list[tuple[str, str, bool]]:
        """The cell panel's rows in the forward pass: (label, key relative to the place, is a gate in 0..1)."""
        rows = [(f"{g} {self.gate_words[g]}", f"gates.{g}", g in self.sigmoid_gates) for g in self.gates]
        rows += [(STATE_WORDS[s], s, False) for s in self.states[::-1]]  # as computed: c before h
        return rows

    def report_columns(self, entry) -> list[tuple[str, str]]:
        """The per-step report table: (column header, key relative to the place)."""
        return [(f"{self.gate_words[g].split()[0]} {g}", f"gates.{g}") for g in self.gates]

    def forward_story(self, entry, v) -> list[tuple[str, str]]:  # pragma: no cover - abstract
        """The state update at one step and unit, in numbers. *v* reads values: v(name) at t, v.prev(name)
        at the step before (the initial state at the start), v.overwritten(name): set by a what-if at t.
        Lines are (kind, text), kind in head | body | note | set. An equation ends with `equals`
        and `set_note`."""
        raise NotImplementedError

    def backward_story(self, entry, v) -> list[tuple[str, str]]:
        """How dL/dh_t is made: the output's share plus what came through time (both recorded)."""
        return []

    def through_time_words(self, entry) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def cell_formula(self, entry) -> str:  # pragma: no cover - abstract
        """One line: its cell's step (a recurrence's step view, the model map)."""
        raise NotImplementedError


def equals(v, name: str, computed: float) -> str:
    """The end of a story's equation for *name*: `= value`. Where a what-if overwrote *name* at this step,
    the value its terms give (the terms shown always add up to it); `set_note` then gives the value set."""
    return f"= {fmt(computed if v.overwritten(name) else v(name), 0)}"


def set_note(v, name: str, label: str) -> list[tuple[str, str]]:
    """Under an equation for *name* (shown as *label*): the value a what-if set in its place at this step,
    which the rows and steps after read."""
    if not v.overwritten(name):
        return []
    return [("set", f"    {label} set to {fmt(v(name), 0)} by the what-if: what follows reads it")]


def overwritten_note(v, names) -> list[tuple[str, str]]:
    """The values among *names* (gates, `pre`) a what-if set at this step: the story's terms are those."""
    return [("set", f"    {n.removeprefix('gates.')} set to {fmt(v(n), 0)} by the what-if: the terms use it")
            for n in names if v.overwritten(n)]


STATE_WORDS = {"h": "h hidden state", "c": "c cell state", "pre": "a pre-activation"}
