"""Convolution and pooling, forward and backward, with PyTorch's semantics.

Conv (nn.Conv1d / nn.Conv2d, cross-correlation):
    out[b, o, y, x] = bias[o] + sum_{c in group(o), i, j} W[o, c, i, j] * xp[b, c, y*sh + i*dh, x*sw + j*dw]
where xp is the zero-padded input. Output sizes follow the floor rule:
    H_out = floor((H + pad_top + pad_bottom - dh*(kh-1) - 1) / sh) + 1.
Max pooling sends each output's gradient to the first arg-max of its window; average pooling
spreads it evenly over the window.

Everything is 2-D inside (a 1-D entry is (B, C, 1, L)). The windows of all positions are one
strided view (im2col), the convolution one batched matrix product per entry; the backward pass
scatters back by looping over kernel offsets only (kh*kw of them), never over positions.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view



def _as4d(lay, x):
    """To (B, C, H, W) from what the entry receives; returns a function that maps back."""
    o = lay.options
    if o["on_seq"]:  # (T, B, F): features are channels, time is length
        return np.ascontiguousarray(x.transpose(1, 2, 0))[:, :, None, :], lambda y: np.ascontiguousarray(
            y[:, :, 0, :].transpose(2, 0, 1))
    if o["dims"] == 1:
        return x[:, :, None, :], lambda y: y[:, :, 0, :]
    return x, lambda y: y


def _from_out(lay, g):
    """The inverse of _as4d's map back, for gradients of the output."""
    o = lay.options
    if o["on_seq"]:
        return np.ascontiguousarray(g.transpose(1, 2, 0))[:, :, None, :]
    if o["dims"] == 1:
        return g[:, :, None, :]
    return g


def _windows(xp, k, s, d):
    """(B, C, Ho, Wo, kh, kw) view of every window of the padded input."""
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    w = sliding_window_view(xp, span, axis=(2, 3))
    return w[:, :, :: s[0], :: s[1], :: d[0], :: d[1]]


