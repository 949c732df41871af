"""`rnntui scaffold WEIGHTS -o scenario.yaml`: a scenario written from a state_dict's names and shapes.

Each module of the state_dict (the key's prefix before PyTorch's parameter name) becomes an entry:

    weight_ih_l{j}[_reverse] ...      rnn / lstm / gru: the gate count from weight_ih's rows over
                                      weight_hh's columns (1, 3, 4), num_layers from the l{j},
                                      bidirectional from _reverse
    weight (V, E), no bias, first     embedding
    weight (out, in) [+ bias]         dense
    weight (out, in, k) / (out, in, kh, kw)   conv1d / conv2d (by the weight's rank)
    running_mean, running_var [+ weight, bias, num_batches_tracked] (C,)
                                      batchnorm2d after a conv2d, batchnorm1d on a sequence or vector

The modules are chained so that each reads what the one before returns (a flatten goes between a
conv2d and a dense), in the file's order wherever the shapes allow it (a .safetensors file does not
keep the state_dict's order: there, name order). With them come the `rename` map from the module names
to entry numbers, `set` to 0 for biases a module was built without, an input of the right shape
(token ids for an embedding, an image for a conv2d, noise otherwise), `mode: many-to-many`,
`loss: sum`, and comments wherever the weights cannot tell: activations, pooling, a conv's stride and
padding, an RNN's nonlinearity, the image size, the mode and the loss. The keys the weights cannot
tell are written out with PyTorch's defaults, so following a comment is changing a value.
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field

import numpy as np

from rnntui.errors import RnntuiError, lone_surrogate

RECURRENT = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l([0-9]+)(_reverse)?$")
SEARCH_BUDGET = 20_000  # chain extensions tried before giving up on an order (modules are few)
NOISE_LENGTH = 8
SEQ, MAP, VEC = "sequence", "map", "vector"  # what flows between entries
BATCHNORM = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


class ScaffoldError(RnntuiError):
    title = "scaffold error"


def _shown(text: str) -> str:
    """A name as it may stand in a YAML comment, block scalar or double-quoted scalar: JSON's escapes for
    quotes, backslashes and control characters, and every other character that is not printable (NEL, the
    line separators, half a surrogate pair) as its \\u escape, so a line stays a line and YAML takes it."""
    return "".join(ch if ch.isprintable() else json.dumps(ch)[1:-1]
                   for ch in json.dumps(text, ensure_ascii=False)[1:-1])


def _natural(text: str) -> list:
    """Sort key in which layers.10 comes after layers.9."""
    return [int(part) if part.isdigit() else part for part in re.split(r"([0-9]+)", text)]


@dataclass
class Module:
    prefix: str                                  # "rnn." (with its dot), or "" for a bare state_dict
    params: dict[str, tuple] = field(default_factory=dict)   # PyTorch name -> shape
    kind: str = ""                               # recurrent, linear, conv1d, conv2d, batchnorm
    entry: dict = field(default_factory=dict)
    in_size: int = 0                             # features or channels it reads
    out_size: int = 0
    notes: list[str] = field(default_factory=list)
    zero: list[str] = field(default_factory=list)  # parameters the module was built without (bias=False)

    @property
    def name(self) -> str:
        return _shown(self.prefix.rstrip(".")) or "(top level)"

    def keys(self, names) -> str:
        return ", ".join(_shown(self.prefix + n) for n in names)

    @property
    def may_embed(self) -> bool:
        """A 2-D weight without a bias: nn.Embedding at the start, else a Linear built with bias=False."""
        return self.kind == "linear" and "bias" not in self.params


@dataclass
class Link:
    """One module in the chain: read as an embedding or not, and whether a flatten goes before it."""
    mod: Module
    embed: bool = False
    flatten: bool = False
    reads: str = SEQ                             # what flows into it (a batchnorm is 2d on a map, else 1d)


def _split(key: str) -> tuple[str, str]:
    prefix, _, name = key.rpartition(".")
    return (prefix + "." if prefix else ""), name


def modules_of(state: dict[str, np.ndarray]) -> list[Module]:
    mods: dict[str, Module] = {}
    for key, arr in state.items():
        prefix, name = _split(key)
        mods.setdefault(prefix, Module(prefix)).params[name] = tuple(int(n) for n in np.shape(arr))
    return list(mods.values())


def _expect(mod: Module, shapes: dict[str, tuple], optional: list[str]) -> None:
    """Every parameter of *mod* has the shape its entry needs; *optional* ones (biases) all or none."""
    p = mod.params  # its names are all in *shapes*: describe() refused any other
    wrong = [n for n in p if p[n] != shapes[n]]
    if wrong:
        n = wrong[0]
        raise ScaffoldError(f"{mod.keys([n])}: found shape {p[n]}; expected {shapes[n]} beside "
                            f"{mod.keys([m for m in p if m != n][:2])} ({mod.entry['type']})")
    missing = [n for n in shapes if n not in p and n not in optional]
    absent = [n for n in optional if n not in p]
    if missing or 0 < len(absent) < len(optional):
        raise ScaffoldError(f"{mod.name}: found {mod.keys(sorted(p))}; missing {', '.join(missing + absent)} "
                            f"for a {mod.entry['type']}")
    if absent:
        mod.zero = absent
        mod.notes.append("built without biases (bias=False): the entry's are held at 0 by weights.set below")


def _recurrent(mod: Module) -> None:
    p = mod.params
    names = sorted(p)
    bad = [n for n in names if not RECURRENT.match(n)]
    if bad or "weight_ih_l0" not in p or "weight_hh_l0" not in p:
        raise ScaffoldError(f"{mod.name}: found {mod.keys(names)}; expected a recurrent module's weight_ih_l0, "
                            "weight_hh_l0 (and biases, more layers, _reverse)")
    if len(p["weight_ih_l0"]) != 2 or len(p["weight_hh_l0"]) != 2:
        raise ScaffoldError(f"{mod.keys(['weight_ih_l0'])}: found shape {p['weight_ih_l0']} beside weight_hh_l0 "
                            f"{p['weight_hh_l0']}; expected two matrices")
    from rnntui.engine.families import by_rows, shapes_expected

    H = p["weight_hh_l0"][1]
    fam = by_rows(p["weight_ih_l0"][0], H)
    if fam is None:
        raise ScaffoldError(f"{mod.keys(['weight_ih_l0'])}: found shape {p['weight_ih_l0']} against weight_hh_l0 "
                            f"{p['weight_hh_l0']}; expected {shapes_expected(H)}")
    layers = 1 + max(int(RECURRENT.match(n).group(2)) for n in names)
    dirs = 2 if any(n.endswith("_reverse") for n in names) else 1
    mod.kind, mod.in_size, mod.out_size = "recurrent", p["weight_ih_l0"][1], H * dirs
    mod.entry = {"type": fam.name, "hidden_size": H}
    if layers > 1:
        mod.entry["num_layers"] = layers
    if dirs == 2:
        mod.entry["bidirectional"] = True
    if any(f.name == "nonlinearity" for f in dataclasses.fields(fam.config)):
        mod.entry["nonlinearity"] = "tanh"
        mod.notes.append("nonlinearity: the weights cannot tell: tanh unless the module was built with "
                         "nonlinearity='relu' (then write relu)")
    shapes, biases = {}, []
    for j in range(layers):
        for suffix in ("", "_reverse")[:dirs]:
            # the family's own parameter blocks, PyTorch's names with the layer's suffix
            for stem, shape in fam.param_shapes(H, mod.in_size if j == 0 else H * dirs).items():
                shapes[f"{stem}_l{j}{suffix}"] = shape
                if stem.startswith("bias"):
                    biases.append(f"{stem}_l{j}{suffix}")
    _expect(mod, shapes, biases)


def _batchnorm(mod: Module) -> None:
    """nn.BatchNorm1d/2d: its running statistics (C,) say so; 1d or 2d is settled by what it reads."""
    p = mod.params
    C = p["running_mean"][0] if len(p["running_mean"]) == 1 else 0
    shapes = {n: (C,) for n in ("weight", "bias", "running_mean", "running_var")}
    shapes["num_batches_tracked"] = ()
    wrong = [n for n in p if p[n] != shapes[n]]
    if not C:
        raise ScaffoldError(f"{mod.keys(['running_mean'])}: found shape {p['running_mean']}; expected (C,), one "
                            "mean per channel, for a BatchNorm")
    if wrong:
        n = wrong[0]
        raise ScaffoldError(f"{mod.keys([n])}: found shape {p[n]}; expected {shapes[n]} for a BatchNorm beside "
                            f"{mod.keys([m for m in sorted(p) if m != n][:2])}")
    missing = [n for n in ("running_var",) if n not in p] + (["bias" if "weight" in p else "weight"]
                                                            if ("weight" in p) != ("bias" in p) else [])
    if missing:
        raise ScaffoldError(f"{mod.name}: found {mod.keys(sorted(p))}; missing {', '.join(missing)} for a BatchNorm")
    mod.kind, mod.in_size, mod.out_size = "batchnorm", C, C
    mod.entry = {"type": "batchnorm1d", "eps": 1e-05, "momentum": 0.1}
    if "weight" not in p:
        mod.entry["affine"] = False
    mod.notes.append("eps, momentum: the weights cannot tell: PyTorch's defaults are written; set the module's")
    mod.notes.append("the running statistics are used, as after model.eval(); batch_stats: true uses the batch's, as "
                     "a module left in train() mode")
    mod.notes.append("an activation after it: the weights cannot tell: add a {type: activation, function: relu} entry "
                     "below it if the model has one (and renumber weights.rename)")


def describe(mod: Module) -> None:
    """Fill *mod*'s kind, entry and sizes from its parameter names and shapes, or raise ScaffoldError."""
    p = mod.params
    if any(RECURRENT.match(n) for n in p):
        return _recurrent(mod)
    if "running_mean" in p and set(p) <= BATCHNORM:
        return _batchnorm(mod)
    w = p.get("weight")
    extra = sorted(set(p) - {"weight", "bias"})
    if w is not None and len(w) == 1 and not extra:
        raise ScaffoldError(f"{mod.name}: found {', '.join(f'{mod.keys([n])} {p[n]}' for n in sorted(p))}: a 1-D weight "
                            "without running statistics is a normalisation layer rnntui has no entry for (nn.LayerNorm, "
                            "nn.GroupNorm); expected modules rnntui has (a BatchNorm built with track_running_stats="
                            "False looks the same: write {type: batchnorm1d, track_running_stats: false} for it by hand)")
    if w is None or extra:
        raise ScaffoldError(f"{mod.name}: found {mod.keys(sorted(p))}; expected a recurrent module (weight_ih_l0, "
                            "...), a Linear or Conv (weight, bias) or an Embedding (weight)")
    if len(w) == 2:
        mod.kind, mod.in_size, mod.out_size = "linear", w[1], w[0]
        mod.entry = {"type": "dense", "units": w[0], "activation": "none"}
        mod.notes.append("activation: the weights cannot tell: write the one the model applies after it (relu, "
                         "tanh, sigmoid, softmax)")
    elif len(w) in (3, 4):
        kind = "conv1d" if len(w) == 3 else "conv2d"
        mod.kind, mod.in_size, mod.out_size = kind, w[1], w[0]
        mod.entry = {"type": kind, "out_channels": w[0], "kernel_size": w[2] if len(w) == 3 else [w[2], w[3]],
                     "stride": 1, "padding": 0, "dilation": 1, "activation": "none"}
        pool = "maxpool1d" if kind == "conv1d" else "maxpool2d"
        mod.notes.append("stride, padding, dilation: the weights cannot tell: PyTorch's defaults (1, 0, 1) are "
                         "written; set the module's (padding: same keeps the size)")
        mod.notes.append(f"activation and pooling after it: the weights cannot tell: write the activation (relu) "
                         f"and add a {{type: {pool}, kernel_size: 2}} entry below it if the model pools (and renumber "
                         "weights.rename)")
    else:
        raise ScaffoldError(f"{mod.keys(['weight'])}: found shape {w}; expected 2-D (Linear, Embedding), 3-D (Conv1d) "
                            "or 4-D (Conv2d)")
    _expect(mod, {"weight": w, "bias": (w[0],)}, ["bias"])
    if mod.zero and len(w) == 2:
        mod.notes[-1] = ("no bias: a Linear built with bias=False (held at 0 by weights.set below), or an "
                         "Embedding that is not the first module")


