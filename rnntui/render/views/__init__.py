"""One view per kind of place, found by the entry's `view` (recurrent, map, plain, embedding).

The panels of the TUI, `rnntui show` and the reports ask `view_for` and call the same method
whatever the entry is; a new kind of place is one module here and one line below.
"""
from __future__ import annotations

from rnntui.render.parts import for_place
from rnntui.render.views.base import PlaceView
from rnntui.render.views.embedding import EmbeddingView
from rnntui.render.views.handover import HandoverView
from rnntui.render.views.maps import MapView
from rnntui.render.views.plain import PlainView
from rnntui.render.views.recurrent import RecurrentView
from rnntui.render.views.steps import StepsView

VIEWS: dict[str, PlaceView] = {v.kind: v for v in (RecurrentView(), MapView(), PlainView(), EmbeddingView(),
                                                   StepsView())}
HANDOVER = HandoverView()  # not an entry's view: the moment between an encoder and its decoder


def view_for(info, place) -> PlaceView:
    return VIEWS[info.entries[place.entry].view]


def view_at(info, c) -> PlaceView:
    """The view where the cursor is: its place's, or an encoder-decoder's hand-over."""
    return HANDOVER if c.handover else view_for(info, c.place(info))


def _at(trace, c):
    """The view of the cursor's place and the trace as it reads it (an encoder-decoder's part)."""
    place = c.place(trace.info)
    return view_at(trace.info, c), for_place(trace, place)


def cell_panel(trace, c, width: int = 80):
    """The cell at step t: gates by name with their values, the state update with its numbers; in the
    backward pass the gradients at t and where they came from."""
    view, part = _at(trace, c)
    return view.cell(part, c, width)


def states(trace, c, width: int = 80, height: int = 8):
    view, part = _at(trace, c)
    return view.states(part, c, width, height)


def gradients(trace, c, width: int = 80, defer: bool = False):
    """dL/dh over the steps and what it says; *defer*: the verdict says it is being measured rather than
    measuring it (`verdict_pending`: the TUI measures it in a worker)."""
    view, part = _at(trace, c)
    return view.gradients(part, c, width, defer)


def details(trace, c):
    view, part = _at(trace, c)
    return view.details(part, c)


__all__ = ["HANDOVER", "VIEWS", "PlaceView", "cell_panel", "details", "gradients", "states", "view_at", "view_for"]
