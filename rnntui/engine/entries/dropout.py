"""`dropout`: torch.nn.Dropout(p). Active only in training (`train:`), with the masks engine/train.py
draws from the seed for each iteration and records under `model.{i}.mask` (0 or 1/(1-p), the factor
PyTorch multiplies by); the identity in a run without `train:`, as in eval mode."""
from __future__ import annotations

from dataclasses import dataclass

from rnntui.engine import keys
from rnntui.engine.entries.base import Handler, sizes
from rnntui.engine.fields import fraction
from rnntui.engine.layout import EntryInfo, Footprint


def mask_key(index: int) -> str:
    return keys.dropout_mask(index)


@dataclass(frozen=True)
class DropoutConfig:
    p: float = fraction(0.5, doc="the probability of zeroing an element (in training)")


class Dropout(Handler):
    type = "dropout"
    Config = DropoutConfig
    config_in_info = {"dropout": "p"}
    doc = "zeroes elements with probability p in training (nn.Dropout); the identity otherwise"
    accepts_packed = True   # elementwise: steps never mix

    def layout(self, index, cfg, feat, seq, steps, ctx) -> EntryInfo:
        return EntryInfo(index, "dropout", feat, feat, seq, seq, steps=steps if seq else 1, dropout=float(cfg.p))

    def footprint(self, info, steps, B) -> Footprint:
        n = sizes(info, steps, B)[1]
        return Footprint(held=2 * n, records=n, temp=n)   # the output and its mask; dL/d(input)

    def forward(self, info, x, params, rec, ctx):
        mask = (ctx.masks or {}).get(mask_key(info.index))
        if mask is None:
            return None, x, None
        rec[mask_key(info.index)] = mask
        return None, x * mask, mask

    def backward(self, info, x, pre, out, cache, g_out, params, grads, rec, g_pre=None):
        return g_out if cache is None else g_out * cache

    def describe(self, info) -> str:
        return f"p {info.dropout:g} (in training)"

    def equations(self, info) -> list[str]:
        return ["y = x * mask / (1 - p)  (training)", "y = x  (otherwise)"]
