"""What a load returns (`Scenario`: everything the engine needs) and what a load that stops early leaves
unchecked (`LATER`, by what it waits for): shared by the chain's loader (scenario/loader.py) and a graph's
(scenario/graph_load.py)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Scenario:
    """Everything the engine needs; arrays are float64 until the engine casts them."""

    file: str
    text: str
    name: str
    description: str
    seed: int
    dtype: str
    mode: str
    layout: tuple
    x: np.ndarray
    seq: bool
    tokens: np.ndarray | None          # str: (T,) for one sequence, (T, B) for a batch ("" where padded)
    vocab: tuple[str, ...] | None
    params: dict[str, np.ndarray]
    loss: str
    target: np.ndarray | None
    class_names: tuple[str, ...] | None = None
    events: tuple[tuple[str, float], ...] = ()
    lengths: np.ndarray | None = None   # (B,) int: each sample's own length (None: all T)
    initial_states: dict = dataclasses.field(default_factory=dict)  # entry index -> {"h": (L*D, B, H), "c": ...}
    compare: str | None = None              # a run to open beside this one (`rnntui run`)
    decoder_x: np.ndarray | None = None     # encoder-decoder: what the decoder reads, (T_dec, B, D)
    decoder_tokens: tuple | None = None
    decoder_token_ids: np.ndarray | None = None
    decoder_vocab: tuple | None = None
    token_ids: np.ndarray | None = None  # int, like tokens (-1 where padded)
    feed: str = "zeros"                  # one-to-many: "output" feeds each step's output back as the next input
    watch: tuple[str, ...] = ()          # debug.watch: expressions the debugger opens with (docs/debugger.md)
    breakpoints: tuple[str, ...] = ()    # debug.break
    interventions: tuple = ()            # what-if: engine.interventions.Intervention, applied in the loops
    train: Any = None                    # engine.optim.TrainConfig: `train:` (see engine/train.py), or None
    dropout_masks: dict | None = None    # set by engine/train.py for one iteration: dropout masks by trace key
    buffers: dict = dataclasses.field(default_factory=dict)  # state that is no parameter: batchnorm's running_*
    training: bool = False               # set by engine/train.py: an iteration's forward (batch statistics)
    warnings: tuple[str, ...] = ()       # what loaded but deserves a word (weight-file keys skipped), for the CLI
    inputs: dict | None = None           # a graph model: every input by name (x is the first); None for a chain
    input_lengths: dict = dataclasses.field(default_factory=dict)  # a graph's inputs of different lengths, by name
    output_steps: int = 0                # a graph model: the steps of its output (1 without steps)
    input_seq: dict = dataclasses.field(default_factory=dict)  # a graph's inputs: whether each has steps (T, B, ...)
    input_tokens: dict = dataclasses.field(default_factory=dict)  # a graph's token inputs besides the first: name ->
    # (tokens, token_ids), as `tokens` / `token_ids` hold the first's
    dataset: Any = None                  # input.dataset: the data set (scenario/dataset.py) the batch was read from
    sample: int = 0                      # and the first of its samples the batch holds
    sample_ids: tuple | None = None      # which samples of the data the batch holds (data set, minibatch)
    samples_total: int | None = None     # and how many the data has
    sources: tuple[str, ...] = ()        # every file the load read: the scenario, weights, input, vocabulary...

    @property
    def T(self) -> int:
        """Steps of the model's output (a conv1d over a sequence may shorten the input's)."""
        if self.inputs is not None:
            return max([self.output_steps] + [lay.steps for lay in self.layout if lay.seq_out])
        return [lay.steps for lay in self.layout if lay.seq_in][-1] if self.seq else 1

    @property
    def B(self) -> int:
        return self.x.shape[1] if self.seq else self.x.shape[0]


# what each stop leaves unchecked (ScenarioError.unchecked), by what it waits for
_AFTER_LAYOUT = "the weights, the loss target, initial states, interventions and debug expressions"
LATER = {
    "the problems above fixed": "not checked until the problems above are fixed, as they need a valid model and "
                                f"input: the input itself, the sizes from entry to entry, {_AFTER_LAYOUT}",
    "the input": f"not checked until the input loads, as they need its shape: the sizes from entry to entry, {_AFTER_LAYOUT}",
    "the model's layout": f"not checked until the model's sizes fit together, as they need them: {_AFTER_LAYOUT}",
    "the weights": "not checked until the parameters fit in memory: the loss target, initial states, interventions "
                   "and debug expressions",
}
