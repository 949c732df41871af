"""The step-through debugger: composes one widget per concept and routes keys to the cursor.

What the user sees is one frozen object, the app's `state` (tui/state.py `DebuggerState`: the open run,
the cursor, the watches and breakpoints, each outer axis and its position, the what-ifs). Every key
replaces it through one of its pure transitions; every view binds to it (tui/widgets/base.py) and
re-reads the run. Nothing is recomputed. The keys are grouped by what owns them (tui/keymap.py; an
outer axis's in its own module, tui/axes/).

Keys are routed deliberately: no binding has priority, so a modal screen (help, go-to) owns
every key while it is open; and the two columns never take focus, so no scroll container eats
the arrows meant for the cursor.
"""
from __future__ import annotations

import gc
from dataclasses import replace
from pathlib import Path

import numpy as np
from textual.actions import parse as parse_action
from textual.app import App, ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState, get_current_worker

from rnntui import signals
from rnntui.blas import one_thread
from rnntui.engine import keys
from rnntui.engine.progress import reporting
from rnntui.engine.handlers import handler
from rnntui.engine.trace import IterationNotKept
from rnntui.render import cursor as cur
from rnntui.render.analysis import EventRun
from rnntui.render.cursor import Cursor
from rnntui.engine.checkpoint import NotReady
from rnntui.render.sweeping import progress_bar
from rnntui.render.views import view_at
from rnntui.render.training import is_training
from rnntui.render.watches import COMPUTING, Breakpoint, DebugState, next_break, pending, waiting
from rnntui.tui import keymap
from rnntui.tui.axes import AXES
from rnntui.tui.screens import DebugListScreen, ExpressionScreen, GotoScreen, HelpScreen, WhatIfScreen
from rnntui.tui.state import DebuggerState, OpenRun, open_run, warmed
from rnntui.tui.terminal import require_terminal
from rnntui.tui.usertext import cut
from rnntui.tui.widgets.base import TraceView
from rnntui.tui.widgets.model_map_panel import ModelMapPanel
from rnntui.tui.widgets.cell_view import CellView
from rnntui.tui.widgets.watch_pane import WatchPane
from rnntui.tui.widgets.compare_pane import ComparePane
from rnntui.tui.widgets.details_pane import DetailsPane
from rnntui.tui.widgets.gradient_plot import GradientPlot
from rnntui.tui.widgets.header_bar import HeaderBar
from rnntui.tui.widgets.state_heatmap import StateHeatmap
from rnntui.tui.widgets.timeline import Timeline


MAP_PANEL_FROM = (150, 40)  # columns, lines: a graph model's map is a panel beside the views from here
NARROW_BELOW = 100
SHORT_BELOW = 30  # lines: below this, everything under the header scrolls as one

# Textual makes and drops thousands of small objects a frame; at CPython's default gen0 threshold
# (700) the collector runs several times a keypress and now and then walks every object of the
# app. Collecting less often keeps a step inside a frame (~1.5-4 ms a step in paired runs).
GC_THRESHOLD = (20_000, 50, 100)

PASS_WORDS = {"forward": "the forward pass", "backward": "BPTT (the backward pass)"}
MESSAGE_CHARS = 300  # a notification names events or a path: a few lines of a toast at most
STEM_CHARS = 60      # an export's file name starts with the scenario file's stem; keep it a file name


class Cancelled(Exception):
    """Raised in a worker's thread at its next progress report once Esc cancelled it: the work stops there."""


class Column(VerticalScroll, can_focus=False):
    """A column of panels that scrolls (mouse wheel, scroll bar) but never takes focus, so its
    scroll bindings (arrows, PgUp/PgDn, Home/End) never take the keys that move the cursor."""


def claim_free_name(folder: Path, stem: str, suffix: str) -> Path:
    """*stem*.suffix in *folder*, or *stem*-2.suffix, -3, ... : the first name no file has, claimed by creating
    it empty (O_EXCL: two writers never pick the same one) for the caller to replace whole."""
    import os

    for k in range(1, 10_000):
        path = folder / (f"{stem}{suffix}" if k == 1 else f"{stem}-{k}{suffix}")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{folder / (stem + suffix)} and 9,998 numbered names after it exist")


class Body(Column):
    """Everything below the header: the timeline, the training and compare panes and the middle. On a large
    terminal it fits and never scrolls (the middle's columns do); on a small one (`.scroll`) it scrolls as a
    whole, so a tall training or compare pane never leaves the middle without a line."""


PANEL_BINDINGS = list(keymap.PANELS.bindings)   # Tab / Shift+Tab, on the debugger's own screen (tui/keymap.py)


class DebuggerScreen(Screen):
    """The debugger's screen: Tab / Shift+Tab move between panels (a Screen's own Tab moves the focus,
    which no panel takes)."""

    BINDINGS = PANEL_BINDINGS


