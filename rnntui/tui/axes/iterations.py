"""The training iterations as an outer axis: a scenario with `train:` (`rnntui run training-lstm-memory`).

Its data is the training trace (engine/train.py: `train.*` keys; `iteration(k)` recomputes iteration k from
a checkpoint, seconds; recent ones cached); its pane the training pane (render/training.py: the curves and
the iterations x steps picture, tui/widgets/training_pane.py). Under --compare with another training run,
B's own iteration k opens beside A's (its last when it has fewer).
"""
from __future__ import annotations

from textual.binding import Binding

from rnntui.render.training import is_training
from rnntui.tui.axes.base import Axis
from rnntui.tui.state import DebuggerState, OpenRun, open_run

MESSAGE_CHARS = 300


class Iterations(Axis):
    name = "iteration"
    title = "Training iterations"
    noun = "iteration"
    offered_without = True   # , . say the run has one iteration
    BINDINGS = [
        Binding("full_stop", "axis('iteration', 'move', 1)", "Next iter", show=False,
                tooltip="Training: the next iteration (place, pass and step stay where they are)"),
        Binding("comma", "axis('iteration', 'move', -1)", "Prev iter", show=False,
                tooltip="Training: the previous iteration"),
        Binding("greater_than_sign", "axis('iteration', 'move', 10)", "+10 iter", show=False,
                tooltip="Training: 10 iterations on"),
        Binding("less_than_sign", "axis('iteration', 'move', -10)", "-10 iter", show=False,
                tooltip="Training: 10 iterations back"),
        Binding("left_curly_bracket", "axis('iteration', 'end', 0)", "First iter", show=False,
                tooltip="Training: the first iteration"),
        Binding("right_curly_bracket", "axis('iteration', 'end', 1)", "Last iter", show=False,
                tooltip="Training: the last iteration"),
        Binding("j", "axis('iteration', 'event', 1)", "Next iter event", show=False,
                tooltip="Training: the next iteration where a run of iteration events begins (values stop being "
                        "finite, clipping acts, the gradient reaching step 0 falls below or rises above the "
                        "thresholds), skipping the rest of the run; the notice says how far it goes"),
        Binding("J", "axis('iteration', 'event', -1)", "Prev iter event", show=False,
                tooltip="Training: the previous such iteration, where its run begins"),
    ]

    def __init__(self, train, other=None):
        self.train = train
        """The training trace (its `train.*` keys; `iteration(k)`)."""
        self.compared = other
        """--compare: B, the whole run (a training run's iterations move with A's), kept through every move."""
        self.start = train.record_iteration   # the last, or the one a saved trace was exported at
        self._events = None

    @classmethod
    def attach(cls, trace, other, options: dict) -> Iterations | None:
        return cls(trace, other) if is_training(trace) else None

    @classmethod
    def pane(cls, axis: Iterations | None):
        from rnntui.tui.widgets.training_pane import TrainingPane

        return TrainingPane(id="training")

    @classmethod
    def absent(cls, app) -> None:
        app.notify("this run has no train: section: it has one iteration", timeout=2)

    def __len__(self) -> int:
        return self.train.iterations

    @property
    def other_training(self):
        """B, when B trains too (its iterations move with A's; the pane draws both runs' curves), else None."""
        b = self.compared
        return b if b is not None and is_training(b) else None

    @staticmethod
    def of(run, k: int):
        """Iteration k's record of a training run (the run itself for the iteration it holds)."""
        return run if k == run.record_iteration else run.iteration(k)

    def open(self, k: int, state: DebuggerState, alone: OpenRun | None = None) -> OpenRun:
        """Iteration k of A, opened with B beside it: B's own iteration k when B trains (its last when it has
        fewer), else B as it is. *alone*: A's iteration k already opened without B. IterationNotKept when a
        saved trace does not keep one of them."""
        a = alone.trace.whole if alone is not None else self.of(self.train, k)
        b = self.compared
        if b is None:
            return alone or open_run(a, muted=state.muted)
        if is_training(b):
            b = self.of(b, min(k, b.iterations - 1))
        return open_run(a, b, muted=state.muted)

    def ready(self, k: int, state: DebuggerState) -> OpenRun | None:
        """Iteration k (and B's beside it) when it opens at once, from the cache."""
        b = self.other_training
        if self.train.is_cached(k) and (b is None or b.is_cached(min(k, b.iterations - 1))):
            return self.open(k, state)
        return None

    def busy(self, k: int) -> str:
        return f"computing iteration {k}"

    def events(self):
        """The runs of iteration events of the training run (computed once: the run does not change)."""
        from rnntui.render.training import iteration_events

        if self._events is None:
            self._events = iteration_events(self.train)
        return self._events

    def key_event(self, app, n: int) -> None:
        """`j` / `J`: to the iteration where the next (previous) run of iteration events begins, as `n` / `N` do
        for runs of steps; the notice says how far each run goes."""
        from rnntui.tui.usertext import cut

        at = app.state.at(self.name)
        events = self.events()
        ahead = sorted({e.iteration for e in events if (e.iteration > at if int(n) > 0 else e.iteration < at)})
        if not ahead:
            app.notify(("j: no run of iteration events begins after" if int(n) > 0 else
                        "J: no run of iteration events begins before") + f" iteration {at}", timeout=2)
            return
        k = ahead[0] if int(n) > 0 else ahead[-1]
        app.move_axis(self.name, k)
        found = [e.text for e in events if e.iteration == k]
        app.notify(cut("; ".join(found[:3]), MESSAGE_CHARS), timeout=3, markup=False)


__all__ = ["Iterations"]
