"""The samples axis's pane: a scan's ranking (the axis and its keys: tui/axes/samples.py).

`rnntui run SCENARIO --dataset FILE` (or `--scan`) scans the data set first, then opens the debugger on one
sample's own run with the ranking above the views (samples/axis.py holds the ranking and the runs). `(` /
`)` open the previous / next sample of the ranking, `S` a sample by its index, `r` puts the keys in the
ranking (arrows move its cursor, Enter opens the sample under it, Escape gives the keys back). A move
keeps the place, the pass and the step (clamped to the new sample's own steps), as an iteration move
does. A sample not opened before runs in a worker thread (the app's `_background`: the header says so,
Esc cancels), so the keys never wait for it.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from rnntui.render.samples import ranking_columns
from rnntui.samples.table import cell
from rnntui.tui.screens import Dialog

ROWS_SHOWN = 1000   # the ranking's first rows the pane holds (S opens any sample by its index)
SCROLLBAR = 2       # the table's vertical scroll bar: the columns fit beside it


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
        self.app.move_axis("sample", self.axis.at_rank(event.cursor_row))


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


__all__ = ["RankingTable", "SampleGotoScreen", "SamplesPane"]
