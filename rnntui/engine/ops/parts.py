"""`split` and `chunk`: one piece of a value cut along an axis (torch.split(x, size, dim)[part],
torch.chunk(x, chunks, dim)[part]). A node gives one value: write one node per piece you use."""
from __future__ import annotations

from dataclasses import dataclass, field

from rnntui.engine.fields import size
from rnntui.engine.ops.base import AlongAxis, OpProblem, axis, not_batch, result


@dataclass(frozen=True)
class SplitConfig:
    split_size: int = size(doc="the length of each piece (the last may be shorter)")
    part: int = field(default=0, metadata={"min": 0, "max": (1 << 31) - 1, "doc": "which piece, from 0"})
    dim: int = field(default=-1, metadata={"doc": "the axis to cut"})


@dataclass(frozen=True)
class ChunkConfig:
    chunks: int = size(doc="how many pieces (as torch.chunk: each ceil(n / chunks) long, the last shorter)")
    part: int = field(default=0, metadata={"min": 0, "max": (1 << 31) - 1, "doc": "which piece, from 0"})
    dim: int = field(default=-1, metadata={"doc": "the axis to cut"})


def piece(n: int, width: int, part: int, what: str) -> tuple[int, int]:
    count = -(-n // width)
    if part >= count:
        raise OpProblem("part", f"found {part}; {what} of an axis of {n} gives {count} piece(s), so part is at most "
                        f"{count - 1}")
    return part * width, min(n, (part + 1) * width)


class Piece(AlongAxis):
    def infer(self, cfg, ins):
        v = ins[0]
        d = axis(cfg.dim, v.ndim)
        not_batch(d, v, what="cut")
        n = v.shape[d]
        if self.type == "split":
            lo, hi = piece(n, cfg.split_size, cfg.part, f"split_size {cfg.split_size}")
        else:
            lo, hi = piece(n, -(-n // cfg.chunks), cfg.part, f"{cfg.chunks} chunks")
        shape = list(v.shape)
        shape[d] = hi - lo
        return result(shape, v.bpos, self.type), {**self.config_dict(cfg), "dim": d, "lo": lo, "hi": hi}

    def _part(self, config):
        return slice(config["lo"], config["hi"])

    def describe(self, info):
        c = info.config
        return f"part {c['part']}: [{c['lo']}:{c['hi']}] of axis {c['dim']}"

    def formula(self, info):
        c = info.config
        if self.type == "split":
            return f"y = torch.split(x, {c['split_size']}, dim={c['dim']})[{c['part']}]"
        return f"y = torch.chunk(x, {c['chunks']}, dim={c['dim']})[{c['part']}]"


class Split(Piece):
    type = "split"
    Config = SplitConfig
    doc = "torch.split(x, split_size, dim)[part]: one piece"


class Chunk(Piece):
    type = "chunk"
    Config = ChunkConfig
    doc = "torch.chunk(x, chunks, dim)[part]: one piece"


OPS = (Split(), Chunk())
