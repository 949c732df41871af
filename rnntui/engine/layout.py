"""Shape inference: what each model entry receives, returns and owns, before anything runs.

A pure function of the entries' configurations, the input's shape and the mode: each entry's
handler (`rnntui/engine/entries/`) lays itself out. Errors come back as `LayoutProblem`s naming
the entry and key so the loader can point at a line. The result, one `EntryInfo` per entry, is
what the engine runs and what the trace records in `meta.layout`. The walk that lays a chain out with the
entries' handlers, and the memory count from their footprints, are engine/infer.py (above the handlers).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rnntui.engine import keys
from rnntui.engine.families import family


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
        return family(self.type) if self.recurrent else None

    @property
    def gates(self) -> tuple[str, ...]:
        return self.family.gates if self.recurrent else ()

    @property
    def name(self) -> str:
        """How the node is named to the user: `model.{index}`, with its id in a graph."""
        return keys.entry_prefix(self.index) + (f" ({self.id})" if self.id else "")


@dataclass(frozen=True)
class LayoutContext:
    mode: str
    last_recurrent: int          # index of the last recurrent entry, -1 if none


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
