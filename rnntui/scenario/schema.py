"""The scenario format (docs/scenario-format.md) as pydantic models.

Only the shape of the data is checked here; what depends on several keys at once
(input sizes against targets, weights against the model, sizes against memory) is checked in loader.py.
Types are strict: an integer key takes neither `true` nor `'3'` nor `3.0`, a number key takes no
string; a float key takes an integer. Upper bounds are where no value above could ever be run.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator

MAX_SIZE = 2**31 - 1     # any count (units, channels, steps, batch) above this cannot be allocated
MAX_LAYERS = 1000        # stacked sub-layers of one recurrent entry; the layout is built layer by layer
MAX_SEED = 2**64 - 1

Size = Annotated[int, Field(gt=0, le=MAX_SIZE)]
PositiveInt = Size
Count = Annotated[int, Field(ge=0, le=MAX_SIZE)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Generate(Strict):
    kind: Literal["sine", "noise", "constant", "pulse", "delayed-recall", "digit"]
    length: PositiveInt = 20
    features: PositiveInt = 1
    batch: PositiveInt = 1
    period: Finite = Field(default=20.0, gt=0, description="sine: steps per cycle")
    amplitude: Finite = 1.0
    phase: Finite = 0.0
    std: Finite = Field(default=1.0, ge=0, description="noise: standard deviation")
    value: Finite = 1.0
    at: Count = Field(default=0, description="pulse: the step that is 1")
    digit: int = Field(default=7, ge=0, le=9)
    size: int = Field(default=12, ge=5, le=64)


class Input(Strict):
    values: Optional[list[Any]] = None
    batch: Optional[list[Any]] = None
    text: Optional[Union[StrictStr, list[StrictStr]]] = None   # a list is a batch of texts
    tokenize: Literal["words", "chars"] = "words"
    tokens: Optional[list[Any]] = None                          # token ids: one sequence or a batch
    vocab: Optional[Union[StrictStr, list[Any]]] = None         # a list, or a .json / .txt file
    unknown: Optional[StrictStr] = None                         # the vocabulary's token for anything else
    generate: Optional[Generate] = None
    file: Optional[str] = None
    key: Optional[str] = None
    image: Optional[Union[list[Any], str]] = None
    lengths: Optional[list[Size]] = Field(default=None, description="each sample's own length in a padded batch")
    dataset: Optional[str] = Field(default=None, description="an .npz data set: x, and optionally lengths, target")
    sample: Optional[Count] = Field(default=None, description="dataset: the first sample the run reads (0)")
    batch_size: Optional[Size] = Field(default=None, description="dataset: how many samples the run reads (1)")

    @model_validator(mode="after")
    def _exactly_one(self) -> "Input":
        forms = [k for k in ("values", "batch", "text", "tokens", "generate", "file", "image", "dataset")
                 if getattr(self, k) is not None]
        if len(forms) != 1:
            found = ", ".join(forms) if forms else "none of them"
            raise ValueError(
                f"found {found}; expected exactly one of values, batch, text, tokens, generate, file, image, dataset"
            )
        if self.dataset is None and (self.sample is not None or self.batch_size is not None):
            raise ValueError("found sample or batch_size without dataset; they choose which samples of a data set "
                             "the run reads")
        return self


class Weights(Strict):
    init: Literal["pytorch", "xavier", "orthogonal", "normal", "uniform", "constant", "none"] = "pytorch"
    std: Finite = Field(default=0.1, ge=0)
    low: Finite = -0.1
    high: Finite = 0.1
    value: Finite = 0.0
    recurrent_gain: Finite = 1.0
    file: Optional[str] = None
    rename: dict[str, Optional[str]] = Field(default_factory=dict)   # a prefix mapped to null: keys dropped
    set: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _range(self) -> "Weights":
        if self.init == "uniform" and not self.low < self.high:
            raise ValueError(f"found low={self.low}, high={self.high}; expected low < high")
        if self.init == "uniform" and not math.isfinite(self.high - self.low):
            raise ValueError(f"found low={self.low}, high={self.high}; expected a range whose width is a finite number")
        return self


class Loss(Strict):
    kind: Literal["sum", "mse", "cross_entropy"] = "sum"
    target: Optional[Any] = None


class Events(Strict):
    """When the built-in events fire (the TUI's `n`, the timeline's marks, the reports)."""

    saturated: float = Field(default=0.5, gt=0, le=1, description="share of a gate's units that are saturated")
    vanishing: float = Field(default=1e-6, gt=0, description="a gradient norm below this")
    exploding: float = Field(default=1e6, gt=0, description="a gradient norm above this")
    update_ratio: float = Field(default=1e-2, gt=0, description="training: an update larger than this share "
                                "of its parameter (‖ΔP‖ / ‖P‖)")
    loss_rise: float = Field(default=1.0, gt=0, description="training: the loss growing by more than this share "
                             "of its value at the iteration before (1.0: it doubled)")


class Decoder(Strict):
    """`mode: encoder-decoder`: what the decoder reads (teacher forcing) and its entries, numbered on
    from the encoder's."""

    input: Input
    model: list[dict[str, Any]] = Field(min_length=1)


