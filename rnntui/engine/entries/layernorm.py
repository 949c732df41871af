"""`layernorm`: torch.nn.LayerNorm over each step's features (nn.LayerNorm(features)).

y = (x - mean) / sqrt(var + eps) * weight + bias, the mean and the (biased) variance taken over the
features of one sample at one step; nothing mixes samples or steps, so it runs the same in training
and not. It records the statistics it used, `model.{i}.mean` and `model.{i}.var` ((T, B) or (B,)).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import numpy as np

from rnntui.engine import keys
from rnntui.engine.entries.base import Handler, record_step_norms
from rnntui.engine.fields import choice
from rnntui.engine.layout import EntryInfo


@dataclass(frozen=True)
class LayerNormConfig:
    eps: float = field(default=1e-5, metadata={"min": 0, "doc": "added to the variance (nn.LayerNorm's eps)"})
    elementwise_affine: bool = choice(True, doc="a learned scale (weight, starts at 1)")
    bias: bool = choice(True, doc="a learned shift (bias, starts at 0; only with elementwise_affine)")


class LayerNorm(Handler):
    type = "layernorm"
    Config = LayerNormConfig
    doc = "torch.nn.LayerNorm over each step's features"
    accepts_packed = True  # each step of each sample on its own

    def layout(self, index, cfg, feat, seq, steps, ctx) -> EntryInfo:
        params = {}
        if cfg.elementwise_affine:
            params[keys.param_name(index, "weight")] = tuple(feat)
            if cfg.bias:
                params[keys.param_name(index, "bias")] = tuple(feat)
        return EntryInfo(index, "layernorm", tuple(feat), tuple(feat), seq, seq, steps=steps if seq else 1,
                         params=params, config={"eps": float(cfg.eps)})

    def fixed_init(self, info, name, shape) -> np.ndarray:
        """The scale starts at 1 and the shift at 0 under every `init`, as nn.LayerNorm's reset_parameters."""
        return np.ones(shape) if name.endswith(".weight") else np.zeros(shape)

    def _axes(self, info, x):
        n = len(info.out_shape)
        return tuple(range(x.ndim - n, x.ndim))

    def forward(self, info, x, params, rec, ctx):
        ax = self._axes(info, x)
        mean = x.mean(axis=ax, keepdims=True)
        d = x - mean
        var = (d * d).mean(axis=ax, keepdims=True)
        rstd = 1.0 / np.sqrt(var + info.config["eps"])
        xhat = d * rstd
        rec[keys.node_value(info.index, "mean")] = mean.reshape(mean.shape[:x.ndim - len(ax)])
        rec[keys.node_value(info.index, "var")] = var.reshape(var.shape[:x.ndim - len(ax)])
        out = xhat
        w = params.get(keys.param_name(info.index, "weight"))
        if w is not None:
            out = xhat * w
            b = params.get(keys.param_name(info.index, "bias"))
            if b is not None:
                out = out + b
        return None, out, (xhat, rstd)

    def backward(self, info, x, pre, out, cache, g_out, params, grads, rec, g_pre=None):
        xhat, rstd = cache
        ax = self._axes(info, x)
        lead = tuple(range(x.ndim - len(ax)))
        wname, bname = keys.param_name(info.index, "weight"), keys.param_name(info.index, "bias")
        w = params.get(wname)
        if w is not None:
            grads[wname] = (g_out * xhat).sum(axis=lead)
            gx = g_out * w
            if bname in params:
                grads[bname] = g_out.sum(axis=lead)
            if info.seq_in:
                flat = (x.shape[0], x.shape[1], -1)
                record_step_norms(rec, wname, (g_out * xhat).reshape(flat), None)
                if bname in params:
                    record_step_norms(rec, bname, g_out.reshape(flat), None)
        else:
            gx = g_out
        n = prod(info.out_shape)
        m1 = gx.sum(axis=ax, keepdims=True) / n
        m2 = (gx * xhat).sum(axis=ax, keepdims=True) / n
        return rstd * (gx - m1 - xhat * m2)

    def step_words(self, info, record, at) -> list[str]:
        mean = float(record[keys.node_value(info.index, "mean")][at])
        var = float(record[keys.node_value(info.index, "var")][at])
        eps = info.config["eps"]
        return [f"normalised with this step's mean {mean:.4g} and variance {var:.4g} over its {prod(info.out_shape)} "
                f"features: each (x - {mean:.4g}) / {np.sqrt(var + eps):.4g} (√(var + eps)), then × weight + bias"]

    def describe(self, info) -> str:
        affine = "weight and bias" if len(info.params) == 2 else "weight" if info.params else "no parameters"
        return f"over {info.out_shape}, eps {info.config['eps']:g}, {affine}"

    def equations(self, info) -> list[str]:
        return ["y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias    (over each step's features)"]
