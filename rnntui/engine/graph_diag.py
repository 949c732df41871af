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
from rnntui.engine.handlers import handler
from rnntui.engine.progress import report


def carries(entry) -> bool:
    """Whether *entry* is a node that carries states from step to step through a step graph of its own."""
    return hasattr(handler(entry.type), "settable_values")


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
    return {t: handler(entry.type)._puts(entry, ov, t) for t in range(entry.steps)}


def jacnorm_work(entry, B: int) -> int:
    """Multiply-adds of a recurrence's diag.*.jacnorm, about: at every step and sample, S backward passes of its
    step graph (each about twice its parameters) and the S x S eigenproblem (S: the units of its states)."""
    from math import prod

    S = sum(int(n) for n in entry.config["states"].values())
    params = sum(prod(shape) for shape in entry.params.values())
    return entry.steps * B * S * (2 * params + S * S)


CHEAP_WORK = 64_000_000   # a recurrence's Jacobian norms a view or a report computes at once (well under a second)

ROWS_AT_ONCE = 4096   # (sample, unit of s) rows one backward pass of the step graph carries at most


def jacobian_norms(info, entry, arrays, params, steps=None) -> np.ndarray:
    """(len(steps), B): the spectral norm of ds_t/ds_{t-1} at each of *steps* (default all), for each sample.

    Step t's graph runs again from the recorded states of step t-1 with every sample repeated S times (S: the
    units of s), then backward once with each copy seeded at one unit of s_t: samples never mix, so copy k of
    sample b gives row k of that sample's Jacobian. Samples go a few at a time (ROWS_AT_ONCE rows)."""
    from rnntui.engine.context import RunContext
    from rnntui.engine.graph import GraphWalk
    from rnntui.engine.ops.recurrence import state_key, step_layout

    conf = entry.config
    step = list(step_layout(entry))
    T = entry.steps
    steps = np.arange(T) if steps is None else np.atleast_1d(np.asarray(steps))

    def read(ref):
        a = np.asarray(arrays[keys.input_key(ref) if isinstance(ref, str) else keys.out(ref)])
        seq = a.ndim >= 3 if isinstance(ref, str) else info.entries[ref].seq_out
        return a, 1 if seq else 0   # the array and its batch axis

    x, _ = read(entry.reads[0])
    outer = {name: read(ref) for name, ref in zip(conf["outer"], entry.reads[1:])}
    names = state_names(entry)
    sizes = [int(conf["states"][n]) for n in names]
    S, B, dtype = sum(sizes), x.shape[1], x.dtype
    offsets = np.cumsum([0] + sizes)
    start, feed, after = conf.get("start", {}), conf.get("feed"), conf.get("feed_after", 1)
    recorded = {n: np.asarray(arrays[state_key(entry.index, n)]) for n in names}
    fed = np.asarray(arrays[state_key(entry.index, "x")]) if feed is not None else None
    puts = _puts(info, arrays, entry)
    lengths = _lengths(arrays, entry)
    all_lengths = {n: np.asarray(arrays[keys.input_lengths(n)]) for n in info.inputs
                   if keys.input_lengths(n) in arrays}   # what an attention step masks its padded source by
    out = np.empty((len(steps), B), dtype=dtype)
    label = f"Jacobian norms {keys.entry_prefix(entry.index)}"
    per = max(1, ROWS_AT_ONCE // S)
    for row, t in enumerate(steps):
        t = int(t)
        xt = fed[t] if (fed is not None and t >= after) else x[t]
        for b0 in range(0, B, per):
            bs = slice(b0, min(b0 + per, B))
            n_b = bs.stop - bs.start

            def rep(a, axis=0):
                return np.repeat(np.take(a, range(bs.start, bs.stop), axis=axis), S, axis=axis)

            prev = {n: rep(recorded[n][t - 1] if t > 0 else outer[start[n]][0] if n in start else
                           np.zeros((B, size), dtype=dtype)) for n, size in zip(names, sizes)}
            ctx = RunContext(params, dtype=np.dtype(dtype), lengths={n: rep(v) for n, v in all_lengths.items()})
            walk = GraphWalk(step, ctx)
            walk.puts = puts.get(t, {})
            walk.forward({"x": rep(xt), **prev, **{n: rep(a, axis) for n, (a, axis) in outer.items()}}, {})
            seeds: dict = {}
            for n, size, o in zip(names, sizes, offsets):
                seed = np.zeros((n_b, S, size), dtype=dtype)
                seed[:, np.arange(o, o + size), np.arange(size)] = 1   # copy k of a sample: unit k of s_t
                ref = conf["next"][n]
                seeds[ref] = seed.reshape(n_b * S, size) + (seeds[ref] if ref in seeds else 0)
            gin = walk.backward(None, None, {}, {}, seeds=seeds)
            J = np.concatenate([gin[m].reshape(n_b, S, -1) for m in names], axis=-1)   # (samples, S, S): rows k
            ok = np.isfinite(J).all(axis=(1, 2))
            norms = np.full(n_b, np.nan, dtype=dtype)
            if ok.any():   # sigma_max = sqrt(the largest eigenvalue of J Jᵀ): no singular vectors, a few times an SVD's speed
                G = J[ok] @ J[ok].transpose(0, 2, 1)
                norms[ok] = np.sqrt(np.maximum(np.linalg.eigvalsh(G)[:, -1], 0))
            out[row, bs] = norms
        if lengths is not None:   # a padded step carries the state through unchanged: nothing to scale
            out[row, t >= lengths] = 0
        report(label, row + 1, len(steps))
    return out


def jacobian_norm_at(trace, entry, t: int) -> np.ndarray:
    from rnntui.engine.diagnostics import ParamView

    key = keys.diag(keys.entry_prefix(entry.index), "jacnorm")
    if trace.is_computed(key):
        return trace[key][t]
    from rnntui.engine.checkpoint import graph_window

    window = graph_window(trace, t - 1, t + 1)   # a checkpointed run: only the segments holding t-1 and t
    if window is not None:
        return jacobian_norms(trace.info, entry, window, ParamView(trace), steps=[t - window.lo])[0]
    return jacobian_norms(trace.info, entry, trace, ParamView(trace), steps=[t])[0]


def gates(entry) -> dict[str, tuple[str, bool]]:
    """`{cell}.gates.{g}` -> (its record's key, whether a sigmoid) for every cell of the step graph that has gates."""
    out = {}
    for lay in handler(entry.type).step_nodes(entry):
        hd = handler(lay.type)
        for g in getattr(hd, "gate_names", ()):
            name = f"{str(lay.index).split('.', 1)[1]}.gates.{g}"
            out[name] = (keys.node_value(lay.index, f"gates.{g}"), g in hd.sigmoid_gates)
    return out


def step_names(entry) -> dict[str, tuple[str, bool]]:
    """The names the debugger's expressions read at a recurrence node (rnntui/expr/names.py): each state `s`
    and its gradient `ds`, each step node's value of each step by its id (`z`, `cell`) and its gradient
    (`dz`), a cell's second value (`cell.c`), and `jacnorm`: name -> (trace key, whether a gradient)."""
    import re

    i = entry.index
    out: dict[str, tuple[str, bool]] = {}
    for s in state_names(entry):
        out[s] = (keys.node_value(i, s), False)
        out[f"d{s}"] = (keys.grad(keys.node_value(i, s)), True)
    reserved = {"x", "out", "loss_t", "loss", "t", "T", "iteration", "jacnorm"}
    for lay in handler(entry.type).step_nodes(entry):
        name = str(lay.index).split(".", 1)[1]
        if lay.seq_out or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in reserved or name in out:
            continue
        out[name] = (keys.out(lay.index), False)
        if f"d{name}" not in out:
            out[f"d{name}"] = (keys.grad(keys.out(lay.index)), True)
        for extra in getattr(handler(lay.type), "extras", ()):
            out[f"{name}.{extra}"] = (keys.node_value(lay.index, extra), False)
    out["jacnorm"] = (keys.diag(keys.entry_prefix(i), "jacnorm"), True)
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


__all__ = ["CHEAP_WORK", "jacnorm_work", "carries", "derived", "step_names", "gates", "jacobian_norm_at", "jacobian_norms", "state_grad", "state_names"]
