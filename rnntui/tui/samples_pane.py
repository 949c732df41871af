"""The samples axis in the debugger: a scan's ranking as a pane, and the keys that open a data set's samples.

`rnntui run SCENARIO --dataset FILE` (or `--scan`) scans the data set first, then opens the debugger on one
sample's own run with the ranking above the views (samples/axis.py holds the ranking and the runs). `(` /
`)` open the previous / next sample of the ranking, `S` a sample by its index, `r` puts the keys in the
ranking (arrows move its cursor, Enter opens the sample under it, Escape gives the keys back). A move
keeps the place, the pass and the step (clamped to the new sample's own steps), as an iteration move
does. A sample not opened before runs in a worker thread (the app's `_background`: the header says so,
Esc cancels), so the keys never wait for it.
"""
from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

import numpy as np

from rnntui.engine.keys import SAMPLE_IDS
from rnntui.render import cursor as cur
from rnntui.render.samples import ranking_columns, sample_words
from rnntui.samples.table import cell
from rnntui.tui.screens import Dialog

ROWS_SHOWN = 1000   # the ranking's first rows the pane holds (S opens any sample by its index)
SCROLLBAR = 2       # the table's vertical scroll bar: the columns fit beside it

SAMPLE_BINDINGS = [
    Binding("right_parenthesis", "sample_move(1)", "Next in ranking", show=False,
            tooltip="Data set (--dataset / --scan): open the next sample of the ranking (the next less bad); place, "
                    "pass and step stay"),
    Binding("left_parenthesis", "sample_move(-1)", "Prev in ranking", show=False,
            tooltip="Data set: open the previous sample of the ranking (the next worse)"),
    Binding("S", "goto_sample", "Go to data-set sample", show=False,
            tooltip="Data set: open a sample by its index in the data set"),
    Binding("r", "ranking", "Ranking", show=False,
            tooltip="Data set: move in the ranking pane (arrows, PgUp/PgDn; Enter opens the sample; Escape returns)"),
]
SAMPLE_ACTIONS = frozenset(("sample_move", "goto_sample", "ranking"))


class RankingTable(DataTable, inherit_bindings=True, can_focus=False):
    """The ranking's rows. It takes the keys only when `r` gives them to it (never by itself when the screen
    opens: the arrows are the debugger's); Escape gives them back."""

    BINDINGS = [Binding("escape", "leave", "Back to the debugger", tooltip="Give the keys back to the debugger")]

    def enter(self) -> None:
        self.can_focus = True
        self.screen.set_focus(self)   # at once (focus() waits a turn: keys typed after r would miss the table)

    def action_leave(self) -> None:
        self.can_focus = False
        self.screen.set_focus(None)


