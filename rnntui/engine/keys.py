"""How trace keys are built: place prefixes, parameter names, gradient and diagnostic keys, the run's
`meta.*` records, a decoder's and a hand-over's keys, and a training run's `train.*` keys. This is the
one place a key is spelled: `tests/test_keys_in_one_place.py` fails on a key literal anywhere else in
the package (a string or an f-string that begins with `grad.`, `model.`, `train.`, ...).

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


def dropout_mask(index: int) -> str:
    """The mask a dropout entry drew in training (`model.{i}.mask`)."""
    return f"model.{index}.mask"


def layer_dropout_mask(index: int, layer: int) -> str:
    """The dropout mask applied to sub-layer *layer*'s input of a recurrent entry (`model.{i}.l{j}.dropout_mask`)."""
    return f"model.{index}.l{layer}.dropout_mask"


def is_dropout_mask(key: str) -> bool:
    """Whether *key* is a dropout mask a training run drew (either kind above)."""
    return key.startswith("model.") and (key.endswith(".mask") or key.endswith(".dropout_mask"))


def entry_param(index: int, stem: str) -> str:
    """The trace key of a non-recurrent entry's own parameter: `param.{i}.weight`."""
    return param(param_name(index, stem))


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

# the prefix of each kind of key (what a key starts with, to pick the kind out of a trace's keys)
PARAM_PREFIX = "param."
BUFFER_PREFIX = "buffer."
GRAD_PREFIX = "grad."
GRAD_PARAM_PREFIX = "grad.param."
GRADNORM_PREFIX = "gradnorm."
STEP_GRADNORM_PREFIX = "gradnorm.step."
DIAG_PREFIX = "diag."
META_PREFIX = "meta."
MODEL_PREFIX = "model."
TRAIN_PREFIX = "train."

# what a run records about itself
META_VERSION = "meta.version"
META_SCENARIO = "meta.scenario"          # the scenario's text
META_LAYOUT = "meta.layout"              # the layout as JSON (engine/trace_check.py checks it on load)
META_LENGTHS = "meta.lengths"            # each sample's real steps, where they differ
META_ITERATION = "meta.iteration"        # which training iteration the trace records
META_TRAINING = "meta.training"          # ran in training mode (dropout masks, batch statistics)
META_VOCAB = "meta.vocab"
META_DECODER_VOCAB = "meta.decoder_vocab"
META_TARGET = "meta.target"
META_SEED = "meta.seed"                  # what the backward pass was seeded with (attribution)
META_NOT_COMPUTED = "meta.not_computed"  # keys a lean run left out
META_WEIGHT_EDITS = "meta.weight_edits"
META_INTERVENTIONS = "meta.interventions"
META_SAMPLES = "meta.samples"            # a scan's number of samples
META_CHECKPOINT = "meta.checkpoint"      # a checkpointed trace's segment length, recomputed arrays, recording

# non-finite values: where they first appear
NONFINITE_PREFIX = "diag.nonfinite."
NONFINITE_FIRST_STEP = "diag.nonfinite.first_step"
NONFINITE_KEYS = "diag.nonfinite.keys"
NONFINITE_KEY_FIRST_STEP = "diag.nonfinite.key_first_step"

# an encoder-decoder: the decoder's own input, and the states handed over
DECODER_INPUT = "decoder.input"
GRAD_DECODER_INPUT = "grad.decoder.input"
DECODER_TOKENS = "decoder.tokens"
DECODER_TOKEN_IDS = "decoder.token_ids"


def handover(state: str) -> str:
    """A state the encoder hands over to the decoder: `handover.h`, `handover.c` (layers, B, H)."""
    return f"handover.{state}"


# a training run (engine/train.py): one value per iteration
TRAIN_LOSS = "train.loss"
TRAIN_GRADNORM = "train.gradnorm"
TRAIN_GRADNORM_CLIPPED = "train.gradnorm.clipped"
TRAIN_CLIPPED = "train.clipped"
TRAIN_LR = "train.lr"
TRAIN_STEP = "train.step"
TRAIN_BATCH = "train.batch"
TRAIN_CHECKPOINT_EVERY = "train.checkpoint_every"
TRAIN_CONFIG = "train.config"                      # the train: section as JSON (the saved file's report reads it)
TRAIN_RECORD_ITERATION = "train.record_iteration"
TRAIN_NONFINITE_ITERATION = "train.nonfinite.iteration"
TRAIN_NONFINITE_STEP = "train.nonfinite.step"
TRAIN_NONFINITE_KEYS = "train.nonfinite.keys"
TRAIN_UPDATE_RATIO = "train.update_ratio"          # the expression language's name for every parameter's ratio
TRAIN_UPDATE_RATIO_PREFIX = "train.update_ratio."
TRAIN_GRADNORM_PARAM_PREFIX = "train.gradnorm.param."
TRAIN_BPTT_PREFIX = "train.bptt."


def train(name: str) -> str:
    """A training run's per-iteration key by its short name: `train("loss")` is `train.loss`."""
    return f"train.{name}"


def train_gradnorm_param(name: str) -> str:
    """‖dL/dP‖ of parameter *name* at every iteration."""
    return f"train.gradnorm.param.{name}"


def train_update_ratio(name: str) -> str:
    """‖P_{k+1} - P_k‖ / ‖P_k‖ of parameter *name* at every iteration."""
    return f"train.update_ratio.{name}"


def train_param_norm(name: str) -> str:
    return f"train.param_norm.{name}"


def train_final_param(name: str) -> str:
    """Parameter *name* after the last iteration."""
    return f"train.final.param.{name}"


def train_final_buffer(name: str) -> str:
    return f"train.final.buffer.{name}"


def train_bptt(prefix: str) -> str:
    """‖dL/dh_t‖ at every iteration and step of the place *prefix* (`train.bptt.model.0.l0.fwd`)."""
    return f"train.bptt.{prefix}"


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


def input_tokens(name: str) -> str:
    """The tokens (str, (T, B)) of a graph model's named token input besides its first (whose are `tokens`)."""
    return f"tokens.{name}"


def input_token_ids(name: str) -> str:
    """Their ids (int, (T, B), -1 where padded), beside `input_tokens(name)`."""
    return f"token_ids.{name}"


def input_lengths(name: str) -> str:
    """Each sample's length in one named input of a graph model whose samples have lengths of their own."""
    return f"meta.lengths.{name}"


def source_words(key: str) -> str:
    """How messages name what an entry read, from its key (`input`, `model.3 output`, `input hypothesis`)."""
    if key.endswith(".out"):
        return f"{key[:-len('.out')]} output"
    return key.replace(".", " ", 1)


def checkpoint_start(index: int, state: str) -> str:
    """A checkpointed trace's states where each segment starts, (segments, layers * directions, B, H)."""
    return f"checkpoint.{index}.start.{state}"


def checkpoint_grad(index: int, state: str) -> str:
    """A checkpointed trace's gradients entering each segment through time, as `checkpoint_start`."""
    return f"checkpoint.{index}.grad.{state}"


def checkpoint_row(name: str) -> str:
    """What a checkpointed trace's sweep kept for the views (CheckpointedTrace.rows)."""
    return f"checkpoint.rows.{name}"


def checkpoint_extra(name: str) -> str:
    """What a checkpointed trace of a run of another kind than a plain chain keeps (engine/checkpoint_kinds.py)."""
    return f"checkpoint.extra.{name}"


CHECKPOINT_PREFIX = "checkpoint."
