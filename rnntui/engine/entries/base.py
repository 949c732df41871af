"""The `Handler` base class: everything about one entry type in one object.

A handler declares its scenario keys (`Config`, a frozen dataclass; see rnntui/engine/fields.py),
lays itself out (shapes, parameters, steps), initialises its parameters, runs forward and backward,
records what it computed, says how big its record is, and gives the words views and reports use.
Handlers are found through the registry in `entries/__init__.py`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from math import prod, sqrt
from typing import Any, Literal

import numpy as np

from rnntui.engine import activations as act
from rnntui.engine import keys
from rnntui.engine.context import RunContext
from rnntui.engine.layout import EntryInfo, Footprint, LayoutContext
from rnntui.engine.recording import step_norms
from rnntui.engine.stepnorms import step_bias_norms, step_outer_norms, temp_floats

Activation = Literal["none", "relu", "tanh", "sigmoid", "softmax", "log_softmax"]


@dataclass(frozen=True)
class NoConfig:
    """An entry type without keys of its own (besides `type`)."""


class Handler:
    type: str = ""
    Config: type = NoConfig
    recurrent: bool = False
    doc: str = ""                    # one line for the docs and `rnntui scenarios`
    activation_key = "activation"    # the scenario key that names its activation, for messages
    accepts_packed = False           # whether a batch of sequences of different lengths may pass through:
                                     # recurrent entries pack them, per-step entries never mix steps
    is_op = False                    # an op of a graph model (engine/ops/): reads a list of values, owns no parameter
    reads_ids: bool = False          # reads token ids (first entry only): the loader gives ids, not one-hot vectors
    has_buffers = False              # has state that is not a parameter (EntryInfo.buffers): forward reads
                                     # ctx.buffers, and `updated_buffers` moves them after a training iteration
    # where the entry's typed configuration lands in its EntryInfo (what meta.layout saves, and what
    # engine/trace_check.py checks a saved one against): EntryInfo fields that hold a Config field of another
    # name (a dropout's `p` is `dropout`); fields of the same name hold it without being listed here
    config_in_info: dict = {}
    Options: type | None = None      # the typed shape of EntryInfo.options, where the entry lays some out

    def info_fields(self) -> dict[str, str]:
        """EntryInfo field -> the Config field it holds (the same name, or as `config_in_info` says)."""
        names = {f.name for f in fields(self.Config)}
        out = {f.name: f.name for f in fields(EntryInfo) if f.name in names}
        out.update({k: v for k, v in self.config_in_info.items() if v in names})
        return out

    # --- shapes ---------------------------------------------------------------------------------
    def layout(self, index: int, cfg: Any, feat: tuple[int, ...], seq: bool, steps: int,
               ctx: LayoutContext) -> EntryInfo:  # pragma: no cover - abstract
        raise NotImplementedError

    def footprint(self, info: EntryInfo, steps: int, B: int) -> Footprint:
        """Numbers this entry holds besides its parameters (layout.Footprint), as an `Activated` entry
        does: the value before the activation and the output (each a new array); in the backward pass
        the gradient before the activation (where there is one), dL/d(input), the activation's
        derivative's temporaries and, on a sequence, the per-step norms' bounded temporaries."""
        n_in, n_out = sizes(info, steps, B)
        act = info.activation != "none"
        records = n_in + (n_out if act else 0)
        grams = stepnorm_floats(info, steps, B) if info.seq_in else 0
        return Footprint(held=2 * n_out + records, records=records, temp=2 * n_out + grams)

    # --- parameters -----------------------------------------------------------------------------
    def init_bound(self, info: EntryInfo, name: str) -> float:
        """PyTorch's default init draws U(-k, k) with this k (1/sqrt(fan_in) for Linear and Conv)."""
        weight = info.params[keys.param_name(info.index, "weight")]
        return 1.0 / sqrt(prod(weight[1:]))

    def init_pytorch(self, info: EntryInfo, name: str, shape, rng: np.random.Generator) -> np.ndarray:
        """`init: pytorch`: the draw of the module's reset_parameters (U(-k, k) unless a handler says otherwise)."""
        k = self.init_bound(info, name)
        return rng.uniform(-k, k, shape)

    def id_count(self, cfg: Any) -> int:
        """An entry that reads ids: how many it can look up."""
        raise NotImplementedError

    def laid_out_id_count(self, info: EntryInfo) -> int:
        """The same count read from the entry's layout (what a loaded Scenario keeps of it)."""
        raise NotImplementedError

    def fixed_init(self, info: EntryInfo, name: str, shape) -> np.ndarray | None:
        """A parameter that starts at the same value whatever `init` says (None: `init` decides)."""
        return None

    def initial_buffer(self, name: str, shape) -> np.ndarray:
        """A buffer's value before any file or `set` (only entries with EntryInfo.buffers)."""
        raise NotImplementedError

    def is_recurrent_matrix(self, name: str) -> bool:
        """Whether `weights.recurrent_gain` multiplies this parameter."""
        return False

    # --- running --------------------------------------------------------------------------------
    def forward(self, info: EntryInfo, x: np.ndarray, params, rec: dict,
                ctx: RunContext):  # pragma: no cover - abstract
        """Return (pre, out, cache): pre is the value before the activation (None where there is none).
        *ctx*: what the run needs (engine/context.py); a handler reads what it uses of it: each sample's
        own number of steps (`ctx.lengths_for(info)`, only where `accepts_packed`; the rest apply per step
        or never see a packed batch), the initial states (`ctx.initial`), the interventions (`ctx.plan`),
        the dropout masks (`ctx.masks`), the buffers and whether it is a training iteration."""
        raise NotImplementedError

    def backward(self, info: EntryInfo, x, pre, out, cache, g_out, params, grads: dict, rec: dict,
                 g_pre=None) -> np.ndarray:  # pragma: no cover - abstract
        """Return dL/d(input); put parameter gradients into *grads*. *g_pre*, when given, is dL/dpre
        (the loss differentiated through a final softmax)."""
        raise NotImplementedError

    def mixes_steps(self, info: EntryInfo, training: bool) -> bool:
        """Whether one step's output depends on other steps' inputs (a what-if then recomputes every step)."""
        return not self.accepts_packed

    def check_run(self, info: EntryInfo, B: int, steps: int, lengths, training: bool,
                  stepwise: bool) -> tuple[str, str] | None:
        """What keeps this entry from running with this batch (B samples, *lengths* or None), in training
        or not, one step at a time (*stepwise*, a generator) or not: (scenario key, message), or None."""
        return None

    def updated_buffers(self, info: EntryInfo, record, buffers: dict) -> dict:
        """The entry's buffers after a training iteration that recorded *record* (only `has_buffers`)."""
        return {}

    # --- words ----------------------------------------------------------------------------------
    def step_words(self, info: EntryInfo, record, at: tuple) -> list[str]:
        """Lines the entry's view adds at one step of one sample (*at*: (t, b) or (b,)), read from the
        run's *record*: what the entry computed there besides its output (a layernorm's statistics)."""
        return []

    def describe(self, info: EntryInfo) -> str:
        """The configuration column of a model table."""
        return ""

    def equations(self, info: EntryInfo) -> list[str]:
        return [info.type]


