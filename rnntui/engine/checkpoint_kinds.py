"""Checkpointed runs of more kinds than a chain of per-step entries (engine/checkpoint.py's `Segments`).

- **Many-to-one** (`ReducedSegments`): a chain whose last recurrent entry hands on only its final state (the
  forward direction's at each sample's last step, the backward direction's at step 0), followed by entries
  without steps (a classifier). The entries up to that recurrent one run in segments as any chain does, the
  recurrent entry kept per step; the tail after it runs once, whole, from the final states the forward sweep
  found, with the loss; the gradient it sends back into those final states enters the segments' backward
  pass as the recurrent entry's gradient from outside at the step each state was made at
  (`Recurrent.backward`'s `cache["ext"]`).
- **Encoder-decoder** (`EncoderDecoderSegments`): the encoder in segments; the decoder once, whole, from the
  hand-over, with the loss; its gradient into the hand-over enters the encoder's last entry at each sample's
  last step (step 0 backward), in the backward sweep and in the verdicts' one-term passes (`HandoverTermPass`).
- **Graph models** (`GraphSegments`): every node per step, the rnn, lstm and gru nodes and the recurrence nodes
  (custom cells whose steps read only x and their states) carrying their states and gradients from segment to
  segment, the recurrences' one-term gradients in the sweep's lean passes too (`GraphTermPass`); `why_whole_graph`
  says which graphs.
- **Training runs**: each iteration is one of the runs above (engine/train.py's `CheckpointedTrainTrace`); a saved
  one reopens as `SavedCheckpointedTrainTrace`.

What is recorded is the whole run's, key for key, bit for bit (tests/engine/test_checkpoint_kinds.py).

Each kind is shown before its sweep is done (run.SweepingRun.preview, a `SweepingTrace`) as a chain is: its segments'
forward pass as the forward sweep goes; a many-to-one's tail and an encoder-decoder's decoder run in one piece of
the sweep of their own (`before_backward`, counted in `SweepProgress.own`), after the forward sweep (and a
bidirectional entry's backward direction's states), and what they record (`tail_record`, the loss with it) is
shown from then on; until then their keys (`tail_of`) raise NotReady, also when asked whether the run has them.
Only the sweep writes the final states they read (`_carry_states`): a segment recomputed for a view never does.
`segments_for` picks the kind for a layout; `steps_part` says which layouts are covered, and why not.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from rnntui.engine import keys
from rnntui.engine.checkpoint import CheckpointedTrace, Segments, TermPass, summed_loss
from rnntui.engine.context import RunContext
from rnntui.engine.entries.recurrent import final_steps, merge, unmerge
from rnntui.engine.diagnostics import row_norms, saturation
from rnntui.engine.graph import GraphWalk, is_graph
from rnntui.engine.graph_diag import carries, gates, state_grad, state_names
from rnntui.engine.ops.recurrence import state_key
from rnntui.engine.handlers import handler
from rnntui.engine.losses import loss_and_grad, sample_step_losses
from rnntui.engine.seq2seq import split
from rnntui.engine.trace_file import SavedTrainTrace
from rnntui.engine.walk import Walk, one_term


def reducer_at(layout: list) -> int | None:
    """Where the chain's steps end (many-to-one): the position of the recurrent entry that keeps only its final
    state; None when every entry keeps every step or when the steps end elsewhere."""
    for k, lay in enumerate(layout):
        if lay.seq_in and not lay.seq_out:
            return k if (lay.recurrent and lay.reduce_final) else None
    return None


def steps_part(layout: list) -> tuple[list, str | None]:
    """The entries a checkpointed run of *layout* runs in segments (a many-to-one's up to its last recurrent
    entry, kept per step; an encoder-decoder's encoder; a graph's every node), or why *layout* is recorded whole."""
    for lay in layout:
        if handler(lay.type).has_buffers:
            return layout, (f"entry {lay.index} ({lay.type}) records its running statistics, which have no steps: "
                            "recorded whole")
    if is_graph(layout):
        if any(carries(lay) for lay in layout) and any(lay.recurrent and len(lay.directions) == 2 for lay in layout):
            return layout, ("a graph with a recurrence and a bidirectional node is recorded whole (the sweep carries "
                            "a bidirectional node's gradients between segments in the order opposite to a "
                            "recurrence's)")
        for lay in layout:
            if carries(lay):
                why = _why_whole_recurrence(lay)
                if why is not None:
                    return layout, (f"node {lay.name} is a recurrence {why}: recorded whole (checkpointing covers a "
                                    "recurrence whose steps read only its input and its states)")
        if len({lay.steps for lay in layout}) > 1:
            return layout, "a graph whose nodes run over different numbers of steps is recorded whole"
        return layout, None
    if any(lay.part == "decoder" for lay in layout):
        return layout[:split(layout)], None
    r = reducer_at(layout)
    if r is None:
        return layout, None
    if any(lay.seq_in or lay.seq_out for lay in layout[r + 1:]):
        return layout, f"entry {layout[r + 1].index} ({layout[r + 1].type}) reads steps after the last: recorded whole"
    return layout[:r] + [per_step(layout[r])], None


def _why_whole_recurrence(lay) -> str | None:
    """Why a graph's recurrence node cannot run in segments (None: it can, `GraphSegments`): a step that reads
    another node's whole sequence (attention over an encoder) would read only its segment's part; a state that
    starts from a node's value, or a value fed back as the next step's x, is not carried between segments."""
    conf = lay.config
    if conf.get("start"):
        return "whose states start from a node's value (" + ", ".join(f"{s} from {src}" for s, src in
                                                                conf["start"].items()) + ")"
    if conf.get("outer"):
        return f"whose step graph reads other nodes ({', '.join(conf['outer'])})"
    if conf.get("feed") is not None:
        return "that feeds a value back as the next step's x"
    return None


def per_step(lay):
    """A recurrent entry that keeps only its final state, as one keeping every step (what a segment runs)."""
    return replace(lay, seq_out=True, reduce_final=False)


def segments_for(layout: list, params: dict, x: np.ndarray, loss_kind: str, target, lengths=None,
                 initial: dict | None = None, S: int | None = None, decoder_x: np.ndarray | None = None,
                 buffers: dict | None = None, inputs: dict | None = None, input_lengths: dict | None = None
                 ) -> Segments:
    """The segments of a checkpointed run of *layout*, of the kind it is (*decoder_x*: an encoder-decoder's;
    *inputs*, *input_lengths*: a graph's, by name; *buffers*: as the run reads them)."""
    if inputs is not None:
        segs: Segments = GraphSegments(layout, params, inputs, loss_kind, target, input_lengths or {}, initial, S)
    elif decoder_x is not None:
        segs = EncoderDecoderSegments(layout, params, x, loss_kind, target, lengths, initial, S, decoder_x)
    elif reducer_at(layout) is not None:
        segs = ReducedSegments(layout, params, x, loss_kind, target, lengths, initial, S)
    else:
        segs = Segments(layout, params, x, loss_kind, target, lengths, initial, S)
    segs.buffers = dict(buffers or {})
    return segs


def backward_states_first(segs: Segments):
    """A bidirectional run's backward direction's states, from the last segment down, before any backward pass:
    what runs after the segments (a many-to-one's tail, a decoder) reads that direction's state at step 0 and its
    gradient enters the segments' backward passes (the one recurrent entry's backward direction reads nothing
    recurrent below it). A yield after each segment (`Sweep`)."""
    if segs.bidir:
        for k in range(len(segs.bounds) - 1, -1, -1):
            _, rec = segs._forward(k)
            segs._carry_states(k, rec, "bwd")
            yield


class PassAfterForward:
    """A kind whose own pass (`before_backward`) runs once the forward sweep is done, in one piece, after (in a
    bidirectional run) a piece a segment finding the backward direction's states (`backward_states_first`).
    `own_part`: what that pass runs, what the first pieces find, and when it runs, in words."""

    own_part: tuple[str, str, str]

    @property
    def own_pieces(self) -> int:
        return self.own_states + 1

    @property
    def own_states(self) -> int:
        return len(self.bounds) if self.bidir else 0

    @property
    def own_what(self) -> str:
        part, states, when = self.own_part
        return (f"{states}, then " if self.bidir else "") + f"{part}, {when}"

    @property
    def own_label(self) -> str:
        part, states, _ = self.own_part
        return (f"{states}, then " if self.bidir else "") + part

    def tail_record(self) -> dict[str, np.ndarray]:
        """What the own pass recorded (`tail_rec`), with the loss: the segments' shares are zeros, its own last."""
        K = len(self.bounds)
        return {**self.tail_rec, keys.LOSS: summed_loss([np.zeros((), dtype=self.dtype)] * (K - 1) + [self.tail_loss],
                                                        self.dtype)}


def records_of(key: str, entries) -> bool:
    """Whether *key* is one of *entries*' arrays or their gradients."""
    return any(key.startswith((keys.entry_prefix(lay.index) + ".", keys.grad(keys.entry_prefix(lay.index)) + "."))
               for lay in entries)


class NoTerms:
    """No one-term gradients: a run whose loss is not over the steps has none (network.run_network)."""

    out: dict = {}

    def step(self, k, walk, g, g_pre) -> None:
        pass


class ReducedSegments(PassAfterForward, Segments):
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
        del rec[keys.out(self.reducer.index)]     # its output is the final state only: the tail's record
        return walk, rec

    def _carry_states(self, k: int, rec: dict, direction: str) -> None:
        """A chain's, and the final states the tail reads: each sample's forward one at its last step, the backward
        direction's at step 0 (only the sweep writes them: a segment recomputed for a view never does)."""
        super()._carry_states(k, rec, direction)
        a, b = self.bounds[k]
        if direction == "fwd":
            here = np.flatnonzero((self.last >= a) & (self.last < b))
            self.finals["fwd"][here] = rec[self.top["fwd"]][self.last[here] - a, here]
        elif k == 0 and "bwd" in self.finals:
            self.finals["bwd"][...] = rec[self.top["bwd"]][0]

    own_part = ("the head after the last step", "the backward direction's states",
                "which runs once the forward sweep has been through every step")

    def tail_of(self, key: str) -> bool:
        """The head's record: the reducer's output (its final state), the entries after it, the output and loss."""
        return key in (keys.OUTPUT, keys.LOSS, keys.out(self.reducer.index), keys.grad(keys.out(self.reducer.index))) \
            or records_of(key, self.tail)

    def _run_tail(self) -> None:
        """The entries after the steps end, whole, from the final states, with the loss and its gradient."""
        lay = self.reducer
        fwd, bwd = self.finals["fwd"], self.finals.get("bwd")
        out = merge(lay.merge, fwd, bwd)
        rec = {keys.out(lay.index): out}
        grads: dict = {}
        walk = Walk(self.tail, RunContext.chain(self.params, self.lengths, buffers=self.buffers))
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
        """A bidirectional reducer's backward direction's states (`backward_states_first`), then the head, once."""
        yield from backward_states_first(self)
        self._run_tail()
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


class EncoderDecoderSegments(PassAfterForward, Segments):
    """An encoder-decoder (engine/seq2seq.py): the encoder, the long part, in segments; the decoder once, whole,
    from the encoder's final states (its hand-over), with the loss. Backward, the decoder's gradient into the
    hand-over, through the merge, enters the encoder's last entry at each sample's last step (its forward
    direction) and at step 0 (its backward direction), as `EncoderDecoder.backward` puts it there; the rest of
    the encoder's backward pass is the segments' own. The verdicts' one-term gradients go the same way: a lean
    pass through the decoder, then the encoder's segments (`HandoverTermPass`)."""

    def __init__(self, layout: list, params: dict, x: np.ndarray, loss_kind: str, target, lengths=None,
                 initial: dict | None = None, S: int | None = None, decoder_x: np.ndarray | None = None):
        k = split(layout)
        self.whole_layout, self.decoder = list(layout), list(layout[k:])
        self.enc_last = layout[k - 1]
        self.dec_first = next(lay for lay in self.decoder if lay.recurrent)
        super().__init__(list(layout[:k]), params, x, loss_kind, None, lengths, initial, S)
        self.decoder_x, self.dec_target = decoder_x, target
        self.T_dec = decoder_x.shape[0]
        self.last = final_steps(self.lengths, self.T, self.B)
        self.handed = self.dec_first.family.states     # the states handed over
        n = self.enc_last.num_layers * len(self.enc_last.directions)
        self.finals = {s: np.zeros((n, self.B, self.enc_last.hidden_size), dtype=self.dtype) for s in self.handed}
        # the gradient into the encoder's final states (PyTorch's h_n layout), from the decoder (None until it ran)
        self.ext: dict[str, np.ndarray] | None = None
        self.tail_rec: dict = {}
        self.tail_grads: dict = {}
        self.tail_loss = None
        self.dec_walk = None
        self.dec_g = None

    def _carry_states(self, k: int, rec: dict, direction: str) -> None:
        """A chain's, and the hand-over: the encoder's last entry's final states, each sample's forward ones at its
        last step, the backward direction's at step 0 (only the sweep writes them: a segment recomputed for a view
        never does)."""
        super()._carry_states(k, rec, direction)
        a, b = self.bounds[k]
        here = np.flatnonzero((self.last >= a) & (self.last < b))
        for slot, (j, d) in enumerate(self.slots(self.enc_last)):
            if d != direction:
                continue
            prefix = keys.place_prefix(self.enc_last.index, j, d)
            for s in self.handed:
                if d == "fwd":
                    self.finals[s][slot, here] = rec[f"{prefix}.{s}"][self.last[here] - a, here]
                elif k == 0:
                    self.finals[s][slot] = rec[f"{prefix}.{s}"][0]

    def before_backward(self):
        """A bidirectional encoder's backward direction's states (`backward_states_first`), then the decoder, once."""
        yield from backward_states_first(self)
        self._run_decoder()
        yield

    own_part = ("the decoder", "the encoder's backward direction's states",
                "which runs from the hand-over once the forward sweep has been through every encoder step")

    def tail_of(self, key: str) -> bool:
        """The decoder's record: its entries' arrays, the hand-over, the output and the loss (its input is known
        before: `known_arrays`)."""
        return key in (keys.OUTPUT, keys.LOSS, keys.STEP_LOSS, keys.SAMPLE_STEP_LOSS, keys.GRAD_DECODER_INPUT) \
            or any(key in (keys.handover(s), keys.grad(keys.handover(s))) for s in self.handed) \
            or records_of(key, self.decoder)

    def known_arrays(self) -> dict[str, np.ndarray]:
        """The decoder's input (what `_run_decoder` records of it)."""
        return {keys.DECODER_INPUT: self.decoder_x}

    def _handover_grads(self, dstart: dict) -> dict[str, np.ndarray]:
        """The gradient into the encoder's final states from the decoder's into its start (EncoderDecoder.backward)."""
        how, slots = self.enc_last.merge, self.slots(self.enc_last)
        out = {}
        for s in self.handed:
            rows = []
            for j in range(self.enc_last.num_layers):
                f = self.finals[s][slots.index((j, "fwd"))]
                b = self.finals[s][slots.index((j, "bwd"))] if (j, "bwd") in slots else None
                gf, gb = unmerge(how, dstart[s][j], f, b)
                rows.extend([gf] if b is None else [gf, gb])
            out[s] = np.stack(rows)
        return out

    def _run_decoder(self) -> None:
        """The decoder, whole, from the hand-over: forward, the loss, backward to the hand-over."""
        how, slots = self.enc_last.merge, self.slots(self.enc_last)
        start = {}
        for s in self.handed:
            start[s] = np.stack([merge(how, self.finals[s][slots.index((j, "fwd"))],
                                       self.finals[s][slots.index((j, "bwd"))] if (j, "bwd") in slots else None)
                                 for j in range(self.enc_last.num_layers)])
        rec = {keys.handover(s): v for s, v in start.items()}
        rec[keys.DECODER_INPUT] = self.decoder_x
        walk = Walk(self.decoder, RunContext.chain(self.params, buffers=self.buffers))
        walk.forward(self.decoder_x, rec, start={self.dec_first.index: start})
        out, last = walk.outs[-1], self.decoder[-1]
        logits = walk.pres[-1] if (self.loss_kind == "cross_entropy" and last.activation == "softmax") else None
        loss, g, g_pre, step_loss = loss_and_grad(self.loss_kind, out, logits, self.dec_target, steps_first=True,
                                                  real=None)
        grads: dict = {}
        rec[keys.grad(keys.DECODER_INPUT)] = walk.backward(g, g_pre, grads, rec)
        dstart = walk.caches[self.decoder.index(self.dec_first)]["dstate0"]
        for s in self.handed:
            rec[keys.grad(keys.handover(s))] = dstart[s]
        self.ext = self._handover_grads(dstart)
        rec[keys.OUTPUT] = out
        if step_loss is not None:
            rec[keys.STEP_LOSS] = np.asarray(step_loss, dtype=self.dtype)
            rec[keys.SAMPLE_STEP_LOSS] = np.asarray(sample_step_losses(self.loss_kind, out, logits, self.dec_target,
                                                                       None), dtype=self.dtype)
        self.tail_rec, self.tail_grads = rec, grads
        self.tail_loss = np.asarray(loss, dtype=self.dtype)
        self.dec_walk, self.dec_g = walk, (g, g_pre)

    def finals_in(self, k: int, walk, gins: dict, ext: dict) -> dict:
        """What enters segment k's recurrent entries through time (*gins*), with the encoder's last entry's final
        states' gradient (*ext*) where they are: each sample's last step (its forward direction; a gradient from
        the next segment enters the samples that end later at the segment's end, as the run's does) and step 0
        (its backward direction)."""
        a, b = self.bounds[k]
        finals = {i: {s: v[k] for s, v in st.items()} for i, st in gins.items()}
        i = self.enc_last.index
        here = (self.last >= a) & (self.last < b)
        mine = {s: v.copy() for s, v in finals[i].items()}
        for slot, (j, d) in enumerate(self.slots(self.enc_last)):
            for s, g in ext.items():
                if d == "fwd":
                    mine[s][slot][here] = g[slot][here]
                elif k == 0:
                    mine[s][slot] = g[slot]
        finals[i] = mine
        cache = walk.caches[len(self.layout) - 1]
        cache["packed"] = True      # each at its own step (Recurrent.backward's final_steps)
        cache["last"] = np.where(here, self.last - a, b - a - 1)
        return finals

    def _backward(self, k: int, walk, rec: dict, grads: dict):
        if self.ext is None:
            self._run_decoder()
        finals = self.finals_in(k, walk, self.gins, self.ext)
        g = np.zeros_like(walk.outs[-1])   # the encoder's output reaches no loss: only its final states do
        rec[keys.GRAD_INPUT] = self._walk_backward(walk, g, None, grads, rec, finals)
        # the loss is the decoder's: one segment's share, every other one's zero (their sum is the loss, exactly)
        loss = self.tail_loss if k == len(self.bounds) - 1 else np.zeros((), dtype=self.dtype)
        return loss, g, None

    def term_pass(self, direction: str):
        return HandoverTermPass(self, direction)

    def term_steps(self) -> dict[str, np.ndarray]:
        """As network.one_term_gradients over the whole run: the loss term at the decoder's last step (forward
        directions), at its step 0 (backward ones), for the encoder's places and the decoder's."""
        last = np.full(self.B, self.T_dec - 1)
        return {keys.diag(keys.place_prefix(lay.index, j, d), "term_gradnorm"):
                (last if d == "fwd" else np.zeros(self.B, dtype=last.dtype))
                for lay in self.whole_layout if lay.recurrent for j in range(lay.num_layers) for d in lay.directions}

    def finish_sweep(self, result) -> None:
        result.arrays.update(self.tail_rec)
        result.grads.update(self.tail_grads)

    def extra_arrays(self) -> dict[str, np.ndarray]:
        return {keys.checkpoint_extra(f"handover_grad.{s}"): v for s, v in self.ext.items()}

    def load_extra(self, arrays: dict) -> None:
        self.ext = {}
        for s, v in self.finals.items():
            name = keys.checkpoint_extra(f"handover_grad.{s}")
            got = arrays.get(name)
            if got is None or got.shape != v.shape or got.dtype != v.dtype:
                raise ValueError(f"{name}: expected {v.dtype} {v.shape}")
            self.ext[s] = np.array(got)


class HandoverTermPass(TermPass):
    """An encoder-decoder's one-term gradients of one direction (network.one_term_gradients over
    EncoderDecoder.backward): the lean pass through the decoder, whole, once, seeded with each sample's loss term
    at the decoder's last step (step 0 for a backward direction); its gradient into the hand-over then enters the
    encoder's segments as the main pass's does."""

    def __init__(self, segs: EncoderDecoderSegments, direction: str):
        super().__init__(segs, direction)
        self.start = np.full(segs.B, -1)    # no loss term is on the encoder's steps: only the hand-over seeds it
        self.ext = None

    def _decoder_pass(self) -> None:
        segs = self.segs
        g, g_pre = segs.dec_g
        s = np.full(segs.B, segs.T_dec - 1) if self.direction == "fwd" else np.zeros(segs.B, dtype=np.int64)
        g1, p1 = one_term(g, g_pre, s)
        scratch: dict = {}
        walk = segs.dec_walk
        walk.backward(g1, p1, {}, scratch, lean=self.direction)
        self.ext = segs._handover_grads(walk.caches[segs.decoder.index(segs.dec_first)]["dstate0"])
        for lay in segs.decoder:
            if lay.recurrent:
                for j in range(lay.num_layers):
                    for d in lay.directions:
                        if d == self.direction:
                            prefix = keys.place_prefix(lay.index, j, d)
                            dh = scratch[keys.grad(f"{prefix}.h")]
                            self.out[keys.diag(prefix, "term_gradnorm")] = row_norms(
                                dh.reshape(-1, dh.shape[-1])).reshape(dh.shape[:2])

    def finals(self, k: int, walk) -> dict:
        if self.ext is None:
            self._decoder_pass()
        return self.segs.finals_in(k, walk, self.gins, self.ext)


# --- graph models ------------------------------------------------------------------------------------------

def why_whole_graph(sc) -> str | None:
    """Why a graph model's run is recorded whole (None: it is checkpointed, `GraphSegments`): besides what any
    layout needs (`checkpoint.why_whole_layout`), every input has steps, all as many, and samples of lengths of
    their own only in a graph of one input."""
    from rnntui.engine.checkpoint import why_whole_layout

    seq = getattr(sc, "input_seq", {}) or {}
    if not all(seq.get(n, True) for n in sc.inputs):
        return "a graph with an input without steps is recorded whole"
    if len({v.shape[0] for v in sc.inputs.values()}) > 1:
        return "a graph whose inputs have different numbers of steps is recorded whole"
    ragged = [n for n, v in (getattr(sc, "input_lengths", {}) or {}).items() if v is not None]
    if ragged and len(sc.inputs) > 1:
        return "a graph of several inputs whose samples have lengths of their own is recorded whole"
    return why_whole_layout(list(sc.layout))


class GraphSegments(Segments):
    """A graph model whose every node keeps every step (engine/graph.py's `GraphWalk`), its rnn, lstm and gru
    nodes carrying their states from segment to segment as a chain's entries do: each segment is the graph run
    over its steps of every input, from its boundary states, and backward from its boundary gradients. What is
    recorded is the graph's whole run's, key for key (`input.{name}` and its lengths whole, `grad.input.{name}`
    recomputed per segment).

    A `recurrence` node (a step graph with its own loop, engine/ops/recurrence.py) carries its named states the
    same way: `starts[i][s]` and `gins[i][s]` are (K, B, n), the states it starts the segment from (its run's
    `ctx.initial`) and the gradient reaching its states after the segment's last step (its grads' `final`); its
    diagnostics (engine/graph_diag.py: ||dL/ds_t||, its cells' saturation) are computed in the sweep per
    segment, its Jacobian norms through windows of segments (`windowed_steps_jacnorm`)."""

    def __init__(self, layout: list, params: dict, inputs: dict, loss_kind: str, target, input_lengths: dict,
                 initial: dict | None = None, S: int | None = None):
        self.inputs, self.names = dict(inputs), list(inputs)
        self.input_lengths = {n: np.asarray(v) for n, v in input_lengths.items() if v is not None}
        lengths = self.input_lengths.get(self.names[0])   # one input (why_whole_graph): the output's lengths too
        super().__init__(layout, params, inputs[self.names[0]], loss_kind, target, lengths, initial, S)
        self.carriers = [(pos, lay) for pos, lay in enumerate(layout) if carries(lay)]
        K = len(self.bounds)
        for _, lay in self.carriers:
            sizes = lay.config["states"]
            self.starts[lay.index] = {s: np.zeros((K, self.B, int(n)), dtype=self.dtype) for s, n in sizes.items()}
            self.gins[lay.index] = {s: np.zeros((K, self.B, int(n)), dtype=self.dtype) for s, n in sizes.items()}
            for s in sizes:     # what reaches its start states: kept from the first segment (`_state_records`)
                self.state_keys.add(keys.grad(f"{state_key(lay.index, s)}0"))

    def _carry_states(self, k: int, rec: dict, direction: str) -> None:
        super()._carry_states(k, rec, direction)
        if direction == "fwd" and k + 1 < len(self.bounds):
            for _, lay in self.carriers:
                for s in state_names(lay):
                    self.starts[lay.index][s][k + 1] = rec[state_key(lay.index, s)][-1]

    def _carry_grads(self, k: int, walk, direction: str) -> None:
        super()._carry_grads(k, walk, direction)
        if direction == "fwd" and k >= 1:
            for pos, lay in self.carriers:
                for s, v in walk.caches[pos]["dstate0"].items():
                    self.gins[lay.index][s][k - 1] = v

    def _state_records(self, k: int, rec: dict, small: dict) -> None:
        super()._state_records(k, rec, small)
        if k == 0:
            for _, lay in self.carriers:
                for s in state_names(lay):
                    key = keys.grad(f"{state_key(lay.index, s)}0")
                    small[key] = rec[key]

    def _diagnostics(self, k: int, rec: dict, diag: dict) -> None:
        """A chain's, and each recurrence's ||dL/ds_t|| and its cells' saturation over segment k's steps
        (engine/graph_diag.derived's, row by row the same)."""
        super()._diagnostics(k, rec, diag)
        K = len(self.bounds)
        a, _ = self.bounds[k]
        for _, lay in self.carriers:
            prefix = keys.entry_prefix(lay.index)
            diag.setdefault(keys.diag(prefix, "gradnorm"), [None] * K)[k] = row_norms(state_grad(rec, lay))
            lengths = self.input_lengths.get(lay.lengths_of) if lay.lengths_of else None
            if lengths is not None and not (lengths < lay.steps).any():
                lengths = None
            for name, (key, sigmoid) in gates(lay).items():
                diag.setdefault(keys.diag(prefix, f"sat.{name}"), [None] * K)[k] = saturation(
                    rec[key], sigmoid, None if lengths is None else lengths - a)

    def term_pass(self, direction: str):
        return GraphTermPass(self, direction)

    def term_steps(self) -> dict[str, np.ndarray]:
        """A chain's, and each recurrence's (its one-term gradient enters at each sample's last step, as
        graph.run_graph's `carried` places)."""
        out = super().term_steps()
        last = np.full(self.B, self.T - 1) if self.lengths is None else np.asarray(self.lengths) - 1
        for _, lay in self.carriers:
            out[keys.diag(keys.entry_prefix(lay.index), "term_gradnorm")] = last
        return out

    def _forward(self, k: int):
        a, b = self.bounds[k]
        start = {i: {s: v[k] for s, v in st.items()} for i, st in self.starts.items()}
        ctx = RunContext(self.params, dtype=self.dtype, buffers=self.buffers, initial=start,
                         lengths={n: v - a for n, v in self.input_lengths.items()})   # the run's steps' pad mask
        walk = GraphWalk(self.layout, ctx)
        rec: dict = {}
        walk.forward({n: v[a:b] for n, v in self.inputs.items()}, rec)
        for i, lay in enumerate(self.layout):
            if lay.recurrent:    # a gradient entering the segment enters at its end (as Segments._forward)
                walk.caches[i]["packed"] = False
        return walk, rec

    def _walk_backward(self, walk, g, g_pre, grads: dict, rec: dict, finals: dict, lean: str = ""):
        gin = walk.backward(g, g_pre, grads, rec, lean=bool(lean), finals=finals)
        if not lean:
            for n in self.names:
                rec[keys.grad(keys.input_key(n))] = gin[n]
        return gin[self.names[0]]

    def known_arrays(self) -> dict[str, np.ndarray]:
        """Its named inputs and their lengths, recorded whole."""
        out = {}
        for n, v in self.inputs.items():
            out[keys.input_key(n)] = v
            if n in self.input_lengths:
                out[keys.input_lengths(n)] = np.asarray(self.input_lengths[n], dtype=np.int64)
        return out

    def finish_sweep(self, result) -> None:
        result.arrays.update(self.known_arrays())
        for name, v in self.params.items():
            result.grads.setdefault(name, np.zeros_like(v))   # a parameter of a node the loss does not read


class GraphTermPass(TermPass):
    """A graph's one-term gradients (graph.run_graph's one_term_gradients with its `carried` places): the chain's
    pass, each recurrence node carrying the gradient reaching its states from segment to segment too, and its
    term_gradnorm over its states together."""

    def __init__(self, segs: GraphSegments, direction: str):
        super().__init__(segs, direction)
        self.carriers = segs.carriers if direction == "fwd" else []
        for _, lay in self.carriers:
            self.out[keys.diag(keys.entry_prefix(lay.index), "term_gradnorm")] = np.empty((segs.T, segs.B),
                                                                                          dtype=segs.dtype)

    def step(self, k: int, walk, g, g_pre) -> None:
        super().step(k, walk, g, g_pre)
        a, b = self.segs.bounds[k]
        for pos, lay in self.carriers:
            if k >= 1:
                for s, v in walk.caches[pos]["dstate0"].items():
                    self.gins[lay.index][s][k - 1] = v
            ds = state_grad(self.scratch, lay)
            self.out[keys.diag(keys.entry_prefix(lay.index), "term_gradnorm")][a:b] = row_norms(
                ds.reshape(-1, ds.shape[-1])).reshape(ds.shape[:2])


# --- training runs -----------------------------------------------------------------------------------------

class SavedCheckpointedTrainTrace(SavedTrainTrace, CheckpointedTrace):
    """A saved training run whose iteration record is checkpointed, reopened (`checkpoint.restore`)."""

    __init__ = CheckpointedTrace.__init__
