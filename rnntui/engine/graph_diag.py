"""The diagnostics of a graph's `recurrence` node, as a built-in recurrent entry has them (engine/diagnostics.py):

diag.model.{i}.jacnorm    (T, B) spectral norm of one step's Jacobian ds_t/ds_{t-1}, s the carried states
                                 (every state of `state:`, in order, one vector): how BPTT scales the gradient
                                 it carries back one step. Computed from the record: step t's graph is run again
                                 from the recorded states of step t-1 (its what-if overwrites too, which cut what
                                 they replace), then backward once per unit of s; an SVD of each sample's S x S
                                 matrix. 0 at a padded step (nothing is carried there), NaN where not finite.
diag.model.{i}.gradnorm   (T,)   ||dL/ds_t|| over batch and units (every state)
diag.model.{i}.sat.{g}    (T,)   share of a cell's gate g saturated (a sigmoid below 0.05 or above 0.95, a tanh
                                 with |v| above 0.95), for each `lstm_cell` / `gru_cell` of the step graph: the
                                 name is `{cell id}.gates.{g}`

`diag.model.{i}.term_gradnorm` / `term_step` (the one-term gradient the verdict measures) are the network's
(`network.one_term_gradients`, over the norm of every state).
"""
from __future__ import annotations

import json
from functools import partial

import numpy as np

from rnntui.engine import keys
from rnntui.engine.progress import report


def carries(entry) -> bool:
    """Whether *entry* is a node that carries states from step to step through a step graph of its own."""
    return hasattr(entry.handler, "settable_values")


def state_names(entry) -> tuple[str, ...]:
    return tuple(entry.config["states"])


def state_grad(arrays, entry, prefix_key=None) -> np.ndarray:
    """(T, B, S): dL/ds_t, every state's gradient side by side (*prefix_key*: another record's keys)."""
    get = prefix_key or (lambda name: keys.grad(keys.node_value(entry.index, name)))
    parts = [np.asarray(arrays[get(n)]) for n in state_names(entry)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


def _lengths(arrays, entry):
    if not entry.lengths_of or keys.input_lengths(entry.lengths_of) not in arrays:
        return None
    lengths = np.asarray(arrays[keys.input_lengths(entry.lengths_of)])
    return lengths if (lengths < entry.steps).any() else None


def _puts(info, arrays, entry):
    """Step -> the what-if overwrites of this node's step graph at that step (as its run applied them)."""
    from rnntui.engine.interventions import META, NODE, coerce, compile_all

    if META not in arrays:
        return {}
    items = [it for it in coerce(json.loads(str(np.asarray(arrays[META]))), info.entries, info.T)
             if NODE.fullmatch(it.at) and it.at == keys.entry_prefix(entry.index)]
    if not items:
        return {}
    ov = compile_all(items, info.entries)[keys.entry_prefix(entry.index)]
    return {t: entry.handler._puts(entry, ov, t) for t in range(entry.steps)}


def jacobian_norms(info, entry, arrays, params, steps=None) -> np.ndarray:
    """(len(steps), B): the spectral norm of ds_t/ds_{t-1} at each of *steps* (default all), for each sample."""
    from rnntui.engine.context import RunContext
    from rnntui.engine.graph import GraphWalk
    from rnntui.engine.ops.recurrence import state_key, step_layout

    conf = entry.config
    step = list(step_layout(entry))
    T = entry.steps
    steps = np.arange(T) if steps is None else np.atleast_1d(np.asarray(steps))

    def read(ref):
        return np.asarray(arrays[keys.input_key(ref) if isinstance(ref, str) else keys.out(ref)])

    x = read(entry.reads[0])
    outer = {name: read(ref) for name, ref in zip(conf["outer"], entry.reads[1:])}
    names = state_names(entry)
    sizes = [int(conf["states"][n]) for n in names]
    S, B, dtype = sum(sizes), x.shape[1], x.dtype
    start, feed, after = conf.get("start", {}), conf.get("feed"), conf.get("feed_after", 1)
    recorded = {n: np.asarray(arrays[state_key(entry.index, n)]) for n in names}
    fed = np.asarray(arrays[state_key(entry.index, "x")]) if feed is not None else None
    puts = _puts(info, arrays, entry)
    lengths = _lengths(arrays, entry)
    ctx = RunContext(params, dtype=np.dtype(dtype))
    out = np.empty((len(steps), B), dtype=dtype)
    label = f"Jacobian norms {keys.entry_prefix(entry.index)}"
    for row, t in enumerate(steps):
        t = int(t)
        prev = {n: (recorded[n][t - 1] if t > 0 else outer[start[n]] if n in start else
                    np.zeros((B, size), dtype=dtype)) for n, size in zip(names, sizes)}
        walk = GraphWalk(step, ctx)
        walk.puts = puts.get(t, {})
        walk.forward({"x": fed[t] if (fed is not None and t >= after) else x[t], **prev, **outer}, {})
        J = np.empty((B, S, S), dtype=dtype)
        k = 0
        for n, size in zip(names, sizes):
            for u in range(size):
                seed = np.zeros((B, size), dtype=dtype)
                seed[:, u] = 1
                gin = walk.backward(None, None, {}, {}, seeds={conf["next"][n]: seed})
                J[:, k, :] = np.concatenate([gin[m] for m in names], axis=-1)
                k += 1
        ok = np.isfinite(J).all(axis=(1, 2))
        out[row] = np.nan
        if ok.any():
            out[row, ok] = np.linalg.svd(J[ok], compute_uv=False)[:, 0]
        if lengths is not None:   # a padded step carries the state through unchanged: nothing to scale
            out[row, t >= lengths] = 0
        report(label, row + 1, len(steps))
    return out


def jacobian_norm_at(trace, entry, t: int) -> np.ndarray:
    from rnntui.engine.diagnostics import ParamView

    key = keys.diag(keys.entry_prefix(entry.index), "jacnorm")
    if trace.is_computed(key):
        return trace[key][t]
    return jacobian_norms(trace.info, entry, trace, ParamView(trace), steps=[t])[0]


def gates(entry) -> dict[str, tuple[str, bool]]:
    """`{cell}.gates.{g}` -> (its record's key, whether a sigmoid) for every cell of the step graph that has gates."""
    out = {}
    for lay in entry.handler.step_nodes(entry):
        hd = lay.handler
        for g in getattr(hd, "gate_names", ()):
            name = f"{str(lay.index).split('.', 1)[1]}.gates.{g}"
            out[name] = (keys.node_value(lay.index, f"gates.{g}"), g in hd.sigmoid_gates)
    return out


def derived(info, arrays: dict, params: dict, place) -> dict:
    """Key -> zero-argument function: a recurrence node's diag keys (engine/diagnostics.derived_keys)."""
    from rnntui.engine.diagnostics import row_norms, saturation

    entry = info.entries[place.entry]
    lengths = _lengths(arrays, entry)
    out = {place.diag_key("jacnorm"): partial(jacobian_norms, info, entry, arrays, params),
           place.diag_key("gradnorm"): lambda: row_norms(state_grad(arrays, entry))}
    for name, (key, sigmoid) in gates(entry).items():
        out[place.diag_key(f"sat.{name}")] = partial(lambda k, s: saturation(np.asarray(arrays[k]), s, lengths),
                                                     key, sigmoid)
    return out


__all__ = ["carries", "derived", "gates", "jacobian_norm_at", "jacobian_norms", "state_grad", "state_names"]
