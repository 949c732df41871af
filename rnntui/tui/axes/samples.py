"""A data set's samples as an outer axis: `rnntui run SCENARIO --dataset FILE` (or `--scan`).

Its data is samples/axis.py's `SamplesAxis` (the scan's ranking, each sample's own run opened on demand, free
of the UI); its pane the ranking (tui/samples_pane.py). `(` / `)` move through the ranking (worst first), `S`
opens a sample by its index, `r` puts the keys in the ranking (Enter opens the sample under its cursor). A
move keeps the place, the pass and the step (clamped to the sample's own steps).
"""
from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding

from rnntui.render import cursor as cur
from rnntui.render.samples import sample_words
from rnntui.tui.axes.base import Axis
from rnntui.tui.state import DebuggerState, OpenRun, open_run, warmed


class Samples(Axis):
    name = "sample"
    title = "Data-set samples (--dataset / --scan)"
    noun = "sample"
    BINDINGS = [
        Binding("right_parenthesis", "axis('sample', 'move', 1)", "Next in ranking", show=False,
                tooltip="Data set (--dataset / --scan): open the next sample of the ranking (the next less bad); "
                        "place, pass and step stay"),
        Binding("left_parenthesis", "axis('sample', 'move', -1)", "Prev in ranking", show=False,
                tooltip="Data set: open the previous sample of the ranking (the next worse)"),
        Binding("S", "axis('sample', 'goto')", "Go to data-set sample", show=False,
                tooltip="Data set: open a sample by its index in the data set"),
        Binding("r", "axis('sample', 'ranking')", "Ranking", show=False,
                tooltip="Data set: move in the ranking pane (arrows, PgUp/PgDn; Enter opens the sample; Escape "
                        "returns)"),
    ]

    def __init__(self, data, start: int = 0):
        self.data = data
        """samples/axis.py `SamplesAxis`: the ranking and the sample runs."""
        self.start = start

    @classmethod
    def attach(cls, trace, other, options: dict) -> Samples | None:
        data = options.get("samples")
        return None if data is None else cls(data, options.get("sample", 0))

    @classmethod
    def pane(cls, axis: Samples | None):
        from rnntui.tui.samples_pane import SamplesPane

        return SamplesPane(None if axis is None else axis.data, id="samples")

    def __len__(self) -> int:
        return self.data.N

    def move(self, k: int, n: int) -> int | None:
        return self.data.move(k, n)   # by rank: ( ) walk the ranking, not the indices

    def end(self, last: bool) -> int:
        return self.data.at_rank(len(self.data) - 1 if last else 0)

    def stop(self, k: int, n: int) -> str:
        return f"sample {k:,} is the " + ("last" if n > 0 else "first") + " of the ranking"

    def ready(self, k: int, state: DebuggerState) -> OpenRun | None:
        trace = self.data.opened(k)
        return None if trace is None else open_run(trace, muted=state.muted)

    def open(self, k: int, state: DebuggerState) -> OpenRun:
        from rnntui.render.analysis import verdicts

        run = warmed(open_run(self.data.run(k), muted=state.muted))
        place = run.places[min(state.cursor.place_index, len(run.places) - 1)]
        if place.recurrent:   # the verdict's step Jacobian norms (50-120 ms at T=100, H=128): here, not in a view
            verdicts(run.trace, place)
        return run

    def busy(self, k: int) -> str:
        return f"running sample {k:,}"

    def keep(self, cursor, run: OpenRun):
        """The place and pass kept, the step clamped to the sample's own steps (a batch of one)."""
        info = run.info
        place = cursor.place(info)
        ends = (cur.first_step(info, cursor.phase, place.direction, place, 0),
                cur.last_step(info, cursor.phase, place.direction, place, 0))
        t = min(max(cursor.t, min(ends)), max(ends))   # a shorter sample: its own last step
        return replace(cursor, t=t, sample=0, handover=False)

    def words(self, k: int) -> str:
        ax = self.data
        return sample_words(k, ax.N, ax.rank(k), ax.row(k))

    def aim(self, app, k: int) -> None:
        from rnntui.tui.samples_pane import SamplesPane

        for pane in app.query(SamplesPane):   # the ranking's cursor on its row at once, the run when it is ready
            pane.show(k)

    def key_goto(self, app) -> None:
        from rnntui.tui.samples_pane import SampleGotoScreen

        def done(k: int | None) -> None:
            if k is not None:
                app.move_axis(self.name, k)

        app.push_screen(SampleGotoScreen(self.data.N), done)

    def key_ranking(self, app) -> None:
        from rnntui.tui.samples_pane import RankingTable

        app.query_one(RankingTable).enter()

    def into_scenario(self, data, k: int) -> None:
        """A scenario's data (`W` writes it) set to read sample k alone, as it was run: `input: {dataset: ...,
        sample: k, batch_size: 1}`."""
        inp = data.get("input")
        if isinstance(inp, dict) and "dataset" in inp:
            inp["sample"], inp["batch_size"] = k, 1


__all__ = ["Samples"]
