"""Where a view is in a trace. Immutable; every move returns a new Cursor and reads nothing but shapes.

"Next step" follows the order the current phase computed the current direction in:
forward pass, fwd direction: t = 0 .. T-1; backward direction: T-1 .. 0;
backward pass (BPTT) the other way round.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rnntui.engine.keys import Place


@dataclass(frozen=True)
class Cursor:
    phase: str = "forward"     # forward | backward
    place_index: int = 0       # into info.places
    t: int = 0
    unit: int = 0
    sample: int = 0

    def place(self, info) -> Place:
        return info.places[self.place_index]


def order_sign(phase: str, direction: str | None) -> int:
    """+1 when the step order runs t = 0 .. T-1, -1 when it runs backwards."""
    reverse = (phase == "backward") != (direction == "bwd")
    return -1 if reverse else 1


def place_sign(info, phase: str, place: Place | None, direction: str | None = None) -> int:
    """The step order at a place: a feature map's positions have no time, so they always run forwards."""
    if place is not None and is_map(info, place):
        return 1
    return order_sign(phase, place.direction if place is not None else direction)


def is_map(info, place: Place) -> bool:
    """A conv or pool entry over an image: its 'steps' are output positions, row by row."""
    return info.entries[place.entry].view == "map"


def length(info, place: Place, sample: int | None = None) -> int:
    """How many steps the cursor can visit at this place: T, or output positions of a feature map; with
    *sample*, in a batch of different lengths, that sample's own steps (the rest are padding)."""
    from rnntui.render.views import view_for

    n = view_for(info, place).length(info, place)
    if sample is not None and info.lengths is not None and n == info.T and not is_map(info, place):
        return info.lengths[sample]
    return n


def position(info, place: Place, t: int) -> tuple[int, ...]:
    """A map's flat position index as (y, x), or (l,) for a 1-d map."""
    shape = info.entries[place.entry].out_shape[1:]
    return tuple(int(v) for v in np.unravel_index(t, shape))


def first_step(info, phase: str, direction: str | None, place: Place | None = None, sample: int | None = None) -> int:
    """Where the order starts; a sample shorter than T starts a backward order at its own last step."""
    n = length(info, place, sample) if place is not None else info.T
    return 0 if place_sign(info, phase, place, direction) > 0 else n - 1


def last_step(info, phase: str, direction: str | None, place: Place | None = None, sample: int | None = None) -> int:
    n = length(info, place, sample) if place is not None else info.T
    return n - 1 if place_sign(info, phase, place, direction) > 0 else 0


def step_index(c: Cursor, info) -> int:
    """0-based position of t in the current order (what the header calls step k of T)."""
    place = c.place(info)
    return c.t if place_sign(info, c.phase, place) > 0 else length(info, place, c.sample) - 1 - c.t


def move(c: Cursor, info, n: int) -> Cursor:
    """n steps along the current order, clamped to the ends (of the sample's own steps)."""
    place = c.place(info)
    t = min(max(c.t + n * place_sign(info, c.phase, place), 0), length(info, place, c.sample) - 1)
    return replace(c, t=t)


def to_end(c: Cursor, info, last: bool) -> Cursor:
    place = c.place(info)
    return replace(c, t=(last_step if last else first_step)(info, c.phase, place.direction, place, c.sample))


def next_sample(c: Cursor, info) -> Cursor:
    """The next sample of the batch; a step past its end moves to its last step."""
    b = (c.sample + 1) % info.B
    return replace(c, sample=b, t=min(c.t, length(info, c.place(info), b) - 1))


def past_the_end(c: Cursor, info, n: int) -> int | None:
    """The step a move of *n* would reach if it did not stop at the sample's own end, when it does."""
    place = c.place(info)
    own, full = length(info, place, c.sample), length(info, place)
    t = min(max(c.t + n * place_sign(info, c.phase, place), 0), full - 1)
    return t if t >= own else None


def switch_phase(c: Cursor, info) -> Cursor:
    """Forward <-> backward; the step t is kept, so the same moment is seen from the other pass."""
    return replace(c, phase="backward" if c.phase == "forward" else "forward")


def switch_place(c: Cursor, info, n: int) -> Cursor:
    """To another entry; the step is kept where both are sequences, else the new place's start."""
    ps = info.places
    k = min(max(c.place_index + n, 0), len(ps) - 1)
    new = ps[k]
    same_kind = is_map(info, new) == is_map(info, ps[c.place_index]) and not is_map(info, new)
    t = min(c.t, length(info, new, c.sample) - 1) if same_kind else first_step(info, c.phase, new.direction, new, c.sample)
    return replace(c, place_index=k, unit=0, t=t)


def switch_direction(c: Cursor, info) -> Cursor:
    """To the other direction of the same entry and sub-layer, if it has one."""
    ps = info.places
    p = ps[c.place_index]
    if p.layer is None:
        return c
    for k, q in enumerate(ps):
        if q.entry == p.entry and q.layer == p.layer and q.direction != p.direction:
            return replace(c, place_index=k)
    return c


def has_other_direction(c: Cursor, info) -> bool:
    return switch_direction(c, info) != c
