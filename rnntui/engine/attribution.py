"""Backpropagate something other than the whole loss: one step's loss term, or one output (a class's score,
probability or log-probability at one step of one sample), through the recorded run.

    from rnntui.engine.attribution import Seed, backprop
    one = backprop(trace, Seed("loss", t=5))                  # dL_5/d(everything): step 5's loss term alone
    sal = backprop(trace, Seed("logp", t=3, sample=0, unit=2))  # d log p(class 2 at t=3, sample 0)/d(...)

The result is a Trace with the same forward arrays and every gradient key (`grad.*`, `gradnorm.step.*`, the
`diag.*` read from them) replaced by the gradient of the chosen quantity, so every backward view shows it;
`meta.seed` names what was differentiated (`Seed.words`). The forward pass is run again from the recorded
input and parameters (with the run's interventions, dropout masks and batch statistics) to rebuild the caches
the backward pass reads, then one backward pass is seeded at the output:

    loss t      dL/dout with every step but t zeroed (the loss is the sum of its step terms, `loss.step`)
    out k       1 at output unit k of step t and sample b (the output after the last entry's activation)
    logp k      log softmax(z)[k], z the logits (the last entry's pre-activation when it is a softmax, else the
                output): d/dz = onehot(k) - softmax(z)
    p k         softmax(z)[k]: d/dz = p_k (onehot(k) - p)
"""
from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import numpy as np

from rnntui.engine import keys, network
from rnntui.engine.context import RunContext
from rnntui.engine.families import fused
from rnntui.engine.activations import log_softmax
from rnntui.engine.losses import loss_and_grad
from rnntui.errors import RnntuiError

KINDS = ("loss", "out", "logp", "p")
META = keys.META_SEED
GRADIENT_PREFIXES = (keys.GRAD_PREFIX, keys.GRADNORM_PREFIX, keys.DIAG_PREFIX)


class SeedError(RnntuiError):
    """A quantity this run cannot backpropagate (the message says why and what it can)."""

    title = "backprop error"


@dataclass(frozen=True)
class Seed:
    """What the backward pass differentiates: `loss` (the step-t term of the loss, every sample's), or one
    output of one sample (`out`, `logp`, `p` of unit/class *unit* at step *t*). *t* is None for an output
    without steps (many-to-one, a CNN)."""

    kind: str
    t: int | None = None
    sample: int | None = None
    unit: int | None = None

    def words(self, class_names=None) -> str:
        """What was differentiated, as the screen says it (the `L` of every dL/d… shown)."""
        at = f" at t={self.t}" if self.t is not None else ""
        if self.kind == "loss":
            return f"the loss term of step {self.t} alone (L_{self.t}, every sample's)"
        name = ""
        if class_names and self.unit is not None and self.unit < len(class_names):
            name = f" ({class_names[self.unit]})"
        what = {"out": f"output unit {self.unit}{name}", "logp": f"log p(class {self.unit}{name})",
                "p": f"p(class {self.unit}{name})"}[self.kind]
        return f"{what}{at} of sample {self.sample}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Seed":
        return cls(**json.loads(text))


def seed_of(trace) -> Seed | None:
    """The Seed a trace's gradients are of, or None: the whole loss's."""
    return Seed.from_json(str(trace[META])) if META in trace else None


def _supported(info) -> None:
    if any(e.part for e in info.entries):
        raise SeedError("choosing what to backpropagate works on whole-sequence models; this run is an "
                        "encoder-decoder")
    if info.feed == "output":
        raise SeedError("choosing what to backpropagate works on whole-sequence models; this run is a "
                        "generator (feed: output)")


def check(seed: Seed, info, out_shape: tuple[int, ...], stepped: bool, has_logits: bool) -> None:
    """Raise SeedError if *seed* names nothing of this run's output (*out_shape*: (T, B, F) or (B, F))."""
    if seed.kind not in KINDS:
        raise SeedError(f"found {seed.kind!r}; expected one of {', '.join(KINDS)}")
    T = out_shape[0] if stepped else None
    F = int(np.prod(out_shape[2:] if stepped else out_shape[1:]))
    if seed.kind == "loss":
        if not stepped:
            raise SeedError("this run's loss is one term (its output has no steps): backpropagating the loss "
                            "is what the run already shows")
        if seed.t is None or not 0 <= seed.t < T:
            raise SeedError(f"found step {seed.t}; the output has steps 0..{T - 1}")
        return
    if stepped and (seed.t is None or not 0 <= seed.t < T):
        raise SeedError(f"found step {seed.t}; the output has steps 0..{T - 1}")
    if not stepped and seed.t is not None:
        raise SeedError(f"found step {seed.t}; this run's output has no steps (one per sample)")
    if seed.sample is None or not 0 <= seed.sample < info.B:
        raise SeedError(f"found sample {seed.sample}; the batch has samples 0..{info.B - 1}")
    if info.lengths is not None and stepped and seed.t >= info.lengths[seed.sample]:
        raise SeedError(f"step {seed.t} of sample {seed.sample} is padding (its length is "
                        f"{info.lengths[seed.sample]}): it has no output")
    if seed.unit is None or not 0 <= seed.unit < F:
        raise SeedError(f"found {'class' if seed.kind != 'out' else 'unit'} {seed.unit}; the output has "
                        f"0..{F - 1}")
    if seed.kind in ("logp", "p") and not has_logits:
        raise SeedError(f"{seed.kind} needs a distribution over classes (a cross_entropy loss or a final "
                        f"softmax); this run's loss is {info.loss}: use out {seed.unit}")


