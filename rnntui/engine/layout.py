"""Shape inference: what each model entry receives, returns and owns, before anything runs.

A pure function of the entries' configurations, the input's shape and the mode: each entry's
handler (`rnntui/engine/entries/`) lays itself out. Errors come back as `LayoutProblem`s naming
the entry and key so the loader can point at a line. The result, one `EntryInfo` per entry, is
what the engine runs and what the trace records in `meta.layout`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from rnntui.engine import keys


class LayoutProblem(Exception):
    def __init__(self, index: int, key: str | None, message: str):
        self.index, self.key, self.message = index, key, message
        super().__init__(message)


VIEW_KINDS = ("recurrent", "map", "plain", "embedding", "steps")  # steps: a graph's recurrence node  # render/views/ has one view per kind


@dataclass(frozen=True)
class EntryInfo:
    """One model entry with its shapes. `seq` means (T, B, *feat); otherwise (B, *feat).

    `view` says how the entry is shown: `recurrent` (steps through a family's cell), `map` (a conv
    or pool over an image: steps are output positions) or `plain` (one output vector per step)."""

    index: int
    type: str
    in_feat: tuple[int, ...]
    out_shape: tuple[int, ...]            # per sample (and per step for sequences)
    seq_in: bool
    seq_out: bool
    view: str = "plain"
    recurrent: bool = False
    steps: int = 1                        # steps this entry runs over (a strided conv1d shortens later ones)
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)   # name -> shape, in PyTorch's order
    buffers: dict[str, tuple[int, ...]] = field(default_factory=dict)  # name -> shape: state that is no parameter
                                                                       # (batchnorm's running_*)
    # recurrent only
    hidden_size: int = 0
    num_layers: int = 0
    directions: tuple[str, ...] = ()
    merge: str = "concat"
    nonlinearity: str = "tanh"
    reduce_final: bool = False
    # dense / conv / activation
    activation: str = "none"
    options: dict | None = None           # conv and pool: kernel, stride, dilation, pad, groups, dims, on_seq;
                                          # batchnorm: eps, momentum, affine, ... (and a map's 1x1 window)
    padding_idx: int | None = None        # embedding: the id whose row is zero and gets no gradient
    part: str = ""                        # encoder-decoder: "encoder" or "decoder" ("" otherwise)
    dropout: float = 0.0                  # dropout entry: p; recurrent: between sub-layers (active in training only)
    # graph models (engine/graph.py); a chain leaves them at their defaults
    id: str = ""                          # the node's name (`id:`); "" in a chain (the entry is `model.{index}`)
    reads: tuple[int | str, ...] = ()     # what the node reads: node indices and input names; () = the entry before
    aliases: dict[str, str] = field(default_factory=dict)  # parameter name here -> the parameter it is (same_as, tie)
    config: dict | None = None            # an op's keys (dims made non-negative)
    lengths_of: str = ""                  # the input whose per-sample lengths this node's steps follow ("" none)

    @property
    def family(self):
        """The recurrent family (rnntui.engine.families), or None for other entries."""
        from rnntui.engine.families import family

        return family(self.type) if self.recurrent else None

    @property
    def gates(self) -> tuple[str, ...]:
        return self.family.gates if self.recurrent else ()

    @property
    def name(self) -> str:
        """How the node is named to the user: `model.{index}`, with its id in a graph."""
        return keys.entry_prefix(self.index) + (f" ({self.id})" if self.id else "")

    @property
    def handler(self):
        from rnntui.engine.entries import handler

        return handler(self.type)


@dataclass(frozen=True)
class LayoutContext:
    mode: str
    last_recurrent: int          # index of the last recurrent entry, -1 if none


def infer_layout(types: list[str], configs: list, input_feat: tuple[int, ...], seq: bool, mode: str,
                 steps: int, first_index: int = 0) -> list[EntryInfo]:
    """Walk the entries (their types and configurations), returning their layouts or raising the first
    LayoutProblem. *steps* is the input's number of steps (1 for an image). *first_index*: the first
    entry's number (a decoder's entries continue the encoder's numbering)."""
    from rnntui.engine.entries import handler

    handlers = [handler(t) for t in types]
    recurrent_ix = [first_index + i for i, h in enumerate(handlers) if h.recurrent]
    if mode != "many-to-many" and not recurrent_ix and seq:
        raise LayoutProblem(first_index, None, f"mode {mode} needs a recurrent entry (rnn, lstm or gru) in the model")
    ctx = LayoutContext(mode, recurrent_ix[-1] if recurrent_ix else -1)
    out: list[EntryInfo] = []
    feat = tuple(input_feat)
    for i, (h, cfg) in enumerate(zip(handlers, configs), start=first_index):
        lay = h.layout(i, cfg, feat, seq, steps, ctx)
        if lay.activation in ("softmax", "log_softmax") and len(lay.out_shape) != 1:
            raise LayoutProblem(i, h.activation_key, f"{lay.activation} needs a vector of features; here it would act on a map of shape "
                                f"{lay.out_shape} (add a flatten and a dense entry first)")
        out.append(lay)
        feat, seq = lay.out_shape, lay.seq_out
        steps = lay.steps if seq else 1
    return out


@dataclass(frozen=True)
class Footprint:
    """What one entry's run holds, in numbers of the run's dtype (see `trace_floats`).

    held: alive from the entry's forward pass to the end (forward arrays and caches, recorded values,
      the backward's records); records: the part of held that one backward pass records (a one-term
      pass records it again, in scratch); temp: the backward's working arrays, freed when the entry's
      backward returns; lazy: the largest diagnostic derived when first read (step-Jacobian norms)."""

    held: int = 0
    records: int = 0
    temp: int = 0
    lazy: int = 0


def trace_floats(layout: list[EntryInfo], T: int, B: int) -> int:
    """How many numbers the run holds at its peak, for the memory check (docs/scenario-format.md).

    Every entry's held arrays and its parameters with their gradients, plus the largest of: one
    entry's backward working arrays (during the run; where the output has a step axis, also during
    the one-term backward pass a verdict reads, counted as if it recorded every entry's gradients once
    more: its recurrent entries keep only dL/dh_t, so this is an upper bound),
    and the largest lazily derived diagnostic."""
    prints = []
    steps_in = T
    total = 0
    for lay in layout:
        prints.append(lay.handler.footprint(lay, steps_in if lay.seq_in else 1, B))
        total += 2 * sum(prod(s) for s in lay.params.values())  # the parameter and its gradient
        steps_in = lay.steps
    last = layout[-1]
    n_out = prod(last.out_shape) * (last.steps if last.seq_out else 1) * B
    total += sum(f.held for f in prints) + 2 * n_out       # the loss's gradient (and its softmax form)
    temp = max(f.temp for f in prints)
    if layout[0].seq_in and last.seq_out and any(lay.recurrent for lay in layout):  # network.one_term_gradients
        temp += sum(f.records for f in prints) + 2 * n_out
    return total + max(temp, max(f.lazy for f in prints))
