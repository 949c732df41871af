"""Shape inference: what each model entry receives, returns and owns, before anything runs.

A pure function of the entries' configurations, the input's shape and the mode: each entry's
handler (`rnntui/engine/entries/`) lays itself out. Errors come back as `LayoutProblem`s naming
the entry and key so the loader can point at a line. The result, one `EntryInfo` per entry, is
what the engine runs and what the trace records in `meta.layout`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod


class LayoutProblem(Exception):
    def __init__(self, index: int, key: str | None, message: str):
        self.index, self.key, self.message = index, key, message
        super().__init__(message)


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
    params: dict = field(default_factory=dict)   # name -> shape, in PyTorch's order
    # recurrent only
    hidden_size: int = 0
    num_layers: int = 0
    directions: tuple[str, ...] = ()
    merge: str = "concat"
    nonlinearity: str = "tanh"
    reduce_final: bool = False
    # dense / conv / activation
    activation: str = "none"
    options: dict | None = None           # conv and pool: kernel, stride, dilation, pad, groups, dims, on_seq
    padding_idx: int | None = None        # embedding: the id whose row is zero and gets no gradient
    part: str = ""                        # encoder-decoder: "encoder" or "decoder" ("" otherwise)

    @property
    def family(self):
        """The recurrent family (rnntui.engine.families), or None for other entries."""
        from rnntui.engine.families import family

        return family(self.type) if self.recurrent else None

    @property
    def gates(self) -> tuple[str, ...]:
        return self.family.gates if self.recurrent else ()

    @property
    def spatial(self) -> bool:
        """Conv and pool entries: outputs are feature maps over positions."""
        return self.options is not None

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
        if lay.activation == "softmax" and len(lay.out_shape) != 1:
            raise LayoutProblem(i, h.activation_key, f"softmax needs a vector of features; here it would act on a map of shape "
                                f"{lay.out_shape} (add a flatten and a dense entry first)")
        out.append(lay)
        feat, seq = lay.out_shape, lay.seq_out
        steps = lay.steps if seq else 1
    return out


def trace_floats(layout: list[EntryInfo], T: int, B: int) -> int:
    """How many numbers the run holds at its peak (the trace plus working copies), for the memory check."""
    total = 0
    steps_in = T
    for lay in layout:
        total += lay.handler.floats(lay, steps_in if lay.seq_in else 1, B)
        total += 2 * sum(prod(s) for s in lay.params.values())  # the parameter and its gradient
        steps_in = lay.steps
    return total
