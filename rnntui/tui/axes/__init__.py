"""The outer axes the debugger moves along, one module each (tui/axes/base.py says what an axis is).

A run has each registered axis it attaches to (`Axis.attach`): the app composes their panes in this order
(below the timeline), binds their keys (the help groups them under each axis's title) and keeps each one's
position in its state. A new axis is its module (the `Axis` subclass: moves, records, keys), its pane, and
one line here.
"""
from __future__ import annotations

from rnntui.tui.axes.base import Axis
from rnntui.tui.axes.iterations import Iterations
from rnntui.tui.axes.samples import Samples

AXES: list[type[Axis]] = [
    Iterations,   # a training run's iterations (train: in the scenario)
    Samples,      # a data set's samples (--dataset / --scan)
]

__all__ = ["AXES", "Axis"]