def _start(link: Link) -> tuple[str, int] | None:
    """What the first module returns, reading the scaffold's input."""
    m = link.mod
    if link.embed:
        return SEQ, m.params["weight"][1]
    return (MAP if m.kind == "conv2d" else SEQ), m.out_size


def _step(flow: tuple[str, int], m: Module) -> tuple[tuple[str, int], bool] | None:
    """What *m* returns reading *flow*, and whether a flatten must go before it; None: it cannot read it."""
    form, size = flow
    if m.kind == "linear" and form == MAP:
        return ((VEC, m.out_size), True) if size and m.in_size % size == 0 else None
    if m.in_size != size:
        return None
    if m.kind in ("linear", "batchnorm"):
        return (form, m.out_size), False
    if m.kind == "conv2d":
        return ((MAP, m.out_size), False) if form == MAP else None
    return ((SEQ, m.out_size), False) if form == SEQ else None  # recurrent, conv1d: over time


def chains(mods: list[Module], limit: int = 2) -> tuple[list[list[Link]], bool]:
    """Up to *limit* orders in which each module reads what the one before returns, the file's first;
    and whether the search ran out of its budget before it was done. A depth-first search with a stack of
    its own: a state_dict of thousands of modules is as deep as it is long, deeper than Python recurses."""
    found: list[list[Link]] = []
    budget = SEARCH_BUDGET
    starts = [Link(m, embed=True) for m in mods if m.may_embed] + [Link(m) for m in mods]
    for first in starts:
        if len(found) >= limit or budget <= 0:
            break
        chain = [first]
        frames = [[_start(first), [m for m in mods if m is not first.mod], 0]]   # flow, modules left, next to try
        while frames:
            flow, left, i = frames[-1]
            if not left:
                found.append(list(chain))
            if not left or i >= len(left) or len(found) >= limit or budget <= 0:
                frames.pop()
                chain.pop()
                continue
            frames[-1][2] = i + 1
            m = left[i]
            budget -= 1
            nxt = _step(flow, m)
            if nxt is not None:
                chain.append(Link(m, flatten=nxt[1], reads=flow[0]))
                frames.append([nxt[0], [x for x in left if x is not m], 0])
    return found, budget <= 0


