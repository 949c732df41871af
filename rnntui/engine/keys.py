"""How trace keys are built: place prefixes, parameter names, gradient and diagnostic keys (not yet
the only place: some modules still spell a key's prefix in an f-string, docs/architecture.md).

A *place* is one direction of one sub-layer of a recurrent entry (`model.{i}.l{j}.{dir}`) or a
whole non-recurrent entry (`model.{i}`). Parameter names are PyTorch's, prefixed by the entry's
index: `{i}.weight_ih_l{j}` and `{i}.weight_ih_l{j}_reverse` for the backward direction.
"""
from __future__ import annotations

from dataclasses import dataclass

DIRECTIONS = ("fwd", "bwd")


def suffix(layer: int, direction: str) -> str:
    """PyTorch's parameter suffix for sub-layer *layer* and a direction: `_l0`, `_l1_reverse`."""
    return f"_l{layer}{'_reverse' if direction == 'bwd' else ''}"


def param_name(index: int, stem: str, layer: int | None = None, direction: str | None = None) -> str:
    """`{i}.weight` for an entry's own parameter, `{i}.weight_hh_l{j}[_reverse]` for a recurrent one."""
    if layer is None:
        return f"{index}.{stem}"
    return f"{index}.{stem}{suffix(layer, direction or 'fwd')}"


def entry_prefix(index: int) -> str:
    return f"model.{index}"


def place_prefix(index: int, layer: int | None = None, direction: str | None = None) -> str:
    if layer is None:
        return entry_prefix(index)
    return f"model.{index}.l{layer}.{direction}"


def out(index: int) -> str:
    return f"model.{index}.out"


def pre(index: int) -> str:
    return f"model.{index}.pre"


def grad(key: str) -> str:
    """dLoss/d(the array under *key*)."""
    return f"grad.{key}"


def param(name: str) -> str:
    return f"param.{name}"


def buffer(name: str) -> str:
    """A buffer (state that is no parameter: batchnorm's `{i}.running_mean`) as the run read it."""
    return f"buffer.{name}"


def grad_param(name: str) -> str:
    return f"grad.param.{name}"


def step_gradnorm(name: str) -> str:
    """The norm of each step's contribution to a parameter's gradient."""
    return f"gradnorm.step.{name}"


def diag(prefix: str, what: str) -> str:
    return f"diag.{prefix}.{what}"


# dL/dh_t split into the two terms that sum to it (recorded by the cell's backward pass, not re-derived)
FROM_OUTPUT = "h.from_output"
THROUGH_TIME = "h.through_time"

LOSS = "loss"
STEP_LOSS = "loss.step"          # each step's share of the loss, where the output has steps
SAMPLE_IDS = "meta.sample_ids"   # which samples of the data the batch holds (a data set's, a minibatch's)
SAMPLES_TOTAL = "meta.samples_total"   # and how many samples the data has
SAMPLE_STEP_LOSS = "loss.sample_step"  # (T, B): each sample's own loss (as if alone), step by step
INPUT = "input"
OUTPUT = "output"
GRAD_INPUT = "grad.input"        # dLoss/d(input): saliency


@dataclass(frozen=True)
class Place:
    """One recurrent sub-layer direction, or a non-recurrent entry (layer = direction = None)."""

    entry: int
    layer: int | None = None
    direction: str | None = None

    @property
    def prefix(self) -> str:
        return place_prefix(self.entry, self.layer, self.direction)

    @property
    def recurrent(self) -> bool:
        return self.layer is not None

    def key(self, name: str) -> str:
        """A per-place array: `h`, `c`, `gates.f`, `pre`."""
        return f"{self.prefix}.{name}"

    def grad_key(self, name: str) -> str:
        return grad(self.key(name))

    def diag_key(self, what: str) -> str:
        return diag(self.prefix, what)

    def param(self, stem: str) -> str:
        """This direction's parameter name, e.g. `0.weight_hh_l1_reverse`."""
        return param_name(self.entry, stem, self.layer, self.direction)

    def label(self, info) -> str:
        e = info.entries[self.entry]
        name = f"model.{self.entry} {e.id}" if e.id else f"model.{self.entry}"   # a graph node's id beside its number
        if self.layer is None:
            return f"{name} {e.type}"
        return f"{name} {e.type} l{self.layer} {self.direction}"


def places_of(entries) -> tuple[Place, ...]:
    """Every place a cursor can be in a model laid out as *entries* (EntryInfo), in order: each sub-layer
    and direction of a recurrent entry, every other entry whole (`TraceInfo.places`; the scenario's
    `debug:` expressions are checked against them before a run)."""
    out: list[Place] = []
    for e in entries:
        if e.recurrent:
            out += [Place(e.index, j, d) for j in range(e.num_layers) for d in e.directions]
        else:
            out.append(Place(e.index))
    return tuple(out)



def node_value(index: int, name: str) -> str:
    """A value a node records besides its output: a layernorm's `mean`, `var` (`model.{i}.{name}`)."""
    return f"model.{index}.{name}"


def input_key(name: str) -> str:
    """One named input of a graph model (`inputs:`), as the run read it."""
    return f"input.{name}"


def input_of(entries, index: int) -> str:
    """The trace key of what entry *index* reads: a chain's input or the entry before it (a decoder's first
    entry: `decoder.input`); a graph node's first read (an input's `input.{name}` or a node's output), or ""
    for an op that reads several values (it has no single input)."""
    e = entries[index]
    if e.reads:
        if len(e.reads) > 1:
            return ""
        src = e.reads[0]
        return input_key(src) if isinstance(src, str) else out(src)
    if e.part == "decoder" and entries[index - 1].part == "encoder":
        return "decoder.input"
    return INPUT if index == 0 else out(index - 1)


def input_lengths(name: str) -> str:
    """Each sample's length in one named input of a graph model whose samples have lengths of their own."""
    return f"meta.lengths.{name}"


def source_words(key: str) -> str:
    """How messages name what an entry read, from its key (`input`, `model.3 output`, `input hypothesis`)."""
    if key.endswith(".out"):
        return f"{key[:-len('.out')]} output"
    return key.replace(".", " ", 1)
