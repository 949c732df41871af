"""A data set's samples as an outer axis: `rnntui run SCENARIO --dataset FILE` (or `--scan`).

Its data is samples/axis.py's `SamplesAxis` (the scan's ranking, each sample's own run opened on demand, free
of the UI); its pane the ranking (tui/samples_pane.py). `(` / `)` move through the ranking (worst first), `S`
opens a sample by its index, `r` puts the keys in the ranking (Enter opens the sample under its cursor). A
move keeps the place, the pass and the step (clamped to the sample's own steps).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from textual.binding import Binding

from rnntui.engine.keys import SAMPLE_IDS
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



def opened_samples(state: DebuggerState) -> tuple[int, int] | None:
    """(first sample, how many) of a data set the open run reads: the samples axis's sample, else the run's own
    `meta.sample_ids` (`run X --sample k` without --dataset); None for other inputs (and a training run's
    minibatch: the iteration's own business)."""
    if Samples.name in state.axes:
        return state.at(Samples.name), 1
    if "iteration" in state.axes:
        return None
    whole = state.run.trace.whole
    if SAMPLE_IDS not in whole:
        return None
    ids = [int(i) for i in np.asarray(whole[SAMPLE_IDS]).ravel()]
    contiguous = ids and ids == list(range(ids[0], ids[0] + len(ids)))
    return (ids[0], len(ids)) if contiguous else None


def samples_suffix(state: DebuggerState) -> str:
    """What an export's file name says of the samples open ("-sample4812", "-samples8-15"), "" for none or for the
    data set's first batch (as the scenario reads it by default)."""
    opened = opened_samples(state)
    if opened is None or opened == (0, opened[1]) and opened[1] > 1:
        return ""
    first, n = opened
    return f"-sample{first}" if n == 1 else f"-samples{first}-{first + n - 1}"


def samples_into(data, state: DebuggerState) -> None:
    """A scenario's data (`W` writes it) set to read the samples that were run, as they were run: `input:
    {dataset: ..., sample: k, batch_size: n}`; unchanged for other inputs."""
    inp = data.get("input")
    opened = opened_samples(state) if isinstance(inp, dict) and "dataset" in inp else None
    if opened is not None:
        inp["sample"], inp["batch_size"] = opened


__all__ = ["Samples", "opened_samples", "samples_into", "samples_suffix"]