def _no_chain(mods: list[Module], gave_up: bool) -> ScaffoldError:
    parts = []
    for m in mods:
        key = {"recurrent": "weight_ih_l0", "batchnorm": "running_mean"}.get(m.kind, "weight")
        reads = f"reads {m.in_size}" if not m.may_embed else f"reads {m.in_size} (or ids, as an embedding)"
        parts.append(f"{m.keys([key])} {m.params[key]} {reads}, returns {m.out_size}")
    tried = f" in {SEARCH_BUDGET:,} tries" if gave_up else ""
    return ScaffoldError(f"found no order of the modules{tried} in which each reads what the one before returns "
                         f"({'; '.join(parts)}); expected a chain of modules (a model with branches or skips "
                         "cannot be scaffolded)")


@dataclass
class Item:
    """One line of the model list: an entry, the module it comes from (None: a flatten), its notes."""
    entry: dict
    mod: Module | None
    notes: list[str]
    zero: list[str] = field(default_factory=list)


def _gap(before: Module, after: Module) -> str | None:
    """Sequential numbering that skips indices: modules without parameters stood there."""
    a, b = re.fullmatch(r"(.*?)([0-9]+)\.", before.prefix), re.fullmatch(r"(.*?)([0-9]+)\.", after.prefix)
    if not (a and b and a.group(1) == b.group(1) and int(b.group(2)) > int(a.group(2)) + 1):
        return None
    lo, hi = int(a.group(2)) + 1, int(b.group(2)) - 1
    skipped = f"{a.group(1)}{lo}" if lo == hi else f"{a.group(1)}{lo}..{hi}"
    return (f"the names skip {_shown(skipped)} before it: modules without parameters (an activation, pool, flatten "
            "or dropout) stood there; write them as the model has them")


