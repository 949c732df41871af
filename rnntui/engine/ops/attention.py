"""`attention`, a step of a recurrence (engine/ops/recurrence.py): the query (this step's state, (B, Hq))
scores every step of an outer sequence, the keys (T_src, B, Hk); the weights are the softmax of the
scores over the source steps, and the output is the weighted sum of the keys, (B, Hk).

    kind: additive   score_s = Va · tanh(Wa q + Ua k_s) + bv   (Bahdanau; PyTorch's seq2seq tutorial:
                     Wa, Ua, Va are nn.Linear(·, size) with biases, Va to one score)
    kind: dot        score_s = k_s · q                          (Luong's dot: Hq = Hk)

It records its weights at every step, `model.{i}.{id}.weights` (T, B, T_src): which source step each
decoder step attends to. Keys over an input whose samples have lengths of their own are masked past each
sample's length (score -inf: weight 0), as a key padding mask does in PyTorch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rnntui.engine import keys
from rnntui.engine.fields import choice, size
from rnntui.engine.ops.base import Op, OpProblem, result


@dataclass(frozen=True)
class AttentionConfig:
    kind: Literal["additive", "dot"] = choice("additive", doc="additive (Bahdanau) or dot (Luong)")
    size: int = size(1, doc="additive: the units of Wa q + Ua k")


def softmax0(s: np.ndarray) -> np.ndarray:
    z = np.exp(s - s.max(axis=0, keepdims=True))
    return z / z.sum(axis=0, keepdims=True)


class Attention(Op):
    type = "attention"
    Config = AttentionConfig
    arity = (2, 2)
    doc = "attention of a query (B, H) over the steps of keys (T_src, B, H): additive or dot"

    def infer(self, cfg, ins):
        q, k = ins
        if q.seq or len(q.feat) != 1:
            raise OpProblem("from", f"found query {q.describe()}; attention's query is one step's vector, (B, H)")
        if not k.seq or len(k.feat) != 1:
            raise OpProblem("from", f"found keys {k.describe()}; attention's keys are a sequence (T_src, B, H): an "
                            "outer node such as an encoder's output")
        if cfg.kind == "dot" and q.feat != k.feat:
            raise OpProblem("kind", f"found a query of {q.feat[0]} and keys of {k.feat[0]} features; dot attention "
                            "needs them equal (use kind: additive)")
        conf = {"kind": cfg.kind, "size": cfg.size, "query": q.feat[0], "key": k.feat[0], "source": k.shape[0]}
        return result((q.shape[0], k.feat[0]), 0, "attention"), conf

    def params_of(self, index, conf) -> dict:
        if conf["kind"] != "additive":
            return {}
        A = conf["size"]
        return {f"{index}.Wa.weight": (A, conf["query"]), f"{index}.Wa.bias": (A,),
                f"{index}.Ua.weight": (A, conf["key"]), f"{index}.Ua.bias": (A,),
                f"{index}.Va.weight": (1, A), f"{index}.Va.bias": (1,)}

    def init_bound(self, info, name) -> float:
        fan_in = {"Wa": info.config["query"], "Ua": info.config["key"], "Va": info.config["size"]}
        return 1.0 / np.sqrt(fan_in[name.rsplit(".", 2)[-2]])

    def _p(self, info, params, name):
        return params[f"{info.index}.{name}"]

    def run(self, info, xs, ctx):
        q, K = xs
        cache = {}
        if info.config["kind"] == "dot":
            score = np.einsum("sbh,bh->sb", K, q)
        else:
            P = lambda n: self._p(info, ctx.params, n)
            e = np.tanh((q @ P("Wa.weight").T + P("Wa.bias"))[None] + K @ P("Ua.weight").T + P("Ua.bias"))
            score = (e @ P("Va.weight").T)[..., 0] + P("Va.bias")[0]
            cache["e"] = e
        lengths = ctx.lengths.get(info.lengths_of) if info.lengths_of else None
        if lengths is not None:   # keys over a padded source: its padded steps get no weight (score -inf)
            score = np.where(np.arange(score.shape[0])[:, None] < np.asarray(lengths)[None, :], score, -np.inf)
        w = softmax0(score)
        cache["w"] = w
        ctx.rec[keys.node_value(info.index, "weights")] = w.T.copy()   # (B, T_src) at this step
        return np.einsum("sb,sbh->bh", w, K), cache

    def grads(self, info, xs, out, cache, g, ctx):
        q, K = xs
        w = cache["w"]
        dK = w[..., None] * g[None]
        dw = np.einsum("sbh,bh->sb", K, g)
        ds = w * (dw - (w * dw).sum(axis=0, keepdims=True))
        if info.config["kind"] == "dot":
            return [np.einsum("sb,sbh->bh", ds, K), dK + ds[..., None] * q[None]]
        P = lambda n: self._p(info, ctx.params, n)
        e = cache["e"]
        de = ds[..., None] * P("Va.weight")[0]
        dpre = de * (1 - e * e)                       # (S, B, A)
        da = dpre.sum(axis=0)                         # (B, A)
        flat_pre = dpre.reshape(-1, dpre.shape[-1])
        grads = {"Wa.weight": da.T @ q, "Wa.bias": da.sum(0), "Ua.weight": flat_pre.T @ K.reshape(-1, K.shape[-1]),
                 "Ua.bias": flat_pre.sum(0), "Va.weight": (ds[..., None] * e).sum(axis=(0, 1))[None],
                 # the score's bias shifts every key's score alike, which softmax ignores: its gradient
                 # Σ_s ds_s is 0 (ds sums to 0 over the keys), recorded as the 0 it is rather than the
                 # rounding residue of that sum, whose last bits differ between BLAS kernels
                 "Va.bias": np.zeros(1, dtype=ds.dtype)}
        for n, v in grads.items():
            name = f"{info.index}.{n}"
            ctx.grads[name] = v if name not in ctx.grads else ctx.grads[name] + v
        return [da @ P("Wa.weight"), dK + dpre @ P("Ua.weight")]

    def describe(self, info) -> str:
        return f"{info.config['kind']}" + (f", size {info.config['size']}" if info.config["kind"] == "additive" else "")

    def formula(self, info):
        if info.config["kind"] == "dot":
            return "w = softmax_s(k_s · q); y = Σ_s w_s k_s"
        return "w = softmax_s(Va tanh(Wa q + Ua k_s)); y = Σ_s w_s k_s"


OPS = (Attention(),)
