"""Generation (`mode: one-to-many` with `feed: output`): each step's output is the next step's input.

The whole-sequence path (network.py) cannot run a generator: step t's input is only known once step
t-1 has run through every entry. So the network runs one step at a time here, every entry on a (1, B, ...)
slice, the recurrent entries starting from the states the previous step ended in (`state0=`), and the
step's output becomes the next input:

* continuous feedback: x_{t+1} = y_t (the last entry's output has the input's features);
* arg-max feedback (the first entry is an `embedding`): x_{t+1} = argmax_k y_t[k], an id. The choice is
  not differentiable: no gradient passes through it, as in PyTorch (`argmax` has no grad_fn).

Backward runs the steps in reverse. Step t's output gradient is its own loss term plus (continuous
feedback) dL/dx_{t+1}, what step t+1's backward returned for its input; its recurrent entries' final
states receive dL/d(initial states) of step t+1 (`final=`, read back from `cache["dstate0"]`). The
per-step records are then joined along the step axis under the keys a whole-sequence run records, so
every view, report and diagnostic reads a generated trace as any other. What the split of dL/dh_t
means here: `h.from_output` is what came down from the entry's output at step t, and that output now
reaches the loss twice, through its own term and through the next step's input; `h.through_time` is
the recurrent path h_t -> h_{t+1} only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnntui.engine import activations as act
from rnntui.engine import keys
from rnntui.engine.context import RunContext
from rnntui.engine.handlers import handler
from rnntui.engine.layout import EntryInfo
from rnntui.engine.losses import loss_and_grad, sample_step_losses
from rnntui.engine.walk import one_term_gradients, record_weights


@dataclass
class Step:
    """What one step's forward pass left for its backward pass."""

    ins: list
    pres: list
    outs: list
    caches: list
    rec: dict


def feeds_ids(layout: list[EntryInfo]) -> bool:
    """Arg-max feedback: the first entry looks ids up, so the next input is the chosen id."""
    return handler(layout[0].type).reads_ids


def final_states(lay: EntryInfo, cache: dict) -> dict[str, np.ndarray]:
    """A recurrent entry's states after its one step, laid out as PyTorch's (h_n, c_n): (layers * dirs, B, H).
    Generation is causal (bidirectional entries are refused), so the step's only index is the last."""
    runs = cache["runs"]
    return {s: np.stack([runs[j][d].record[s][-1] for j in range(lay.num_layers) for d in lay.directions])
            for s in lay.family.states}


def next_input(y: np.ndarray, ids: bool, dtype) -> np.ndarray:
    """What step t+1 reads: y_t itself, or its arg-max id as a (1, B, 1) float (the engine's id layout)."""
    if not ids:
        return y
    return np.argmax(y, axis=-1)[..., None].astype(dtype)


def _state_keys(layout: list[EntryInfo]) -> set[str]:
    """The per-place keys of initial states (`.h0`, `.c0`) and their gradients: one per run, not per step."""
    out = set()
    for lay in layout:
        if lay.recurrent:
            for j in range(lay.num_layers):
                for d in lay.directions:
                    for s in lay.family.states:
                        k = f"{keys.place_prefix(lay.index, j, d)}.{s}0"
                        out.update((k, keys.grad(k)))
        elif handler(lay.type).has_buffers:   # batchnorm's statistics: the running ones, the same at every step
            from rnntui.engine.entries.batchnorm import stat_keys

            out.update(v for n, v in stat_keys(lay.index).items() if n != "xhat")
    return out


def _join(recs: list[dict], state_keys: set[str], into: dict) -> None:
    """Per-step records -> whole-run arrays: a step-axis key is concatenated over the steps; an initial
    state (and its gradient) is step 0's, the state the run started from."""
    for k in recs[0]:
        if k in state_keys:
            into[k] = recs[0][k]
        else:
            into[k] = np.concatenate([r[k] for r in recs], axis=0)


