"""`batchnorm1d`, `batchnorm2d`: torch.nn.BatchNorm1d / BatchNorm2d.

Statistics of the batch while training, running statistics otherwise, as PyTorch's train() / eval():

- in a `train:` scenario every iteration normalises with the batch's mean and biased variance (per
  channel, over every other axis) and engine/train.py then moves the running statistics (`updated_buffers`:
  the unbiased variance, `momentum`, or a cumulative average when momentum is None, and the count);
- a run without `train:` normalises with the running statistics (eval mode), unless the entry says
  `batch_stats: true` (a module left in train() mode) or has `track_running_stats: false` (then PyTorch
  has no running statistics and always uses the batch's). With batch statistics the backward pass goes
  through the mean and the variance too.

Where the channel is: (B, C) and (B, C, L) as PyTorch lays them out (axis 1); on a sequence (T, B, C) the
features are the channels and the statistics are over batch and time, as BatchNorm1d on the (N, C, L)
tensor a conv1d over that sequence works on. batchnorm2d takes (B, C, H, W).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from rnntui.engine import keys
from rnntui.engine.entries.base import Handler, sizes
from rnntui.engine.fields import choice, size
from rnntui.engine.layout import EntryInfo, Footprint, LayoutProblem
from rnntui.engine.recording import step_norms

BUFFERS = ("running_mean", "running_var", "num_batches_tracked")   # PyTorch's names, in state_dict order


def _reduce(how, a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """A per-channel mean or sum over every other axis. In float32 it accumulates in float64 and rounds once:
    NumPy sums a non-contiguous axis one element after another in the array's own dtype, 10-30x less
    accurate than PyTorch's cascaded sums, and a float32 training replay with batch statistics then parts
    from PyTorch within a few dozen iterations. float64 is summed as it always was (bit-equal records)."""
    if a.dtype == np.float64:
        return how(a, axis=axes)
    return how(a, axis=axes, dtype=np.float64).astype(a.dtype)


@dataclass(frozen=True)
class BatchNormConfig:
    num_features: Optional[int] = size(None, doc="C, as PyTorch's first argument; default: the input's channels")
    eps: float = field(default=1e-5, metadata={"min": 0, "doc": "added to the variance before the square root"})
    momentum: Optional[float] = field(default=0.1, metadata={
        "min": 0, "max": 1, "doc": "how far each training iteration moves the running statistics; null: a "
        "cumulative average"})
    affine: bool = choice(True, doc="learnable weight and bias (scale and shift)")
    track_running_stats: bool = choice(True, doc="keep running statistics (false: always the batch's)")
    batch_stats: bool = choice(False, doc="outside training, normalise with the batch's statistics, as a module "
                               "left in train() mode (default: the running statistics, eval mode)")


@dataclass(frozen=True)
class BatchNormOptions:
    """EntryInfo.options of a batchnorm entry: its configuration as laid out, and on a map the one-pixel
    window the map view reads (conv's geometry keys)."""
    eps: float = field(metadata={"min": 0})
    momentum: Optional[float] = field(metadata={"min": 0, "max": 1})
    affine: bool = choice()
    track_running_stats: bool = choice()
    batch_stats: bool = choice()
    norm_dims: int = size(minimum=1, maximum=2)
    on_seq: bool = choice()
    dims: Optional[int] = size(None, minimum=1, maximum=2)
    kernel: Optional[tuple[int, int]] = size(None)
    stride: Optional[tuple[int, int]] = size(None)
    dilation: Optional[tuple[int, int]] = size(None)
    pad: Optional[tuple[int, int, int, int]] = size(None, minimum=0)
    groups: Optional[int] = size(None)


def stat_keys(index: int) -> dict[str, str]:
    """The keys an entry records besides `out`: the statistics used, x-hat, and which statistics they are."""
    return {name: keys.node_value(index, name) for name in ("mean", "var", "xhat", "batch_stats")}


class BatchNorm(Handler):
    accepts_packed = True   # with running statistics every element is on its own; batch statistics: check_run
    has_buffers = True
    conv = False           # the map view: each output reads one pixel of its own channel (no kernel)
    Options = BatchNormOptions

    def __init__(self, dims: int):
        self.dims = dims
        self.type = f"batchnorm{dims}d"
        self.Config = BatchNormConfig
        self.doc = f"torch.nn.BatchNorm{dims}d: batch statistics in training, running statistics otherwise"

    # --- shapes ---------------------------------------------------------------------------------
    def layout(self, index, cfg, feat, seq, steps, ctx) -> EntryInfo:
        i = index
        if self.dims == 2 and (seq or len(feat) != 3):
            got = f"a sequence of {feat[0]} features" if seq else f"{feat}"
            raise LayoutProblem(i, "type", f"batchnorm2d needs feature maps (C, H, W); it receives {got} "
                                "(batchnorm1d takes vectors, sequences and (C, L) maps)")
        if self.dims == 1 and (len(feat) > 2 or (seq and len(feat) != 1)):
            raise LayoutProblem(i, "type", f"batchnorm1d needs (C,), (C, L) or a sequence of C features; it "
                                f"receives {feat}" + (" (batchnorm2d takes (C, H, W) maps)" if len(feat) == 3 else ""))
        C = feat[0]
        if cfg.num_features is not None and cfg.num_features != C:
            raise LayoutProblem(i, "num_features", f"found num_features {cfg.num_features}; the entry receives "
                                f"{C} channels ({'features per step' if seq else f'input {feat}'})")
        params = {keys.param_name(i, "weight"): (C,), keys.param_name(i, "bias"): (C,)} if cfg.affine else {}
        buffers = {keys.param_name(i, "running_mean"): (C,), keys.param_name(i, "running_var"): (C,),
                   keys.param_name(i, "num_batches_tracked"): ()} if cfg.track_running_stats else {}
        o = {"eps": float(cfg.eps), "momentum": None if cfg.momentum is None else float(cfg.momentum),
             "affine": cfg.affine, "track_running_stats": cfg.track_running_stats, "batch_stats": cfg.batch_stats,
             "norm_dims": self.dims, "on_seq": seq}
        if len(feat) == 1:   # one vector per sample or per step: the plain view
            return EntryInfo(i, self.type, feat, feat, seq, seq, steps=steps if seq else 1, params=params,
                             buffers=buffers, options=o)
        # a map: every position is a step of the map view, each a window of one pixel of its own channel
        o.update(dims=len(feat) - 1, kernel=(1, 1), stride=(1, 1), dilation=(1, 1), pad=(0, 0, 0, 0), groups=C)
        return EntryInfo(i, self.type, feat, feat, False, False, view="map", steps=int(np.prod(feat[1:])),
                         params=params, buffers=buffers, options=o)

    def footprint(self, info, steps, B) -> Footprint:
        n_in, n_out = sizes(info, steps, B)
        # x - mean and x-hat, the output; backward: dL/dx-hat (recorded) and dL/d(input) with a temporary
        return Footprint(held=2 * n_in + n_out + n_in, records=n_in, temp=2 * n_in)

    # --- parameters -----------------------------------------------------------------------------
    def init_pytorch(self, info, name, shape, rng) -> np.ndarray:
        return self.initial(name, shape)

    @staticmethod
    def initial(name: str, shape) -> np.ndarray:
        """PyTorch's reset_parameters / reset_running_stats: weight 1, bias 0, mean 0, var 1, count 0."""
        stem = name.rsplit(".", 1)[1]
        if stem == "num_batches_tracked":
            return np.zeros(shape, dtype=np.int64)
        return np.ones(shape) if stem in ("weight", "running_var") else np.zeros(shape)

    def initial_buffer(self, name, shape) -> np.ndarray:
        return self.initial(name, shape)

    def fixed_init(self, info, name, shape) -> np.ndarray:
        """A scale and a shift start at 1 and 0 under every `init` (the schemes are for weight matrices)."""
        return self.initial(name, shape)

    # --- running --------------------------------------------------------------------------------
    def uses_batch_stats(self, info, training: bool) -> bool:
        o = info.options
        return training or o["batch_stats"] or not o["track_running_stats"]

    def mixes_steps(self, info, training: bool) -> bool:
        return self.uses_batch_stats(info, training)

    def check_run(self, info, B: int, steps: int, lengths, training: bool, stepwise: bool) -> tuple[str, str] | None:
        """What makes this entry unrunnable in this run, as (scenario key, message), or None."""
        if not self.uses_batch_stats(info, training):
            return None
        o = info.options
        key = "batch_stats" if (o["batch_stats"] and not training) else "type"
        why = ("in training" if training else "with batch_stats: true" if o["batch_stats"]
               else "with track_running_stats: false")
        if lengths is not None and info.seq_in:
            return key, (f"{self.type} {why} normalises with the batch's statistics over every step, and these "
                         f"sequences have different lengths: PyTorch's BatchNorm1d has no packed form (on the "
                         "padded tensor it would count the padding), so rnntui refuses it; give the samples equal "
                         "lengths, or use the running statistics (a run without train:, batch_stats: false)")
        if stepwise and info.seq_in:
            return key, (f"{self.type} {why} normalises over every step at once, so it cannot run one step at a "
                         "time as a generator with feed: output does; use the running statistics")
        n = B * (steps if info.seq_in else int(np.prod(info.in_feat[1:])))
        if n < 2:
            return key, (f"{self.type} {why} needs more than 1 value per channel (PyTorch refuses it too); "
                         f"found a batch of {B} with {n} value per channel")
        return None

    def forward(self, info, x, params, rec, ctx):
        i, o = info.index, info.options
        buffers, training = ctx.buffers, ctx.training
        k = stat_keys(i)
        axes = self.axes(info, x)
        shape = self.channel_shape(info, x)
        batch = self.uses_batch_stats(info, training)
        if batch:
            mean = _reduce(np.mean, x, axes)
            centred = x - mean.reshape(shape)
            var = _reduce(np.mean, centred * centred, axes)       # biased: what normalises
        else:
            mean = buffers[keys.param_name(i, "running_mean")]
            var = buffers[keys.param_name(i, "running_var")]
            centred = x - mean.reshape(shape)
        invstd = 1.0 / np.sqrt(var + x.dtype.type(o["eps"]))
        xhat = centred * invstd.reshape(shape)
        out = xhat
        if o["affine"]:
            w, b = params[keys.param_name(i, "weight")], params[keys.param_name(i, "bias")]
            out = xhat * w.reshape(shape) + b.reshape(shape)
        rec[k["mean"]], rec[k["var"]], rec[k["xhat"]] = mean, var, xhat
        rec[k["batch_stats"]] = np.asarray(batch)
        return None, out, (invstd, batch, xhat)   # backward reads its cache: a one-term pass records elsewhere

    def backward(self, info, x, pre, out, cache, g_out, params, grads, rec, g_pre=None):
        i, o = info.index, info.options
        invstd, batch, xhat = cache
        k = stat_keys(i)
        axes = self.axes(info, x)
        shape = self.channel_shape(info, x)
        if o["affine"]:
            wname, bname = keys.param_name(i, "weight"), keys.param_name(i, "bias")
            grads[wname] = _reduce(np.sum, g_out * xhat, axes)
            grads[bname] = _reduce(np.sum, g_out, axes)
            if info.seq_in and step_norms():   # each step's share of the two gradients (not in a lean run)
                rec[keys.step_gradnorm(wname)] = np.linalg.norm((g_out * xhat).sum(axis=1), axis=-1)
                rec[keys.step_gradnorm(bname)] = np.linalg.norm(g_out.sum(axis=1), axis=-1)
            g_xhat = g_out * params[wname].reshape(shape)
        else:
            g_xhat = g_out
        rec[keys.grad(k["xhat"])] = g_xhat
        if not batch:
            return g_xhat * invstd.reshape(shape)
        # through the batch's mean and variance: dx = invstd (g - mean(g) - x-hat mean(g x-hat))
        mean_g = _reduce(np.mean, g_xhat, axes).reshape(shape)
        mean_gx = _reduce(np.mean, g_xhat * xhat, axes).reshape(shape)
        return (g_xhat - mean_g - xhat * mean_gx) * invstd.reshape(shape)

    def updated_buffers(self, info, record, buffers: dict) -> dict:
        """The running statistics after a training iteration whose record is *record*, as PyTorch's
        train-mode forward leaves them: count + 1, then running = (1 - m) running + m batch, with the
        batch's unbiased variance and m = momentum (None: 1 / count, a cumulative average)."""
        o = info.options
        if not o["track_running_stats"]:
            return {}
        i = info.index
        k = stat_keys(i)
        names = {s: keys.param_name(i, s) for s in BUFFERS}
        count = buffers[names["num_batches_tracked"]] + 1
        mean, var = record[k["mean"]], record[k["var"]]
        n = record[k["xhat"]].size // mean.size
        unbiased = var * mean.dtype.type(n) / mean.dtype.type(n - 1)
        m = mean.dtype.type(o["momentum"] if o["momentum"] is not None else 1.0 / float(count))
        one = mean.dtype.type(1)
        return {names["running_mean"]: (one - m) * buffers[names["running_mean"]] + m * mean,
                names["running_var"]: (one - m) * buffers[names["running_var"]] + m * unbiased,
                names["num_batches_tracked"]: np.asarray(count, dtype=np.int64)}

    def axes(self, info, x) -> tuple[int, ...]:
        """Every axis but the channel's: the statistics are per channel."""
        ch = x.ndim - 1 if info.seq_in else 1
        return tuple(a for a in range(x.ndim) if a != ch)

    def channel_shape(self, info, x) -> tuple[int, ...]:
        """A (C,) vector shaped to broadcast over x."""
        ch = x.ndim - 1 if info.seq_in else 1
        return tuple(-1 if a == ch else 1 for a in range(x.ndim))

    # --- words ----------------------------------------------------------------------------------
    def describe(self, info) -> str:
        o = info.options
        parts = [f"{info.in_feat[0]} channels", f"eps {o['eps']:g}"]
        parts.append("momentum cumulative" if o["momentum"] is None else f"momentum {o['momentum']:g}")
        if not o["affine"]:
            parts.append("no affine")
        if not o["track_running_stats"]:
            parts.append("no running statistics")
        elif o["batch_stats"]:
            parts.append("batch statistics outside training")
        if o["on_seq"]:
            parts.append("over batch and time")
        return ", ".join(parts)

    def equations(self, info) -> list[str]:
        affine = "y = weight · x̂ + bias" if info.options["affine"] else "y = x̂"
        return ["x̂ = (x - mean) / sqrt(var + eps)   (per channel)",
                affine,
                "mean, var: the batch's (biased) in training; the running statistics otherwise"]