def _pad(x, pad, value=0.0):
    t, b, l, r = pad
    if not any(pad):
        return x
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def conv_forward(lay, x, params, kind: str):
    """Returns (y, cache): y is the value before the activation of a conv (*kind* "conv"), or the
    output of a max or average pool (*kind* "max" or "avg")."""
    x4, back = _as4d(lay, x)
    o = lay.options
    k, s, d, pad = o["kernel"], o["stride"], o["dilation"], o["pad"]
    if kind == "conv":
        W = params[f"{lay.index}.weight"]
        b = params[f"{lay.index}.bias"]
        g = o["groups"]
        B, C = x4.shape[:2]
        O = W.shape[0]
        win = _windows(_pad(x4, pad), k, s, d)                     # (B, C, Ho, Wo, kh, kw)
        Ho, Wo = win.shape[2:4]
        cols = win.reshape(B, g, C // g, Ho, Wo, k[0], k[1]).transpose(0, 1, 3, 4, 2, 5, 6)
        cols = np.ascontiguousarray(cols).reshape(B, g, Ho * Wo, (C // g) * k[0] * k[1])
        Wg = W.reshape(g, O // g, -1).transpose(0, 2, 1)           # (g, K, O/g)
        y = cols @ Wg                                              # (B, g, HoWo, O/g)
        y = y.transpose(0, 1, 3, 2).reshape(B, O, Ho, Wo) + b[None, :, None, None]
        return back(y), {"cols": cols, "Wg": Wg, "x4": x4, "HoWo": (Ho, Wo)}
    win = _windows(_pad(x4, pad), k, s, (1, 1))
    B, C, Ho, Wo = win.shape[:4]
    flat = win.reshape(B, C, Ho, Wo, -1)
    if kind == "max":
        idx = np.argmax(flat, axis=-1)
        y = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
        cache = {"idx": idx, "x4": x4}
    else:
        y = flat.mean(axis=-1)
        cache = {"x4": x4}
    return back(y), cache


def conv_backward(lay, cache, gpre, params, grads, kind: str):
    """dL/dinput from dL/dpre (conv) or dL/dout (pool); parameter gradients go into *grads*."""
    o = lay.options
    k, s, d, pad = o["kernel"], o["stride"], o["dilation"], o["pad"]
    x4 = cache["x4"]
    B, C, H, Wd = x4.shape
    dy = _from_out(lay, gpre)                                      # (B, O or C, Ho, Wo)
    Ho, Wo = dy.shape[2:]
    if kind == "conv":
        W = params[f"{lay.index}.weight"]
        g = o["groups"]
        O = W.shape[0]
        dY = dy.reshape(B, g, O // g, Ho * Wo).transpose(0, 1, 3, 2)   # (B, g, HoWo, O/g)
        dW = np.einsum("bgpk,bgpo->gko", cache["cols"], dY, optimize=True)
        grads[f"{lay.index}.weight"] = dW.transpose(0, 2, 1).reshape(W.shape)
        grads[f"{lay.index}.bias"] = dy.sum(axis=(0, 2, 3))
        dcols = dY @ cache["Wg"].transpose(0, 2, 1)                # (B, g, HoWo, K)
        dcols = dcols.reshape(B, g, Ho, Wo, C // g, k[0], k[1]).transpose(0, 1, 4, 2, 3, 5, 6)
        dcols = dcols.reshape(B, C, Ho, Wo, k[0], k[1])
        dil = d
    else:
        if kind == "max":
            onehot = np.zeros((B, C, Ho, Wo, k[0] * k[1]), dtype=dy.dtype)
            np.put_along_axis(onehot, cache["idx"][..., None], 1.0, axis=-1)
            dcols = (onehot * dy[..., None]).reshape(B, C, Ho, Wo, k[0], k[1])
        else:
            dcols = np.broadcast_to((dy / (k[0] * k[1]))[..., None, None], (B, C, Ho, Wo, k[0], k[1]))
        dil = (1, 1)
    dxp = np.zeros((B, C, H + pad[0] + pad[1], Wd + pad[2] + pad[3]), dtype=dy.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            y0, x0 = i * dil[0], j * dil[1]
            dxp[:, :, y0: y0 + s[0] * (Ho - 1) + 1: s[0], x0: x0 + s[1] * (Wo - 1) + 1: s[1]] += dcols[..., i, j]
    dx4 = dxp[:, :, pad[0]: pad[0] + H, pad[2]: pad[2] + Wd]
    if o["on_seq"]:
        return np.ascontiguousarray(dx4[:, :, 0, :].transpose(2, 0, 1))
    if o["dims"] == 1:
        return dx4[:, :, 0, :]
    return dx4


def receptive_field(lay, x, weight, bias, b: int, o_ch: int, pos: tuple[int, ...]):
    """Explain one output value: the input positions it reads and the products that sum to it.

    x: what the entry received ((B, C, H, W), (B, C, L) or a (T, B, F) sequence).
    pos: (y, x) for 2-D, (l,) for 1-D (on a sequence, l is the output step).
    Returns (rows, cols, channels, products, bias, total): rows/cols are the padded-input
    coordinates minus padding (may fall in the padding: then the input value is 0), products has
    shape (channels, kh, kw) and total == bias + products.sum().
    """
    x4, _ = _as4d(lay, x)
    o = lay.options
    k, s, d, pad = o["kernel"], o["stride"], o["dilation"], o["pad"]
    y, xx = (pos if len(pos) == 2 else (0, pos[0]))
    rows = np.array([y * s[0] + i * d[0] - pad[0] for i in range(k[0])])
    cols = np.array([xx * s[1] + j * d[1] - pad[2] for j in range(k[1])])
    C = x4.shape[1]
    g = o["groups"]
    per = C // g
    group = o_ch // (weight.shape[0] // g)
    chans = np.arange(group * per, (group + 1) * per)
    vals = np.zeros((per, k[0], k[1]), dtype=x4.dtype)
    inside_r = (rows >= 0) & (rows < x4.shape[2])
    inside_c = (cols >= 0) & (cols < x4.shape[3])
    sub = x4[b][chans][:, rows[inside_r]][:, :, cols[inside_c]]
    vals[np.ix_(np.arange(per), np.flatnonzero(inside_r), np.flatnonzero(inside_c))] = sub
    w = weight[o_ch].reshape(per, k[0], k[1])
    products = w * vals
    bterm = float(bias[o_ch])
    return rows, cols, chans, products, bterm, bterm + float(products.sum())
