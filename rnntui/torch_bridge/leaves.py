"""torch.nn modules -> rnntui entries: each mapper returns the entry's scenario keys and its parameters
under PyTorch's own names, or raises Refused saying which setting rnntui does not have.

Mapped: nn.RNN / nn.LSTM / nn.GRU (the family from the gate count, as rnntui scaffold reads it),
nn.Embedding, nn.Linear, nn.Conv1d / nn.Conv2d, nn.MaxPool1d/2d, nn.AvgPool1d/2d, nn.Flatten,
nn.Dropout, nn.BatchNorm1d / nn.BatchNorm2d (its weight, bias and running statistics; the module runs in
eval mode, so the running statistics are read unless it tracks none), and the activations rnntui has
(ReLU, Tanh, Sigmoid, Softmax over the features).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from rnntui.torch_bridge import import_torch

ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Softmax": "softmax", "LogSoftmax": "log_softmax"}


class Refused(Exception):
    """A module setting rnntui has no entry for (the caller adds where the module is called)."""


@dataclass
class Entry:
    config: dict                                          # the scenario entry's keys, `type` first
    params: dict[str, np.ndarray] = field(default_factory=dict)   # PyTorch name -> value (zeros for a bias
    torch_params: tuple[str, ...] = ()                    # the module's own parameters, by PyTorch name
    # the module has not: rnntui's entries always have one)


def _array(t) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def _own(m) -> tuple[str, ...]:
    return tuple(name for name, _ in m.named_parameters(recurse=False))


def recurrent(m) -> Entry:
    from rnntui.engine.families import by_rows, shapes_expected

    if getattr(m, "proj_size", 0):
        raise Refused(f"proj_size={m.proj_size}: rnntui's recurrent entries have no projection of h")
    H = m.hidden_size
    fam = by_rows(m.weight_ih_l0.shape[0], H)
    if fam is None:
        raise Refused(f"weight_ih_l0 of {m.weight_ih_l0.shape[0]} rows: rnntui's families have {shapes_expected(H)}")
    cfg = {"type": fam.name, "hidden_size": H}
    if m.num_layers > 1:
        cfg["num_layers"] = m.num_layers
    if m.bidirectional:
        cfg["bidirectional"] = True
    keys = {f.name for f in dataclasses.fields(fam.config)}
    nonlinearity = getattr(m, "nonlinearity", None)
    if nonlinearity is not None and "nonlinearity" in keys and nonlinearity != "tanh":
        cfg["nonlinearity"] = nonlinearity
    if m.dropout and m.num_layers > 1:
        cfg["dropout"] = float(m.dropout)   # between sub-layers in training only; kept for a saved scenario
    params = {}
    for j in range(m.num_layers):
        for suffix in ("", "_reverse") if m.bidirectional else ("",):
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                name = f"{kind}_l{j}{suffix}"
                if hasattr(m, name) and getattr(m, name) is not None:
                    params[name] = _array(getattr(m, name))
                else:  # bias=False: rnntui's entry has the bias, held at zero
                    params[name] = np.zeros(getattr(m, f"weight_hh_l{j}{suffix}").shape[0])
    return Entry(cfg, params, _own(m))


def embedding(m) -> Entry:
    if m.max_norm is not None:
        raise Refused(f"max_norm={m.max_norm}: it rescales rows of the table in place when they are looked up; "
                      "rnntui's embedding has no max_norm")
    if m.scale_grad_by_freq:
        raise Refused("scale_grad_by_freq=True: rnntui's embedding gradient is the plain scatter-sum")
    cfg = {"type": "embedding", "num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}
    if m.padding_idx is not None:
        cfg["padding_idx"] = int(m.padding_idx)
    return Entry(cfg, {"weight": _array(m.weight)}, _own(m))


def linear(m) -> Entry:
    bias = _array(m.bias) if m.bias is not None else np.zeros(m.out_features)
    return Entry({"type": "dense", "units": m.out_features}, {"weight": _array(m.weight), "bias": bias}, _own(m))


def _one_or_pair(v, dims: int):
    v = tuple(v) if isinstance(v, (tuple, list)) else (v,) * dims
    return int(v[0]) if dims == 1 or v[0] == v[1] else [int(a) for a in v]


def conv(m, dims: int) -> Entry:
    if m.padding_mode != "zeros":
        raise Refused(f"padding_mode={m.padding_mode!r}: rnntui pads with zeros only")
    cfg = {"type": f"conv{dims}d", "out_channels": m.out_channels, "kernel_size": _one_or_pair(m.kernel_size, dims)}
    stride, dilation = _one_or_pair(m.stride, dims), _one_or_pair(m.dilation, dims)
    if m.padding == "same":
        cfg["padding"] = "same"
    elif m.padding != "valid":
        padding = _one_or_pair(m.padding, dims)
        if padding != 0:
            cfg["padding"] = padding
    for key, value in (("stride", stride), ("dilation", dilation), ("groups", m.groups)):
        if value != 1:
            cfg[key] = value
    bias = _array(m.bias) if m.bias is not None else np.zeros(m.out_channels)
    return Entry(cfg, {"weight": _array(m.weight), "bias": bias}, _own(m))


def pool(m, kind: str, dims: int) -> Entry:
    if getattr(m, "ceil_mode", False):
        raise Refused("ceil_mode=True: rnntui's pools use the floor rule")
    if _one_or_pair(m.padding, dims) != 0:
        raise Refused(f"padding={m.padding}: rnntui's pools have no padding")
    if kind == "max" and (_one_or_pair(m.dilation, dims) != 1 or m.return_indices):
        raise Refused("dilation or return_indices: rnntui's max pools take neither")
    if kind == "avg" and getattr(m, "divisor_override", None) is not None:
        raise Refused("divisor_override: rnntui's average pools divide by the kernel size")
    cfg = {"type": f"{kind}pool{dims}d", "kernel_size": _one_or_pair(m.kernel_size, dims)}
    stride = _one_or_pair(m.stride, dims) if m.stride is not None else cfg["kernel_size"]
    if stride != cfg["kernel_size"]:
        cfg["stride"] = stride
    return Entry(cfg)


def batchnorm(m, dims: int) -> Entry:
    cfg = {"type": f"batchnorm{dims}d", "num_features": m.num_features, "eps": float(m.eps),
           "momentum": None if m.momentum is None else float(m.momentum)}
    if not m.affine:
        cfg["affine"] = False
    if not m.track_running_stats:
        cfg["track_running_stats"] = False   # then the batch's statistics, in eval mode too (as PyTorch)
    params = {}
    if m.affine:
        params.update(weight=_array(m.weight), bias=_array(m.bias))
    if m.track_running_stats:
        params.update(running_mean=_array(m.running_mean), running_var=_array(m.running_var),
                      num_batches_tracked=_array(m.num_batches_tracked))
    return Entry(cfg, params, _own(m))


def layernorm(m) -> Entry:
    if len(m.normalized_shape) != 1:
        raise Refused(f"normalized_shape={tuple(m.normalized_shape)}: rnntui's layernorm normalises the last axis "
                      "(nn.LayerNorm(features))")
    cfg = {"type": "layernorm", "eps": float(m.eps)}
    params = {}
    if not m.elementwise_affine:
        cfg["elementwise_affine"] = False
    else:
        params["weight"] = _array(m.weight)
        if m.bias is None:
            cfg["bias"] = False
        else:
            params["bias"] = _array(m.bias)
    return Entry(cfg, params, _own(m))


def dropout(m) -> Entry:
    return Entry({"type": "dropout", "p": float(m.p)})


def flatten(m) -> Entry:
    if m.start_dim != 1 or m.end_dim != -1:
        raise Refused(f"start_dim={m.start_dim}, end_dim={m.end_dim}: rnntui flattens everything but the batch "
                      "(start_dim=1, end_dim=-1)")
    return Entry({"type": "flatten"})


def _table(nn) -> list:
    """(class, what it is to the chain, its mapper), one row per module class with an entry."""
    return [
        (nn.Embedding, "embedding", embedding), (nn.Linear, "linear", linear),
        (nn.Conv1d, "conv1d", lambda mod: conv(mod, 1)), (nn.Conv2d, "conv2d", lambda mod: conv(mod, 2)),
        (nn.MaxPool1d, "pool1d", lambda mod: pool(mod, "max", 1)), (nn.MaxPool2d, "pool2d", lambda mod: pool(mod, "max", 2)),
        (nn.AvgPool1d, "pool1d", lambda mod: pool(mod, "avg", 1)), (nn.AvgPool2d, "pool2d", lambda mod: pool(mod, "avg", 2)),
        (nn.BatchNorm1d, "batchnorm1d", lambda mod: batchnorm(mod, 1)),
        (nn.BatchNorm2d, "batchnorm2d", lambda mod: batchnorm(mod, 2)),
        (nn.Flatten, "flatten", flatten), (nn.Dropout, "dropout", dropout), (nn.LayerNorm, "layernorm", layernorm),
    ]


def CHANNEL_DROPOUTS(nn) -> tuple:
    """Dropouts of whole channels: the identity in eval, as rnntui runs a module; in training they zero
    whole channels, which rnntui's `dropout` (elementwise) does not."""
    return (nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)


def module_names() -> list[str]:
    """The torch.nn classes `mapper` maps, by name, in the order a model reads them."""
    nn = import_torch().nn
    return ["RNN", "LSTM", "GRU"] + [cls.__name__ for cls, _, _ in _table(nn)] + list(ACTIVATIONS) + ["Identity", "Dropout1d", "Dropout2d", "Dropout3d"]


def mapper(m):
    """(what the module is to the chain, its mapper) by class: 'recurrent', 'entry', 'activation', 'identity'."""
    nn = import_torch().nn
    if isinstance(m, nn.RNNBase):
        return "recurrent", recurrent
    for cls, kind, fn in _table(nn):
        if type(m) is cls:
            return kind, fn
    if type(m).__name__ in ACTIVATIONS and type(m) is getattr(nn, type(m).__name__):
        return "activation", None
    if type(m) is nn.Identity:
        return "identity", None
    if type(m) in CHANNEL_DROPOUTS(nn):
        return "channel_dropout", None
    return None, None
