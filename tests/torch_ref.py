"""Reference computations in PyTorch for the engine tests.

Two references, and the tests use both:
- `manual`: the equations written step by step in torch with autograd; every h_t and c_t
  keeps its gradient (retain_grad), which gives total dL/dh_t and dL/dc_t per step and
  every gate value.
- `modules`: torch.nn.RNN / LSTM / GRU / Linear themselves, for outputs and parameter grads.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as Fn


def _t(a, dtype):
    return torch.tensor(np.asarray(a), dtype=dtype)


def _act(name, x):
    return {"none": lambda v: v, "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
            "softmax": lambda v: torch.softmax(v, dim=-1)}[name](x)


def _merge(merge, a, b):
    if b is None:
        return a
    return {"concat": lambda: torch.cat([a, b], -1), "sum": lambda: a + b, "mean": lambda: (a + b) / 2,
            "mul": lambda: a * b}[merge]()


def _cell_step(kind, nl, x, h, c, P, sfx):
    W_ih, W_hh, b_ih, b_hh = (P[f"weight_ih{sfx}"], P[f"weight_hh{sfx}"], P[f"bias_ih{sfx}"], P[f"bias_hh{sfx}"])
    if kind == "rnn":
        pre = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        hn = {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda v: v}[nl](pre)
        return hn, None, {"pre": pre}
    if kind == "lstm":
        z = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        i, f, g, o = z.chunk(4, -1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        cn = f * c + i * g
        return o * torch.tanh(cn), cn, {"gates.i": i, "gates.f": f, "gates.g": g, "gates.o": o}
    gi = x @ W_ih.T + b_ih
    gh = h @ W_hh.T + b_hh
    ir, iz, in_ = gi.chunk(3, -1)
    hr, hz, hn_ = gh.chunk(3, -1)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(in_ + r * hn_)
    return (1 - z) * n + z * h, None, {"gates.r": r, "gates.z": z, "gates.n": n}


def manual(trace, dtype=torch.float64, loss_fn=None):
    """Recompute the trace's run in torch; return (values, grads) keyed like the trace.
    *loss_fn(info, out, pre, trace, dtype)*, when given, replaces the scenario's loss."""
    info = trace.info
    P = {k[len("param."):]: _t(trace[k], dtype).requires_grad_(True) for k in trace if k.startswith("param.")}
    x = _t(trace["input"], dtype).requires_grad_(True)
    kept: dict[str, list] = {}
    vals: dict[str, torch.Tensor] = {}
    h_in = x
    pres, outs = [], []
    for e in info.entries:
        i = e.index
        if e.recurrent:
            T, B, _ = h_in.shape
            H = e.hidden_size
            inp = h_in
            for j in range(e.num_layers):
                hs_dirs = []
                for d in e.directions:
                    sfx = f"_l{j}" + ("_reverse" if d == "bwd" else "")
                    Pi = {k.split(".", 1)[1]: v for k, v in P.items() if k.startswith(f"{i}.")}
                    h = torch.zeros(B, H, dtype=dtype)
                    c = torch.zeros(B, H, dtype=dtype)
                    steps = range(T - 1, -1, -1) if d == "bwd" else range(T)
                    hs, cs, extra = [None] * T, [None] * T, {}
                    for t in steps:
                        h, c2, ex = _cell_step(e.type, e.nonlinearity, inp[t], h, c, Pi, sfx)
                        h.retain_grad()
                        hs[t] = h
                        if c2 is not None:
                            c2.retain_grad()
                            cs[t] = c2
                            c = c2
                        for k, v in ex.items():
                            extra.setdefault(k, [None] * T)[t] = v
                    prefix = f"model.{i}.l{j}.{d}"
                    kept[f"{prefix}.h"] = hs
                    if e.type == "lstm":
                        kept[f"{prefix}.c"] = cs
                    for k, v in extra.items():
                        vals[f"{prefix}.{k}"] = torch.stack(v)
                    hs_dirs.append(torch.stack(hs))
                inp = hs_dirs[0] if len(hs_dirs) == 1 else torch.cat(hs_dirs, -1)
            fwd = hs_dirs[0]
            bwd = hs_dirs[1] if len(hs_dirs) > 1 else None
            if e.reduce_final:
                out = _merge(e.merge, fwd[-1], None if bwd is None else bwd[0])
            else:
                out = _merge(e.merge, fwd, bwd)
            pre = None
        elif e.type == "dense":
            pre = h_in @ P[f"{i}.weight"].T + P[f"{i}.bias"]
            out = _act(e.activation, pre)
        elif e.type == "activation":
            pre = h_in
            out = _act(e.activation, pre)
        elif e.type == "flatten":
            pre, out = None, (h_in.reshape(h_in.shape[0], -1) if h_in.dim() > 2 and not e.seq_out else h_in)
        elif e.options is not None:   # conv and pool: feature maps over positions
            pre, out = _conv_like(e, h_in, P, trace)
        else:
            raise NotImplementedError(e.type)
        out.retain_grad()
        vals[f"model.{i}.out"] = out
        pres.append(pre)
        outs.append(out)
        h_in = out
    loss = (loss_fn or _loss)(info, outs[-1], pres[-1], trace, dtype)
    loss.backward()
    values = {k: v.detach().numpy() for k, v in vals.items()}
    for k, seq in kept.items():
        values[k] = torch.stack(seq).detach().numpy()
    grads = {f"grad.param.{k}": v.grad.numpy() for k, v in P.items()}
    for k, seq in kept.items():
        grads[f"grad.{k}"] = torch.stack([s.grad for s in seq]).numpy()
    for e in info.entries:
        g = vals[f"model.{e.index}.out"].grad
        if g is not None:
            grads[f"grad.model.{e.index}.out"] = g.numpy()
    grads["grad.input"] = x.grad.numpy()
    values["loss"] = loss.detach().numpy()
    return values, grads


