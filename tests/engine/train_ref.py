"""The same training loop in PyTorch: nn modules, torch.optim and torch.nn.utils.clip_grad_*_.

`torch_training(trace, masks)` starts from the parameters of the run's iteration 0 and records, for
every iteration, the loss, the global gradient norm before and after clipping, and the parameters
the iteration's forward pass used. *masks(k)*, when given, returns iteration k's dropout masks as the
trace recorded them ({key: array}); they are injected where PyTorch would draw its own.
"""
from __future__ import annotations

import numpy as np
import torch

from tests.torch_ref import _act, _loss, _merge, _t

CLASSES = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop}


class Net(torch.nn.Module):
    """The scenario's entries as torch modules. A stacked recurrent entry whose sub-layers are joined by
    dropout runs one module per sub-layer, so the recorded masks can go between them."""

    def __init__(self, info, params, dtype):
        super().__init__()
        self.info, self.mods = info, torch.nn.ModuleDict()
        named = {}
        for e in info.entries:
            if e.recurrent:
                cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[e.type]
                kw = {"nonlinearity": e.nonlinearity} if e.type == "rnn" else {}
                split = getattr(e, "dropout", 0) > 0
                in_f = e.in_feat[0]
                for j in (range(e.num_layers) if split else [None]):
                    layers = 1 if split else e.num_layers
                    fin = in_f if (j in (None, 0)) else e.hidden_size * len(e.directions)
                    mod = cls(fin, e.hidden_size, num_layers=layers, bidirectional=len(e.directions) == 2, **kw)
                    name = f"m{e.index}" + ("" if j is None else f"_{j}")
                    self.mods[name] = mod.to(dtype)
                    for pname, p in mod.named_parameters():
                        real = pname if j is None else pname.replace("_l0", f"_l{j}")
                        named[f"{e.index}.{real}"] = p
            elif e.type == "dense":
                lin = torch.nn.Linear(e.in_feat[-1], e.out_shape[0]).to(dtype)
                self.mods[f"m{e.index}"] = lin
                named[f"{e.index}.weight"], named[f"{e.index}.bias"] = lin.weight, lin.bias
        with torch.no_grad():
            for k, p in named.items():
                p.copy_(_t(params[k], dtype))
        self.named = named

    def forward(self, x, masks):
        h, pre = x, None
        for e in self.info.entries:
            i = e.index
            if e.recurrent:
                split = getattr(e, "dropout", 0) > 0
                if split:
                    for j in range(e.num_layers):
                        if j > 0:
                            h = h * _t(masks[f"model.{i}.l{j}.dropout_mask"], x.dtype)
                        y, _ = self.mods[f"m{i}_{j}"](h)
                        h = y
                else:
                    y, _ = self.mods[f"m{i}"](h)
                H = e.hidden_size
                fwd, bwd = (y[..., :H], y[..., H:]) if len(e.directions) == 2 else (y, None)
                if e.reduce_final:
                    h = _merge(e.merge, fwd[-1], None if bwd is None else bwd[0])
                else:
                    h = _merge(e.merge, fwd, bwd)
                pre = None
            elif e.type == "dense":
                pre = self.mods[f"m{i}"](h)
                h = _act(e.activation, pre)
            elif e.type == "dropout":
                h = h * _t(masks[f"model.{i}.mask"], x.dtype)
            else:
                raise NotImplementedError(e.type)
        return h, pre


def torch_training(trace, optimizer: dict, clip: dict | None, dtype=torch.float64, masks=None):
    """Rows per iteration: loss, gradnorm (before clipping), gradnorm after clipping, parameters used.
    *optimizer* and *clip*: the scenario's `train.optimizer` and `train.clip` as written (PyTorch fills
    in its own defaults)."""
    kw = {k: (tuple(v) if k == "betas" else v) for k, v in optimizer.items() if k != "kind"}
    first = trace.iteration(0)
    params = {k[len("param."):]: first[k] for k in first if k.startswith("param.")}
    net = Net(trace.info, params, dtype)
    opt = CLASSES[optimizer["kind"]](list(net.named.values()), **kw)
    x = _t(first["input"], dtype)
    out = {"loss": [], "gradnorm": [], "clipped": [], "params": []}
    for k in range(trace.iterations):
        out["params"].append({n: p.detach().numpy().copy() for n, p in net.named.items()})
        opt.zero_grad()
        y, pre = net(x, masks(k) if masks else {})
        loss = _loss(trace.info, y, pre, first, dtype)
        loss.backward()
        ps = list(net.named.values())
        before = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in ps]))
        if clip is not None and "norm" in clip:
            torch.nn.utils.clip_grad_norm_(ps, clip["norm"])
        elif clip is not None:
            torch.nn.utils.clip_grad_value_(ps, clip["value"])
        after = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in ps]))
        opt.step()
        out["loss"].append(float(loss.detach()))
        out["gradnorm"].append(float(before))
        out["clipped"].append(float(after))
    out["final"] = {n: p.detach().numpy().copy() for n, p in net.named.items()}
    return {k: (np.asarray(v) if k in ("loss", "gradnorm", "clipped") else v) for k, v in out.items()}
