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

    def backward(self, g, g_pre, grads: dict, rec: dict, final: dict | None = None) -> np.ndarray:
        """dL/d(input). *final*: a gradient reaching the last entry's final states from outside."""
        n = len(self.layout)
        for k in range(n - 1, -1, -1):
            lay = self.layout[k]
            rec[keys.grad(keys.out(lay.index))] = g
            kw = {"final": final} if (final is not None and k == n - 1) else {}
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
        derived.update(one_term_gradients(layout, g, g_pre, walk.backward))
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


def one_term_gradients(layout, g, g_pre, backward) -> dict:
    """How the gradient of one step's loss term travels back: ||dL_s/dh_t|| at every step t of every
    recurrent place, for s = the step where that place's BPTT starts (the last step for a forward
    direction, step 0 for a backward one; in a batch of different lengths, only the samples that reach
    step s carry a term there, so the measure follows those samples). Each is one more backward pass with only step s's term
    of dL/d(output) kept. This is what vanishing and exploding mean; the total dL/dh_t also holds
    every later step's own loss.

    Returns key -> zero-argument function: the extra pass (as long as the run's own backward) is paid
    only when a view or a save first reads a key, and then once for every place of that direction. Until
    then the functions keep the forward pass's caches alive."""
    places = [(lay, keys.place_prefix(lay.index, j, d), d) for lay in layout if lay.recurrent
              for j in range(lay.num_layers) for d in lay.directions]
    out: dict = {}
    done: dict[str, dict[str, np.ndarray]] = {}

    def norms(direction: str, s: int, key: str) -> np.ndarray:
        if direction not in done:
            g1 = np.zeros_like(g)
            g1[s] = g[s]
            p1 = None
            if g_pre is not None:
                p1 = np.zeros_like(g_pre)
                p1[s] = g_pre[s]
            scratch: dict[str, np.ndarray] = {}
            backward(g1, p1, {}, scratch)
            done[direction] = {}
            for _, prefix, d in places:
                if d == direction:
                    dh = scratch[keys.grad(f"{prefix}.h")]
                    done[direction][keys.diag(prefix, "term_gradnorm")] = row_norms(dh)
        return done[direction].pop(key)

    for direction, s in (("fwd", g.shape[0] - 1), ("bwd", 0)):
        for _, prefix, d in places:
            if d == direction:
                out[keys.diag(prefix, "term_gradnorm")] = partial(norms, direction, s, keys.diag(prefix, "term_gradnorm"))
                out[keys.diag(prefix, "term_step")] = partial(np.asarray, s)
    return out
