from __future__ import annotations

from rich.console import Group
from textual.reactive import reactive

from rnntui.render.training import training_panel
from rnntui.tui.widgets.base import TraceView


class TrainingPane(TraceView):
    """The iterations axis's pane (tui/axes/iterations.py): the curves over iterations and the (iterations x
    steps) gradient picture, with the cursor's iteration and step marked. Hidden for a run without `train:`."""

    iteration: reactive[int] = reactive(0, repaint=False)
    """The iteration the views below show: the state's position on the axis."""

    source = None  # the training trace (its train.* keys): the axis's
    other = None   # --compare with another training run: its trace, drawn beside on one scale

    def watch_iteration(self) -> None:
        self.watch_run()

    def take(self, old, state) -> None:
        axis = state.axes.get("iteration")
        if old is None:
            self.source = None if axis is None else axis.train
            self.other = None if axis is None else axis.other_training  # both train: both runs' curves
            self.display = axis is not None
        self.iteration = state.at("iteration")

    def render_view(self, cursor, width: int):
        if self.source is None:
            return Group()
        return training_panel(self.source, cursor.place(self.run.info), self.iteration, cursor.t, width,
                              other=self.other)