def _items(chain: list[Link]) -> list[Item]:
    items: list[Item] = []
    for k, link in enumerate(chain):
        m = link.mod
        if link.flatten:
            items.append(Item({"type": "flatten"}, None,
                              [f"the conv's map to the {m.in_size} inputs of {m.name} (PyTorch: nn.Flatten or .view)"]))
        if link.embed:
            w = m.params["weight"]
            entry = {"type": "embedding", "num_embeddings": w[0], "embedding_dim": w[1]}
            notes = ["a first 2-D weight without a bias is read as nn.Embedding (add padding_idx if it has one); "
                     "a Linear built with bias=False has the same shape"]
        else:
            entry, notes = m.entry, list(m.notes)
            if m.kind == "batchnorm" and link.reads == MAP:
                entry = {**entry, "type": "batchnorm2d"}
        if k:
            gap = _gap(chain[k - 1].mod, m)
            if gap:
                notes.append(gap + ("; the flatten is written above" if link.flatten else ""))
        items.append(Item(entry, m, notes, [] if link.embed else m.zero))
    return items


def _flow(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, list):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    return str(v)


def _image_size(chain: list[Link]) -> tuple[int, int, str]:
    """(H, W) of an image the convs and the dense after them read with stride 1, no padding, no pooling;
    and what it would be with a pool of 2 after each conv."""
    convs = [link.mod for link in chain if link.mod.kind == "conv2d"]
    dense = next((link.mod for link in chain if link.flatten), None)
    if dense is not None:
        hw = dense.in_size // convs[-1].out_size
        h = max(d for d in range(1, int(hw ** 0.5) + 1) if hw % d == 0)
        w = hw // h
        why = f"gives the {dense.in_size} inputs of {dense.name}"
    else:
        h = w = NOISE_LENGTH
        why = "gives the convs room"
    kernels = [c.entry["kernel_size"] for c in convs]
    H, W = h + sum(k[0] - 1 for k in kernels), w + sum(k[1] - 1 for k in kernels)
    ph, pw = h, w
    for k in reversed(kernels):
        ph, pw = 2 * ph + k[0] - 1, 2 * pw + k[1] - 1
    return H, W, (f"a size that {why} with stride 1, no padding and no pooling; the weights cannot tell the real "
                  f"size: with a maxpool2d of 2 after each conv it is ({ph}, {pw})")


