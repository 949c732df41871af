"""A chain's entries walked forward one after another, each recording itself, and backward in reverse (`Walk`);
the lean second backward pass that measures one loss term's gradient (`one_term_gradients`); and each
parameter, its gradient and buffer recorded under their keys (`record_weights`). Below the three ways a chain
runs (engine/network.py, seq2seq.py, generate.py), which all use them.
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from rnntui.engine import keys
from rnntui.engine.context import RunContext
from rnntui.engine.diagnostics import row_norms
from rnntui.engine.handlers import handler
from rnntui.engine.layout import EntryInfo


class Walk:
    """Entries run forward one after another, each recording itself; backward runs them in reverse."""

    def __init__(self, layout: list[EntryInfo], ctx: RunContext):
        """*ctx*: what the run needs (RunContext.chain): the parameters, each sample's length, the initial
        states, the interventions of a what-if (ctx.plan), a training iteration's dropout masks and buffers."""
        self.layout, self.ctx = layout, ctx
        self.params, self.plan = ctx.params, ctx.plan
        self.handlers = [handler(lay.type) for lay in layout]
        self.caches, self.ins, self.pres, self.outs = [], [], [], []

    def forward(self, x: np.ndarray, rec: dict, start: dict | None = None) -> np.ndarray:
        """*start*: entry index -> initial states, besides the scenario's (a decoder's hand-over)."""
        h = x
        changed = None  # the steps of h that differ from the recorded run a plan resumes from
        ctx = self.ctx if not start else replace(self.ctx, initial={**self.ctx.initial, **start})
        training = ctx.training
        for lay, hd in zip(self.layout, self.handlers):
            self.ins.append(h)
            kw = {"changed": changed} if (self.plan is not None and hd.recurrent) else {}
            pre, out, cache = hd.forward(lay, h, self.params, rec, ctx, **kw)
            if hd.recurrent:
                changed = cache.get("changed")
            elif changed is not None and (hd.mixes_steps(lay, training) or not (lay.seq_in and lay.seq_out)):
                changed = (0, 1 << 62)  # an entry that mixes steps: every step may differ after it
            self.caches.append(cache)
            self.pres.append(pre)
            self.outs.append(out)
            rec[keys.out(lay.index)] = out
            h = out
        return h

    def backward(self, g, g_pre, grads: dict, rec: dict, final: dict | None = None, lean: str = "") -> np.ndarray:
        """dL/d(input). *final*: a gradient reaching the last entry's final states from outside. *lean*: the
        one-term pass of one direction ("fwd" or "bwd", `one_term_gradients`): recurrent entries record
        dL/dh_t alone, without weight gradients, and the first recurrent entry's lowest sub-layer (nothing
        recurrent below it needs its dL/d(input)) runs only that direction; dL/d(input) is then not whole."""
        n = len(self.layout)
        first = min((k for k in range(n) if self.handlers[k].recurrent), default=-1)
        for k in range(n - 1, -1, -1):
            lay = self.layout[k]
            rec[keys.grad(keys.out(lay.index))] = g
            kw = {"final": final} if (final is not None and k == n - 1) else {}
            if lean and self.handlers[k].recurrent:
                kw["lean"] = True
                if k == first and lay.part != "decoder":  # a decoder's hand-over reads every direction's dL/dh_0
                    kw["only"] = lean
            g = self.handlers[k].backward(lay, self.ins[k], self.pres[k], self.outs[k], self.caches[k], g,
                                          self.params, grads, rec, g_pre if k == n - 1 else None, **kw)
        return g


def record_weights(rec: dict, params: dict, grads: dict, buffers: dict | None) -> None:
    """Each parameter, its gradient and each buffer the run started from, under their trace keys."""
    for name, value in params.items():
        rec[keys.param(name)] = value
        rec[keys.grad_param(name)] = grads[name]
    for name, value in (buffers or {}).items():
        rec[keys.buffer(name)] = value


def one_term(g: np.ndarray, g_pre, s: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The loss gradient *g* (and its pre-activation form *g_pre*) kept only at each sample b's step s[b]: the
    one loss term a verdict follows back."""
    b = np.arange(g.shape[1])
    g1 = np.zeros_like(g)
    g1[s, b] = g[s, b]
    p1 = None
    if g_pre is not None:
        p1 = np.zeros_like(g_pre)
        p1[s, b] = g_pre[s, b]
    return g1, p1


def one_term_gradients(layout, g, g_pre, backward, lengths=None, carried=()) -> dict:
    """How the gradient of one loss term travels back, sample by sample: ||dL_s/dh_t|| of sample b at every
    step t of every recurrent place, (T, B), for s = the step where that place's BPTT starts for sample b:
    its own last step for a forward direction (in a batch of different lengths, *lengths*: each sample's,
    never a padded step), step 0 for a backward one. This is what vanishing and exploding mean; the total
    dL/dh_t also holds every later step's own loss.

    One more backward pass per direction, with only each sample's step-s term of dL/d(output) kept: the
    samples do not mix in a recurrence, so row b of that pass is sample b's own term's gradient. The pass
    is lean (Walk.backward's `lean`): the recurrent entries run their (dh, dc) recursion and record
    dL/dh_t only, without weight gradients, the split of dL/dh_t or per-step products.

    Returns key -> zero-argument function (`term_gradnorm` (T, B), `term_step` (B,)): the extra pass is
    paid only when a view or a save first reads a key, and then once for every place of that direction.
    Until then the functions keep the forward pass's caches alive. *carried*: more places, as (prefix, the
    keys of the gradients of the states it carries forward), whose norm is over those states together (a
    graph's recurrence nodes)."""
    places = [(keys.place_prefix(lay.index, j, d), d) for lay in layout if lay.recurrent
              for j in range(lay.num_layers) for d in lay.directions]
    state_keys = {prefix: ks for prefix, ks in carried}
    places += [(prefix, "fwd") for prefix in state_keys]
    T, B = g.shape[:2]
    last = np.full(B, T - 1) if lengths is None else np.asarray(lengths) - 1
    starts = {"fwd": last, "bwd": np.zeros(B, dtype=last.dtype)}
    out: dict = {}
    done: dict[str, dict[str, np.ndarray]] = {}

    def norms(direction: str, key: str) -> np.ndarray:
        if direction not in done:
            g1, p1 = one_term(g, g_pre, starts[direction])
            scratch: dict[str, np.ndarray] = {}
            backward(g1, p1, {}, scratch, lean=direction)
            done[direction] = {}
            for prefix, d in places:
                if d == direction:
                    dh = scratch[keys.grad(f"{prefix}.h")] if prefix not in state_keys else \
                        np.concatenate([scratch[k] for k in state_keys[prefix]], axis=-1)
                    done[direction][keys.diag(prefix, "term_gradnorm")] = row_norms(
                        dh.reshape(-1, dh.shape[-1])).reshape(dh.shape[:2])
        # kept, not popped: a trace copied with its derived keys (record's kept trace, Trace.save after it)
        # reads the same closure again; each is a (T, B) array
        return done[direction][key]

    for prefix, d in places:
        out[keys.diag(prefix, "term_gradnorm")] = partial(norms, d, keys.diag(prefix, "term_gradnorm"))
        out[keys.diag(prefix, "term_step")] = partial(np.array, starts[d], dtype=np.int64)
    return out
