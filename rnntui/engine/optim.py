"""Optimizers and gradient clipping with torch.optim's update rules and defaults, in NumPy.

Each optimizer follows its `_single_tensor_*` implementation in torch/optim (the one PyTorch runs
on CPU), operation by operation, so a float64 run stays within rounding of PyTorch's. Scalars
(lr, betas, ...) meet the arrays as Python floats: NumPy casts them to the array's dtype as
PyTorch's kernels do. Parameters are never changed in place: every update makes new arrays, so a
trace that recorded the old ones keeps them (the optimizer's own state is changed in place and copied
at checkpoints).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from rnntui.engine.schedule import Schedule, learning_rates

KINDS = ("sgd", "adam", "adamw", "rmsprop")


@dataclass(frozen=True)
class Optimizer:
    """`train.optimizer`: the kind and its keys, with PyTorch's defaults (lr depends on the kind)."""

    kind: str = "sgd"
    lr: float | None = None        # None: PyTorch's default for the kind (1e-3; RMSprop 1e-2)
    momentum: float = 0.0          # sgd, rmsprop
    dampening: float = 0.0         # sgd
    nesterov: bool = False         # sgd
    weight_decay: float | None = None  # None: 0 (AdamW: 1e-2)
    betas: tuple[float, float] = (0.9, 0.999)  # adam, adamw
    eps: float = 1e-8              # adam, adamw, rmsprop
    amsgrad: bool = False          # adam, adamw
    decoupled_weight_decay: bool = False  # adam (AdamW is Adam with this set)
    alpha: float = 0.99            # rmsprop
    centered: bool = False         # rmsprop
    maximize: bool = False

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (1e-2 if self.kind == "rmsprop" else 1e-3)

    @property
    def decay(self) -> float:
        return self.weight_decay if self.weight_decay is not None else (1e-2 if self.kind == "adamw" else 0.0)


# the keys each kind takes (the loader refuses the others, naming these)
KEYS = {
    "sgd": ("lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize"),
    "adam": ("lr", "betas", "eps", "weight_decay", "amsgrad", "decoupled_weight_decay", "maximize"),
    "adamw": ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"),
    "rmsprop": ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"),
}


@dataclass(frozen=True)
class Clip:
    """`train.clip`: {norm: x} is clip_grad_norm_(max_norm=x), {value: x} clip_grad_value_(clip_value=x)."""

    kind: str   # "norm" | "value"
    limit: float


@dataclass(frozen=True)
class TrainConfig:
    iterations: int
    optimizer: Optimizer = field(default_factory=Optimizer)
    clip: Clip | None = None
    schedule: Schedule | None = None    # the learning rate per iteration (engine/schedule.py)
    batch_size: int | None = None       # None: every iteration reads the whole batch
    shuffle: bool = False               # a new order of the samples every pass (engine/minibatch.py)

    def learning_rates(self) -> list[float]:
        """The learning rate each iteration trains with."""
        return learning_rates(self.optimizer.learning_rate, self.schedule, self.iterations)

    def to_json(self) -> str:
        """The configuration as JSON text, which a saved trace keeps (`train.config`) so a report of the
        file states the optimizer, schedule and clipping the run had instead of guessing them."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        """The configuration `to_json` wrote; a ValueError on text that is not one."""
        try:
            raw = json.loads(text)
            opt = dict(raw["optimizer"])
            opt["betas"] = tuple(opt["betas"])
            return cls(iterations=int(raw["iterations"]), optimizer=Optimizer(**opt),
                       clip=None if raw["clip"] is None else Clip(**raw["clip"]),
                       schedule=None if raw["schedule"] is None else Schedule(**raw["schedule"]),
                       batch_size=raw["batch_size"], shuffle=bool(raw["shuffle"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a training configuration: {exc}") from None


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch.lerp's formula (it switches form at weight 0.5 for accuracy)."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


class State:
    """The optimizer's per-parameter buffers and its step count; `copy` is a checkpoint."""

    def __init__(self, buffers: dict[str, dict[str, np.ndarray]] | None = None, step: int = 0):
        self.buffers = buffers or {}
        self.step = step

    def copy(self) -> "State":
        return State({n: {k: v.copy() for k, v in b.items()} for n, b in self.buffers.items()}, self.step)

    def nbytes(self) -> int:
        return sum(v.nbytes for b in self.buffers.values() for v in b.values())


def state_nbytes(opt: Optimizer, param_bytes: int) -> int:
    """What the optimizer's buffers take once every one exists, for the memory plan."""
    n = {"sgd": 1 if opt.momentum else 0,
         "adam": 3 if opt.amsgrad else 2, "adamw": 3 if opt.amsgrad else 2,
         "rmsprop": 1 + (opt.momentum > 0) + opt.centered}[opt.kind]
    return n * param_bytes