class SamplesPane(Vertical, can_focus=False):
    """The scan's ranking, worst first: the columns of `rnntui scan`'s table that fit, the open sample's row
    under the cursor. Hidden when the run has no samples axis."""

    DEFAULT_CSS = """
    SamplesPane { height: auto; max-height: 9; padding: 0 1; border-bottom: solid $primary-background; }
    SamplesPane > Static { height: 1; }
    SamplesPane > RankingTable { height: auto; max-height: 7; }
    """

    def __init__(self, axis=None, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self._columns: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="ranking-title")
        yield RankingTable(id="ranking", cursor_type="row", zebra_stripes=False, show_cursor=True)

    def on_mount(self) -> None:
        self.display = self.axis is not None
        if self.axis is not None:
            self._fill(self.app.size.width - 2 - SCROLLBAR)
            self.show(self.app.sample_index)

    def on_resize(self, event) -> None:
        if self.axis is not None and self.content_size.width:
            self._fill(self.content_size.width - SCROLLBAR)

    def _fill(self, width: int) -> None:
        """The rows, with the columns that fit *width* (again only when that set changes)."""
        axis = self.axis
        rows = axis.ranked[:ROWS_SHOWN]
        cols = ranking_columns(rows, width)
        if cols == self._columns:
            return
        self._columns = cols
        table = self.query_one(RankingTable)
        at = table.cursor_row
        table.clear(columns=True)
        for c in cols:
            table.add_column(c, key=c)
        table.add_rows([[cell(r.get(c, "")) for c in cols] for r in rows])
        shown = f" (the worst {len(rows):,} here)" if len(rows) < len(axis) else ""
        state = "" if axis.scan.complete else f" (the scan was interrupted: {len(axis):,} of them ranked)"
        self.query_one("#ranking-title", Static).update(
            f"ranking of {axis.N:,} samples, worst first{shown}{state}: r to move in it, Enter opens, "
            "( ) prev/next, S by index")
        table.move_cursor(row=at, animate=False)

    def show(self, k: int) -> None:
        """Put the cursor on sample k's row (when the pane holds it)."""
        r = self.axis.rank(k)
        if r is not None and r < ROWS_SHOWN:
            self.query_one(RankingTable).move_cursor(row=r, animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.app.open_sample(self.axis.at_rank(event.cursor_row))


class SampleGotoScreen(Dialog[int | None]):
    """Ask for a data-set sample's index and return it, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, N: int):
        super().__init__()
        self.N = N

    def compose(self) -> ComposeResult:
        with Vertical(id="goto"):
            yield Static(f"Open the data set's sample (0..{self.N - 1:,}):")
            yield Input(placeholder="sample", id="sample-input", restrict=r"[0-9,_]*", max_length=24)
            yield Static("", id="sample-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.replace(",", "").replace("_", "")
        k = int(text) if text.isdigit() else -1
        if not 0 <= k < self.N:
            self.query_one("#sample-error", Static).update(f"expected a whole number from 0 to {self.N - 1:,}")
            return
        self.dismiss(k)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SamplesAxisMixin:
    """The app's samples axis: which data-set sample is open, the keys that move along the ranking."""

    samples = None        # the SamplesAxis (samples/axis.py), or None: the run has no data set to move along
    sample_index = 0      # the data-set sample whose run is open
    _sample_target = None  # the sample a worker is running (the last asked for), None when none is

    def _samples_check(self, action: str) -> bool | None:
        return True if self.samples is not None else False   # hidden: no data set to move along

    def _opened_samples(self) -> tuple[int, int] | None:
        """(first sample, how many) of a data set the open run reads: the samples axis's sample, else the
        run's own `meta.sample_ids` (`run X --sample k` without --dataset); None for other inputs."""
        if self.samples is not None:
            return self.sample_index, 1
        if getattr(self, "training", None) is not None:   # a minibatch: the iteration's own business
            return None
        whole = self.run_state.trace.whole
        if SAMPLE_IDS not in whole:
            return None
        ids = [int(i) for i in np.asarray(whole[SAMPLE_IDS]).ravel()]
        contiguous = ids and ids == list(range(ids[0], ids[0] + len(ids)))
        return (ids[0], len(ids)) if contiguous else None

    def _sample_suffix(self) -> str:
        """What an export's file name says of the open sample ("-sample4812"), "" without a data set."""
        opened = self._opened_samples()
        if opened is None or opened == (0, opened[1]) and opened[1] > 1:
            return ""   # the data set's first batch, as the scenario reads it by default
        first, n = opened
        return f"-sample{first}" if n == 1 else f"-samples{first}-{first + n - 1}"

    def _sample_into(self, data) -> None:
        """A scenario's data (`W` writes it) set to read the samples that were run, as they were run: `input:
        {dataset: ..., sample: k, batch_size: n}`; unchanged for other inputs."""
        inp = data.get("input")
        opened = self._opened_samples() if isinstance(inp, dict) and "dataset" in inp else None
        if opened is not None:
            inp["sample"], inp["batch_size"] = opened

    def _sample_words(self, k: int) -> str:
        ax = self.samples
        return sample_words(k, ax.N, ax.rank(k), ax.row(k))

    def _sample_base(self) -> int:
        """Where a move counts from: the sample on its way (a worker runs it), else the one shown."""
        return self._sample_target if self._sample_target is not None and "sample" in self._jobs else \
            self.sample_index

    def action_sample_move(self, n: int) -> None:
        if self.samples is None:
            return
        base = self._sample_base()
        k = self.samples.move(base, int(n))
        if k is None:
            self.notify(f"sample {base:,} is the " + ("last" if int(n) > 0 else "first") + " of the ranking",
                        timeout=2)
            return
        self.open_sample(k)

    def action_goto_sample(self) -> None:
        if self.samples is None:
            return

        def done(k: int | None) -> None:
            if k is not None:
                self.open_sample(k)

        self.push_screen(SampleGotoScreen(self.samples.N), done)

    def action_ranking(self) -> None:
        if self.samples is not None:
            self.query_one(RankingTable).enter()

    def open_sample(self, k: int) -> None:
        """Show data-set sample k: at once when its run was opened before, else once a worker has run it (the
        header says so meanwhile, the keys still answer, Esc cancels: the app's `_background`)."""
        from rnntui.tui.state import open_run, warmed

        for pane in self.query(SamplesPane):
            pane.show(k)
        trace = self.samples.opened(k)
        if trace is not None or k == self.sample_index:
            self._show_sample(k, open_run(trace) if trace is not None else self.run_state)
            return
        self._sample_target = k

        def done(run) -> None:
            if self._sample_target == k:
                self._show_sample(k, run)

        place_index = self.cursor.place_index

        def work():
            from rnntui.render.analysis import verdicts

            run = warmed(open_run(self.samples.run(k)))
            place = run.places[place_index]
            if place.recurrent:   # the verdict's step Jacobian norms (50-120 ms at T=100, H=128): here, not in a view
                verdicts(run.trace, place)
            return run

        self._background("sample", f"running sample {k:,}", work, done)

    def _show_sample(self, k: int, run) -> None:
        job = self._jobs.pop("sample", None)
        if job is not None:   # a slower move on its way is overtaken by this one
            job[0].cancel()
            self._show_busy()
        self._sample_target = None
        if run is self.run_state:
            return
        c = self.cursor
        place = c.place(run.info)
        ends = (cur.first_step(run.info, c.phase, place.direction, place, 0),
                cur.last_step(run.info, c.phase, place.direction, place, 0))
        t = min(max(c.t, min(ends)), max(ends))   # a shorter sample: its own last step
        self.set_reactive(type(self).cursor, replace(c, t=t, sample=0, handover=False))
        self.sample_index = k
        for header in self.query("#header"):
            header.axis_words = self._sample_words(k)
        self.original = run.trace.whole
        self._keep_cursor = True
        self.run_state = run


__all__ = ["SAMPLE_ACTIONS", "SAMPLE_BINDINGS", "SampleGotoScreen", "SamplesAxisMixin", "SamplesPane"]
