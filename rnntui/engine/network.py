"""Run a chain: forward through every entry, the loss, then backward (BPTT) through all, with the walk that
fits it: `walk.Walk` over one sequence, `seq2seq.EncoderDecoder` (two walks joined by the hand-over), or
`generate.run_generation` (a generator, one step at a time). Each entry's handler (rnntui/engine/entries/)
runs and records itself; everything computed is recorded under the keys of docs/trace-format.md, built in
`keys.py`. `Walk`, `one_term_gradients` and `record_weights` live in engine/walk.py, below the three.
"""
from __future__ import annotations

import numpy as np

from rnntui.engine import keys
from rnntui.engine.context import CHAIN_INPUT, RunContext
from rnntui.engine.generate import run_generation
from rnntui.engine.layout import EntryInfo
from rnntui.engine.losses import loss_and_grad, sample_step_losses
from rnntui.engine.seq2seq import EncoderDecoder
from rnntui.engine.walk import Walk, one_term_gradients, record_weights

__all__ = ["Walk", "one_term_gradients", "record_weights", "run_network"]


def run_network(layout: list[EntryInfo], x: np.ndarray, ctx: RunContext, loss_kind: str, target, seq: bool = True,
                derived: dict | None = None, decoder_x: np.ndarray | None = None,
                feed: str = "zeros") -> dict[str, np.ndarray]:
    """Forward, loss and backward; returns the trace's arrays (not yet read-only).

    *ctx*: what the run needs (RunContext.chain): the parameters, each sample's own length (PyTorch's packed
    sequences), the initial states (PyTorch's h_0, c_0), the interventions of a what-if (whole-sequence runs
    only), a training iteration's dropout masks, the buffers (state that is no parameter, recorded as
    `buffer.{name}`) and whether it is a training iteration (batchnorm's batch statistics).
    With *derived* (a dict), the one-term gradients the verdict measures go into it as functions that
    compute them when first read (see `one_term_gradients`). *decoder_x*: an encoder-decoder's decoder
    input (see seq2seq.py); x is then the encoder's. *feed* "output": a generator, each step's output fed
    back as the next input (see generate.py)."""
    params, buffers = ctx.params, ctx.buffers
    lengths = ctx.lengths.get(CHAIN_INPUT)
    if feed == "output":
        return run_generation(layout, x, ctx, loss_kind, target, derived=derived)
    rec: dict[str, np.ndarray] = {}
    if decoder_x is None:
        walk = Walk(layout, ctx)
        walk.forward(x, rec)
    else:
        walk = EncoderDecoder(layout, ctx)
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