def _input_lines(chain: list[Link]) -> list[str]:
    first = chain[0]
    rng = np.random.default_rng(0)
    if first.embed:
        V = first.mod.params["weight"][0]
        ids = [int(i) for i in rng.integers(0, V, NOISE_LENGTH)]
        return [f"input: {{tokens: {ids}}}   # token ids below {V}: replace with yours (or text: with vocab:)"]
    if first.mod.kind == "conv2d":
        C = first.mod.in_size
        H, W, why = _image_size(chain)
        lines = ["input:", f"  # noise of shape ({C}, {H}, {W}): {why}; replace it with your image (image: x.npy, "
                 "(C, H, W))", "  image:"]
        for c in rng.normal(0.0, 1.0, (C, H, W)).round(2) + 0.0:  # + 0.0: no -0.00
            rows = ["[" + ", ".join(f"{v:.2f}" for v in row) + "]" for row in c]
            lines += ["    - - " + rows[0]] + ["      - " + r for r in rows[1:]]
        return lines
    span = sum(link.mod.entry["kernel_size"] - 1 for link in chain if link.mod.kind == "conv1d")
    length = NOISE_LENGTH + span
    why = f" (enough steps for the conv kernels)" if span else ""
    return [f"input: {{generate: {{kind: noise, length: {length}, features: {first.mod.in_size}}}}}   # noise "
            f"of the first entry's width{why}: replace with your data (values:, batch:, file:)"]


