"""One view per kind of place, found by the entry's `view` (recurrent, map, plain, embedding).

The panels of the TUI, `rnntui show` and the reports ask `view_for` and call the same method
whatever the entry is; a new kind of place is one module here and one line below.
"""
from __future__ import annotations

from rnntui.render.views.base import PlaceView
from rnntui.render.views.embedding import EmbeddingView
from rnntui.render.views.maps import MapView
from rnntui.render.views.plain import PlainView
from rnntui.render.views.recurrent import RecurrentView

VIEWS: dict[str, PlaceView] = {v.kind: v for v in (RecurrentView(), MapView(), PlainView(), EmbeddingView())}


def view_for(info, place) -> PlaceView:
    return VIEWS[info.entries[place.entry].view]


def cell_panel(trace, c, width: int = 80):
    """The cell at step t: gates by name with their values, the state update with its numbers; in the
    backward pass the gradients at t and where they came from."""
    return view_for(trace.info, c.place(trace.info)).cell(trace, c, width)


def states(trace, c, width: int = 80, height: int = 8):
    return view_for(trace.info, c.place(trace.info)).states(trace, c, width, height)


def gradients(trace, c, width: int = 80):
    return view_for(trace.info, c.place(trace.info)).gradients(trace, c, width)


def details(trace, c):
    return view_for(trace.info, c.place(trace.info)).details(trace, c)


__all__ = ["VIEWS", "PlaceView", "cell_panel", "details", "gradients", "states", "view_for"]
