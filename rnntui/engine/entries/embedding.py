"""`embedding`: torch.nn.Embedding, a table of vectors looked up by token id.

It reads token ids, not vectors: the loader hands it the input as (T, B, 1) whole numbers held in the
run's float dtype (the engine's input is always one float array; ids below 2^24 are exact even in
float32, and the loader refuses larger ones). Its output is the looked-up rows, (T, B, E). The
"gradient with respect to its input" it returns is dL/d(looked-up vectors): an id has no gradient,
and that is the saliency the timeline's dL/dx row should show for an embedding model.

In a recurrence's step graph it reads one step's ids, `x` (B, 1) (the input's step, or an id the step
before chose and fed back: `op: argmax`), and gives (B, E); no gradient goes back to an id there, so
what reaches the fed value or the input's step is zero, as autograd gives none through an index.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from rnntui.engine import keys
from rnntui.engine.entries.base import Handler
from rnntui.engine.fields import SIZE_MAX, size
from rnntui.engine.layout import EntryInfo, Footprint, LayoutProblem

MAX_EXACT_ID = 1 << 24  # every whole number below this is exact in float32: ids travel as floats


@dataclass(frozen=True)
class EmbeddingConfig:
    num_embeddings: int = size(doc="rows of the table: ids run from 0 to num_embeddings - 1")
    embedding_dim: int = size(doc="length of each vector")
    padding_idx: Optional[int] = field(default=None, metadata={
        "min": -SIZE_MAX, "max": SIZE_MAX,
        "doc": "this id's row starts at zero and gets no gradient (negative counts from the end, as in PyTorch)"})


class Embedding(Handler):
    """y_t = W[id_t], W of shape (num_embeddings, embedding_dim) as nn.Embedding.weight."""

    type = "embedding"
    Config = EmbeddingConfig
    doc = "torch.nn.Embedding: token ids to vectors (first entry only)"
    accepts_packed = True  # looks each step up on its own
    reads_ids = True

    def id_count(self, cfg) -> int:
        """How many ids this entry can look up (the loader refuses a token whose id is not below it)."""
        return cfg.num_embeddings

    def laid_out_id_count(self, info: EntryInfo) -> int:
        """num_embeddings, the rows of the weight the layout gave it."""
        return info.params[keys.param_name(info.index, "weight")][0]

    def layout(self, index, cfg, feat, seq, steps, ctx) -> EntryInfo:
        if tuple(feat) != (1,) or (not seq and ctx.mode != "step"):
            raise LayoutProblem(index, "type", "an embedding reads token ids, one per step: give `input.tokens`, "
                                "or `input.text` with `vocab`")
        V = cfg.num_embeddings
        pad = cfg.padding_idx
        if pad is not None:
            if not -V <= pad < V:
                raise LayoutProblem(index, "padding_idx", f"found {pad}; expected an id in {-V}..{V - 1} "
                                    f"(num_embeddings is {V})")
            pad = pad % V  # as PyTorch stores it
        params = {keys.param_name(index, "weight"): (V, cfg.embedding_dim)}
        return EntryInfo(index, "embedding", tuple(feat), (cfg.embedding_dim,), seq, seq, view="embedding",
                         steps=steps, params=params, padding_idx=pad)

    def init_pytorch(self, info: EntryInfo, name: str, shape, rng: np.random.Generator) -> np.ndarray:
        """nn.Embedding.reset_parameters: N(0, 1), then the padding row set to zero."""
        w = rng.normal(0.0, 1.0, shape)
        if info.padding_idx is not None:
            w[info.padding_idx] = 0.0
        return w

    def forward(self, info, x, params, rec, ctx):
        ids = x[..., 0].astype(np.int64)
        return None, params[keys.param_name(info.index, "weight")][ids], ids

    def backward(self, info, x, pre, out, cache, g_out, params, grads, rec, g_pre=None):
        wname = keys.param_name(info.index, "weight")
        g = np.zeros_like(params[wname])
        # a scatter-add: an id used at several steps or samples gathers all their gradients
        np.add.at(g, cache.reshape(-1), g_out.reshape(-1, g_out.shape[-1]))
        if info.padding_idx is not None:
            g[info.padding_idx] = 0.0  # nn.Embedding: the padding row is never updated
        grads[wname] = g
        return g_out if info.seq_in else None   # a step's ids (a recurrence's x): no gradient to an id

    def footprint(self, info, steps, B) -> Footprint:
        # the ids and the looked-up vectors; backward records their gradient (returned as dL/dinput
        # too) and scatters it into the table's gradient (counted with the parameters)
        n = steps * B * info.out_shape[0]
        return Footprint(held=steps * B + 2 * n, records=n, temp=n)

    def init_bound(self, info, name) -> float:
        return 1.0  # not used by `init: pytorch` (a normal draw, above); kept for callers that ask

    def describe(self, info) -> str:
        name = keys.param_name(info.index, "weight")
        if name in info.aliases:
            return f"{info.out_shape[0]} features, the table {info.aliases[name]} (shared)"
        V, E = info.params[name]
        pad = "" if info.padding_idx is None else f", padding_idx {info.padding_idx}"
        return f"{V} ids to {E} features{pad}"

    def equations(self, info) -> list[str]:
        return ["y_t = W[id_t]    (nn.Embedding: row id_t of the table)",
                "dL/dW[k] = sum of dL/dy_t over the steps and samples whose id is k"
                + ("" if info.padding_idx is None else f" (zero for the padding id {info.padding_idx})")]
