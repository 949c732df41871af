"""Run a scenario: forward through every entry, the loss, then backward (BPTT) through all.

Everything computed is recorded under the keys of docs/trace-format.md.
"""
from __future__ import annotations

import numpy as np

from rnntui.engine import activations as act
from rnntui.engine.layout import EntryLayout
from rnntui.engine.losses import loss_and_grad
from rnntui.engine.recurrent import DirectionGrads, DirectionRun, make_cell
from rnntui.engine.stepnorms import step_bias_norms, step_outer_norms


def _merge(merge: str, a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    if b is None:
        return a
    if merge == "concat":
        return np.concatenate([a, b], axis=-1)
    if merge == "sum":
        return a + b
    if merge == "mean":
        return (a + b) * 0.5
    return a * b


def _unmerge(merge: str, g: np.ndarray, a: np.ndarray, b: np.ndarray | None):
    if b is None:
        return g, None
    if merge == "concat":
        H = a.shape[-1]
        return g[..., :H], g[..., H:]
    if merge == "sum":
        return g, g
    if merge == "mean":
        return g * 0.5, g * 0.5
    return g * b, g * a


class Recorder:
    """Collects the trace's arrays; per-step parameter-gradient norms go in as they are found."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def put(self, key: str, value) -> None:
        self.arrays[key] = value


def _recurrent_forward(lay: EntryLayout, x, params, rec: Recorder):
    cell = make_cell(lay.type, lay.nonlinearity)
    runs: list[dict[str, DirectionRun]] = []
    inputs = []
    inp = x
    for j in range(lay.num_layers):
        inputs.append(inp)
        layer_runs = {}
        for d in lay.directions:
            p = {s: params[lay.param_name(s, j, d)] for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            run = cell.forward(inp, p, reverse=(d == "bwd"))
            layer_runs[d] = run
            for k, v in run.record.items():
                rec.put(f"model.{lay.index}.l{j}.{d}.{k}", v)
        runs.append(layer_runs)
        hs = [layer_runs[d].h for d in lay.directions]
        inp = hs[0] if len(hs) == 1 else np.concatenate(hs, axis=-1)
    top = runs[-1]
    fwd, bwd = top["fwd"].h, (top["bwd"].h if "bwd" in top else None)
    if lay.reduce_final:
        out = _merge(lay.merge, fwd[-1], None if bwd is None else bwd[0])
    else:
        out = _merge(lay.merge, fwd, bwd)
    return out, {"cell": cell, "runs": runs, "inputs": inputs}


def _recurrent_backward(lay: EntryLayout, cache, grad_out, params, grads, rec: Recorder):
    cell, runs, inputs = cache["cell"], cache["runs"], cache["inputs"]
    top = runs[-1]
    fwd, bwd = top["fwd"].h, (top["bwd"].h if "bwd" in top else None)
    T, B, H = fwd.shape
    if lay.reduce_final:
        gf, gb = _unmerge(lay.merge, grad_out, fwd[-1], None if bwd is None else bwd[0])
        ext = {"fwd": np.zeros_like(fwd)}
        ext["fwd"][-1] = gf
        if bwd is not None:
            ext["bwd"] = np.zeros_like(bwd)
            ext["bwd"][0] = gb
    else:
        gf, gb = _unmerge(lay.merge, grad_out, fwd, bwd)
        ext = {"fwd": gf} if bwd is None else {"fwd": gf, "bwd": gb}
    dx = None
    for j in range(lay.num_layers - 1, -1, -1):
        x = inputs[j]
        dx = np.zeros_like(x)
        for d in lay.directions:
            names = {s: lay.param_name(s, j, d) for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            p = {s: params[n] for s, n in names.items()}
            g: DirectionGrads = cell.backward(x, p, runs[j][d], ext[d], reverse=(d == "bwd"))
            dx += g.dx
            prefix = f"model.{lay.index}.l{j}.{d}"
            for k, v in g.record.items():
                rec.put(f"grad.{prefix}.{k}", v)
            for s, n in names.items():
                grads[n] = g.params[s]
            rec.put(f"gradnorm.step.{names['weight_ih']}", step_outer_norms(g.step_pre_ih, x))
            rec.put(f"gradnorm.step.{names['weight_hh']}", step_outer_norms(g.step_pre_hh, g.h_prev))
            rec.put(f"gradnorm.step.{names['bias_ih']}", step_bias_norms(g.step_pre_ih))
            rec.put(f"gradnorm.step.{names['bias_hh']}", step_bias_norms(g.step_pre_hh))
        if j > 0:
            split = np.split(dx, len(lay.directions), axis=-1)
            ext = dict(zip(lay.directions, split))
    return dx


def _dense_forward(lay: EntryLayout, x, params):
    W, b = params[f"{lay.index}.weight"], params[f"{lay.index}.bias"]
    lead = x.shape[:-1]
    pre = (x.reshape(-1, x.shape[-1]) @ W.T + b).reshape(lead + (W.shape[0],))
    return pre, act.apply(lay.activation, pre)


def run_network(layout: list[EntryLayout], x: np.ndarray, params: dict[str, np.ndarray],
                loss_kind: str, target) -> dict[str, np.ndarray]:
    """Forward, loss and backward; returns the trace's arrays (not yet read-only)."""
    rec = Recorder()
    caches, ins, pres, outs = [], [], [], []
    h = x
    for lay in layout:
        ins.append(h)
        pre, cache = None, None
        if lay.recurrent:
            out, cache = _recurrent_forward(lay, h, params, rec)
        elif lay.type == "dense":
            pre, out = _dense_forward(lay, h, params)
        elif lay.type == "activation":
            pre, out = h, act.apply(lay.activation, h)
        elif lay.type == "flatten":
            out = h.reshape(h.shape[0], -1) if not lay.seq_in else h
        else:
            from rnntui.engine.conv import conv_forward

            pre, out, cache = conv_forward(lay, h, params)
        caches.append(cache)
        pres.append(pre)
        outs.append(out)
        if pre is not None and lay.activation not in ("none",):
            rec.put(f"model.{lay.index}.pre", pre)
        rec.put(f"model.{lay.index}.out", out)
        h = out

    last = layout[-1]
    logits_are_pre = loss_kind == "cross_entropy" and last.type in ("dense", "activation", "conv1d", "conv2d") \
        and last.activation == "softmax"
    loss, g_out, g_pre = loss_and_grad(loss_kind, outs[-1], pres[-1] if logits_are_pre else None, target)

    grads: dict[str, np.ndarray] = {}
    g = g_out
    for k in range(len(layout) - 1, -1, -1):
        lay = layout[k]
        rec.put(f"grad.model.{lay.index}.out", g)
        xin = ins[k]
        if lay.recurrent:
            g = _recurrent_backward(lay, caches[k], g, params, grads, rec)
            continue
        if lay.type == "flatten":
            g = g.reshape(xin.shape)
            continue
        if k == len(layout) - 1 and g_pre is not None:
            gpre = g_pre
        else:
            gpre = act.backward(lay.activation, pres[k], outs[k], g)
        if lay.activation != "none":
            rec.put(f"grad.model.{lay.index}.pre", gpre)
        if lay.type == "activation":
            g = gpre
        elif lay.type == "dense":
            W = params[f"{lay.index}.weight"]
            g2 = gpre.reshape(-1, gpre.shape[-1])
            x2 = xin.reshape(-1, xin.shape[-1])
            grads[f"{lay.index}.weight"] = g2.T @ x2
            grads[f"{lay.index}.bias"] = g2.sum(axis=0)
            if lay.seq_in:
                rec.put(f"gradnorm.step.{lay.index}.weight", step_outer_norms(gpre, xin))
                rec.put(f"gradnorm.step.{lay.index}.bias", step_bias_norms(gpre))
            g = (g2 @ W).reshape(xin.shape)
        else:
            from rnntui.engine.conv import conv_backward

            g = conv_backward(lay, caches[k], gpre, params, grads)

    rec.put("output", outs[-1])
    rec.put("loss", np.asarray(loss, dtype=x.dtype))
    for name, value in params.items():
        rec.put(f"param.{name}", value)
        rec.put(f"grad.param.{name}", grads[name])
    return rec.arrays
