"""`flatten`: (B, ...) to (B, features); on a sequence each step is already a vector."""
from __future__ import annotations

from math import prod

from rnntui.engine.entries.base import Handler
from rnntui.engine.layout import EntryInfo, Footprint


class Flatten(Handler):
    type = "flatten"
    doc = "(B, ...) to (B, features)"

    def layout(self, index, cfg, feat, seq, steps, ctx) -> EntryInfo:
        return EntryInfo(index, "flatten", feat, (prod(feat),), seq, seq, steps=steps if seq else 1)

    def footprint(self, info, steps, B) -> Footprint:
        return Footprint()  # its output and dL/d(input) are reshaped views of what it receives

    def forward(self, info, x, params, rec, ctx):
        return None, (x if info.seq_in else x.reshape(x.shape[0], -1)), None

    def backward(self, info, x, pre, out, cache, g_out, params, grads, rec, g_pre=None):
        return g_out.reshape(x.shape)

    def describe(self, info) -> str:
        return f"{info.in_feat} to {info.out_shape}"

    def equations(self, info) -> list[str]:
        return ["y = x.reshape(B, -1)"]
