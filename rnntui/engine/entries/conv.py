"""Convolution and pooling entries (conv1d, conv2d, maxpool1d/2d, avgpool1d/2d).

Shapes follow PyTorch's floor rule. Everything is 2-D inside: a 1-D entry works on (C, 1, L). A
conv1d or pool1d that receives a sequence (T, B, F) reads features as channels and time as length,
and returns a sequence (a CRNN); over an image its steps are output positions (a feature map view).
The arithmetic is in rnntui/engine/conv.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Literal, Optional, Union

from rnntui.engine import keys
from rnntui.engine.conv import conv_backward, conv_forward
from rnntui.engine.entries.base import Activated, Activation, sizes
from rnntui.engine.fields import choice, size
from rnntui.engine.layout import EntryInfo, Footprint, LayoutProblem

IntOrPair = Union[int, tuple[int, int]]


@dataclass(frozen=True)
class ConvConfig:
    out_channels: int = size(doc="feature maps")
    kernel_size: IntOrPair = size(doc="kernel size: one number, or [height, width] for conv2d")
    stride: IntOrPair = size(1)
    padding: Union[IntOrPair, Literal["same"]] = size(0, minimum=0)
    dilation: IntOrPair = size(1)
    groups: int = size(1)
    activation: Activation = choice("none")


@dataclass(frozen=True)
class PoolConfig:
    kernel_size: IntOrPair = size()
    stride: Optional[IntOrPair] = size(None, doc="default: the kernel size")


@dataclass(frozen=True)
class MapOptions:
    """EntryInfo.options of a conv or pool entry: its geometry as laid out, (height, width) pairs (a 1-d entry's
    height is 1, its padding 0), padding as (top, bottom, left, right)."""
    dims: int = size(minimum=1, maximum=2)
    kernel: tuple[int, int] = size()
    stride: tuple[int, int] = size()
    dilation: tuple[int, int] = size()
    pad: tuple[int, int, int, int] = size(minimum=0)
    groups: int = size()
    on_seq: bool = choice()


def _pair(v, dims: int, what: str, i: int, fill: int = 1) -> tuple[int, int]:
    """(height, width) values; a 1-d entry's unused height gets *fill* (1 for sizes, 0 for padding)."""
    if isinstance(v, (tuple, list)):
        if dims == 1:
            raise LayoutProblem(i, what, f"found {list(v)}; a 1-d entry takes one number")
        return int(v[0]), int(v[1])
    return (fill, int(v)) if dims == 1 else (int(v), int(v))


def out_size(n: int, k: int, s: int, d: int, pad: int) -> int:
    return (n + pad - d * (k - 1) - 1) // s + 1