class InterventionItem(Strict):
    """One what-if intervention (docs/scenario-format.md): what is checked against the model is in
    rnntui/engine/interventions.py."""

    at: StrictStr
    set: StrictStr
    t: Optional[Count] = None
    steps: Optional[StrictStr] = None
    units: Optional[list[Count]] = Field(default=None, min_length=1)
    value: Finite

    @model_validator(mode="after")
    def _one_step_form(self) -> "InterventionItem":
        if (self.t is None) == (self.steps is None):
            raise ValueError("expected exactly one of `t` (one step) or `steps` (START:STOP, STOP excluded)")
        return self


class OptimizerSpec(Strict):
    """`train.optimizer`: torch.optim's keys (which kind takes which is checked in loader.py; PyTorch's
    own range checks here). Unset keys take PyTorch's defaults for the kind (engine/optim.py)."""

    kind: Literal["sgd", "adam", "adamw", "rmsprop"]
    lr: Optional[Finite] = Field(default=None, ge=0)
    momentum: Optional[Finite] = Field(default=None, ge=0)
    dampening: Optional[Finite] = None
    nesterov: Optional[bool] = None
    weight_decay: Optional[Finite] = Field(default=None, ge=0)
    betas: Optional[list[Annotated[float, Field(ge=0, lt=1)]]] = Field(default=None, min_length=2, max_length=2)
    eps: Optional[Finite] = Field(default=None, ge=0)
    amsgrad: Optional[bool] = None
    decoupled_weight_decay: Optional[bool] = None
    alpha: Optional[Finite] = Field(default=None, ge=0)
    centered: Optional[bool] = None
    maximize: Optional[bool] = None

    @model_validator(mode="after")
    def _nesterov(self) -> "OptimizerSpec":
        if self.nesterov and (not self.momentum or self.dampening):
            raise ValueError(f"found nesterov: true with momentum {self.momentum or 0} and dampening "
                             f"{self.dampening or 0}; Nesterov momentum needs momentum > 0 and dampening 0")
        return self


class ClipSpec(Strict):
    """`train.clip`: exactly one of norm (clip_grad_norm_, L2) and value (clip_grad_value_)."""

    norm: Optional[Finite] = Field(default=None, ge=0)
    value: Optional[Finite] = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> "ClipSpec":
        if (self.norm is None) == (self.value is None):
            raise ValueError("found " + ("both norm and value" if self.norm is not None else "neither norm nor value")
                             + "; expected exactly one: {norm: x} (clip_grad_norm_) or {value: x} (clip_grad_value_)")
        return self


MAX_ITERATIONS = 1_000_000   # every iteration records a few numbers per parameter and step


class ScheduleSpec(Strict):
    """`train.schedule`: torch.optim.lr_scheduler's keys (which kind takes which is checked in training.py;
    PyTorch's defaults for the rest: engine/schedule.py)."""

    kind: Literal["step", "exponential", "cosine", "warmup"]
    step_size: Optional[Size] = None
    gamma: Optional[Finite] = Field(default=None, gt=0)
    T_max: Optional[Size] = None
    eta_min: Optional[Finite] = Field(default=None, ge=0)
    warmup_iterations: Optional[Size] = None
    start_factor: Optional[Finite] = Field(default=None, gt=0, le=1)


class Train(Strict):
    iterations: Annotated[int, Field(gt=0, le=MAX_ITERATIONS)]
    optimizer: OptimizerSpec = Field(default_factory=lambda: OptimizerSpec(kind="sgd"))
    clip: Optional[ClipSpec] = None
    schedule: Optional[ScheduleSpec] = None
    batch_size: Optional[Size] = Field(default=None, description="samples per iteration; default the whole batch")
    shuffle: bool = Field(default=False, description="a new order of the samples every pass, from `seed`")


class Top(Strict):
    """The top level; `model` entries are validated one by one in loader.py."""

    version: Literal[1] = 1
    name: Optional[str] = None
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    dtype: Literal["float64", "float32"] = "float64"
    mode: Literal["many-to-many", "many-to-one", "one-to-many", "encoder-decoder"] = "many-to-many"
    length: Optional[PositiveInt] = None
    feed: Literal["zeros", "output"] = "zeros"
    input: Input
    model: list[dict[str, Any]] = Field(min_length=1)
    weights: Weights = Field(default_factory=Weights)
    loss: Loss = Field(default_factory=Loss)
    class_names: Optional[list[StrictStr]] = None
    events: Events = Field(default_factory=Events)
    decoder: Optional[Decoder] = None
    compare: Optional[StrictStr] = Field(default=None, description="a scenario (file or bundled name) that "
                                         "`rnntui run` opens beside this one")
    debug: Optional[dict[str, Any]] = None   # watch/break expressions, checked in scenario/debug.py
    interventions: list[InterventionItem] = Field(default_factory=list)
    train: Optional[Train] = None

    @field_validator("version", mode="before")
    @classmethod
    def _no_bool_version(cls, v):
        # Literal[1] compares with ==, and True == 1
        if isinstance(v, bool):
            raise ValueError(f"found {v} (bool); expected 1")
        return v