def step_losses(info, out, pre, trace, dtype):
    """Each step's term of the loss (many-to-many outputs, steps first): they sum to the loss."""
    T = out.shape[0]
    if info.loss == "sum":
        return out.reshape(T, -1).sum(1)
    target = trace["meta.target"]
    if info.loss == "mse":
        return ((out - _t(target, dtype)) ** 2).reshape(T, -1).sum(1) / out.numel()
    last = info.entries[-1]
    logits = pre if last.activation == "softmax" else out
    tgt = torch.tensor(np.asarray(target), dtype=torch.long)
    nll = -torch.log_softmax(logits, -1).gather(-1, tgt[..., None])[..., 0]
    return nll.reshape(T, -1).sum(1) / tgt.numel()


def _loss(info, out, pre, trace, dtype):
    if info.loss == "sum":
        return out.sum()
    target = trace["meta.target"]
    if info.loss == "mse":
        return Fn.mse_loss(out, _t(target, dtype))
    last = info.entries[-1]
    logits = pre if (last.type in ("dense", "activation") and last.activation == "softmax") else out
    tgt = torch.tensor(np.asarray(target), dtype=torch.long)
    return Fn.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))


def modules(trace, dtype=torch.float64):
    """The same network from torch.nn modules: returns (output, loss, {param: grad})."""
    info = trace.info
    x = _t(trace["input"], dtype)
    h = x
    named: dict[str, torch.nn.Parameter] = {}
    pres = []
    for e in info.entries:
        i = e.index
        if e.recurrent:
            cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[e.type]
            kw = {"nonlinearity": e.nonlinearity} if e.type == "rnn" else {}
            mod = cls(h.shape[-1], e.hidden_size, num_layers=e.num_layers, bidirectional=len(e.directions) == 2, **kw)
            mod = mod.to(dtype)
            with torch.no_grad():
                for name, p in mod.named_parameters():
                    p.copy_(_t(trace[f"param.{i}.{name}"], dtype))
                    named[f"{i}.{name}"] = p
            y, _ = mod(h)
            H = e.hidden_size
            if len(e.directions) == 2:
                fwd, bwd = y[..., :H], y[..., H:]
            else:
                fwd, bwd = y, None
            if e.reduce_final:
                h = _merge(e.merge, fwd[-1], None if bwd is None else bwd[0])
            else:
                h = _merge(e.merge, fwd, bwd)
            pres.append(None)
        elif e.type == "dense":
            lin = torch.nn.Linear(h.shape[-1], trace[f"param.{i}.weight"].shape[0]).to(dtype)
            with torch.no_grad():
                lin.weight.copy_(_t(trace[f"param.{i}.weight"], dtype))
                lin.bias.copy_(_t(trace[f"param.{i}.bias"], dtype))
            named[f"{i}.weight"], named[f"{i}.bias"] = lin.weight, lin.bias
            pre = lin(h)
            pres.append(pre)
            h = _act(e.activation, pre)
        elif e.type == "activation":
            pres.append(h)
            h = _act(e.activation, h)
        else:
            raise NotImplementedError(e.type)
    loss = _loss(info, h, pres[-1], trace, dtype)
    loss.backward()
    return h.detach().numpy(), float(loss.detach()), {k: p.grad.numpy() for k, p in named.items()}


