"""What each name means at a place: which trace key it reads, and which places have it.

Every array is read with its step axis first, (T, ...) at the place, so one expression evaluates all
steps at once. At a recurrent place (`model.{i}.l{j}.{dir}`), index t is the position in the input,
as in the trace (the backward direction's h[t] is after it has read steps T-1 down to t):

    h c gates.X   the state, the LSTM cell state, the family's gates            (B, H)
    dh dc         dL/dh_t, dL/dc_t (total)                                       (B, H)
    x             what the sub-layer reads at position t: the entry's input for l0, the previous
                  sub-layer's outputs (both directions, concatenated) for l1 and up   (B, D)
    out           the entry's output at position t (directions merged)           (B, F)
                  (not at an entry that returns only its final state: many-to-one)
    jacnorm       ||dh_t/dh_{t-1}||_2 per sample (computed when first read)      (B,)
    loss_t        this step's term of the loss (where the output has steps that line up with the place's)
    loss          the whole loss of the run (the same at every step; a many-to-one model's one loss)
    t T iteration the step, the number of steps, the training iteration the record is of (0 without train:)

A graph's recurrence node (`model.{i}`) has its states (`h`, `c`, as `state:` names them) and their gradients
(`dh`, ...), each step node's value by its id (`z`, `cell`, a cell's `cell.c`) and its gradient (`dz`),
`jacnorm` (||ds_t/ds_{t-1}|| over every state together), `x`, `out`, `loss_t`, `loss`, `t`, `T`, `iteration`.

A non-recurrent place (`model.{i}`: dense, activation, conv, pool, embedding, flatten) has `out`, `x`,
`t`, `T`, `iteration` and, when its output has the model's steps, `loss_t`. An entry whose output has
no step axis (an image's feature maps, a dense after many-to-one) is one step: T = 1, and `out` is the
whole (B, ...) array.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnntui.engine import keys
from rnntui.engine.keys import STEP_LOSS, Place, out as out_key
from rnntui.expr.errors import ExprError
from rnntui.expr.nodes import NAMES

_PLACE = re.compile(r"model\.(\d{1,9})(?:\.l(\d{1,9})\.(fwd|bwd))?")


@dataclass(frozen=True)
class Source:
    """One name at one place: how to read it, with its step axis first."""

    name: str
    read: Callable[[], np.ndarray]     # (T, ...) at the place; 0-d for a constant (T, iteration)
    shape: Callable[[], tuple]         # what read() would return, without computing a lazy diagnostic
    gradient: bool = False             # computed by the backward pass
    key: str | None = None             # the trace key read (None: made from several, or a constant)


def find_place(info, text: str, expr_text: str = "", column: int = 1) -> Place:
    """`model.0.l1.bwd` or `model.2` -> the Place, or an ExprError listing the places there are."""
    places = info.places
    m = _PLACE.fullmatch(text)
    if m:
        entry, layer, direction = int(m.group(1)), m.group(2), m.group(3)
        place = Place(entry, None if layer is None else int(layer), direction)
        if place in places:
            return place
        if layer is None and any(p.entry == entry for p in places):
            options = [p.prefix for p in places if p.entry == entry]
            raise ExprError(expr_text or text, column, f"found @{text}, a recurrent entry; expected one of its "
                            f"sub-layers and directions: {', '.join(options)}")
    names = [p.prefix for p in places]
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ExprError(expr_text or text, column, f"found the place {text!r}{hint}; this model's places are {shown}")


def place_steps(trace, place: Place) -> int:
    """How many steps the place has: T for a recurrent place, its output's steps, or 1 without a step axis."""
    e = trace.info.entries[place.entry]
    if place.recurrent:
        return int(trace[place.key("h")].shape[0])
    return int(trace[out_key(place.entry)].shape[0]) if e.seq_out else 1


def entry_input_key(info, index: int) -> str:
    """The key of what entry *index* reads (engine/keys.py `input_of`)."""
    return keys.input_of(info.entries, index)


