"""Shape inference: what each model entry receives, returns and owns, before anything runs.

A pure function of the entries, the input's shape and the mode. Errors come back as
`LayoutProblem`s naming the entry and key so the loader can point at a line.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ()}
GATE_COUNT = {"lstm": 4, "gru": 3, "rnn": 1}


class LayoutProblem(Exception):
    def __init__(self, index: int, key: str | None, message: str):
        self.index, self.key, self.message = index, key, message
        super().__init__(message)


@dataclass(frozen=True)
class EntryLayout:
    """One model entry with its shapes. `seq` means (T, B, *feat); otherwise (B, *feat)."""

    index: int
    type: str
    in_feat: tuple[int, ...]
    out_feat: tuple[int, ...]
    seq_in: bool
    seq_out: bool
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # recurrent only
    hidden_size: int = 0
    num_layers: int = 0
    directions: tuple[str, ...] = ()
    merge: str = "concat"
    nonlinearity: str = "tanh"
    reduce_final: bool = False
    # dense / conv / activation
    activation: str = "none"
    options: dict = field(default_factory=dict)

    @property
    def recurrent(self) -> bool:
        return self.type in GATES

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES.get(self.type, ())

    def sublayer_input(self, j: int) -> int:
        return self.in_feat[0] if j == 0 else self.hidden_size * len(self.directions)

    def param_name(self, stem: str, j: int, direction: str) -> str:
        return f"{self.index}.{stem}_l{j}{'_reverse' if direction == 'bwd' else ''}"


def _recurrent(i, e, feat, seq, last_recurrent, mode) -> EntryLayout:
    if not seq:
        raise LayoutProblem(i, "type", f"{e.type} needs a sequence; it receives a map of shape {feat}")
    if len(feat) != 1:
        raise LayoutProblem(i, "type", f"{e.type} needs (T, B, F) steps; found features of shape {feat}")
    dirs = ("fwd", "bwd") if e.bidirectional else ("fwd",)
    H, g = e.hidden_size, GATE_COUNT[e.type]
    params: dict[str, tuple[int, ...]] = {}
    for j in range(e.num_layers):
        in_j = feat[0] if j == 0 else H * len(dirs)
        for d in dirs:
            sfx = f"_l{j}" + ("_reverse" if d == "bwd" else "")
            params[f"{i}.weight_ih{sfx}"] = (g * H, in_j)
            params[f"{i}.weight_hh{sfx}"] = (g * H, H)
            params[f"{i}.bias_ih{sfx}"] = (g * H,)
            params[f"{i}.bias_hh{sfx}"] = (g * H,)
    out = 2 * H if (e.bidirectional and e.merge == "concat") else H
    reduce_final = mode == "many-to-one" and i == last_recurrent
    return EntryLayout(
        index=i, type=e.type, in_feat=feat, out_feat=(out,), seq_in=True, seq_out=not reduce_final,
        params=params, hidden_size=H, num_layers=e.num_layers, directions=dirs, merge=e.merge,
        nonlinearity=getattr(e, "nonlinearity", "tanh"), reduce_final=reduce_final,
    )


def infer_layout(entries, input_feat: tuple[int, ...], seq: bool, mode: str) -> list[EntryLayout]:
    """Walk the entries, returning their layouts or raising the first LayoutProblem."""
    from rnntui.engine.conv_layout import conv_like_layout  # conv entries live in their own module

    recurrent_ix = [i for i, e in enumerate(entries) if e.type in GATES]
    last_recurrent = recurrent_ix[-1] if recurrent_ix else -1
    if mode != "many-to-many" and not recurrent_ix and seq:
        raise LayoutProblem(0, None, f"mode {mode} needs a recurrent entry (rnn, lstm or gru) in the model")
    out: list[EntryLayout] = []
    feat = tuple(input_feat)
    for i, e in enumerate(entries):
        if e.type in GATES:
            lay = _recurrent(i, e, feat, seq, last_recurrent, mode)
        elif e.type == "dense":
            if len(feat) != 1:
                raise LayoutProblem(
                    i, "type", f"dense needs a vector of features; it receives a map of shape {feat} "
                    "(add a flatten entry before it)")
            F = feat[0]
            lay = EntryLayout(i, "dense", feat, (e.units,), seq, seq,
                              {f"{i}.weight": (e.units, F), f"{i}.bias": (e.units,)}, activation=e.activation)
        elif e.type == "activation":
            lay = EntryLayout(i, "activation", feat, feat, seq, seq, activation=e.function)
        elif e.type == "flatten":
            lay = EntryLayout(i, "flatten", feat, (prod(feat),), seq, seq)
        else:
            lay = conv_like_layout(i, e, feat, seq)
        if lay.activation == "softmax" and len(lay.out_feat) != 1:
            key = "function" if e.type == "activation" else "activation"
            raise LayoutProblem(i, key, f"softmax needs a vector of features; here it would act on a map of shape "
                                f"{lay.out_feat} (add a flatten and a dense entry first)")
        out.append(lay)
        feat, seq = lay.out_feat, lay.seq_out
    return out


def trace_floats(layout: list[EntryLayout], T: int, B: int) -> int:
    """How many numbers the trace of a run holds (arrays plus working copies), for the memory check."""
    total = 0
    for lay in layout:
        n_in = prod(lay.in_feat) * (T if lay.seq_in else 1) * B
        n_out = prod(lay.out_feat) * (T if lay.seq_out else 1) * B
        total += 3 * n_in + 4 * n_out  # out, pre, their gradients, and the input gradient
        for shape in lay.params.values():
            total += 2 * prod(shape)
        if lay.type.startswith("conv"):  # the im2col matrix and its gradient
            k = lay.options["kernel"]
            total += 2 * n_out * prod(k) * lay.in_feat[0] // max(lay.options["groups"], 1)
        if lay.recurrent:
            H, g = lay.hidden_size, max(len(lay.gates), 1)
            per_dir = T * B * H * (2 * g + 8)  # gates, states, tanh(c), gradients, pre-activation gradients
            total += per_dir * lay.num_layers * len(lay.directions) + T * 4 * len(lay.params)
    return total