def _conv_like(e, h, P, trace):
    """torch.nn.functional's conv and pooling, configured from the scenario text itself."""
    cfg = conv_config(trace, e.index)
    on_seq = e.options["on_seq"]
    if on_seq:
        h = h.permute(1, 2, 0)  # (T, B, F) -> (B, F, T)
    kind = cfg["type"]
    if kind.startswith("conv"):
        fn = Fn.conv1d if kind == "conv1d" else Fn.conv2d
        pre = fn(h, P[f"{e.index}.weight"], P[f"{e.index}.bias"], stride=cfg.get("stride", 1),
                 padding=cfg.get("padding", 0), dilation=cfg.get("dilation", 1), groups=cfg.get("groups", 1))
        out = _act(cfg.get("activation", "none"), pre.transpose(1, -1)).transpose(1, -1) \
            if cfg.get("activation") == "softmax" else _act(cfg.get("activation", "none"), pre)
    else:
        fn = {"maxpool1d": Fn.max_pool1d, "maxpool2d": Fn.max_pool2d, "avgpool1d": Fn.avg_pool1d,
              "avgpool2d": Fn.avg_pool2d}[kind]
        pre, out = None, fn(h, cfg["kernel_size"], cfg.get("stride"))
    if on_seq:
        out = out.permute(2, 0, 1)
        pre = pre.permute(2, 0, 1) if pre is not None else None
    return pre, out

def conv_config(trace, index):
    """The scenario's own entry, read back from meta.scenario (what the user wrote, not our layout)."""
    from rnntui.scenario.yaml_source import load_yaml

    data, _ = load_yaml(str(trace["meta.scenario"]), "s.yaml")
    return data["model"][index]


def warmed(m: torch.nn.Module, seed: int = 3) -> torch.nn.Module:
    """*m* with batchnorms whose running statistics and affine parameters are not their initial 0/1 (as after
    training): a few batches of their own in train mode, drawn from *seed*."""
    g = torch.Generator().manual_seed(seed)
    for bn in (b for b in m.modules() if isinstance(b, torch.nn.modules.batchnorm._BatchNorm)):
        if bn.affine:
            with torch.no_grad():
                bn.weight.uniform_(0.5, 1.5, generator=g)
                bn.bias.uniform_(-0.5, 0.5, generator=g)
        bn.train()
        extra = (2, 2) if isinstance(bn, torch.nn.BatchNorm2d) else (2,)
        for _ in range(3):   # each call moves the running statistics towards a batch of its own
            with torch.no_grad():
                bn(torch.randn((4, bn.num_features) + extra, generator=g) * 2 + 1)
    return m
