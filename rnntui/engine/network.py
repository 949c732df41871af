"""Run a scenario: forward through every entry, the loss, then backward (BPTT) through all.

Each entry's handler (rnntui/engine/entries/) runs and records itself; this module only walks them.
Everything computed is recorded under the keys of docs/trace-format.md, built in `keys.py`.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from rnntui.engine import keys
from rnntui.engine.context import RunContext
from rnntui.engine.layout import EntryInfo
from rnntui.engine.diagnostics import row_norms
from rnntui.engine.losses import loss_and_grad, sample_step_losses


class Walk:
    """Entries run forward one after another, each recording itself; backward runs them in reverse."""

    def __init__(self, layout: list[EntryInfo], params: dict, lengths=None, initial: dict | None = None, plan=None,
                 masks: dict | None = None, buffers: dict | None = None, training: bool = False):
        """*plan*: interventions, and the recorded run to resume from (engine/whatif.py), or None.
        *buffers*: the entries' state that is no parameter (batchnorm's running statistics); *training*:
        a training iteration (batchnorm uses the batch's statistics)."""
        self.layout, self.params, self.lengths = layout, params, lengths
        self.ctx = RunContext(params, training=training, buffers=buffers or {}, masks=masks, plan=plan,
                              initial=initial or {})
        self.plan = plan
        self.handlers = [lay.handler for lay in layout]
        self.caches, self.ins, self.pres, self.outs = [], [], [], []

    def forward(self, x: np.ndarray, rec: dict, start: dict | None = None) -> np.ndarray:
        """*start*: entry index -> initial states, besides the scenario's (a decoder's hand-over)."""
        h = x
        changed = None  # the steps of h that differ from the recorded run a plan resumes from
        training = self.ctx.training
        for lay, hd in zip(self.layout, self.handlers):
            self.ins.append(h)
            kw = self.ctx.module_kwargs(hd, lay, start)
            if self.plan is not None and hd.recurrent:
                kw.update(plan=self.plan, changed=changed)
            pre, out, cache = hd.forward(lay, h, self.params, rec, self.lengths if hd.takes_lengths else None, **kw)
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


def run_network(layout: list[EntryInfo], x: np.ndarray, params: dict[str, np.ndarray],
                loss_kind: str, target, seq: bool = True, derived: dict | None = None,
                lengths: np.ndarray | None = None, initial: dict | None = None,
                decoder_x: np.ndarray | None = None, feed: str = "zeros", plan=None,
                masks: dict | None = None, buffers: dict | None = None,
                training: bool = False) -> dict[str, np.ndarray]:
    """Forward, loss and backward; returns the trace's arrays (not yet read-only).

    With *derived* (a dict), the one-term gradients the verdict measures go into it as functions that
    compute them when first read (see `one_term_gradients`). *lengths* (B,): each sample's own length,
    for a batch of sequences of different lengths (PyTorch's packed sequences; None: all T). *initial*:
    entry index -> its initial states ({"h": (layers * directions, B, H)[, "c": ...]}, PyTorch's h_0, c_0).
    *decoder_x*: an encoder-decoder's decoder input (see seq2seq.py); x is then the encoder's.
    *feed* "output": a generator, each step's output fed back as the next input (see generate.py).
    *plan*: interventions (engine/whatif.py), whole-sequence runs only. *buffers*: state that is no parameter
    (recorded as `buffer.{name}`); *training*: a training iteration's forward (batchnorm's batch statistics)."""
    if feed == "output":
        from rnntui.engine.generate import run_generation

        return run_generation(layout, x, params, loss_kind, target, derived=derived, initial=initial,
                              buffers=buffers)
    rec: dict[str, np.ndarray] = {}
    if decoder_x is None:
        walk = Walk(layout, params, lengths, initial, plan, masks, buffers, training)
        walk.forward(x, rec)
    else:
        from rnntui.engine.seq2seq import EncoderDecoder

        walk = EncoderDecoder(layout, params, initial, lengths, buffers=buffers, training=training)
        walk.forward(x, decoder_x, rec)
        lengths = None  # the output (the decoder's) has every step
    out, last = walk.outs[-1], layout[-1]
    logits = walk.pres[-1] if (loss_kind == "cross_entropy" and last.activation == "softmax") else None
    per_step = seq and last.seq_out
    real = None if (lengths is None or not per_step) else np.arange(out.shape[0])[:, None] < lengths[None, :]
    loss, g, g_pre, step_loss = loss_and_grad(loss_kind, out, logits, target, steps_first=per_step, real=real)

    grads: dict[str, np.ndarray] = {}
    rec[keys.GRAD_INPUT] = walk.backward(g, g_pre, grads, rec)
    if per_step and derived is not None:
        derived.update(one_term_gradients(layout, g, g_pre, walk.backward, None if real is None else lengths))
    rec[keys.OUTPUT] = out
    rec[keys.LOSS] = np.asarray(loss, dtype=x.dtype)
    if step_loss is not None:
        rec[keys.STEP_LOSS] = np.asarray(step_loss, dtype=x.dtype)
        rec[keys.SAMPLE_STEP_LOSS] = np.asarray(sample_step_losses(loss_kind, out, logits, target, real), dtype=x.dtype)
    record_weights(rec, params, grads, buffers)
    return rec


def record_weights(rec: dict, params: dict, grads: dict, buffers: dict | None) -> None:
    """Each parameter, its gradient and each buffer the run started from, under their trace keys."""
    for name, value in params.items():
        rec[keys.param(name)] = value
        rec[keys.grad_param(name)] = grads[name]
    for name, value in (buffers or {}).items():
        rec[keys.buffer(name)] = value


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
            s, b = starts[direction], np.arange(B)
            g1 = np.zeros_like(g)
            g1[s, b] = g[s, b]
            p1 = None
            if g_pre is not None:
                p1 = np.zeros_like(g_pre)
                p1[s, b] = g_pre[s, b]
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