class Activated(Handler):
    """Entries that end in an activation: `pre` is recorded where the activation is not the identity."""

    def activate(self, info: EntryInfo, pre: np.ndarray, rec: dict) -> np.ndarray:
        if info.activation != "none":
            rec[keys.pre(info.index)] = pre
        return act.apply(info.activation, pre)

    def pre_gradient(self, info: EntryInfo, pre, out, g_out, rec: dict, g_pre=None) -> np.ndarray:
        g = act.backward(info.activation, pre, out, g_out) if g_pre is None else g_pre
        if info.activation != "none":
            rec[keys.grad(keys.pre(info.index))] = g
        return g


def sizes(info: EntryInfo, steps: int, B: int) -> tuple[int, int]:
    """Numbers in the entry's input and output (sequences count every step)."""
    n_in = prod(info.in_feat) * (steps if info.seq_in else 1) * B
    n_out = prod(info.out_shape) * (info.steps if info.seq_out else 1) * B
    return n_in, n_out


def stepnorm_floats(info: EntryInfo, steps: int, B: int) -> int:
    """The most numbers record_step_norms holds at once for this entry's weight matrices (engine/stepnorms.py)."""
    return max((temp_floats(steps, B, shape[0], prod(shape[1:])) for shape in info.params.values() if len(shape) >= 2),
               default=0)


def record_step_norms(rec: dict, name: str, g_rows: np.ndarray, x_rows: np.ndarray | None) -> None:
    """Each step's contribution to a parameter gradient, as a norm (step t: g_t^T x_t, or Σ_b g_t); not in a
    lean run (engine/recording.py)."""
    if not step_norms():
        return
    rec[keys.step_gradnorm(name)] = step_outer_norms(g_rows, x_rows) if x_rows is not None else step_bias_norms(g_rows)


__all__ = ["Activated", "Activation", "Handler", "NoConfig", "record_step_norms", "sizes", "stepnorm_floats"]