class RnntuiApp(App):
    """Step through a recorded run, forward and backward in time.

    The keys are `BINDINGS`, and only there: the help screen (`?`) lists them with their tooltips.
    """

    CSS_PATH = "app.tcss"
    TITLE = "rnntui"

    # grouped by owner (tui/keymap.py): navigation, debugging, what-if, each outer axis (tui/axes/), the app's own
    BINDINGS = keymap.bindings(AXES)

    state: reactive[DebuggerState] = reactive(None, repaint=False, always_update=True)
    """What the user sees (tui/state.py): the open run, the cursor, the watches and breakpoints, the outer axes
    and where each is, the what-ifs. Replaced, never changed; every view binds to it."""

    playing: reactive[bool] = reactive(False, bindings=True)
    """Whether Space is stepping on by itself."""

    def __init__(self, trace, export_dir: Path | None = None, other=None, samples=None, sample: int = 0,
                 axis_options: dict | None = None, sweep=None, **kwargs):
        """*trace* (B beside it: *other*); *samples* (samples/axis.py) and *sample*: a data set's samples to move
        along, at sample *sample*; *axis_options*: what else a registered axis (tui/axes/) attaches from.
        *sweep*: a long run whose sweep is not done (engine/run.py `SweepingRun`; *trace* is its `preview()`):
        swept on in a worker once the first screen is up, the views showing what is ready meanwhile."""
        super().__init__(**kwargs)
        self._sweep = sweep
        self._after_sweep: tuple[str, object] | None = None   # a key that waits for the sweep: (its words, action)
        self._after_derive: tuple[str, object] | None = None  # ... for the breakpoints being evaluated ("derive")
        self._sweep_failed = ""                    # why the sweep stopped, when it failed (said in the header)
        self.samples = samples   # --dataset / --scan: the data of the samples axis (tui/axes/samples.py)
        options = {"samples": samples, "sample": sample, **(axis_options or {})}
        axes = [a for a in (cls.attach(trace, other, options) for cls in AXES) if a is not None]
        self.BINDINGS = keymap.bindings(AXES)   # as the registry is now (a test may register an axis of its own)
        if self.BINDINGS != type(self).BINDINGS:
            from textual.binding import BindingsMap

            self._bindings = BindingsMap(self.BINDINGS)
        self.export_dir = export_dir or Path.cwd()
        self._timer = None
        self._binding_state: tuple = ()
        self._keep_cursor = False                  # run_state = ...: keep the cursor (a what-if of the same run)
        self.training = trace if is_training(trace) else None  # a training run: iterations to step through
        # --compare: B (the whole run: a training run's iterations move with A's), kept through every move
        self.compared = other
        self._gc_threshold: tuple | None = None
        self._blas = None                          # the BLAS thread limit while the app runs (rnntui/blas.py)
        self._elements: int | None = None          # how many numbers the original records (what a recompute costs)
        self._pending: tuple | None = None         # (changes, seed) a worker is recomputing
        self._panel = 0                            # the panel Tab last brought into view (the first: at the top)
        # work too long for a key (seconds: a Jacobian norm over every step, an iteration recomputed), run in
        # thread workers: group -> (worker, what the header says, done(result) on the UI thread)
        self._jobs: dict[str, tuple[Worker, str, object]] = {}
        self._progress: dict[str, float] = {}      # group -> fraction done, written by the worker's thread
        self._busy_timer = None
        self._cancelled: set[tuple[int, str]] = set()  # (id(trace), key) Esc cancelled: not started again
        self._targets: dict[str, int] = {}         # axis name -> the position a worker is opening
        self._painted = False                      # whether the first screen is up (workers start after it)
        self._prefetch_after_paint = False         # a prefetch of step Jacobian norms waits for the next repaint
        info = trace.info
        debugging = DebugState(watches=tuple(getattr(info, "watch", ())),
                               breakpoints=tuple(Breakpoint(b) for b in getattr(info, "breakpoints", ())))
        self.set_reactive(RnntuiApp.state, DebuggerState.first(open_run(trace, other), debugging, axes))

    def get_default_screen(self) -> Screen:
        return DebuggerScreen(id="_default")

    @property
    def info(self):
        """The open run's TraceInfo (as shown: user text cut to a screenful)."""
        return self.state.run.info

    # what the state holds, read (and set, through its transitions) by name
    @property
    def run_state(self) -> OpenRun:
        """The open run: the trace, its places, events and marks."""
        return self.state.run

    @run_state.setter
    def run_state(self, run: OpenRun) -> None:
        """Open *run*: the cursor starts again at its first step, or stays (`_keep_cursor` set: the same run)."""
        keep, self._keep_cursor = self._keep_cursor, False
        self.state = self.state.opened(run, keep_cursor=keep)

    @property
    def cursor(self) -> Cursor:
        """The position in the run: phase, place (entry, sub-layer, direction), step, unit, sample."""
        return self.state.cursor

    @cursor.setter
    def cursor(self, cursor: Cursor) -> None:
        self.state = self.state.to(cursor)

    @property
    def debugging(self) -> DebugState:
        """The watches and breakpoints (the scenario's debug: section to start with)."""
        return self.state.debugging

    @debugging.setter
    def debugging(self, debugging: DebugState) -> None:
        self.state = self.state.watching(debugging)

    @property
    def axes(self):
        """The outer axes the run has, by name (tui/axes/)."""
        return self.state.axes

    @property
    def iteration(self) -> int:
        """A training run's iteration shown (0 without training)."""
        return self.state.at("iteration")

    @property
    def sample_index(self) -> int:
        """The data-set sample whose run is open (--dataset / --scan)."""
        return self.state.at("sample")

    @property
    def original(self):
        """What a what-if changes and undo returns to: the open axis position's own run."""
        return self.state.original

    @property
    def changes(self) -> tuple:
        return self.state.changes

    @property
    def seed(self):
        return self.state.seed

    @property
    def muted(self) -> frozenset[str]:
        return self.state.muted

    def _open(self, trace, other=None, labels: tuple[str, str] = ("A", "B")) -> OpenRun:
        """*trace* opened as every run of this session is: without the kinds of event the user muted."""
        return open_run(trace, other, labels, muted=self.muted)

    def compose(self) -> ComposeResult:
        # the views bind to the state once mounted (tui/widgets/base.py)
        yield HeaderBar(id="header")
        with Body(id="body"):
            yield Timeline(id="timeline")
            for cls in AXES:   # each registered axis's pane, hidden in a run without that axis
                pane = cls.pane(self.state.axes.get(cls.name))
                if pane is not None:
                    yield pane
            yield ComparePane(id="compare")  # --compare or a what-if: A, B and their difference, full width
            with Horizontal(id="main"):
                with Column(id="left"):
                    yield CellView(id="cell")
                    yield StateHeatmap(id="states")
                with Column(id="right"):
                    yield WatchPane(id="watches")
                    yield GradientPlot(id="gradients")
                    yield DetailsPane(id="details")
                yield ModelMapPanel(id="map")   # a graph model's map beside the views, where the terminal has room
        yield Footer()

    def run(self, *, headless: bool = False, **kwargs):
        """Textual's run, refused at once where there is no terminal (tui/terminal.py, never a wait for keys
        that cannot come); a signal asks the app to close, giving the terminal back (rnntui/signals.py)."""
        if not headless:
            require_terminal()
        with signals.closing(self._close_on_signal):
            return super().run(headless=headless, **kwargs)

    def _close_on_signal(self, signum: int) -> bool:
        """Called in the signal handler: exit with 128 + signum once the event loop gets to it."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return False
        loop.call_soon_threadsafe(lambda: self.exit(return_code=128 + signum))
        return True

    def on_mount(self) -> None:
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLD)
        self._blas = one_thread()
        self.watch_state(None, self.state)   # the views bound to it on their own mount
        self._fit(self.size.width, self.size.height)
        # the first screen comes first: what the workers compute ahead (the verdicts' one-term gradient, the
        # step Jacobian norms around the cursor, the expression parser) starts once it is painted, never
        # competing with it for the interpreter
        self.call_after_refresh(self._first_paint_done)

    def _first_paint_done(self) -> None:
        from rnntui.expr.grammar import prepare

        self._painted = True
        self._sweep_on()
        self.run_worker(prepare, thread=True, group="prepare")  # w's first keystroke would build the parser
        self._measure_verdicts(self.run_state)
        self._prefetch_jacobians(self.cursor)

    def on_unmount(self) -> None:
        if self._gc_threshold is not None:  # None when the app stopped before it was mounted
            gc.set_threshold(*self._gc_threshold)
        if self._blas is not None:
            self._blas.restore_original_limits()

    def on_resize(self, event) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        """Below 100 columns the two columns stack; below 100 columns or 30 lines everything under the header
        scrolls as one (Tab brings each panel into view), so no panel is cut or left without a line; the
        footer closes up and leaves the command palette's key out (ctrl+p still opens it), so Help and Quit
        stay on screen at 80 columns."""
        narrow = width < NARROW_BELOW
        self.query_one("#main").set_class(narrow, "narrow")
        # a graph model's map as a panel: from MAP_PANEL_FROM columns and lines (below, M opens it), as wide as
        # its widest line within a third of the terminal (a longer line wraps)
        panel = self.query_one("#map")
        panel.display = bool(self.info.inputs) and width >= MAP_PANEL_FROM[0] and height >= MAP_PANEL_FROM[1]
        if panel.display:
            from rnntui.render.model_map import model_map

            widest = max(len(line) for line in model_map(self.info, compact=True).plain.splitlines())
            panel.styles.width = min(widest + 4, width // 3)
        self.query_one("#body").set_class(narrow or height < SHORT_BELOW, "scroll")
        footer = self.query_one(Footer)
        if footer.compact != narrow:
            footer.compact = narrow
            footer.show_command_palette = not narrow
            footer.refresh(recompose=True)

    def _panels(self) -> list:
        """The panels Tab moves between, in reading order: on a small terminal (everything under the header
        scrolls) the timeline, training and compare panes too, then the middle's left column and its right."""
        scroll = self.query_one("#body").has_class("scroll")
        views = self.query("#body TraceView") if scroll else self.query("#main TraceView")
        return [w for w in views if w.display and w.size.height > 0]

    def action_panel(self, n: int) -> None:
        """Tab / Shift+Tab: the next (previous) panel, its first line scrolled to the top of what scrolls
        (everything under the header on a small terminal, else the panel's column)."""
        panels = self._panels()
        if not panels:
            return
        self._panel = (self._panel + int(n)) % len(panels)
        panel = panels[self._panel]
        body = self.query_one("#body")
        container = body if body.has_class("scroll") else panel.parent
        container.scroll_to_widget(panel, animate=False, top=True)

    def watch_state(self, old: DebuggerState | None, new: DebuggerState) -> None:
        """What the app itself does when the state changes (the views follow it on their own): another run
        stops play and names the title; other watches compute again what they wait for; the cursor's move
        fetches ahead and updates which keys act."""
        if old is None or new.run is not old.run:
            if old is None or old.run.sweeping is None:   # more of a sweep is the same run: play goes on
                self.playing = False
            run = new.run
            self.title = f"rnntui: {run.info.name}" + (f" vs {run.other.info.name}" if run.other is not None else "")
            self._measure_verdicts(run)   # a long run's wait for the first paint (_first_paint_done starts them)
        if old is None or new.debugging is not old.debugging:
            self._cancelled.clear()  # a changed list computes again what Esc cancelled
            for view in self.query(WatchPane):
                view.waiting_words = COMPUTING
        self._moved(old.cursor if old is not None else new.cursor, new.cursor)
        if old is None or new.run is not old.run or new.debugging is not old.debugging:
            self._derive_waiting()

    def _measure_verdicts(self, run) -> None:
        """The verdicts' one-term gradients (a lean backward pass, `diag.*.term_gradnorm`): at once where they
        cost a few ms, else after the first paint in a worker, while the gradient panel says it is measuring;
        drawn again when they are in. The numbers are the engine's either way (the same key, computed once)."""
        from rnntui.render.analysis import VERDICT_AT_ONCE, measure_verdicts, verdict_cost

        if run.sweeping is not None:   # measured by the sweep itself: read once it is done
            return
        traces = [t for t in (run.trace, run.other) if t is not None]
        cost = sum(verdict_cost(t) for t in traces)
        if not cost:
            return
        if cost <= VERDICT_AT_ONCE:
            for t in traces:
                measure_verdicts(t)
            return
        if not self._painted:
            return  # _first_paint_done starts it

        def work():
            for t in traces:
                measure_verdicts(t)
            return run

        def done(measured) -> None:
            if measured is self.run_state:
                for view in self.query(GradientPlot):
                    view.watch_run()  # drawn again, with the verdict (its height may change)

        self._background("verdict", "", work, done)

    # --- a long run's sweep, after its first segment is shown ---------------------------------

    SWEEP_PUBLISH_EVERY = 0.5
    """Seconds between the snapshots of a sweep's progress the views are shown (each one redraws them)."""

    class Swept(Message):
        """More of the sweep is done: *preview* is the run as far as it is now (posted by the sweep's worker)."""

        def __init__(self, preview):
            super().__init__()
            self.preview = preview

    def _sweep_on(self) -> None:
        """The rest of a long run's sweep (engine/run.py `SweepingRun`: the forward boundaries, then the backward
        pass) in a thread worker, its progress in the header: a snapshot of the run as far as it is (`Swept`)
        every SWEEP_PUBLISH_EVERY seconds, and the finished run, which replaces it (`_sweep_done`). Esc leaves it
        running: the backward views wait for it."""
        run, self._sweep = self._sweep, None
        if run is None:
            return
        self._swept_run = run

        def work():
            import time

            last = time.monotonic()
            while run.advance():
                now = time.monotonic()
                if now - last >= self.SWEEP_PUBLISH_EVERY:
                    last = now
                    self.post_message(self.Swept(run.preview()))
            return run.finish()

        self._background("sweep", "sweeping the run", work, self._sweep_done)

    def on_rnntui_app_swept(self, message: Swept) -> None:
        if (self.run_state.sweeping is not None and message.preview.progress.done > self.run_state.sweeping.done
                and not self._sweep_failed):
            self.state = self.state.swept(self._open(message.preview, self.compared, self.run_state.labels))
            self._show_busy()   # the header's bar says the fraction the views now say, in the same frame

    def _sweep_done(self, trace) -> None:
        """The sweep is done: the finished run shown in place of its snapshot (every view as if it had been swept
        before the first screen); a key that waited for it (`n`, `c`) acts now."""
        self.state = self.state.swept(self._open(trace, self.compared, self.run_state.labels))
        self._prefetch_jacobians(self.cursor)
        waiting, self._after_sweep = self._after_sweep, None
        self._show_busy()   # the header said the key waited: it does no more
        if waiting is not None:
            waiting[1]()

    SWEEP_PHASES = {"forward": "forward", "states": "backward direction's states", "backward": "backward",
                    "done": "done"}

    def _sweep_words(self) -> str:
        """The sweep's line in the header: its phase, a bar and how far it is ("sweeping: forward ███▌ 21%")."""
        # as far as the snapshot the views show (what their "computing: N%" says), else the sweep itself
        progress = self.run_state.sweeping or self._swept_run.progress
        phase = progress.own_label if progress.phase == "own" else self.SWEEP_PHASES[progress.phase]
        if progress.phase == "states" and progress.own_states:   # found by the kind's own pass: what runs now
            phase = "backward, the forward direction"
        return (f"sweeping: {phase} {progress_bar(progress.fraction, 16)} "
                f"{progress.fraction:.0%}")

    def _waits_for_sweep(self, what: str, action) -> bool:
        """While the sweep runs: *action* (what key *what* does) waits for it, said at once and in the header (it
        needs the backward pass: events and breakpoints are found over the whole run); Esc drops it. False when
        there is no sweep to wait for."""
        progress = self.run_state.sweeping
        if progress is None:
            return False
        if self._said_sweep_failed(what):
            return True
        self._after_sweep = (what, action)
        self._show_busy()
        self.notify(f"{what}: waits for the sweep ({progress.fraction:.0%} done; events and breakpoints are found "
                    "once the backward pass is done), then runs; Esc cancels", timeout=4, markup=False)
        return True

    # --- work off the UI thread ----------------------------------------------------------------

    def _background(self, group: str, label: str, work, done, name: str = "") -> None:
        """Run *work()* in a thread worker, never on the UI thread, replacing the group's earlier one: the
        header says *label* and how far the engine's progress reports say the work is; Esc cancels it (at its
        next report, where the work stops); *done(result)* runs on the UI thread once it is finished."""
        old = self._jobs.pop(group, None)
        if old is not None:
            old[0].cancel()
        self._progress[group] = 0.0

        def job():
            worker = get_current_worker()

            def progress(_what: str, done_: int, total: int) -> None:
                if worker.is_cancelled:
                    raise Cancelled
                self._progress[group] = done_ / max(total, 1)

            with reporting(progress), np.errstate(all="ignore"):
                return work()

        worker = self.run_worker(job, name=name, thread=True, group=group, exit_on_error=False)
        self._jobs[group] = (worker, label, done)
        if self._busy_timer is None:
            self._busy_timer = self.set_interval(0.1, self._show_busy)
        self._show_busy()

    def _show_busy(self) -> None:
        said = [f"{label}… {self._progress.get(g, 0.0):.0%}" if g != "sweep" else self._sweep_words()
                for g, (_, label, _) in self._jobs.items() if label]
        for waiting in (self._after_sweep, self._after_derive):
            if waiting is not None:
                said.append(f"{waiting[0]} waits for it")
        if self._sweep_failed:
            said.append(self._sweep_failed)
        words = "; ".join(said)
        if words:
            cancels = set(self._jobs) - {"sweep", "verdict"} or self._after_sweep is not None
            words += " (Esc cancels; the keys still answer)" if cancels else " (the keys still answer)"
        for bar in self.query(HeaderBar):
            bar.busy = words
        if not self._jobs and self._busy_timer is not None:
            self._busy_timer.stop()
            self._busy_timer = None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        for group, (worker, label, done) in list(self._jobs.items()):
            if worker is not event.worker or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
                continue
            del self._jobs[group]
            self._show_busy()
            if event.state == WorkerState.SUCCESS:
                done(worker.result)
            elif not isinstance(worker.error, Cancelled):
                error = worker.error
                words = str(error) if isinstance(error, IterationNotKept) else f"{label} failed: {error}"
                if group == "derive":  # a key that waited for the breakpoints finds them failed: it is dropped
                    self._after_derive = None
                if group == "sweep":   # the views that wait for it would wait for ever: they say why instead
                    self._sweep_failed = words + "; what needs the rest of it is not computed"
                    self._after_sweep = None
                    self._show_busy()
                    failed = self._swept_run.preview(failed=str(error))
                    self.state = self.state.swept(self._open(failed, self.compared, self.run_state.labels))
                self.notify(cut(words, MESSAGE_CHARS), severity="error", markup=False)
                self._targets.pop(group, None)

    def action_cancel_work(self) -> None:
        """Esc: cancel every worker (a long run's sweep goes on: the backward views wait for it) and a key that
        waits for the sweep; what they computed so far is dropped, and nothing moves."""
        waited, self._after_sweep = self._after_sweep, None
        derived, self._after_derive = self._after_derive, None
        if not self._jobs and waited is None:
            return
        said = ", ".join([label for g, (_, label, _) in self._jobs.items() if label and g not in ("sweep", "verdict")]
                         + ([f"{waited[0]} (waiting for the sweep)"] if waited is not None else [])
                         + ([f"{derived[0]} (waiting for the breakpoints)"] if derived is not None else []))
        for group, (worker, _, _) in list(self._jobs.items()):
            if group in ("verdict", "sweep"):  # the gradient panel, the backward views wait for them: never dropped
                continue
            worker.cancel()
            if group == "derive":
                trace = self.run_state.trace
                self._cancelled.update((id(trace), k) for k in self._waiting_keys())
                for view in self.query(WatchPane):
                    view.waiting_words = "not computed: cancelled with Esc (L and Enter on it computes it again)"
            del self._jobs[group]
        self._targets.clear()
        self._show_busy()
        if said:
            self.notify(cut(f"cancelled: {said}", MESSAGE_CHARS), timeout=2, markup=False)

    JACOBIAN_AHEAD = 24  # steps each side of the cursor whose Jacobian norms (BPTT's cell) are computed ahead

    def _prefetch_at_cursor(self) -> None:
        self._prefetch_after_paint = False
        self._prefetch_jacobians(self.cursor)

    def _prefetch_jacobians(self, c: Cursor) -> None:
        """The step Jacobian norms BPTT's cell shows (~10 ms a step at H=256 when the trace does not hold them
        all), computed ahead in a quiet worker for the steps around the cursor, so a step key or a switch
        to BPTT finds them; the same function step by step as the cell's own, so the same numbers."""
        if c.handover or not self.is_running or not self._painted or self.run_state.sweeping is not None:
            return
        from rnntui.engine.diagnostics import jacobian_norm_at
        from rnntui.render.parts import for_place
        from rnntui.render.views.recurrent import keep_step_jacobians, steps_to_prefetch

        place = c.place(self.info)
        if not place.recurrent:
            return
        part = for_place(self.run_state.trace, place)
        T = cur.length(self.info, place)
        near = sorted(range(max(c.t - self.JACOBIAN_AHEAD, 0), min(c.t + self.JACOBIAN_AHEAD + 1, T)),
                      key=lambda t: abs(t - c.t))
        if "jacobian" in self._jobs or "derive" in self._jobs:  # one at a time (when it is done, the steps
            return                                                # around the cursor then); derive does all
        steps = steps_to_prefetch(part, place, near)
        if not steps:
            return

        def work():
            worker = get_current_worker()
            out = {}
            for t in steps:
                if worker.is_cancelled:
                    break
                out[t] = jacobian_norm_at(part, place, t)
            return out

        def done(values: dict) -> None:
            keep_step_jacobians(part, place, values)
            self._prefetch_jacobians(self.cursor)  # the cursor may have moved on meanwhile

        self._background("jacobian", "", work, done)

    def _waiting_keys(self) -> list[str]:
        """The costly keys (a place's step Jacobian norms) the watches and breakpoints need here, not computed."""
        d = self.debugging
        if d.empty or not self.is_mounted:
            return []
        trace, place = self.run_state.trace, self.cursor.place(self.info)
        texts = list(d.watches) + [bp.text for bp in d.breakpoints]
        return sorted({k for text in texts for k in waiting(trace, text, place)})

    def _derive_waiting(self) -> None:
        """Compute in a worker the costly keys the watches and breakpoints wait for (the panes say so meanwhile),
        then draw them again."""
        trace = self.run_state.trace
        if self.run_state.sweeping is not None:   # the watches say they are computing until the sweep is done
            return
        wanted = [k for k in self._waiting_keys() if (id(trace), k) not in self._cancelled]
        if not wanted:
            return
        running = self._jobs.get("derive")
        if running is not None and running[0].name == repr((id(trace), wanted)):
            return

        d, place = self.debugging, self.cursor.place(self.info)
        texts = list(d.watches) + [bp.text for bp in d.breakpoints]
        big = getattr(getattr(trace, "whole", trace), "big", {})
        over_segments = [k for k in wanted if k in big]   # a checkpointed run's arrays: evaluated segment by segment

        def work():
            for k in wanted:
                if k not in big:
                    trace[k]
            if over_segments:
                from rnntui.render.watches import bound

                for text in texts:
                    b = bound(trace, text, place)
                    if not isinstance(b, Exception) and getattr(b, "checkpointed", None) is not None and b.waiting():
                        b.holds if b.condition else b.values
            return trace

        def done(computed) -> None:
            waited, self._after_derive = self._after_derive, None
            if computed is self.run_state.trace:
                for view in self.query(WatchPane):
                    view.watch_run()
                for view in self.query(Timeline):
                    view.watch_run()
                if waited is not None:   # `c` pressed meanwhile: it searches now, every breakpoint known
                    waited[1]()
            self._derive_waiting()  # the cursor may have moved to another place meanwhile

        what = ", ".join(k.removeprefix(keys.DIAG_PREFIX).removesuffix(".jacnorm") for k in wanted if k not in big)
        label = f"computing the step Jacobian norms of {what}" if what else ""
        if over_segments:
            label = (label + "; " if label else "") + "evaluating the watches and breakpoints segment by segment"
        self._background("derive", label, work, done, name=repr((id(trace), wanted)))

    def _moved(self, old: Cursor, cursor: Cursor) -> None:
        if not self.debugging.empty and old.place_index != cursor.place_index:
            self._derive_waiting()
        # after the repaint: a worker started now would share the interpreter with this key's layout and paint
        if not self._prefetch_after_paint:
            self._prefetch_after_paint = True
            self.call_after_refresh(self._prefetch_at_cursor)
        # the footer is rebuilt only when an action turns on or off, not on every step
        state = tuple(self.check_action(name, params)
                      for _, name, params in (parse_action(b.action) for b in self.BINDINGS))
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    # --- which actions make sense here (the footer dims the others) -------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        c, info = self.cursor, self.info
        place = c.place(info)
        if action == "step":
            n = int(parameters[0])
            if cur.handover_move(c, info, n) is not None:  # an encoder-decoder's order runs on through it
                return True
            last = cur.last_step(info, c.phase, place.direction, place)
            first = cur.first_step(info, c.phase, place.direction, place)
            return None if (c.t == (last if n > 0 else first)) else True
        if action == "jump":
            target = cur.last_step(info, c.phase, place.direction, place, c.sample) if parameters[0] else cur.first_step(
                info, c.phase, place.direction, place, c.sample)
            return None if c.t == target else True
        if action == "place":
            k = c.place_index + int(parameters[0])
            return True if 0 <= k < len(self.run_state.places) else None
        if action == "phase":  # the binding that names this place's backward pass; the other is hidden
            return view_at(info, c).through_time(info) == (parameters[0] == "bptt")
        if action == "direction":  # hidden where no entry has two directions, dimmed at a place without
            if not any(p.direction == "bwd" for p in info.places):
                return False
            return True if cur.has_other_direction(c, info) else None
        if action == "unit":
            k = c.unit + int(parameters[0])
            return True if 0 <= k < self._width() else None
        if action == "sample":
            return True if info.B > 1 else None
        if action == "event":   # while a long run sweeps, its events are not found yet: the key waits for them
            return True if self.run_state.sweeping is not None or self._event_target(int(parameters[0])) else None
        if action == "axis":   # an outer axis's key: hidden in a run without that axis, unless it says why
            name = str(parameters[0])
            if name in self.state.axes:
                return True
            cls = next((a for a in AXES if a.name == name), None)
            return True if cls is not None and cls.offered_without else False
        if action == "goto":  # a step, a unit or a sample
            return True if (cur.length(info, place) > 1 or info.B > 1 or self._width() > 1) else None
        if action == "play":
            return True if cur.length(info, place) > 1 else None
        return True

    def _width(self) -> int:
        """How many units (or channels of a feature map) the selected entry has."""
        place = self.cursor.place(self.info)
        e = self.info.entries[place.entry]
        if place.layer is not None:
            return e.hidden_size
        if cur.is_map(self.info, place):
            return int(e.out_shape[0])
        try:
            out = self.run_state.trace[keys.out(e.index)]
        except NotReady:   # a long run's head, made after its steps, not yet: as wide as its layout says
            return int(np.prod(e.out_shape))
        return int(out[0, 0].size if (e.seq_out and self.info.seq) else out[0].size)

    # --- actions -------------------------------------------------------------------------------

    def action_step(self, n: int) -> None:
        # a sample shorter than the batch stops at its own end, and says so (the rest is padding)
        crossing = cur.handover_move(self.cursor, self.info, int(n)) is not None  # an encoder's end leads on
        beyond = None if crossing else cur.past_the_end(self.cursor, self.info, int(n))
        self.cursor = cur.move(self.cursor, self.info, int(n))
        if beyond is not None:
            b, own = self.cursor.sample, self.info.length_of(self.cursor.sample)
            full = cur.length(self.info, self.cursor.place(self.info))
            pads = f"t={own}" + (f"..{full - 1} are" if own < full - 1 else " is")
            self.notify(f"sample {b} ends at t={own - 1} (length {own}); {pads} padding (s: next sample)", timeout=3)

    def action_jump(self, last: int) -> None:
        self.cursor = cur.to_end(self.cursor, self.info, bool(last))

    def action_phase(self, kind: str = "bptt") -> None:
        self.cursor = cur.switch_phase(self.cursor, self.info)

    def action_place(self, n: int) -> None:
        self.cursor = cur.switch_place(self.cursor, self.info, int(n))

    def action_direction(self) -> None:
        self.cursor = cur.switch_direction(self.cursor, self.info)

    def action_unit(self, n: int) -> None:
        self.cursor = replace(self.cursor, unit=min(max(self.cursor.unit + int(n), 0), self._width() - 1))

    def action_sample(self, n: int = 1) -> None:
        self.cursor = cur.next_sample(self.cursor, self.info, int(n))

    def action_play(self) -> None:
        self.playing = not self.playing

    def watch_playing(self, playing: bool) -> None:
        if playing:
            self._timer = self.set_interval(0.2, self._tick)
        elif self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _tick(self) -> None:
        c = self.cursor
        place = c.place(self.info)
        at_end = c.t == cur.last_step(self.info, c.phase, place.direction, place, c.sample)
        if at_end and cur.handover_move(c, self.info, 1) is None:  # an encoder plays on into its decoder
            self.playing = False
            return
        self.action_step(1)

    def _event_target(self, n: int) -> list[EventRun]:
        """The runs of events of this place that start nearest after (n > 0) or before the cursor, in
        the current step order: `n` skips the rest of a run of consecutive events, not step by step."""
        c, info = self.cursor, self.info
        place = c.place(info)
        sign = cur.place_sign(info, c.phase, place) * (1 if n > 0 else -1)
        ahead = [r for r in self.run_state.runs.get(place, ()) if sign * (r.start - c.t) > 0]
        if not ahead:
            return []
        t = min((r.start for r in ahead), key=lambda s: sign * s)
        return [r for r in ahead if r.start == t]

    def action_event(self, n: int) -> None:
        if self._waits_for_sweep("n" if int(n) > 0 else "N", lambda: self.action_event(n)):
            return
        runs = self._event_target(int(n))
        if not runs:
            return
        phase = self.cursor.phase if any(r.phase == self.cursor.phase for r in runs) else runs[0].phase
        t, before = runs[0].start, self.cursor.sample
        place = self.cursor.place(self.info)
        key = place.grad_key("h") if place.layer is not None else None
        norms = None
        if key is not None and key in self.run_state.trace and any(r.kind in ("exploding", "vanishing") for r in runs):
            from rnntui.engine.diagnostics import row_norms

            norms = row_norms(np.asarray(self.run_state.trace[key][t]))   # (B, H) at step t: each sample's norm
        self.cursor = cur.to_event(self.cursor, self.info, t, phase, norms)
        moved = "" if self.cursor.sample == before else (
            f"sample {before} ends before t={t}: showing sample {self.cursor.sample}; ")
        # event texts name trace keys, which a crafted trace makes anything: never markup
        self.notify(cut(moved + "; ".join(r.text for r in runs[:3]), MESSAGE_CHARS), timeout=3, markup=False)

    def action_add_watch(self) -> None:
        if not self._refused_while_sweeping("w: a watch is checked and evaluated over the whole run"):
            self._ask(breakpoint=False)

    def action_add_break(self) -> None:
        if not self._refused_while_sweeping("a: a breakpoint is checked and searched over the whole run"):
            self._ask(breakpoint=True)

    def _refused_while_sweeping(self, what: str) -> bool:
        """While a long run's sweep runs: say that *what* needs it done (and how far it is), and that nothing waits
        for it (unlike `n` / `c`, `_waits_for_sweep`): the key is pressed again then; True when refused."""
        progress = self.run_state.sweeping
        if progress is None:
            return False
        if not self._said_sweep_failed(what):
            self.notify(f"{what}: not while the sweep runs ({progress.fraction:.0%} done); press the key again once "
                        "it is done", timeout=3, markup=False)
        return True

    def _said_sweep_failed(self, what: str) -> bool:
        """When the sweep stopped on an error: say that *what* needs the whole of it; True when said."""
        if self._sweep_failed:
            self.notify(f"{what}: needs the whole sweep, which stopped: {self._sweep_failed}", timeout=4,
                        markup=False)
        return bool(self._sweep_failed)

    def _ask(self, breakpoint: bool) -> None:
        def done(text: str | None) -> None:
            if text is None:
                return
            d = self.debugging
            self.debugging = (replace(d, breakpoints=d.breakpoints + (Breakpoint(text),)) if breakpoint
                          else replace(d, watches=d.watches + (text,)))

        place = self.cursor.place(self.info)
        self.push_screen(ExpressionScreen(self.run_state.trace, place, breakpoint), done)

    def action_continue(self, n: int) -> None:
        """`c` / `C`: to the next (previous) step, in this pass's order, where a breakpoint holds or an
        event begins; in a training run on into later (earlier) iterations."""
        n = int(n)
        if self._waits_for_sweep("c" if n > 0 else "C", lambda: self.action_continue(n)):
            return
        if self._waits_for_breakpoints("c" if n > 0 else "C", lambda: self.action_continue(n)):
            return
        c = self.cursor
        # a breakpoint still waiting for its Jacobian norms (a worker computes them) is not searched yet
        t = next_break(self.run_state.trace, c, self.debugging, backwards=n < 0, events=self._event_starts(self.run_state),
                       defer=True)
        if t is not None:
            self._stop_at(self.run_state, t, None)
            return
        from rnntui.render.watches import next_break_elsewhere

        # a breakpoint pinned to another place: on to the next place the pass computes where one holds
        hit = next_break_elsewhere(self.run_state.trace, c, self.debugging, backwards=n < 0)
        if hit is not None:
            k, t = hit
            self.cursor = replace(c, place_index=k, unit=0, handover=False)
            self._stop_at(self.run_state, t, None, moved_from=c.place(self.info))
            return
        if self.training is not None:
            self._continue_in_iterations(n)
            return
        self._nothing_to_continue(n, "")

    def _waits_for_breakpoints(self, what: str, action) -> bool:
        """While the worker computes what a breakpoint of this place needs (its step Jacobian norms, or its values
        segment by segment on a checkpointed run): *action* (what key *what* does) waits for it, said at once and
        in the header (a stop found without it would pass over the steps where it holds); Esc drops it. False
        when nothing of this place is being computed."""
        if "derive" not in self._jobs or not pending(self.run_state.trace, self.cursor.place(self.info),
                                                     self.debugging):
            return False
        self._after_derive = (what, action)
        self._show_busy()
        self.notify(f"{what}: waits for the breakpoints being computed, then runs; Esc cancels", timeout=4,
                    markup=False)
        return True

    def _nothing_to_continue(self, n: int, searched: str) -> None:
        c = self.cursor
        where = f"iteration {self.iteration}, t={c.t}" if self.training is not None else f"t={c.t}"
        from rnntui.render.watches import not_searched, pinned_elsewhere

        unsearched = not_searched(self.run_state.trace, c.place(self.info), self.debugging)
        unsearched = f" ({unsearched})" if unsearched else ""
        elsewhere = pinned_elsewhere(self.run_state.trace, c.place(self.info), self.debugging)
        also = ("; " + "; ".join(f"{text} is pinned to {p.prefix} and holds there at no step "
                                 + ("after" if n > 0 else "before") + " this one in this pass's order"
                                 for text, p in elsewhere[:2])) if elsewhere else ""
        self.notify(cut(f"{'c' if n > 0 else 'C'}: no breakpoint holds and no event begins "
                        + ("after" if n > 0 else "before") + f" {where} at this place, in this pass's order" + searched
                        + unsearched + also, MESSAGE_CHARS), timeout=4, markup=False)

    def _event_starts(self, run: OpenRun) -> list[int]:
        return [r.start for r in run.runs.get(self.cursor.place(run.info), ())]

    def _stop_at(self, run: OpenRun, t: int, iteration: int | None, moved_from=None) -> None:
        """Land on step *t* (of iteration *iteration*, when continue crossed iterations) and say why: the
        breakpoints that hold there and the events that begin there. An event met only in the other pass
        switches to that pass, as `n` does, so the event row shows its mark and the next `c` runs in its
        order."""
        from rnntui.render.watches import holding, not_searched

        c = self.cursor
        place = c.place(run.info)
        held = holding(run.trace, place, self.debugging, t)
        begins = [r for r in run.runs.get(place, ()) if r.start == t]
        phase = c.phase
        if not held and begins and not any(r.phase == phase for r in begins):
            phase = begins[0].phase
        self.cursor = replace(self.cursor, t=t, handover=False, phase=phase)
        said = [f"breakpoint {text} holds" for text in held[:2]]
        said += [r.text + ("" if r.phase == phase else f" (in {PASS_WORDS[r.phase]})") for r in begins[:3]]
        said += [words for words in [not_searched(run.trace, place, self.debugging)] if words]
        head = (f"iteration {iteration}, t={t}" if iteration is not None else f"t={t}")
        if moved_from is not None:  # a breakpoint pinned to another place: say that the cursor went there
            head += f" at {place.prefix} (moved from {moved_from.prefix}, where nothing more holds)"
        switched = f" (an event of {PASS_WORDS[phase]}: switched to that pass)" if phase != c.phase else ""
        # event texts name trace keys, which a crafted trace makes anything: never markup
        self.notify(cut(head + ": " + "; ".join(said) + switched, MESSAGE_CHARS), timeout=3, markup=False)

    ITERATIONS_PER_CONTINUE = 50  # each may be recomputed from a checkpoint: bound what one key costs

    def _continue_in_iterations(self, n: int) -> None:
        """Continue on into later (earlier) iterations of a training run, in a worker (each iteration may be
        recomputed from a checkpoint: seconds): the first step, in this pass's order, where a breakpoint holds
        or an event begins (going back: the last such step of the nearest earlier iteration). After
        ITERATIONS_PER_CONTINUE iterations without one, stop at the last searched and say so (the same key
        searches on)."""
        axis = self.state.axes["iteration"]
        c, N, start = self.cursor, len(axis), self.iteration
        step = 1 if n > 0 else -1
        last = min(N - 1, start + self.ITERATIONS_PER_CONTINUE) if n > 0 else \
            max(0, start - self.ITERATIONS_PER_CONTINUE)
        state = self.state

        def work():
            for k in range(start + step, last + step, step):
                # searched in A alone; B is opened beside it only where the search stops
                run = self._open(axis.of(axis.train, k))
                t = next_break(run.trace, c, state.debugging, backwards=n < 0,
                               events=[r.start for r in run.runs.get(c.place(run.info), ())], after=None)
                if t is not None:
                    return k, warmed(axis.open(k, state, run)), t
            # none: the search stops at the last searched iteration, opened here too
            return last, warmed(axis.open(last, state, run)), None

        def done(found) -> None:
            if self.iteration != start or self.cursor.place_index != c.place_index:
                return  # the user went elsewhere meanwhile: the search no longer answers their question
            k, run, t = found
            if t is not None:
                self._arrive("iteration", k, run)
                self._stop_at(self.run_state, t, k)
                return
            if last != (N - 1 if n > 0 else 0):
                key, which = ("c", "later") if n > 0 else ("C", "earlier")
                self.notify(f"{key}: nothing in iterations {min(start + step, last)}.."
                            f"{max(start + step, last)}; {key} again searches the {which} ones", timeout=3)
                self._arrive("iteration", last, run)
                return
            self._nothing_to_continue(n, f" (searched on through iteration {N - 1})" if n > 0 else
                                      " (searched back through iteration 0)")

        if start == (N - 1 if n > 0 else 0):
            self._nothing_to_continue(n, f" (searched on through iteration {N - 1})" if n > 0 else
                                      " (searched back through iteration 0)")
            return
        self._background("iteration", f"{'c' if n > 0 else 'C'}: searching iterations {min(start + step, last)}.."
                         f"{max(start + step, last)}", work, done)

    def action_debug_list(self) -> None:
        def done(state: DebugState | None) -> None:
            if state is not None:
                self.debugging = state

        swept = self.run_state.sweeping is None   # a long run's events are found once its sweep is done
        self.push_screen(DebugListScreen(self.debugging, len(self.run_state.events) if swept else None,
                                         self.run_state.trace,
                                         self.cursor.place(self.info)), done)

    def action_mute(self) -> None:
        from rnntui.render.glossary import gradient_norm_words
        from rnntui.tui.mute import MuteScreen

        def done(muted: frozenset[str] | None) -> None:
            if muted is None or muted == self.muted:
                return
            run = self.run_state
            self.state = self.state.muting(muted, open_run(run.trace.whole, None if run.other is None else
                                                           run.other.whole, run.labels, muted=muted))
            self.notify("muted: " + (", ".join(sorted(muted)) or "none"), timeout=2)

        kinds = self.run_state.kinds if self.run_state.sweeping is None else None   # not found yet while sweeping
        self.push_screen(MuteScreen(kinds, self.muted, gradient_norm_words(self.info, notes=False)), done)

    # --- outer axes: a training run's iterations, a data set's samples (tui/axes/) ----------------

    def action_axis(self, name: str, verb: str, *args) -> None:
        """An outer axis's key: `move` n positions (from the one on its way, when a worker opens one), to an
        `end`, or the axis's own `key_<verb>`."""
        axis = self.state.axes.get(name)
        if axis is None:
            cls = next((a for a in AXES if a.name == name), None)
            if cls is not None:
                cls.absent(self)
            return
        if verb == "move":
            n = int(args[0])
            base = self._targets.get(name, self.state.at(name))   # keys pressed meanwhile move on from it
            k = axis.move(base, n)
            if k is None:
                self.notify(axis.stop(base, n), timeout=2)
                return
            self.move_axis(name, k)
        elif verb == "end":
            self.move_axis(name, axis.end(bool(int(args[0]))))
        else:
            getattr(axis, f"key_{verb}")(self, *args)

    def move_axis(self, name: str, k: int) -> None:
        """Show position *k* of the axis *name*: the views below show its run; the place, pass and step stay. One
        not opened before is opened in a worker (seconds): the header says so, the keys still answer, Esc
        cancels."""
        axis = self.state.axes[name]
        k = min(max(int(k), 0), len(axis) - 1)
        if hasattr(axis, "aim"):
            axis.aim(self, k)
        if k == self.state.at(name):
            if name in self._targets:   # back where we are: the one on its way is not wanted
                job = self._jobs.pop(name, None)
                if job is not None:
                    job[0].cancel()
                del self._targets[name]
                self._show_busy()
            return
        try:
            run = axis.ready(k, self.state)
        except IterationNotKept as exc:
            self.notify(str(exc), timeout=4)
            return
        if run is not None:
            self._arrive(name, k, run)
            return
        self._targets[name] = k
        state = self.state

        def done(run: OpenRun) -> None:
            if self._targets.get(name) == k:
                self._arrive(name, k, run)

        self._background(name, axis.busy(k), lambda: axis.open(k, state), done)

    def _arrive(self, name: str, k: int, run: OpenRun) -> None:
        """Position *k* of axis *name*, whose run is *run*, shown (the state's `moved`)."""
        job = self._jobs.pop(name, None)
        if job is not None:  # a slower move on its way is overtaken by this one
            job[0].cancel()
            self._show_busy()
        self._targets.pop(name, None)
        self._elements = None
        self.workers.cancel_group(self, "recompute")            # a what-if of the position left behind
        self._pending = None
        cleared = self.changes or self.seed is not None          # they were of the position shown before
        self.state = self.state.moved(name, k, run)
        if cleared:
            noun = self.state.axes[name].noun
            self.notify(f"what-ifs and the chosen backprop are of one {noun}: cleared", timeout=2)

    def _axis_suffix(self) -> str:
        """What an export's file name says of the axes' positions ("-iteration5", "-sample4812"), or of the data
        set's samples a run without an axis reads (`run X --sample 8`: "-sample8"); "" for neither."""
        from rnntui.tui.axes.samples import samples_suffix

        return "".join(a.suffix(self.state.at(n)) for n, a in self.state.axes.items()) or samples_suffix(self.state)

    # --- what-if: interventions, weight edits, and what BPTT traces back ------------------------

    INLINE_ELEMENTS = 1_000_000
    """A run recording at most this many numbers is recomputed on the UI thread (tens of milliseconds);
    a larger one in a worker thread, while the keys keep working on the run shown."""

    def _recorded_elements(self) -> int:
        if self._elements is None:
            whole = self.original
            self._elements = sum(int(np.asarray(whole[k]).size) for k in whole if whole.is_computed(k))
        return self._elements

    def _interventions(self) -> list[dict]:
        """Every intervention of the run shown: the original's own, then the what-ifs."""
        from rnntui.engine.interventions import recorded

        return [i.to_dict() for i in recorded(self.original)] + [c.value for c in self.changes
                                                                 if c.kind == "intervention"]

    def _recompute(self, changes: tuple, seed, said: str | None = None) -> None:
        """Show the original run with *changes* (what-ifs: interventions and weight edits, in order) and its
        gradients those of *seed* (None: the loss's); the cursor stays. The original is beside a changed run
        (what-if vs original). Small runs are recomputed at once, larger ones in a worker thread."""
        from rnntui.engine.edits import apply_changes
        from rnntui.errors import RnntuiError

        original = self.original

        def adopt(result) -> None:
            run, other = result
            self._pending = None
            self.state = self.state.recomputed(self._open(run, other=other, labels=("what-if", "original")
                                                          if other is not None else ("A", "B")), changes, seed)
            if said:
                self.notify(cut(said, MESSAGE_CHARS), timeout=3, markup=False)

        def refused(exc: Exception) -> None:
            self._pending = None
            self.notify(cut(str(exc), MESSAGE_CHARS), severity="error", markup=False)

        if self._recorded_elements() <= self.INLINE_ELEMENTS:
            try:
                result = apply_changes(original, changes, seed)
            except RnntuiError as exc:
                refused(exc)
                return
            adopt(result)
            return

        def work() -> None:
            from textual.worker import get_current_worker

            try:
                with np.errstate(all="ignore"):
                    result = apply_changes(original, changes, seed)
            except RnntuiError as exc:
                if not get_current_worker().is_cancelled:
                    self.call_from_thread(refused, exc)
                return
            if not get_current_worker().is_cancelled:  # a later change replaced this one while it ran
                self.call_from_thread(adopt, result)

        self._pending = (changes, seed)  # what the next change builds on, while this one runs
        self.notify("recomputing the run (the keys work on the run shown meanwhile)…", timeout=2)
        self.run_worker(work, thread=True, exclusive=True, group="recompute", exit_on_error=False)

    def _one_run(self, what: str) -> bool:
        """Whether a what-if can act here; says why not."""
        if self._refused_while_sweeping(f"{what} recomputes the run"):
            return False
        info = self.info
        if self.run_state.other is not None and self.run_state.labels == ("A", "B"):
            self.notify(f"{what} works on one run: open it without --compare", timeout=3)
            return False
        if info.mode == "encoder-decoder" or getattr(info, "feed", "zeros") == "output":
            self.notify(f"{what} works on whole-sequence runs (not encoder-decoders or generators)", timeout=3)
            return False
        return True

    def action_whatif(self) -> None:
        from rnntui.engine.edits import Change

        c, info = self.cursor, self.info
        place = c.place(info)
        if self._refused_while_sweeping("what-if recomputes the run"):
            return
        if self.run_state.other is not None and self.run_state.labels == ("A", "B"):
            self.notify("what-if works on one run: open it without --compare", timeout=3)
            return
        entry = info.entries[place.entry]
        steps_node = hasattr(handler(entry.type), "settable_values")   # a graph's recurrence: its step graph's values
        if (place.layer is None and not steps_node) or info.mode == "encoder-decoder" \
                or getattr(info, "feed", "zeros") == "output":
            self.notify("what-if sets a state or gate of a recurrent place, or a value of a recurrence's step "
                        "graph (not in encoder-decoders or generators); p edits a weight", timeout=3)
            return

        def done(item: dict | None) -> None:
            if item is not None:
                changes, seed = self._wanted()
                self._recompute(changes + (Change("intervention", item),), seed)

        self.push_screen(WhatIfScreen(entry, place, c.t, c.unit if steps_node else min(c.unit, entry.hidden_size - 1)),
                         done)

    def action_edit_weight(self) -> None:
        """`p`: set, scale or shift a weight (`W_hh = 1.5`, `W_hh[0, 0] *= 3`) and see the run recomputed."""
        from rnntui.engine.edits import Change
        from rnntui.tui.weight_screen import WeightScreen

        if not self._one_run("editing a weight"):
            return
        info = self.info
        place = self.cursor.place(info)
        entry = info.entries[place.entry]
        shown = self.run_state.trace
        params = {n: tuple(shown[keys.param(n)].shape) for e in info.entries for n in e.params}
        if not params:
            self.notify("this model has no parameters", timeout=2)
            return

        def done(edit) -> None:
            if edit is not None:
                changes, seed = self._wanted()
                self._recompute(changes + (Change("weight", edit),), seed, said=f"recomputed with {edit.words()}")

        self.push_screen(WeightScreen(params, entry, place, shown), done)

    def action_undo_whatif(self) -> None:
        changes, seed = self._wanted()
        if not changes:
            self.notify("no what-if to undo", timeout=2)
            return
        self._recompute(changes[:-1], seed, said=f"undone: {changes[-1].words()}")

    def action_seed(self) -> None:
        """`o`: which output or loss term BPTT traces back (the gradients shown are of it)."""
        from rnntui.tui.seed_screen import SeedScreen

        if not self._one_run("choosing what BPTT traces back"):
            return
        c, info = self.cursor, self.info
        shown = self.run_state.trace

        def done(seed) -> None:
            if seed is not None:
                self._recompute(self._wanted()[0], None if seed == "loss" else seed)

        self.push_screen(SeedScreen(shown, c.t, c.sample, self.seed), done)

    def action_seed_loss(self) -> None:
        changes, seed = self._wanted()
        if seed is None:
            self.notify("BPTT already traces back the whole loss", timeout=2)
            return
        self._recompute(changes, None, said="BPTT traces back the whole loss again")

    def _wanted(self) -> tuple:
        """(changes, seed) the next change builds on: those being recomputed, else those shown."""
        return self._pending or (self.changes, self.seed)

    def action_write_whatif(self) -> None:
        """The scenario's text with `interventions:` set to the what-ifs (and `weights.set` holding every edited
        weight), as a new file beside the exports."""
        import io

        from ruamel.yaml import YAML

        from rnntui.atomic import atomic_write
        from rnntui.engine.edits import set_values
        from rnntui.scenario.relocate import relocate
        from rnntui.tui.axes.samples import samples_into

        whole = self.run_state.trace.whole
        if keys.META_SCENARIO not in whole or not self.changes:
            self.notify("no what-if to write", timeout=2)
            return
        yaml = YAML()  # round trip: the user's comments and order stay
        yaml.width = 4096  # and their lines: a long path is not wrapped onto a line of its own
        try:
            data = yaml.load(str(whole[keys.META_SCENARIO]))
            items = self._interventions()
            if items:
                data["interventions"] = items
            values = set_values(whole, self.original)
            if values:
                if data.get("weights") is None:
                    data["weights"] = {}
                if data["weights"].get("set") is None:
                    data["weights"]["set"] = {}
                for name, v in values.items():
                    data["weights"]["set"][name] = v
            samples_into(data, self.state)   # a data set's samples: the written scenario reads them, as they ran
            stem = cut(Path(self.info.file).stem, STEM_CHARS) or "scenario"
            it = self._axis_suffix()
            # its paths were written for the original's folder: name the same files from the new one
            moved = relocate(data, Path(self.info.file).parent, self.export_dir)
            path = claim_free_name(self.export_dir, f"{stem}{it}-whatif", ".yaml")  # never over an earlier one
            try:
                weights = None
                if self.training is not None:   # what the screen shows: iteration k's parameters, no train:
                    from rnntui.scenario.iteration_scenario import iteration_arrays, iteration_scenario

                    weights = path.with_suffix(".safetensors")
                    iteration_scenario(data, self.original, self.iteration, self.training, weights.name)
                out = io.StringIO()
                yaml.dump(data, out)
                if weights is not None:
                    import numpy as np
                    from safetensors.numpy import save

                    with atomic_write(weights) as f:
                        f.write(save({k: np.ascontiguousarray(v) for k, v in iteration_arrays(self.original).items()}))
                with atomic_write(path, "w") as f:
                    f.write(out.getvalue())
            except BaseException:
                path.unlink(missing_ok=True)  # the empty file that claimed the name
                raise
        except Exception as exc:  # noqa: BLE001 - a file that cannot be written is said, never a crash
            self.notify(cut(f"not written: {exc}", MESSAGE_CHARS), severity="error", markup=False)
            return
        said = f" ({', '.join(moved)} rewritten to name the same files from there)" if moved else ""
        self.notify(cut(f"wrote {path}{said}", MESSAGE_CHARS), markup=False)

    def action_goto(self) -> None:
        """`g`: a step, a unit (`u 45`) or a sample (`s 2`), or several at once."""
        def done(got: dict | None) -> None:
            if not got:
                return
            c = self.cursor
            if "s" in got:
                c = cur.to_sample(c, self.info, got["s"])
            self.cursor = replace(c, t=got.get("t", c.t), unit=got.get("u", c.unit), handover=False)

        info, place = self.info, self.cursor.place(self.info)
        steps = [cur.length(info, place, b) for b in range(info.B)]
        self.push_screen(GotoScreen(steps, self._width(), info.B, self.cursor.sample), done)

    def action_model_map(self) -> None:
        from rnntui.tui.screens import ModelMapScreen

        self.push_screen(ModelMapScreen(self.info, self.cursor.place(self.info).entry))

    def action_help(self) -> None:
        # the keys that make sense here (a hidden footer key is no key at this place), under what owns them
        able = {id(b): self.check_action(*parse_action(b.action)[1:]) for g in keymap.groups(AXES) for b in g.bindings}
        live = {k for g in keymap.groups(AXES) for b in g.bindings if able[id(b)] is True for k in b.key.split(",")}
        # a key that another owner's enabled binding takes here (S: a data set's sample, not the batch's) is not its
        groups = [(g.title, [b for b in g.bindings if able[id(b)] is True
                             or (able[id(b)] is None and not live & set(b.key.split(",")))])
                  for g in keymap.groups(AXES)] + [(keymap.PANELS.title, PANEL_BINDINGS)]
        self.push_screen(HelpScreen([(title, bs) for title, bs in groups if bs], self.run_state.trace, self.cursor))

    def action_export(self) -> None:
        from rnntui.atomic import atomic_write
        from rnntui.errors import RnntuiError

        c = self.cursor
        stem = cut(Path(self.info.file).stem, STEM_CHARS) or "trace"
        # a training run's iterations (a data set's samples) each get their own file: one never overwrites another
        it = self._axis_suffix()
        path = self.export_dir / f"{stem}{it}-{c.phase}-t{c.t}.svg"
        try:
            svg = self.export_screenshot(title=f"{self.info.name}: " + (f"iteration {self.iteration}, "
                                                                        if self.training is not None else "")
                                         + f"{c.phase} t={c.t}")
            with atomic_write(path, "w") as f:
                f.write(svg)
        except (RnntuiError, OSError) as exc:
            # paths and messages hold the user's folder and file names: never markup
            self.notify(cut(f"export failed: {exc}", MESSAGE_CHARS), severity="error", markup=False)
            return
        self.notify(cut(f"wrote {path}", MESSAGE_CHARS), markup=False)
