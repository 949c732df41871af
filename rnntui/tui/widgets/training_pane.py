from __future__ import annotations

from rich.console import Group
from textual.reactive import reactive

from rnntui.render.training import training_panel
from rnntui.tui.widgets.base import TraceView


class TrainingPane(TraceView):
    """A training run: the curves over iterations and the (iterations x steps) gradient picture, with the
    cursor's iteration and step marked. Hidden for a run without `train:`."""

    iteration: reactive[int] = reactive(0, repaint=False)
    """The iteration the views below show; set by the app."""

    source = None  # the training trace (its train.* keys); set by the app before it mounts
    other = None   # --compare with another training run: its trace, drawn beside on one scale; set by the app

    def watch_iteration(self) -> None:
        self.watch_run()

    def render_view(self, cursor, width: int):
        if self.source is None:
            return Group()
        return training_panel(self.source, cursor.place(self.run.info), self.iteration, cursor.t, width,
                              other=self.other)
