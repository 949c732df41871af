"""Shapes of convolution and pooling entries (PyTorch's floor rule for output sizes)."""
from __future__ import annotations

from rnntui.engine.layout import EntryLayout, LayoutProblem


def conv_like_layout(i: int, e, feat: tuple[int, ...], seq: bool) -> EntryLayout:
    raise LayoutProblem(i, "type", f"{e.type} entries are not supported by this version of rnntui yet")