def run_generation(layout: list[EntryInfo], x: np.ndarray, ctx: RunContext, loss_kind: str, target,
                   derived: dict | None = None) -> dict[str, np.ndarray]:
    """Forward, loss and backward of a generator; returns the trace's arrays like `network.run_network`,
    with `input` (what each step read) among them. *x*: (T, B, D), of which only step 0 is read. *ctx*: the
    parameters, the initial states and the buffers (a generator runs no what-if and no training iteration)."""
    params, buffers = ctx.params, ctx.buffers
    T = x.shape[0]
    handlers = [handler(lay.type) for lay in layout]
    ids = feeds_ids(layout)
    states = dict(ctx.initial)
    steps: list[Step] = []
    fed = [x[:1]]
    # never training (a generator's entries see one step at a time: batchnorm reads its running statistics);
    # each step starts a recurrent entry from its own states after the step before (*states*, updated below)
    ctx = RunContext(params, buffers=buffers, initial=states)
    for t in range(T):
        step = Step([], [], [], [], {})
        h = fed[t]
        for lay, hd in zip(layout, handlers):
            step.ins.append(h)
            pre, out, cache = hd.forward(lay, h, params, step.rec, ctx)
            step.pres.append(pre)
            step.outs.append(out)
            step.caches.append(cache)
            step.rec[keys.out(lay.index)] = out
            if lay.recurrent:
                states[lay.index] = final_states(lay, cache)
            h = out
        steps.append(step)
        if t + 1 < T:
            fed.append(next_input(h, ids, x.dtype))

    state_keys = _state_keys(layout)
    rec: dict[str, np.ndarray] = {}
    _join([s.rec for s in steps], state_keys, rec)
    out_all = rec[keys.out(layout[-1].index)]
    last = layout[-1]
    logits = rec[keys.pre(last.index)] if (loss_kind == "cross_entropy" and last.activation == "softmax") else None
    loss, g, g_pre, step_loss = loss_and_grad(loss_kind, out_all, logits, target, steps_first=True)

    def backward(g, g_pre, grads, rec, lean=""):
        """BPTT through the steps and the feedback; fills *grads* and *rec*, returns dL/d(each step's input).
        *lean*: the one-term pass (network.one_term_gradients): recurrent entries without weight gradients."""
        fb = None                 # dL/dx_{t+1}, reaching y_t through the feedback (continuous only)
        at_end: dict = {}         # entry index -> dL/d(its final states at step t), from step t+1
        recs: list = [None] * T
        dx: list = [None] * T
        n = len(layout)
        for t in range(T - 1, -1, -1):
            s = steps[t]
            r: dict = {}
            gk = g[t:t + 1] if fb is None else g[t:t + 1] + fb
            gp = None if g_pre is None else g_pre[t:t + 1]
            if gp is not None and fb is not None:
                # the loss's shortcut through a final softmax covers its own term; the fed-back term goes
                # through the softmax's Jacobian
                gp = gp + act.backward(last.activation, s.pres[-1], s.outs[-1], fb)
            step_grads: dict = {}
            for k in range(n - 1, -1, -1):
                lay = layout[k]
                r[keys.grad(keys.out(lay.index))] = gk
                extra = {"final": at_end[lay.index]} if lay.recurrent and lay.index in at_end else {}
                if lean and lay.recurrent:
                    extra["lean"] = True
                gk = handlers[k].backward(lay, s.ins[k], s.pres[k], s.outs[k], s.caches[k], gk, params, step_grads,
                                          r, gp if k == n - 1 else None, **extra)
                if lay.recurrent:
                    at_end[lay.index] = s.caches[k]["dstate0"]
            for name, v in step_grads.items():
                grads[name] = v if name not in grads else grads[name] + v
            fb = None if ids else gk
            dx[t] = gk
            recs[t] = r
        _join(recs, state_keys, rec)
        return np.concatenate(dx, axis=0)

    grads: dict[str, np.ndarray] = {}
    rec[keys.GRAD_INPUT] = backward(g, g_pre, grads, rec)
    if derived is not None:
        derived.update(one_term_gradients(layout, g, g_pre, backward))
    rec[keys.INPUT] = np.concatenate(fed, axis=0)
    rec[keys.OUTPUT] = out_all
    rec[keys.LOSS] = np.asarray(loss, dtype=x.dtype)
    rec[keys.STEP_LOSS] = np.asarray(step_loss, dtype=x.dtype)
    rec[keys.SAMPLE_STEP_LOSS] = np.asarray(sample_step_losses(loss_kind, out_all, logits, target), dtype=x.dtype)
    record_weights(rec, params, grads, buffers)
    return rec


def generated_tokens(ids: np.ndarray, batch: bool, vocab) -> tuple[np.ndarray, np.ndarray]:
    """The tokens an arg-max generator read, (T,) or (T, B) as the scenario's token input was laid out:
    their text (the vocabulary's word, else the id written out) and their ids."""
    ids = ids[..., 0].astype(np.int64)
    if not batch:
        ids = ids[:, 0]
    text = np.asarray(vocab, dtype=str)[ids] if vocab is not None else ids.astype(str)
    return text, ids