def sources(trace, place: Place) -> dict[str, Source]:
    """Every name the place has, in the order messages list them."""
    info = trace.info
    e = info.entries[place.entry]
    T = place_steps(trace, place)
    out: dict[str, Source] = {}

    def key(name, k, gradient=False, shape=None):
        out[name] = Source(name, lambda: trace[k], shape or (lambda: trace[k].shape), gradient, k)

    from rnntui.engine.graph_diag import carries, step_names

    steps_node = not place.recurrent and carries(e)
    if steps_node:   # a graph's recurrence: its states, its step graph's values and their gradients
        B = trace[keys.node_value(e.index, next(iter(e.config["states"])))].shape[1]
        for name, (k, gradient) in step_names(e).items():
            if name == "jacnorm":
                key(name, k, gradient=True, shape=lambda: (T, B))   # not computed to learn its shape
            elif k in trace:
                key(name, k, gradient=gradient)
    if place.recurrent:
        fam = e.family
        for s in ("h", "c"):
            if s in fam.states:
                key(s, place.key(s))
        for g in fam.gates:
            key(f"gates.{g}", place.key(f"gates.{g}"))
    x = _input_source(trace, place, T)
    if x is not None:
        out["x"] = x
    if e.seq_out or not e.seq_in:   # an entry that reduces its steps to one output has no per-step out
        k = out_key(place.entry)
        if k in trace:
            out["out"] = (Source("out", lambda: trace[k], lambda: trace[k].shape) if e.seq_out
                          else Source("out", lambda: trace[k][None], lambda: (1,) + trace[k].shape))
    if place.recurrent:
        for s in ("h", "c"):
            if s in e.family.states:
                key(f"d{s}", place.grad_key(s), gradient=True)
        B = trace[place.key("h")].shape[1]
        key("jacnorm", place.diag_key("jacnorm"), shape=lambda: (T, B))   # not computed to learn its shape
    if steps_node:   # the order messages list them: the values, then x, out, the gradients, jacnorm, ...
        out = {n: out[n] for n in [n for n in out if not out[n].gradient] + [n for n in out if out[n].gradient]}
    if (STEP_LOSS in trace and e.part != "encoder" and (place.recurrent or e.seq_out)
            and trace[STEP_LOSS].shape[0] == T):
        key("loss_t", STEP_LOSS)
    if "loss" in trace:
        out["loss"] = Source("loss", lambda: np.asarray(trace["loss"]), lambda: ())
    out["t"] = Source("t", lambda: np.arange(T), lambda: (T,))
    out["T"] = Source("T", lambda: np.asarray(T), lambda: ())
    out["iteration"] = Source("iteration", lambda: np.asarray(iteration_of(trace)), lambda: ())
    return out


def training_sources(trace) -> dict[str, Source]:
    """A training run's names over its N iterations (the iteration axis first, as steps are elsewhere):
    train.loss, train.gradnorm, train.lr (N,); train.update_ratio (N, P): every parameter's
    ‖P_{k+1} - P_k‖ / ‖P_k‖; iteration (N,)."""
    N = int(trace[keys.TRAIN_LOSS].shape[0])
    out: dict[str, Source] = {}
    for name in (keys.TRAIN_LOSS, keys.TRAIN_GRADNORM, keys.TRAIN_LR):
        if name in trace:
            out[name] = Source(name, lambda k=name: np.asarray(trace[k], dtype=float), lambda: (N,))
    params = sorted(k for k in trace if k.startswith(keys.TRAIN_UPDATE_RATIO_PREFIX))
    if params:
        out[keys.TRAIN_UPDATE_RATIO] = Source(keys.TRAIN_UPDATE_RATIO, lambda: np.stack(
            [np.asarray(trace[k], dtype=float) for k in params], axis=1), lambda: (N, len(params)))
    out["iteration"] = Source("iteration", lambda: np.arange(N), lambda: (N,))
    return out


def iteration_of(trace) -> int:
    """Which training iteration *trace* records: `meta.iteration` (engine/train.py records it), else, in a
    training trace saved before it was recorded, the one whose record it holds; else 0 (no `train:`)."""
    if keys.META_ITERATION in trace:
        return int(trace[keys.META_ITERATION])
    if keys.TRAIN_RECORD_ITERATION in trace:
        return int(trace[keys.TRAIN_RECORD_ITERATION])
    if keys.TRAIN_LOSS in trace:
        return int(trace[keys.TRAIN_LOSS].shape[0]) - 1
    return 0


def _input_source(trace, place: Place, T: int) -> Source | None:
    info = trace.info
    e = info.entries[place.entry]
    if place.recurrent and place.layer > 0:
        below = [Place(place.entry, place.layer - 1, d).key("h") for d in e.directions]
        shapes = [trace[k].shape for k in below]
        joined = shapes[0][:-1] + (sum(s[-1] for s in shapes),)
        if len(below) == 1:
            return Source("x", lambda: trace[below[0]], lambda: joined)
        return Source("x", lambda: np.concatenate([trace[k] for k in below], axis=-1), lambda: joined)
    k = entry_input_key(info, place.entry)
    if k not in trace:
        return None
    shape = trace[k].shape
    if e.seq_in and (place.recurrent or e.seq_out) and shape[0] == T:
        return Source("x", lambda: trace[k], lambda: shape)
    if not e.seq_in and T == 1:
        return Source("x", lambda: trace[k][None], lambda: (1,) + shape)
    return None   # its steps do not line up with the place's (a conv over time, a flatten of a sequence)


def unknown_name(text: str, name: str, col: int, place: Place, have: dict, info) -> ExprError:
    """An ExprError for a name the place does not have, listing the names it has."""
    e = info.entries[place.entry]
    where = f"{place.prefix} ({e.type})"
    listed = ", ".join(have)
    if name in NAMES or name.startswith("gates."):
        return ExprError(text, col, f"found {name}, which {where} does not have; it has {listed}")
    close = difflib.get_close_matches(name, list(have), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ExprError(text, col, f"found the unknown name {name!r}{hint}; {where} has {listed}")
