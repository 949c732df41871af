"""Recurrent entries (rnn, lstm, gru): a family's cell run over sub-layers and directions.

Sub-layer j > 0 reads the concatenation of both directions of sub-layer j-1, as in PyTorch; the
entry's output merges the top sub-layer's directions (concat, sum, mean or mul). In many-to-one
mode the last recurrent entry returns its final states merged: the forward direction at the last
step, the backward direction at step 0 (PyTorch's h_n).
"""
from __future__ import annotations

from math import prod

import numpy as np

from rnntui.engine import keys
from rnntui.engine.entries.base import Handler, record_step_norms, sizes, stepnorm_floats
from rnntui.engine.families import Family
from rnntui.engine.families import fused
from rnntui.engine.families.base import STEMS, padding
from rnntui.engine.layout import EntryInfo, Footprint, LayoutProblem


def merge(how: str, a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    if b is None:
        return a
    if how == "concat":
        return np.concatenate([a, b], axis=-1)
    if how == "sum":
        return a + b
    if how == "mean":
        return (a + b) * 0.5
    return a * b


def unmerge(how: str, g: np.ndarray, a: np.ndarray, b: np.ndarray | None):
    """The gradients of both directions from the gradient of their merge."""
    if b is None:
        return g, None
    if how == "concat":
        H = a.shape[-1]
        return g[..., :H], g[..., H:]
    if how == "sum":
        return g, g
    if how == "mean":
        return g * 0.5, g * 0.5
    return g * b, g * a


def span(ranges) -> tuple[int, int] | None:
    """The smallest range of steps holding every (lo, hi) of *ranges* (None: none changed)."""
    real = [r for r in ranges if r is not None]
    if not real:
        return None
    return min(r[0] for r in real), max(r[1] for r in real)


def final_steps(lengths: np.ndarray | None, T: int, B: int) -> np.ndarray:
    """The step each sample's forward direction ends at: its own last step (PyTorch's h_n when packed)."""
    return np.full(B, T - 1) if lengths is None else np.asarray(lengths) - 1


def dropout_mask_key(index: int, layer: int) -> str:
    """The dropout mask applied to sub-layer *layer*'s input (the output of sub-layer layer - 1)."""
    return keys.layer_dropout_mask(index, layer)


class Recurrent(Handler):
    recurrent = True
    accepts_packed = True

    def __init__(self, fam: Family):
        self.fam = fam
        self.type = fam.name
        self.Config = fam.config
        self.doc = f"{fam.title}, as torch.nn.{fam.title}"

    def layout(self, index, cfg, feat, seq, steps, ctx) -> EntryInfo:
        if not seq:
            raise LayoutProblem(index, "type", f"{self.type} needs a sequence; it receives a map of shape {feat}")
        if len(feat) != 1:
            raise LayoutProblem(index, "type", f"{self.type} needs (T, B, F) steps; found features of shape {feat}")
        dirs = keys.DIRECTIONS if cfg.bidirectional else keys.DIRECTIONS[:1]
        H = cfg.hidden_size
        params: dict[str, tuple[int, ...]] = {}
        for j in range(cfg.num_layers):
            in_j = feat[0] if j == 0 else H * len(dirs)
            for d in dirs:
                for stem, shape in self.fam.param_shapes(H, in_j).items():
                    params[keys.param_name(index, stem, j, d)] = shape
        out = 2 * H if (cfg.bidirectional and cfg.merge == "concat") else H
        reduce_final = ctx.mode == "many-to-one" and index == ctx.last_recurrent
        return EntryInfo(
            index=index, type=self.type, in_feat=feat, out_shape=(out,), seq_in=True, seq_out=not reduce_final,
            view="recurrent", recurrent=True, steps=steps, params=params, hidden_size=H,
            num_layers=cfg.num_layers, directions=dirs, merge=cfg.merge,
            nonlinearity=getattr(cfg, "nonlinearity", "tanh"), reduce_final=reduce_final,
            dropout=float(cfg.dropout) if cfg.num_layers > 1 else 0.0,
        )

    def footprint(self, info, steps, B) -> Footprint:
        """Each direction's arrays as its family counts them (Family.forward_arrays, ...), plus what the
        entry adds: the concatenated input of every sub-layer above the first and the merged output
        (bidirectional), dL/d(input) and the per-direction dL/d(output) a final-state or mean/mul merge
        makes, each sub-layer's dL/d(input) sum, and the per-step norms' bounded temporaries."""
        from rnntui.engine.diagnostics import jacnorm_floats

        fam, H = self.fam, info.hidden_size
        dirs, L = len(info.directions), info.num_layers
        N = steps * B * H
        n_in, n_out = sizes(info, steps, B)
        # below the top sub-layer, dL/dh "from the output" is the sub-layer above's dL/d(input), kept
        records = L * dirs * fam.record_arrays * N + n_in + (L - 1) * dirs * N
        if info.reduce_final:
            records += dirs * N
        elif dirs == 2 and info.merge in ("mean", "mul"):
            records += 2 * N
        held = L * dirs * fam.forward_arrays * N + records
        if dirs == 2:
            held += (L - 1) * 2 * N + (0 if info.reduce_final else n_out)
        grams = stepnorm_floats(info, steps, B)
        # the weights permuted, scaled or transposed, and the gradients put back in PyTorch's order
        place_params = sum(prod(s) for s in info.params.values()) // (L * dirs)
        temp = fam.backward_arrays * N + 2 * max(n_in, dirs * N if L > 1 else 0) + grams + 3 * place_params
        return Footprint(held=held, records=records, temp=temp, lazy=jacnorm_floats(info, steps, B))

    def init_bound(self, info, name) -> float:
        return 1.0 / np.sqrt(info.hidden_size)

    def is_recurrent_matrix(self, name: str) -> bool:
        return ".weight_hh" in name

    def _params(self, info, params, j, d) -> dict[str, np.ndarray]:
        return {s: params[keys.param_name(info.index, s, j, d)] for s in STEMS}

    def forward(self, info, x, params, rec, ctx, changed=None):
        """Reads from *ctx*: each sample's length (`lengths_for`, a packed batch); the initial states
        (`ctx.initial[info.index]`) as PyTorch's (h_0, c_0): {"h": (layers * directions, B, H), "c": ...};
        the interventions (and a recorded run to resume from), `ctx.plan` (engine/whatif.py); the dropout
        masks by key (`ctx.masks`, training only; see engine/train.py): sub-layer j > 0 reads its input
        times `dropout_mask_key(i, j)`, recorded under that key. *changed*: the steps (lo, hi) of *x* that
        differ from the plan's recorded run (None: none); `cache["changed"]` says the same of the output."""
        lengths, state0, plan, masks = ctx.lengths_for(info), ctx.initial.get(info.index), ctx.plan, ctx.masks
        runs, inputs, used = [], [], {}
        inp = x
        T = x.shape[0]
        pad = padding(lengths, T)
        for j in range(info.num_layers):
            if j > 0 and masks and dropout_mask_key(info.index, j) in masks:
                used[j] = rec[dropout_mask_key(info.index, j)] = masks[dropout_mask_key(info.index, j)]
                inp = inp * used[j]
            inputs.append(inp)
            layer_runs = {}
            out_changed = []
            for k, d in enumerate(info.directions):
                prefix = keys.place_prefix(info.index, j, d)
                start = None
                if state0 is not None:
                    start = {s: v[j * len(info.directions) + k] for s, v in state0.items()}
                    for s, v in start.items():
                        rec[f"{prefix}.{s}0"] = v
                kw = {}
                if plan is not None:
                    reverse = d == "bwd"
                    kw["overrides"] = plan.overrides(prefix)
                    kw["resume"], ch = plan.resume(prefix, reverse, T, changed, self.fam.settable(info))
                    out_changed.append(ch)
                p = self._params(info, params, j, d)
                # a training replay's loop as one compiled kernel where it can (families/fused), else the family's
                run = (fused.forward(self.fam, info, inp, p, d == "bwd", pad, start, **kw)
                       or self.fam.forward(info, inp, p, reverse=(d == "bwd"), pad=pad, state0=start, **kw))
                layer_runs[d] = run
                for k2, v in run.record.items():
                    rec[f"{prefix}.{k2}"] = v
            runs.append(layer_runs)
            hs = [layer_runs[d].h for d in info.directions]
            inp = hs[0] if len(hs) == 1 else np.concatenate(hs, axis=-1)
            if plan is not None:
                changed = span(out_changed)
        top = runs[-1]
        fwd, bwd = top["fwd"].h, (top["bwd"].h if "bwd" in top else None)
        last = final_steps(lengths, *x.shape[:2])
        if info.reduce_final:
            out = merge(info.merge, fwd[last, np.arange(len(last))], None if bwd is None else bwd[0])
        else:
            out = merge(info.merge, fwd, bwd)
        if changed is not None and info.reduce_final:
            changed = (0, T - 1)
        return None, out, {"runs": runs, "inputs": inputs, "last": last, "packed": lengths is not None,
                           "changed": changed, "masks": used}

    def backward(self, info, x, pre, out, cache, g_out, params, grads, rec, g_pre=None, final=None, lean=False,
                 only=None):
        """*final*: a gradient reaching the final states from outside (a decoder started from them), laid
        out as PyTorch's h_n: {"h": (layers * directions, B, H), "c": ...}. dL/dh_0 (dL/dc_0) go into
        `cache["dstate0"]` in the same layout, and into the record. *lean*: the one-term pass
        (network.one_term_gradients): only dL/dh_t (`grad.{place}.h`) and dL/dh_0 are recorded, no weight
        gradient is computed (*grads* stays as it was); *only*: the one direction sub-layer 0 runs there (its
        dL/d(input) then holds that direction's share alone)."""
        runs, inputs = cache["runs"], cache["inputs"]
        n_dir = len(info.directions)
        dstate0 = {s: [None] * (info.num_layers * n_dir) for s in self.fam.states}
        top = runs[-1]
        fwd, bwd = top["fwd"].h, (top["bwd"].h if "bwd" in top else None)
        if cache.get("ext") is not None:
            # each direction's gradient from outside its top sub-layer, given step by step (a segment of a
            # checkpointed many-to-one run, engine/checkpoint_kinds.py: the final state's gradient at its step)
            ext = cache["ext"]
        elif info.reduce_final:
            last, b = cache["last"], np.arange(fwd.shape[1])
            gf, gb = unmerge(info.merge, g_out, fwd[last, b], None if bwd is None else bwd[0])
            ext = {"fwd": np.zeros_like(fwd)}
            ext["fwd"][last, b] = gf
            if bwd is not None:
                ext["bwd"] = np.zeros_like(bwd)
                ext["bwd"][0] = gb
        else:
            gf, gb = unmerge(info.merge, g_out, fwd, bwd)
            ext = {"fwd": gf} if bwd is None else {"fwd": gf, "bwd": gb}
        dx = None
        for j in range(info.num_layers - 1, -1, -1):
            xj = inputs[j]
            dx = np.zeros_like(xj)
            for k, d in enumerate(info.directions):
                if only is not None and j == 0 and d != only:  # dL/dh_0 not computed: held as zeros, never read
                    for s in dstate0:
                        dstate0[s][k] = np.zeros_like(runs[j][d].h[0])
                    continue
                p = self._params(info, params, j, d)
                at_end = None if final is None else {s: v[j * n_dir + k] for s, v in final.items()}
                # a packed forward direction ends at each sample's own last step (the backward one at 0)
                steps = cache["last"] if (at_end is not None and d == "fwd" and cache.get("packed")) else None
                g = fused.backward_of(self.fam, runs[j][d])(
                    info, xj, p, runs[j][d], ext[d], reverse=(d == "bwd"), final=at_end, final_steps=steps,
                    lean="h" if (lean and only is not None and j == 0) else lean)
                dx += g.dx
                prefix = keys.place_prefix(info.index, j, d)
                for s, v in g.state0.items():
                    dstate0[s][j * n_dir + k] = v
                    rec[keys.grad(f"{prefix}.{s}0")] = v
                if lean:
                    rec[keys.grad(f"{prefix}.h")] = g.record["h"]
                    continue
                for k, v in g.record.items():
                    rec[keys.grad(f"{prefix}.{k}")] = v
                names = {s: keys.param_name(info.index, s, j, d) for s in STEMS}
                for s, n in names.items():
                    grads[n] = g.params[s]
                record_step_norms(rec, names["weight_ih"], g.step_pre_ih, xj)
                record_step_norms(rec, names["weight_hh"], g.step_pre_hh, g.h_prev)
                record_step_norms(rec, names["bias_ih"], g.step_pre_ih, None)
                ih, hh = keys.step_gradnorm(names["bias_ih"]), keys.step_gradnorm(names["bias_hh"])
                if g.step_pre_hh is g.step_pre_ih and ih in rec:  # one gradient for both biases: one norm
                    rec[hh] = rec[ih]
                else:
                    record_step_norms(rec, names["bias_hh"], g.step_pre_hh, None)
            if j > 0:
                if j in cache.get("masks", {}):
                    dx = dx * cache["masks"][j]
                ext = dict(zip(info.directions, np.split(dx, len(info.directions), axis=-1)))
        cache["dstate0"] = {s: np.stack(v) for s, v in dstate0.items()}
        return dx

    def describe(self, info) -> str:
        return self.fam.describe(info)

    def equations(self, info, direction: str = "fwd") -> list[str]:
        return self.fam.equations(info, direction)
