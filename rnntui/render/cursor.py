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
    handover: bool = False     # an encoder-decoder's hand-over: between the encoder's last step and the
                               # decoder's first (place_index is then the encoder's place)

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
    e = info.entries[place.entry]
    if sample is not None and info.packs(e) and (e.recurrent or e.seq_out) and not is_map(info, place):
        return min(info.lengths[sample], n)
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
    """n steps along the current order, clamped to the ends (of the sample's own steps). In an
    encoder-decoder the order runs on through the hand-over: the forward pass from the encoder's last
    step to the decoder's first, BPTT the other way."""
    crossed = handover_move(c, info, n)
    if crossed is not None:
        return crossed
    place = c.place(info)
    t = min(max(c.t + n * place_sign(info, c.phase, place), 0), length(info, place, c.sample) - 1)
    return replace(c, t=t)


def handover_ends(info) -> tuple[int, int] | None:
    """(the encoder's last entry, the decoder's first recurrent entry) of an encoder-decoder, else None."""
    if info.mode != "encoder-decoder":
        return None
    enc = [e.index for e in info.entries if e.part == "encoder"][-1]
    dec = next(e.index for e in info.entries if e.part == "decoder" and e.recurrent)
    return enc, dec


def _place_index(info, entry: int, layer: int, direction: str) -> int:
    return next(k for k, p in enumerate(info.places)
                if p.entry == entry and p.layer == layer and p.direction == direction)


def handover_move(c: Cursor, info, n: int) -> Cursor | None:
    """The cursor after a move that enters, leaves or crosses the hand-over; None for any other move."""
    ends = handover_ends(info)
    if ends is None or n == 0:
        return None
    enc, dec = ends
    place = c.place(info)
    onward = (n > 0) == (c.phase == "forward")  # towards the decoder
    if c.handover:
        if onward:  # towards the decoder: its first step (BPTT: back to where the decoder's BPTT ended)
            return replace(c, handover=False, place_index=_place_index(info, dec, place.layer, "fwd"), t=0, unit=0)
        k = _place_index(info, enc, place.layer, "fwd")
        return replace(c, handover=False, place_index=k, t=length(info, info.places[k], c.sample) - 1, unit=0)
    at_end = c.t == last_step(info, c.phase, place.direction, place, c.sample) if n > 0 else \
        c.t == first_step(info, c.phase, place.direction, place, c.sample)
    if not at_end:
        return None
    if place.entry == enc and onward:
        return replace(c, handover=True)
    if place.entry == dec and not onward and place.direction == "fwd":
        k = _place_index(info, enc, place.layer, "fwd")
        return replace(c, handover=True, place_index=k, t=length(info, info.places[k], c.sample) - 1, unit=0)
    return None


def to_end(c: Cursor, info, last: bool) -> Cursor:
    place = c.place(info)
    return replace(c, handover=False,
                   t=(last_step if last else first_step)(info, c.phase, place.direction, place, c.sample))


def next_sample(c: Cursor, info, n: int = 1) -> Cursor:
    """The sample *n* on in the batch (-1: the previous one), wrapping round; a step past its end moves
    to its last step."""
    return to_sample(c, info, (c.sample + n) % info.B)


def to_sample(c: Cursor, info, b: int) -> Cursor:
    """Sample *b* of the batch; a step past its own end moves to its last step."""
    return replace(c, sample=b, t=min(c.t, length(info, c.place(info), b) - 1))


def to_event(c: Cursor, info, t: int, phase: str, sample_norms=None) -> Cursor:
    """The cursor at step *t* of *phase* where an event (measured over the whole batch) begins. In a batch
    of different lengths the cursor's sample may have ended before t: then the sample shown is one whose
    own steps reach t — of those, the one with the largest *sample_norms* (each sample's ‖dL/dh_t‖ at t,
    for a gradient event), else the first — so `n` never lands on padding."""
    at = replace(c, t=t, phase=phase)
    place = c.place(info)
    if t < length(info, place, c.sample):
        return at
    real = [b for b in range(info.B) if t < length(info, place, b)]
    if not real:
        return at
    if sample_norms is not None:
        norms = np.asarray(sample_norms, dtype=float)
        finite = [b for b in real if np.isfinite(norms[b])]
        if finite:
            return replace(at, sample=max(finite, key=lambda b: norms[b]))
    return replace(at, sample=real[0])


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
    return replace(c, place_index=k, unit=0, t=t, handover=False)


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