def step(opt: Optimizer, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], state: State,
         lr: float | None = None) -> dict:
    """One optimizer step: new parameter arrays (the old ones are left as they were). *lr*: this step's
    learning rate where a schedule sets it (as a scheduler writes it into the optimizer's param group)."""
    state.step += 1
    if lr is not None and lr != opt.learning_rate:
        from dataclasses import replace

        opt = replace(opt, lr=lr)
    update = {"sgd": _sgd, "adam": _adam, "adamw": _adam, "rmsprop": _rmsprop}[opt.kind]
    return {name: update(opt, p, grads[name], state.buffers.setdefault(name, {}), state.step)
            for name, p in params.items()}


def _sgd(opt: Optimizer, p, g, buf: dict, step_no: int):
    g = -g if opt.maximize else g
    if opt.decay != 0:
        g = g + opt.decay * p
    if opt.momentum != 0:
        if "momentum_buffer" not in buf:
            buf["momentum_buffer"] = g.copy()
        else:
            b = buf["momentum_buffer"]
            b *= opt.momentum
            b += (1 - opt.dampening) * g
        g = g + opt.momentum * buf["momentum_buffer"] if opt.nesterov else buf["momentum_buffer"]
    return p + (-opt.learning_rate) * g


def _adam(opt: Optimizer, p, g, buf: dict, step_no: int):
    lr, (beta1, beta2), wd = opt.learning_rate, opt.betas, opt.decay
    g = -g if opt.maximize else g
    if not buf:
        buf["exp_avg"], buf["exp_avg_sq"] = np.zeros_like(p), np.zeros_like(p)
        if opt.amsgrad:
            buf["max_exp_avg_sq"] = np.zeros_like(p)
    if wd != 0:
        if opt.kind == "adamw" or opt.decoupled_weight_decay:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
    buf["exp_avg"] = _lerp(buf["exp_avg"], g, 1 - beta1)
    sq = buf["exp_avg_sq"]
    sq *= beta2
    sq += (1 - beta2) * g * g
    bias_correction1 = 1 - beta1 ** step_no
    bias_correction2 = 1 - beta2 ** step_no
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2 ** 0.5
    if opt.amsgrad:
        np.maximum(buf["max_exp_avg_sq"], sq, out=buf["max_exp_avg_sq"])
        denom = np.sqrt(buf["max_exp_avg_sq"]) / bias_correction2_sqrt + opt.eps
    else:
        denom = np.sqrt(sq) / bias_correction2_sqrt + opt.eps
    return p + (-step_size) * buf["exp_avg"] / denom


def _rmsprop(opt: Optimizer, p, g, buf: dict, step_no: int):
    g = -g if opt.maximize else g
    if not buf:
        buf["square_avg"] = np.zeros_like(p)
        if opt.momentum > 0:
            buf["momentum_buffer"] = np.zeros_like(p)
        if opt.centered:
            buf["grad_avg"] = np.zeros_like(p)
    if opt.decay != 0:
        g = g + opt.decay * p
    sq = buf["square_avg"]
    sq *= opt.alpha
    sq += (1 - opt.alpha) * g * g
    if opt.centered:
        buf["grad_avg"] = _lerp(buf["grad_avg"], g, 1 - opt.alpha)
        avg = np.sqrt(sq + (-1) * buf["grad_avg"] * buf["grad_avg"])
    else:
        avg = np.sqrt(sq)
    avg = avg + opt.eps
    if opt.momentum > 0:
        b = buf["momentum_buffer"]
        b *= opt.momentum
        b += g / avg
        return p + (-opt.learning_rate) * b
    return p + (-opt.learning_rate) * g / avg


# --- clipping --------------------------------------------------------------------------------------

def global_norm(norms: list[np.ndarray], dtype) -> np.ndarray:
    """clip_grad_norm_'s total: the L2 norm of the parameters' L2 norms, in the gradients' dtype."""
    return np.sqrt(np.sum(np.square(np.asarray(norms, dtype=dtype)), dtype=dtype)).astype(dtype)


def param_norm(a: np.ndarray) -> np.ndarray:
    """torch.linalg.vector_norm(a, 2) in a's dtype."""
    flat = a.ravel()
    return np.sqrt(np.dot(flat, flat)) if flat.size else np.zeros((), a.dtype)


def clip(c: Clip, grads: dict[str, np.ndarray], total: np.ndarray) -> tuple[dict[str, np.ndarray], bool]:
    """Clipped gradients and whether clipping changed them.

    norm: every gradient times min(1, max_norm / (total + 1e-6)) (PyTorch multiplies even by 1.0; so
    do we); value: every element clamped to [-value, value]."""
    if c.kind == "norm":
        dtype = total.dtype
        coef = np.minimum(np.asarray(c.limit, dtype) / (total + np.asarray(1e-6, dtype)), np.asarray(1.0, dtype))
        acted = bool(coef < 1) or not math.isfinite(float(total))
        return {n: g * coef for n, g in grads.items()}, acted
    acted = False
    out = {}
    for n, g in grads.items():
        clipped = np.clip(g, -c.limit, c.limit)
        acted = acted or bool(np.any(clipped != g))
        out[n] = clipped
    return out, acted


__all__ = ["KEYS", "KINDS", "Clip", "Optimizer", "State", "TrainConfig", "clip", "global_norm", "param_norm",
           "state_nbytes", "step"]