def _output_gradients(seed: Seed, loss_kind: str, out, logits, target, stepped: bool, real):
    """(d seed/d out, d seed/d logits or None) as arrays shaped like *out* (and *logits*)."""
    if seed.kind == "loss":
        _, g, g_pre, _ = loss_and_grad(loss_kind, out, logits, target, steps_first=stepped, real=real)
        keep = np.zeros(out.shape[0], dtype=bool)
        keep[seed.t] = True
        shape = (-1,) + (1,) * (out.ndim - 1)
        g = np.where(keep.reshape(shape), g, 0).astype(out.dtype)
        if g_pre is not None:
            g_pre = np.where(keep.reshape(shape), g_pre, 0).astype(out.dtype)
        return g, g_pre
    at = (seed.t, seed.sample) if stepped else (seed.sample,)
    k = seed.unit
    g = np.zeros_like(out)
    if seed.kind == "out":
        flat = g[at].reshape(-1)  # one sample's output (at one step), however it is shaped
        flat[k] = 1.0
        g[at] = flat.reshape(g[at].shape)
        return g, None
    z = (logits if logits is not None else out)[at]
    p = np.exp(log_softmax(z))
    onehot = np.zeros_like(z)
    onehot[k] = 1.0
    dz = onehot - p if seed.kind == "logp" else p[k] * (onehot - p)
    if logits is None:          # the output is the logits
        g[at] = dz
        return g, None
    g_pre = np.zeros_like(logits)
    g_pre[at] = dz
    # the output is p = softmax(z): d log p_k/dp = onehot/p_k, d p_k/dp = onehot
    with np.errstate(divide="ignore", invalid="ignore"):
        g[at] = onehot / out[at][k] if seed.kind == "logp" else onehot
    return g, g_pre


def backprop(trace, seed: Seed):
    """A new Trace: *trace*'s forward pass with every gradient that of *seed* (module docstring)."""
    from rnntui.engine.diagnostics import derived_keys
    from rnntui.engine.interventions import recorded
    from rnntui.engine.trace import Trace
    from rnntui.engine.whatif import Plan, _inputs, refuse_over_the_limit

    info = trace.info
    _supported(info)
    base = trace.whole if hasattr(trace, "whole") else trace
    refuse_over_the_limit(base, "tracing back another quantity (o)")
    held = getattr(base, "big", {})   # a checkpointed run within the limit: its recomputed arrays, read whole below
    layout = list(info.entries)
    last = layout[-1]
    stepped = bool(info.seq and last.seq_out)
    has_logits = info.loss == "cross_entropy" or last.activation == "softmax"
    out_shape = held[keys.OUTPUT][0] if keys.OUTPUT in held else base[keys.OUTPUT].shape
    check(seed, info, tuple(out_shape), stepped, has_logits)
    x, params, target, lengths, initial = _inputs(base)
    buffers = {n: np.asarray(base[keys.buffer(n)]) for e in info.entries for n in e.buffers}
    masks = {k: np.asarray(base[k]) for k in base if keys.is_dropout_mask(k)} or None
    items = recorded(base)
    plan = Plan(items, layout) if items else None
    rec: dict[str, np.ndarray] = {}
    training = keys.META_TRAINING in base   # a training iteration's record: on the path its replay took (families/fused)
    with np.errstate(all="ignore"), (fused.replay() if training else nullcontext()):
        walk = network.Walk(layout, RunContext.chain(params, lengths, initial=initial, plan=plan, masks=masks,
                                                     buffers=buffers, training=training))
        walk.forward(x, rec)
        out = walk.outs[-1]
        softmax_last = last.activation == "softmax"
        logits = walk.pres[-1] if softmax_last and (info.loss == "cross_entropy" or seed.kind in ("logp", "p")) \
            else None
        real = None if (lengths is None or not stepped) else np.arange(out.shape[0])[:, None] < lengths[None, :]
        g, g_pre = _output_gradients(seed, info.loss, out, logits, target, stepped, real)
        grads: dict[str, np.ndarray] = {}
        rec[keys.GRAD_INPUT] = walk.backward(g, g_pre, grads, rec)
        network.record_weights(rec, params, grads, None)
    arrays = {k: base[k] for k in base if (base.is_computed(k) or k in held) and not k.startswith(GRADIENT_PREFIXES)}
    arrays.update({k: v for k, v in rec.items() if k.startswith(GRADIENT_PREFIXES)})
    arrays[META] = np.asarray(seed.to_json())
    derived = derived_keys(info, arrays, params)
    for k in list(derived):  # what the forward pass alone decides is the original's (kept when computed)
        if k.endswith(".jacnorm") or ".sat." in k:
            derived[k] = (lambda key: lambda: base[key])(k)
    return Trace(arrays, info, derived)


__all__ = ["KINDS", "META", "Seed", "SeedError", "backprop", "check", "seed_of"]
