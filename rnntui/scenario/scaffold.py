"""`rnntui scaffold WEIGHTS -o scenario.yaml`: a scenario written from a state_dict's names and shapes.

Each module of the state_dict (the key's prefix before PyTorch's parameter name) becomes an entry:

    weight_ih_l{j}[_reverse] ...      rnn / lstm / gru: the gate count from weight_ih's rows over
                                      weight_hh's columns (1, 3, 4), num_layers from the l{j},
                                      bidirectional from _reverse
    weight (V, E), no bias, first     embedding
    weight (out, in) [+ bias]         dense
    weight (out, in, k) / (out, in, kh, kw)   conv1d / conv2d

in data-flow order (each entry reads what the one before returns; the file's order where that does not
decide), with the `rename` map from the module names to entry numbers, an input of the right shape
(token ids for an embedding, noise otherwise), `mode: many-to-many` and `loss: sum`, and comments where
the weights cannot tell. The text is loaded as a scenario before it is written: what is written runs.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import numpy as np

from rnntui.errors import RnntuiError

RECURRENT = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l([0-9]+)(_reverse)?$")


def _family_by_blocks() -> dict:
    """Each family by its row blocks of W_ih (1, 3, 4), from the families' own registry."""
    from rnntui.engine.families import FAMILIES

    return {f.n_blocks: f for f in FAMILIES.values()}


class ScaffoldError(RnntuiError):
    title = "scaffold error"


@dataclass
class Module:
    prefix: str                                  # "rnn." (with its dot), or "" for a bare state_dict
    params: dict[str, tuple] = field(default_factory=dict)   # PyTorch name -> shape
    entry: dict = field(default_factory=dict)
    in_size: int | None = None                   # features it reads (None: ids)
    out_size: int | None = None
    notes: list[str] = field(default_factory=list)


def _split(key: str) -> tuple[str, str]:
    prefix, _, name = key.rpartition(".")
    return (prefix + "." if prefix else ""), name


def modules_of(state: dict[str, np.ndarray]) -> list[Module]:
    mods: dict[str, Module] = {}
    for key, arr in state.items():
        prefix, name = _split(key)
        mods.setdefault(prefix, Module(prefix)).params[name] = tuple(np.shape(arr))
    return list(mods.values())


def describe(mod: Module, first: bool) -> None:
    """Fill *mod*'s entry and sizes from its parameter names and shapes, or raise ScaffoldError."""
    p = mod.params
    names = sorted(p)
    if any(RECURRENT.match(n) for n in names):
        bad = [n for n in names if not RECURRENT.match(n)]
        if bad or "weight_ih_l0" not in p or "weight_hh_l0" not in p:
            raise ScaffoldError(f"{mod.prefix}: found {', '.join(names)}; expected a recurrent module's weight_ih_l0, "
                                "weight_hh_l0 (and biases, more layers, _reverse)")
        H = p["weight_hh_l0"][1]
        gates, rem = divmod(p["weight_ih_l0"][0], H)
        by_blocks = _family_by_blocks()
        if rem or gates not in by_blocks:
            raise ScaffoldError(f"{mod.prefix}weight_ih_l0: found shape {p['weight_ih_l0']} against weight_hh_l0 "
                                f"{p['weight_hh_l0']}; expected 1, 3 or 4 blocks of {H} rows (RNN, GRU, LSTM)")
        fam = by_blocks[gates]
        kind = fam.name
        layers = 1 + max(int(RECURRENT.match(n).group(2)) for n in names)
        bi = any(n.endswith("_reverse") for n in names)
        mod.entry = {"type": kind, "hidden_size": H}
        if layers > 1:
            mod.entry["num_layers"] = layers
        if bi:
            mod.entry["bidirectional"] = True
        mod.in_size = p["weight_ih_l0"][1]
        mod.out_size = H * (2 if bi else 1)
        if any(f.name == "nonlinearity" for f in dataclasses.fields(fam.config)):
            mod.notes.append("nonlinearity: tanh unless the module was built with nonlinearity='relu'")
        return
    w = p.get("weight")
    extra = sorted(set(names) - {"weight", "bias"})
    if w is None or extra:
        raise ScaffoldError(f"{mod.prefix or '(top level)'}: found {', '.join(names)}; expected a recurrent module "
                            "(weight_ih_l0, ...), a Linear or Conv (weight, bias) or an Embedding (weight)")
    if len(w) == 2 and "bias" not in p and first:
        mod.entry = {"type": "embedding", "num_embeddings": w[0], "embedding_dim": w[1]}
        mod.out_size = w[1]
        mod.notes.append("a first 2-D weight without a bias is read as nn.Embedding (add padding_idx if it has one)")
        return
    if len(w) == 2:
        mod.entry = {"type": "dense", "units": w[0]}
        mod.in_size, mod.out_size = w[1], w[0]
        mod.notes.append("activation: none; add the one the model applies after it (relu, tanh, softmax, ...)")
        return
    if len(w) in (3, 4):
        mod.entry = {"type": "conv1d" if len(w) == 3 else "conv2d", "out_channels": w[0],
                     "kernel_size": w[2] if len(w) == 3 else [w[2], w[3]]}
        mod.in_size, mod.out_size = w[1], w[0]
        mod.notes.append("stride, padding and dilation cannot be read from the weights: 1, 0 and 1 assumed")
        return
    raise ScaffoldError(f"{mod.prefix}weight: found shape {w}; expected 2-D (Linear, Embedding), 3-D (Conv1d) or "
                        "4-D (Conv2d)")


