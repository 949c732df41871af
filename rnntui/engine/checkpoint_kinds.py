"""Checkpointed runs of more kinds than a chain of per-step entries (engine/checkpoint.py's `Segments`).

- **Many-to-one** (`ReducedSegments`): a chain whose last recurrent entry hands on only its final state (the
  forward direction's at each sample's last step, the backward direction's at step 0), followed by entries
  without steps (a classifier). The entries up to that recurrent one run in segments as any chain does, the
  recurrent entry kept per step; the tail after it runs once, whole, from the final states the forward sweep
  found, with the loss; the gradient it sends back into those final states enters the segments' backward
  pass as the recurrent entry's gradient from outside at the step each state was made at
  (`Recurrent.backward`'s `cache["ext"]`). What is recorded is the whole run's, key for key.

`segments_for` picks the kind for a layout; `steps_part` says which layouts are covered, and why not.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from rnntui.engine import keys
from rnntui.engine.checkpoint import Segments
from rnntui.engine.context import RunContext
from rnntui.engine.entries.recurrent import final_steps, merge, unmerge
from rnntui.engine.losses import loss_and_grad
from rnntui.engine.walk import Walk


def reducer_at(layout: list) -> int | None:
    """Where the chain's steps end (many-to-one): the position of the recurrent entry that keeps only its final
    state; None when every entry keeps every step or when the steps end elsewhere."""
    for k, lay in enumerate(layout):
        if lay.seq_in and not lay.seq_out:
            return k if (lay.recurrent and lay.reduce_final) else None
    return None


def steps_part(layout: list) -> tuple[list, str | None]:
    """The entries a checkpointed run of *layout* runs in segments (a many-to-one's up to its last recurrent
    entry, kept per step), or why *layout* is recorded whole."""
    r = reducer_at(layout)
    if r is None:
        return layout, None
    if any(lay.seq_in or lay.seq_out for lay in layout[r + 1:]):
        return layout, f"entry {layout[r + 1].index} ({layout[r + 1].type}) reads steps after the last: recorded whole"
    return layout[:r] + [per_step(layout[r])], None


def per_step(lay):
    """A recurrent entry that keeps only its final state, as one keeping every step (what a segment runs)."""
    return replace(lay, seq_out=True, reduce_final=False)


def segments_for(layout: list, params: dict, x: np.ndarray, loss_kind: str, target, lengths=None,
                 initial: dict | None = None, S: int | None = None) -> Segments:
    """The segments of a checkpointed run of *layout*, of the kind it is."""
    if reducer_at(layout) is not None:
        return ReducedSegments(layout, params, x, loss_kind, target, lengths, initial, S)
    return Segments(layout, params, x, loss_kind, target, lengths, initial, S)


class NoTerms:
    """No one-term gradients: a run whose loss is not over the steps has none (network.run_network)."""

    out: dict = {}

    def step(self, k, walk, g, g_pre) -> None:
        pass


class ReducedSegments(Segments):
    """A many-to-one chain: the entries up to its last recurrent one in segments, the tail once (see the module)."""

    def __init__(self, layout: list, params: dict, x: np.ndarray, loss_kind: str, target, lengths=None,
                 initial: dict | None = None, S: int | None = None):
        r = reducer_at(layout)
        self.whole_layout, self.reducer, self.tail = list(layout), layout[r], list(layout[r + 1:])
        super().__init__(steps_part(layout)[0], params, x, loss_kind, None, lengths, initial, S)
        self.tail_target = target
        T, B, H = self.T, self.B, self.reducer.hidden_size
        self.last = final_steps(self.lengths, T, B)      # where each sample's forward final state is made
        top = self.reducer.num_layers - 1
        self.top = {d: f"{keys.place_prefix(self.reducer.index, top, d)}.h" for d in self.reducer.directions}
        self.finals = {d: np.zeros((B, H), dtype=self.dtype) for d in self.reducer.directions}
        # dL/d(final state) of each direction of the top sub-layer, from the tail (None until it ran)
        self.ext: dict[str, np.ndarray] | None = None
        self.tail_rec: dict = {}
        self.tail_grads: dict = {}
        self.tail_loss = None

    def term_pass(self, direction: str):
        return NoTerms()

    def _forward(self, k: int):
        walk, rec = super()._forward(k)
        a, b = self.bounds[k]
        here = np.flatnonzero((self.last >= a) & (self.last < b))
        self.finals["fwd"][here] = rec[self.top["fwd"]][self.last[here] - a, here]
        if "bwd" in self.finals and k == 0:
            self.finals["bwd"][...] = rec[self.top["bwd"]][0]
        del rec[keys.out(self.reducer.index)]     # its output is the final state only: the tail's record
        return walk, rec

    def _run_tail(self) -> None:
        """The entries after the steps end, whole, from the final states, with the loss and its gradient."""
        lay = self.reducer
        fwd, bwd = self.finals["fwd"], self.finals.get("bwd")
        out = merge(lay.merge, fwd, bwd)
        rec = {keys.out(lay.index): out}
        grads: dict = {}
        walk = Walk(self.tail, RunContext.chain(self.params, self.lengths))
        if self.tail:
            out = walk.forward(out, rec)
        last = self.whole_layout[-1]
        logits = walk.pres[-1] if (self.tail and self.loss_kind == "cross_entropy" and last.activation == "softmax") \
            else None
        loss, g, g_pre, _ = loss_and_grad(self.loss_kind, out, logits, self.tail_target, steps_first=False, real=None)
        g = walk.backward(g, g_pre, grads, rec) if self.tail else g
        rec[keys.grad(keys.out(lay.index))] = g
        gf, gb = unmerge(lay.merge, g, fwd, bwd)
        self.ext = {"fwd": gf} if bwd is None else {"fwd": gf, "bwd": gb}
        rec[keys.OUTPUT] = out
        self.tail_rec, self.tail_grads, self.tail_loss = rec, grads, np.asarray(loss, dtype=self.dtype)

    def _backward(self, k: int, walk, rec: dict, grads: dict):
        if self.ext is None:
            self._run_tail()
        a, b = self.bounds[k]
        H = self.reducer.hidden_size
        ext = {"fwd": np.zeros((b - a, self.B, H), dtype=self.dtype)}
        here = np.flatnonzero((self.last >= a) & (self.last < b))
        ext["fwd"][self.last[here] - a, here] = self.ext["fwd"][here]
        if "bwd" in self.ext:
            ext["bwd"] = np.zeros((b - a, self.B, H), dtype=self.dtype)
            if k == 0:
                ext["bwd"][0] = self.ext["bwd"]
        walk.caches[len(self.layout) - 1]["ext"] = ext
        finals = {i: {s: v[k] for s, v in st.items()} for i, st in self.gins.items()}
        rec[keys.GRAD_INPUT] = self._walk_backward(walk, None, None, grads, rec, finals)
        # the loss is the tail's: one segment's share, every other one's zero (their sum is the loss, exactly)
        loss = self.tail_loss if k == len(self.bounds) - 1 else np.zeros((), dtype=self.dtype)
        return loss, None, None

    def before_backward(self):
        if self.bidir:
            # the tail reads the backward direction's state at step 0 before any backward pass: its states
            # first, from the last segment down (the one recurrent entry's backward direction reads nothing
            # recurrent below it)
            for k in range(len(self.bounds) - 1, -1, -1):
                _, rec = self._forward(k)
                self._carry_states(k, rec, "bwd")
                yield

    def finish_sweep(self, result) -> None:
        result.arrays.update(self.tail_rec)
        result.grads.update(self.tail_grads)

    def extra_arrays(self) -> dict[str, np.ndarray]:
        return {keys.checkpoint_extra(f"final_grad.{d}"): v for d, v in self.ext.items()}

    def load_extra(self, arrays: dict) -> None:
        self.ext = {}
        for d in self.reducer.directions:
            v = arrays.get(keys.checkpoint_extra(f"final_grad.{d}"))
            if v is None or v.shape != (self.B, self.reducer.hidden_size) or v.dtype != self.dtype:
                raise ValueError(f"{keys.checkpoint_extra(f'final_grad.{d}')}: expected {self.dtype} "
                                 f"({self.B}, {self.reducer.hidden_size})")
            self.ext[d] = np.array(v)
