"""Shapes of convolution and pooling entries (PyTorch's floor rule for output sizes).

Everything is treated as 2-D inside: a 1-D entry works on (C, 1, L). A conv1d or pool1d that
receives a sequence (T, B, F) reads features as channels and time as length, and returns a sequence.
"""
from __future__ import annotations

from rnntui.engine.layout import EntryLayout, LayoutProblem


def _pair(v, dims: int, what: str, i: int, fill: int = 1) -> tuple[int, int]:
    """(height, width) values; a 1-d entry's unused height gets *fill* (1 for sizes, 0 for padding)."""
    if isinstance(v, (tuple, list)):
        if dims == 1:
            raise LayoutProblem(i, what, f"found {list(v)}; a 1-d entry takes one number")
        return int(v[0]), int(v[1])
    return (fill, int(v)) if dims == 1 else (int(v), int(v))


def _out_size(n: int, k: int, s: int, d: int, pad: int) -> int:
    return (n + pad - d * (k - 1) - 1) // s + 1


def conv_like_layout(i: int, e, feat: tuple[int, ...], seq: bool) -> EntryLayout:
    dims = 1 if e.type.endswith("1d") else 2
    if seq:
        if dims == 2:
            raise LayoutProblem(i, "type", f"{e.type} needs an image (C, H, W); it receives a sequence of {feat} features")
        spatial_in: tuple[int, ...] = ()  # length is T, known only at run time
        C = feat[0]
    else:
        if dims == 2 and len(feat) != 3:
            raise LayoutProblem(i, "type", f"{e.type} needs (C, H, W); it receives {feat}")
        if dims == 1 and len(feat) != 2:
            raise LayoutProblem(i, "type", f"{e.type} needs (C, L) or a sequence; it receives {feat}")
        C = feat[0]
        spatial_in = feat[1:]
    k = _pair(e.kernel_size, dims, "kernel_size", i)
    conv = e.type.startswith("conv")
    s = _pair(e.stride if (conv or e.stride is not None) else e.kernel_size, dims, "stride", i)
    d = _pair(e.dilation, dims, "dilation", i) if conv else (1, 1)
    groups = e.groups if conv else 1
    if conv:
        if e.padding == "same":
            if s != (1, 1):
                raise LayoutProblem(i, "padding", f"padding 'same' needs stride 1; found stride {e.stride}")
            tot = [d[a] * (k[a] - 1) for a in range(2)]
            pad = (tot[0] // 2, tot[0] - tot[0] // 2, tot[1] // 2, tot[1] - tot[1] // 2)
        else:
            p = _pair(e.padding, dims, "padding", i, fill=0)
            if min(p) < 0:
                raise LayoutProblem(i, "padding", f"found {e.padding}; expected 0 or more")
            pad = (p[0], p[0], p[1], p[1])
        if C % groups:
            raise LayoutProblem(i, "groups", f"{C} input channels do not divide into {groups} groups")
        if e.out_channels % groups:
            raise LayoutProblem(i, "groups", f"{e.out_channels} out_channels do not divide into {groups} groups")
    else:
        pad = (0, 0, 0, 0)
    opts = {"dims": dims, "kernel": k, "stride": s, "dilation": d, "pad": pad, "groups": groups, "on_seq": seq}
    out_c = e.out_channels if conv else C
    spatial = list(spatial_in if dims == 2 else ((1,) + spatial_in if spatial_in else ()))
    if spatial:
        span_shape = (spatial[0] + pad[0] + pad[1], spatial[1] + pad[2] + pad[3])
        kspan = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
        if kspan[0] > span_shape[0] or kspan[1] > span_shape[1]:
            shown_in = tuple(spatial_in)
            shown_k = kspan if dims == 2 else (kspan[1],)
            padded = span_shape if dims == 2 else (span_shape[1],)
            raise LayoutProblem(i, "kernel_size", f"the kernel spans {shown_k}, larger than the padded input "
                                f"{padded} (input {shown_in} with padding)")
        out_sp = tuple(_out_size(spatial[a], k[a], s[a], d[a], pad[2 * a] + pad[2 * a + 1]) for a in range(2))
        out_feat = (out_c,) + (out_sp if dims == 2 else (out_sp[1],))
    else:
        out_feat = (out_c,)
    params = {}
    if conv:
        kshape = k if dims == 2 else (k[1],)
        params = {f"{i}.weight": (e.out_channels, C // groups) + tuple(kshape), f"{i}.bias": (e.out_channels,)}
    return EntryLayout(i, e.type, feat, out_feat, seq, seq, params,
                       activation=getattr(e, "activation", "none"), options=opts)


def seq_length_after(lay: EntryLayout, T: int) -> int:
    """The number of steps a sequence has after this entry."""
    if not lay.options.get("on_seq"):
        return T
    o = lay.options
    return _out_size(T, o["kernel"][1], o["stride"][1], o["dilation"][1], o["pad"][2] + o["pad"][3])