def in_flow_order(mods: list[Module]) -> list[Module]:
    """Each module reading what the one before returns; the file's order where that does not decide."""
    left = list(mods)
    out: list[Module] = []
    current = None
    while left:
        pick = next((m for m in left if m.in_size is None), None) if current is None else None
        if pick is None:
            pick = next((m for m in left if current is not None and m.in_size == current), left[0])
        out.append(pick)
        left.remove(pick)
        current = pick.out_size
    return out


def scaffold(state: dict[str, np.ndarray], weights_name: str) -> str:
    """The scenario text for *state* (read from *weights_name*, as the scenario will name it)."""
    if not state:
        raise ScaffoldError(f"{weights_name}: holds no parameters")
    mods = modules_of(state)
    for k, m in enumerate(mods):
        describe(m, first=(k == 0))
    mods = in_flow_order(mods)
    lines = ["version: 1", f"name: scaffolded from {weights_name}",
             "description: >", f"  Written by rnntui scaffold from the names and shapes in {weights_name}; the",
             "  comments mark what the weights cannot tell.", "seed: 0",
             "mode: many-to-many   # the weights cannot tell: many-to-one reads each sequence's last state"]
    first = mods[0]
    if first.entry["type"] == "embedding":
        V = first.entry["num_embeddings"]
        ids = [int(i) for i in np.random.default_rng(0).integers(0, V, 8)]
        lines.append(f"input: {{tokens: {ids}}}   # token ids below {V}; or text: with vocab:")
    elif first.entry["type"] == "conv2d":
        raise ScaffoldError(f"{first.prefix}: a conv2d first entry reads images whose size the weights cannot tell; "
                            "expected a recurrent, embedding or dense first module")
    else:
        lines.append(f"input: {{generate: {{kind: noise, length: 8, features: {first.in_size}}}}}   # noise of the "
                     "first entry's width: replace with your data")
    lines.append("model:")
    rename = {}
    for i, m in enumerate(mods):
        body = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in m.entry.items())
        lines.append(f"  - {{{body}}}" + (f"   # {m.prefix.rstrip('.')}" if m.prefix else ""))
        for note in m.notes:
            lines.append(f"    # {note}")
        if m.prefix and m.prefix != f"{i}.":
            rename[m.prefix] = f"{i}."
    lines.append("weights:")
    lines.append("  init: none          # every parameter comes from the file")
    lines.append(f"  file: {weights_name}")
    if rename:
        lines.append("  rename: {" + ", ".join(f'"{a}": "{b}"' for a, b in rename.items()) + "}")
    lines.append("loss: {kind: sum}   # the weights cannot tell: mse or cross_entropy with a target: per step")
    return "\n".join(lines) + "\n"