def _order_note(several: bool, moved: bool, ordered: bool) -> str | None:
    """What the scenario says about its order, when the file's (or the names') did not settle it."""
    lost = "" if ordered else " (a .safetensors file does not keep the state_dict's order)"
    if several:
        base = "the file's" if ordered else "name order"
        return f"order: {base}{lost}; the shapes would allow another: check it against the model's forward"
    if moved:
        how = "not the file's" if ordered else "by the shapes"
        return f"order: {how}{lost}: each module reads what the one before returns"
    return None


def scaffold(state: dict[str, np.ndarray], weights_name: str, ordered: bool = True) -> str:
    """The scenario text for *state* (read from *weights_name*, as the scenario will name it). *ordered*:
    the file keeps the state_dict's order (a .safetensors file does not; then names are sorted).
    ScaffoldError says what is wrong in terms of the file's keys (the caller names the file)."""
    if not state:
        raise ScaffoldError("holds no parameters")
    for key, arr in state.items():
        if lone_surrogate(key) is not None:
            raise ScaffoldError(f"{_shown(key)}: a parameter name with half a UTF-16 surrogate pair in it, which is no "
                                "character: no scenario can name it; expected names of text (rename the key)")
        shape = tuple(int(n) for n in np.shape(arr))
        if 0 in shape:
            raise ScaffoldError(f"{_shown(key)}: found shape {shape}, a tensor with no elements; expected parameters "
                                "that hold numbers (a module with a size of 0 cannot run)")
    mods = modules_of(state)
    if not ordered:
        mods.sort(key=lambda m: _natural(m.prefix))
    for m in mods:
        describe(m)
    found, gave_up = chains(mods)
    if not found:
        raise _no_chain(mods, gave_up)
    chain = found[0]
    items = _items(chain)
    order_note = _order_note(len(found) > 1, [link.mod for link in chain] != mods, ordered)
    image = chain[0].mod.kind == "conv2d"
    lines = ["version: 1", f'name: "scaffolded from {_shown(weights_name)}"', "description: >",
             f"  Written by rnntui scaffold from the parameter names and shapes in {_shown(weights_name)};",
             "  the comments mark what the weights cannot tell.", "seed: 0",
             "mode: many-to-many   # " + ("an image has no steps: the mode changes nothing" if image else
                                          "the weights cannot tell: many-to-one reads each sequence's last state "
                                          "(a model that uses h_n or out[-1])")]
    lines += _input_lines(chain)
    lines.append("model:" + (f"   # {order_note}" if order_note else ""))
    rename: dict[str, str] = {}
    zero: list[str] = []
    for i, item in enumerate(items):
        body = ", ".join(f"{k}: {_flow(v)}" for k, v in item.entry.items())
        lines.append(f"  - {{{body}}}" + (f"   # {item.mod.name}" if item.mod is not None else ""))
        lines += [f"    # {note}" for note in item.notes]
        if item.mod is not None:
            rename[item.mod.prefix] = f"{i}."
            zero += [f"{i}.{name}" for name in item.zero]
    lines.append("weights:")
    lines.append("  init: none          # every parameter comes from the file")
    lines.append(f"  file: {json.dumps(weights_name)}")
    # every module is listed, those already at their number too: an entry added above one (a pool) moves
    # it, and then each number below is one edit
    lines.append("  rename:   # module in the file -> entry number; adding or removing an entry renumbers those below it")
    lines += [f"    {json.dumps(a)}: {json.dumps(b)}" for a, b in rename.items()]
    if zero:
        lines.append("  set: {" + ", ".join(f"{json.dumps(k)}: 0" for k in zero) + "}   # biases the modules "
                     "were built without")
    lines.append("loss: {kind: sum}   # the weights cannot tell: mse or cross_entropy with a target: "
                 + ("one per image" if image else "per step (one per sequence in many-to-one)"))
    return "\n".join(lines) + "\n"