class ConvLike(Activated):
    """What conv and pool entries share: geometry, the two ways of receiving a sequence or an image."""

    dims = 2
    conv = True
    Options = MapOptions

    def options(self, i, cfg, C):
        dims = self.dims
        k = _pair(cfg.kernel_size, dims, "kernel_size", i)
        s = _pair(cfg.stride if (self.conv or cfg.stride is not None) else cfg.kernel_size, dims, "stride", i)
        d = _pair(cfg.dilation, dims, "dilation", i) if self.conv else (1, 1)
        groups = cfg.groups if self.conv else 1
        if self.conv:
            if cfg.padding == "same":
                if s != (1, 1):
                    raise LayoutProblem(i, "padding", f"padding 'same' needs stride 1; found stride {cfg.stride}")
                tot = [d[a] * (k[a] - 1) for a in range(2)]
                pad = (tot[0] // 2, tot[0] - tot[0] // 2, tot[1] // 2, tot[1] - tot[1] // 2)
            else:
                p = _pair(cfg.padding, dims, "padding", i, fill=0)
                pad = (p[0], p[0], p[1], p[1])
            if C % groups:
                raise LayoutProblem(i, "groups", f"{C} input channels do not divide into {groups} groups")
            if cfg.out_channels % groups:
                raise LayoutProblem(i, "groups", f"{cfg.out_channels} out_channels do not divide into {groups} groups")
        else:
            pad = (0, 0, 0, 0)
        return {"dims": dims, "kernel": k, "stride": s, "dilation": d, "pad": pad, "groups": groups}

    def layout(self, index, cfg, feat, seq, steps, ctx) -> EntryInfo:
        dims, i = self.dims, index
        if seq:
            if dims == 2:
                raise LayoutProblem(i, "type", f"{self.type} needs an image (C, H, W); it receives a sequence of "
                                    f"{feat} features")
            spatial_in: tuple[int, ...] = (1, steps)
        else:
            if dims == 2 and len(feat) != 3:
                raise LayoutProblem(i, "type", f"{self.type} needs (C, H, W); it receives {feat}")
            if dims == 1 and len(feat) != 2:
                raise LayoutProblem(i, "type", f"{self.type} needs (C, L) or a sequence; it receives {feat}")
            spatial_in = feat[1:] if dims == 2 else (1,) + feat[1:]
        C = feat[0]
        o = self.options(i, cfg, C)
        o["on_seq"] = seq
        k, s, d, pad = o["kernel"], o["stride"], o["dilation"], o["pad"]
        span = (spatial_in[0] + pad[0] + pad[1], spatial_in[1] + pad[2] + pad[3])
        kspan = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
        if kspan[0] > span[0] or kspan[1] > span[1]:
            if seq:
                raise LayoutProblem(i, "kernel_size", f"the kernel spans more than the {steps} steps it receives "
                                    "(with padding); expected a kernel that fits")
            shown_k = kspan if dims == 2 else (kspan[1],)
            padded = span if dims == 2 else (span[1],)
            raise LayoutProblem(i, "kernel_size", f"the kernel spans {shown_k}, larger than the padded input "
                                f"{padded} (input {tuple(feat[1:])} with padding)")
        out_sp = tuple(out_size(spatial_in[a], k[a], s[a], d[a], pad[2 * a] + pad[2 * a + 1]) for a in range(2))
        out_c = cfg.out_channels if self.conv else C
        params = {}
        if self.conv:
            kshape = k if dims == 2 else (k[1],)
            params = {keys.param_name(i, "weight"): (cfg.out_channels, C // o["groups"]) + tuple(kshape),
                      keys.param_name(i, "bias"): (cfg.out_channels,)}
        if seq:
            return EntryInfo(i, self.type, feat, (out_c,), True, True, view="plain", steps=out_sp[1], params=params,
                             activation=getattr(cfg, "activation", "none"), options=o)
        out_shape = (out_c,) + (out_sp if dims == 2 else (out_sp[1],))
        return EntryInfo(i, self.type, feat, out_shape, False, False, view="map", steps=prod(out_sp),
                         params=params, activation=getattr(cfg, "activation", "none"), options=o)

    def footprint(self, info, steps, B) -> Footprint:
        """A conv holds its im2col matrix (a window of C/g * kh * kw inputs per output position; the
        backward pass makes its gradient), the value before the activation
        and the output; a max pool its output and arg-max indices, and in the backward pass a one-hot
        of every window and its product with the gradient. dL/d(input) is made padded."""
        o = info.options
        n_in, n_out = sizes(info, steps, B)
        C = info.in_feat[0]
        Hin, Win = (1, steps) if o["on_seq"] else ((1, info.in_feat[1]) if o["dims"] == 1 else info.in_feat[1:])
        pad = o["pad"]
        records = B * C * (Hin + pad[0] + pad[1]) * (Win + pad[2] + pad[3])
        window = prod(o["kernel"])
        copies = n_in if o["on_seq"] else 0  # time-major to channels-first and back
        if self.conv:
            positions = B * (info.steps if info.seq_out else prod(info.out_shape[1:]))
            cols = positions * window * C
            if info.activation != "none":
                records += n_out
            return Footprint(held=cols + 2 * n_out + records + copies, records=records, temp=cols + 2 * n_out)
        if self.kind == "max":
            return Footprint(held=2 * n_out + records + copies, records=records, temp=2 * n_out * window)
        return Footprint(held=n_out + records + copies, records=records, temp=n_out)

    kind = "conv"

    def forward(self, info, x, params, rec, ctx):
        y, cache = conv_forward(info, x, params, self.kind)
        return y, self.activate(info, y, rec), cache

    def backward(self, info, x, pre, out, cache, g_out, params, grads, rec, g_pre=None):
        g = self.pre_gradient(info, pre, out, g_out, rec, g_pre) if self.conv else g_out
        return conv_backward(info, cache, g, params, grads, self.kind)

    def describe(self, info) -> str:
        o = info.options
        dims = o["dims"]

        def show(v):
            v = tuple(v)
            return str(v[1]) if dims == 1 else (str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}")

        parts = [f"kernel {show(o['kernel'])}"]
        if tuple(o["stride"]) != ((1, 1) if self.conv else tuple(o["kernel"])):
            parts.append(f"stride {show(o['stride'])}")
        if any(o["pad"]):
            parts.append(f"padding {o['pad'][2] if dims == 1 else tuple(o['pad'])}")
        if tuple(o["dilation"]) != (1, 1):
            parts.append(f"dilation {show(o['dilation'])}")
        if o["groups"] != 1:
            parts.append(f"groups {o['groups']}")
        if self.conv:
            parts.insert(0, f"{info.out_shape[0]} channels")
            if info.activation != "none":
                parts.append(f"activation {info.activation}")
        if o["on_seq"]:
            parts.append("over time")
        return ", ".join(parts)


class Conv(ConvLike):
    def __init__(self, dims: int):
        self.dims = dims
        self.type = f"conv{dims}d"
        self.Config = ConvConfig
        self.doc = f"torch.nn.Conv{dims}d (cross-correlation)"

    def equations(self, info) -> list[str]:
        return ["out[o, y, x] = bias[o] + Σ_c Σ_i Σ_j W[o, c, i, j] · in[c, y·s + i·d, x·s + j·d]",
                f"then {info.activation}" if info.activation != "none" else "(no activation)"]


class Pool(ConvLike):
    conv = False

    def __init__(self, kind: str, dims: int):
        self.dims = dims
        self.kind = kind
        self.type = f"{kind}pool{dims}d"
        self.Config = PoolConfig
        self.doc = f"torch.nn.{kind.capitalize()}Pool{dims}d"

    def forward(self, info, x, params, rec, ctx):
        y, cache = conv_forward(info, x, params, self.kind)
        return None, y, cache

    @property
    def window_rule(self) -> str:
        """How one output is made from its window, in words (a view's explanation)."""
        return "max (its gradient goes to the first maximum)" if self.kind == "max" else "mean"

    def window_value(self, window) -> float:
        return float(window.max() if self.kind == "max" else window.mean())

    def equations(self, info) -> list[str]:
        rule = "the largest value of" if self.kind == "max" else "the mean of"
        return [f"out[c, y, x] = {rule} in[c] over the window at (y·s, x·s)"]

