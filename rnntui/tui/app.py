"""The step-through debugger: composes one widget per concept and routes keys to the cursor.

What is open is one frozen object (`run_state`, an OpenRun: trace, places, events, marks) and
where the user is, another (`cursor`). Every key replaces the cursor; the app pushes both down
into the views, which re-read the run. Nothing is recomputed.

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
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState, get_current_worker

from rnntui import signals
from rnntui.blas import one_thread
from rnntui.engine import keys
from rnntui.engine.progress import reporting
from rnntui.engine.trace import IterationNotKept
from rnntui.render import cursor as cur
from rnntui.render.analysis import EventRun
from rnntui.render.cursor import Cursor
from rnntui.render.views import view_at
from rnntui.render.training import is_training
from rnntui.render.watches import COMPUTING, Breakpoint, DebugState, next_break, pending, waiting
from rnntui.tui.samples_pane import SAMPLE_ACTIONS, SAMPLE_BINDINGS, SamplesAxisMixin, SamplesPane
from rnntui.tui.screens import DebugListScreen, ExpressionScreen, GotoScreen, HelpScreen, WhatIfScreen
from rnntui.tui.state import OpenRun, open_run, warmed
from rnntui.tui.terminal import require_terminal
from rnntui.tui.usertext import cut
from rnntui.tui.widgets.base import TraceView
from rnntui.tui.widgets.cell_view import CellView
from rnntui.tui.widgets.watch_pane import WatchPane
from rnntui.tui.widgets.training_pane import TrainingPane
from rnntui.tui.widgets.compare_pane import ComparePane
from rnntui.tui.widgets.details_pane import DetailsPane
from rnntui.tui.widgets.gradient_plot import GradientPlot
from rnntui.tui.widgets.header_bar import HeaderBar
from rnntui.tui.widgets.state_heatmap import StateHeatmap
from rnntui.tui.widgets.timeline import Timeline


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


# Tab brings the next panel into view (its first line at the top), so every panel, and the line it leads
# with (the verdict leads the gradients), is reached without a mouse on a small terminal. On the
# debugger's own screen only: a dialog's Tab still moves between its fields.
PANEL_BINDINGS = [
    Binding("tab", "app.panel(1)", "Panel", tooltip="Bring the next panel into view (cell, states, watches, "
            "gradients and verdict, details; on a small terminal the timeline, training and compare panes too)"),
    Binding("shift+tab", "app.panel(-1)", "Prev panel", show=False, tooltip="Bring the previous panel into view"),
]


class DebuggerScreen(Screen):
    """The debugger's screen: Tab / Shift+Tab move between panels (a Screen's own Tab moves the focus,
    which no panel takes)."""

    BINDINGS = PANEL_BINDINGS


class RnntuiApp(SamplesAxisMixin, App):
    """Step through a recorded run, forward and backward in time.

    The keys are `BINDINGS`, and only there: the help screen (`?`) lists them with their tooltips.
    """

    CSS_PATH = "app.tcss"
    TITLE = "rnntui"

    # the footer shows them in this order (Back before Step, as the arrows sit on a keyboard)
    BINDINGS = [
        Binding("left,h", "step(-1)", "Back", tooltip="Previous step"),
        Binding("right,l", "step(1)", "Step",
                tooltip="Next step, in the order the current pass and direction run"),
        Binding("home", "jump(0)", "First", show=False, tooltip="First step of the current pass"),
        Binding("end", "jump(1)", "Last", show=False, tooltip="Last step of the current pass"),
        Binding("pagedown", "step(10)", "+10", show=False, tooltip="10 steps on"),
        Binding("pageup", "step(-10)", "-10", show=False, tooltip="10 steps back"),
        Binding("g", "goto", "Go to", show=False,
                tooltip="Go to a step t (`12`), a unit (`u 45`), a sample (`s 2`), or several (`s 2 t 5 u 45`)"),
        # one key, named as the place's view has it: BPTT where the backward pass runs through time
        Binding("b", "phase('bptt')", "Fwd/BPTT",
                tooltip="Switch between the forward pass and the backward pass (BPTT, from t=T-1 down to 0)"),
        Binding("b", "phase('backprop')", "Fwd/Backprop",
                tooltip="Switch between the forward pass and the backward pass (backpropagation; no steps in time here)"),
        Binding("right_square_bracket", "place(1)", "Next entry", show=False,
                tooltip="Next entry (each sub-layer and direction of a recurrent entry in turn)"),
        Binding("left_square_bracket", "place(-1)", "Prev entry", show=False, tooltip="Previous entry"),
        Binding("d", "direction", "Dir", tooltip="The other direction of a bidirectional entry"),
        Binding("down", "unit(1)", "Next unit", show=False, tooltip="Select the next unit"),
        Binding("up", "unit(-1)", "Prev unit", show=False, tooltip="Select the previous unit"),
        Binding("s", "sample(1)", "Sample", show=False, tooltip="Next sample of the batch"),
        Binding("S", "sample(-1)", "Prev sample", show=False, tooltip="Previous sample of the batch"),
        Binding("space", "play", "Play", tooltip="Play / pause: step on by itself"),
        Binding("n", "event(1)", "Event",
                tooltip="Next event (non-finite value, saturated gate, vanishing or exploding gradient, "
                        "thresholds in the scenario's events:), skipping the rest of a run of consecutive steps"),
        Binding("N", "event(-1)", "Prev event", show=False, tooltip="Previous event, where its run begins"),
        Binding("w", "add_watch", "Watch", show=False,
                tooltip="Watch an expression (docs/debugger.md): its value at every step, beside the views"),
        Binding("a", "add_break", "Break", show=False,
                tooltip="Add a breakpoint: an expression; c stops where it holds (the timeline marks it ●)"),
        Binding("c", "continue(1)", "Continue", show=False,
                tooltip="Continue: to the next step (in this pass's order) where a breakpoint holds or an event begins"),
        Binding("C", "continue(-1)", "Reverse", show=False,
                tooltip="Reverse-continue: to the previous such step (in a training run, on into earlier iterations)"),
        Binding("m", "mute", "Mute events", show=False,
                tooltip="Mute or show kinds of built-in event (S saturated, v vanishing, ^ exploding, ! non-finite): "
                        "a muted kind is not marked, and n / N / c / C pass it by"),
        Binding("L", "debug_list", "Watches", show=False,
                tooltip="List the watches and breakpoints: turn breakpoints on or off, remove either"),
        Binding("i", "whatif", "What-if", show=False,
                tooltip="What-if: set the selected unit of a state or gate at this step (or over steps) and see "
                        "the run recomputed beside the original"),
        Binding("p", "edit_weight", "Edit weight", show=False,
                tooltip="Edit a weight: set, scale or shift a parameter or some of its elements (W_hh = 1.5, "
                        "W_hh[0, 0] *= 3) and see the run recomputed beside the original"),
        Binding("u", "undo_whatif", "Undo", show=False, tooltip="Undo the last what-if or weight edit"),
        Binding("W", "write_whatif", "Write what-if", show=False,
                tooltip="Write the scenario with the what-ifs as its interventions: and the edited weights under "
                        "weights.set (a new file)"),
        Binding("o", "seed", "Backprop of", show=False,
                tooltip="Choose what BPTT traces back: one step's loss term (loss 5), or one output of this sample "
                        "(logp 3, p 3, out 3: a class's log-probability, probability or score), instead of the loss"),
        Binding("O", "seed_loss", "Backprop loss", show=False, tooltip="BPTT traces back the whole loss again"),
        Binding("full_stop", "iteration(1)", "Next iter", show=False,
                tooltip="Training: the next iteration (place, pass and step stay where they are)"),
        Binding("comma", "iteration(-1)", "Prev iter", show=False, tooltip="Training: the previous iteration"),
        Binding("greater_than_sign", "iteration(10)", "+10 iter", show=False, tooltip="Training: 10 iterations on"),
        Binding("less_than_sign", "iteration(-10)", "-10 iter", show=False, tooltip="Training: 10 iterations back"),
        Binding("left_curly_bracket", "iteration_end(0)", "First iter", show=False,
                tooltip="Training: the first iteration"),
        Binding("right_curly_bracket", "iteration_end(1)", "Last iter", show=False,
                tooltip="Training: the last iteration"),
        Binding("j", "iteration_event(1)", "Next iter event", show=False,
                tooltip="Training: the next iteration where a run of iteration events begins (values stop being "
                        "finite, clipping acts, the gradient reaching step 0 falls below or rises above the "
                        "thresholds), skipping the rest of the run; the notice says how far it goes"),
        Binding("J", "iteration_event(-1)", "Prev iter event", show=False,
                tooltip="Training: the previous such iteration, where its run begins"),
        *SAMPLE_BINDINGS,   # a data set's samples (--dataset / --scan): tui/samples_pane.py
        Binding("e", "export", "Export", show=False, tooltip="Export the current view as an SVG file"),
        Binding("M", "model_map", "Model map", show=False, tooltip="The model drawn node by node, the cursor's marked"),
        Binding("escape", "cancel_work", "Cancel", show=False,
                tooltip="Cancel what is being computed off the keys' way (a watch's Jacobian norms, an iteration "
                        "not in the cache, a continue through iterations): the header says what and how far"),
        Binding("question_mark", "help", "Help", tooltip="This help, with the current cell's equations"),
        Binding("q", "quit", "Quit", tooltip="Quit"),
    ]

    run_state: reactive[OpenRun] = reactive(None, repaint=False)
    """What is open: the trace, its places, events and marks. Replaced, never changed."""

    cursor: reactive[Cursor] = reactive(Cursor, repaint=False)
    """The position in the run: phase, place (entry, sub-layer, direction), step, unit, sample."""

    playing: reactive[bool] = reactive(False, bindings=True)
    """Whether Space is stepping on by itself."""

    debugging: reactive[DebugState] = reactive(DebugState, repaint=False)
    """The watches and breakpoints (the scenario's debug: section to start with); replaced, never changed."""

    def __init__(self, trace, export_dir: Path | None = None, other=None, samples=None, sample: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.samples, self.sample_index = samples, sample   # --dataset / --scan: tui/samples_pane.py
        self.export_dir = export_dir or Path.cwd()
        self._timer = None
        self._binding_state: tuple = ()
        self._keep_cursor = False                  # a what-if swaps the run but not the place or step
        self.original = trace                      # what a what-if changes and undo returns to
        self.training = trace if is_training(trace) else None  # a training run: iterations to step through
        # --compare: B (the whole run: a training run's iterations move with A's), kept through every move
        self.compared = other
        # the iteration whose record the trace holds: the last, or the one a saved trace was exported at
        self.iteration = trace.record_iteration if self.training is not None else 0
        self._iteration_event_runs = None          # the training run's iteration events, when first asked for
        self._gc_threshold: tuple | None = None
        self._blas = None                          # the BLAS thread limit while the app runs (rnntui/blas.py)
        self.muted: frozenset[str] = frozenset()  # kinds of built-in event the user muted (m)
        self.changes: tuple = ()                   # the what-ifs shown, in order (engine/edits.Change)
        self.seed = None                           # what BPTT traces back (engine/attribution.Seed); None: the loss
        self._elements: int | None = None          # how many numbers the original records (what a recompute costs)
        self._pending: tuple | None = None         # (changes, seed) a worker is recomputing
        self._panel = 0                            # the panel Tab last brought into view (the first: at the top)
        # work too long for a key (seconds: a Jacobian norm over every step, an iteration recomputed), run in
        # thread workers: group -> (worker, what the header says, done(result) on the UI thread)
        self._jobs: dict[str, tuple[Worker, str, object]] = {}
        self._progress: dict[str, float] = {}      # group -> fraction done, written by the worker's thread
        self._busy_timer = None
        self._cancelled: set[tuple[int, str]] = set()  # (id(trace), key) Esc cancelled: not started again
        self._iteration_target: int | None = None  # the iteration a worker is computing
        run = open_run(trace, other)
        self.set_reactive(RnntuiApp.run_state, run)
        info = trace.info
        self.set_reactive(RnntuiApp.debugging, DebugState(
            watches=tuple(getattr(info, "watch", ())),
            breakpoints=tuple(Breakpoint(b) for b in getattr(info, "breakpoints", ()))))
        self.set_reactive(RnntuiApp.cursor, run.start())

    def get_default_screen(self) -> Screen:
        return DebuggerScreen(id="_default")

    @property
    def info(self):
        """The open run's TraceInfo (as shown: user text cut to a screenful)."""
        return self.run_state.info

    def _open(self, trace, other=None, labels: tuple[str, str] = ("A", "B")) -> OpenRun:
        """*trace* opened as every run of this session is: without the kinds of event the user muted."""
        return open_run(trace, other, labels, muted=self.muted)

    def compose(self) -> ComposeResult:
        # the views hold no run yet: the app pushes it (and the cursor) into them once mounted
        yield HeaderBar(id="header", axis_words=self._sample_words(self.sample_index) if self.samples else "")
        with Body(id="body"):
            yield Timeline(id="timeline")
            pane = TrainingPane(id="training")
            pane.source = self.training
            pane.other = self._other_training()  # both train: both runs' curves, on one scale
            pane.display = self.training is not None
            pane.iteration = self.iteration
            yield pane
            yield SamplesPane(self.samples, id="samples")
            yield ComparePane(id="compare")  # --compare or a what-if: A, B and their difference, full width
            with Horizontal(id="main"):
                with Column(id="left"):
                    yield CellView(id="cell")
                    yield StateHeatmap(id="states")
                with Column(id="right"):
                    yield WatchPane(id="watches")
                    yield GradientPlot(id="gradients")
                    yield DetailsPane(id="details")
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
        self._show(self.run_state)
        self.watch_debugging(self.debugging)  # the scenario's debug: section, set before the views existed
        from rnntui.expr.grammar import prepare

        self.run_worker(prepare, thread=True, group="prepare")  # w's first keystroke would build the parser
        self._fit(self.size.width, self.size.height)

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

    def watch_run_state(self, run: OpenRun) -> None:
        self._show(run)

    def _show(self, run: OpenRun) -> None:
        """Another run: the cursor starts again (the old one may not exist in it), every view redraws;
        a what-if of the same run keeps the cursor where it is."""
        self.playing = False
        self.title = f"rnntui: {run.info.name}" + (f" vs {run.other.info.name}" if run.other is not None else "")
        if not self._keep_cursor:
            self.set_reactive(RnntuiApp.cursor, run.start())
        self._keep_cursor = False
        for pane in self.query(ComparePane):
            pane.display = run.other is not None
        for view in self.query(TraceView):
            view.run = run  # before the cursor: a view draws a cursor in the run it holds
        self.watch_cursor(self.cursor, self.cursor)
        self._derive_waiting()

    def watch_debugging(self, state: DebugState) -> None:
        self._cancelled.clear()  # a changed list computes again what Esc cancelled
        for view in self.query(WatchPane):
            view.debug = state
            view.waiting_words = COMPUTING
        for view in self.query(Timeline):
            view.debug = state
        self._derive_waiting()

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
        words = "; ".join(f"{label}… {self._progress.get(g, 0.0):.0%}" for g, (_, label, _) in self._jobs.items()
                          if label)
        for bar in self.query(HeaderBar):
            bar.busy = words + " (Esc cancels; the keys still answer)" if words else ""
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
                self.notify(cut(words, MESSAGE_CHARS), severity="error", markup=False)
                if group == "iteration":
                    self._iteration_target = None

    def action_cancel_work(self) -> None:
        """Esc: cancel every worker; what they computed so far is dropped, and nothing moves."""
        if not self._jobs:
            return
        said = ", ".join(label for _, label, _ in self._jobs.values() if label)  # a quiet one goes unsaid
        for group, (worker, _, _) in list(self._jobs.items()):
            worker.cancel()
            if group == "derive":
                trace = self.run_state.trace
                self._cancelled.update((id(trace), k) for k in self._waiting_keys())
                for view in self.query(WatchPane):
                    view.waiting_words = "not computed: cancelled with Esc (L and Enter on it computes it again)"
        self._jobs.clear()
        self._iteration_target = None
        self._show_busy()
        if said:
            self.notify(cut(f"cancelled: {said}", MESSAGE_CHARS), timeout=2, markup=False)

    JACOBIAN_AHEAD = 24  # steps each side of the cursor whose Jacobian norms (BPTT's cell) are computed ahead

    def _prefetch_jacobians(self, c: Cursor) -> None:
        """The step Jacobian norms BPTT's cell shows (~10 ms a step at H=256 when the trace does not hold them
        all), computed ahead in a quiet worker for the steps around the cursor, so a step key or a switch
        to BPTT finds them; the same function step by step as the cell's own, so the same numbers."""
        if c.handover or not self.is_running:
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
            if computed is self.run_state.trace:
                for view in self.query(WatchPane):
                    view.watch_run()
                for view in self.query(Timeline):
                    view.watch_run()
            self._derive_waiting()  # the cursor may have moved to another place meanwhile

        what = ", ".join(k.removeprefix(keys.DIAG_PREFIX).removesuffix(".jacnorm") for k in wanted if k not in big)
        label = f"computing the step Jacobian norms of {what}" if what else ""
        if over_segments:
            label = (label + "; " if label else "") + "evaluating the watches and breakpoints segment by segment"
        self._background("derive", label, work, done, name=repr((id(trace), wanted)))

    def watch_cursor(self, old: Cursor, cursor: Cursor) -> None:
        for view in self.query(TraceView):
            view.cursor = cursor
        if not self.debugging.empty and old.place_index != cursor.place_index:
            self._derive_waiting()
        self._prefetch_jacobians(cursor)
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
        if action == "event":
            return True if self._event_target(int(parameters[0])) else None
        if action in SAMPLE_ACTIONS:
            return self._samples_check(action)
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
        out = self.run_state.trace[keys.out(e.index)]
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
        self._ask(breakpoint=False)

    def action_add_break(self) -> None:
        self._ask(breakpoint=True)

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

    def _nothing_to_continue(self, n: int, searched: str) -> None:
        c = self.cursor
        where = f"iteration {self.iteration}, t={c.t}" if self.training is not None else f"t={c.t}"
        from rnntui.render.watches import pinned_elsewhere

        waits = pending(self.run_state.trace, c.place(self.info), self.debugging)
        unsearched = f" (not yet searched: {', '.join(waits)}, still computing)" if waits else ""
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
        from rnntui.render.watches import holding

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
        c, N, start = self.cursor, self.training.iterations, self.iteration
        step = 1 if n > 0 else -1
        last = min(N - 1, start + self.ITERATIONS_PER_CONTINUE) if n > 0 else \
            max(0, start - self.ITERATIONS_PER_CONTINUE)
        debugging = self.debugging

        def work():
            for k in range(start + step, last + step, step):
                # searched in A alone; B is opened beside it only where the search stops
                run = self._open(self._iteration_of(self.training, k))
                t = next_break(run.trace, c, debugging, backwards=n < 0,
                               events=[r.start for r in run.runs.get(c.place(run.info), ())], after=None)
                if t is not None:
                    return k, warmed(self._open_iteration(k, run)), t
            # none: the search stops at the last searched iteration, opened here too
            return last, warmed(self._open_iteration(last, run)), None

        def done(found) -> None:
            if self.iteration != start or self.cursor.place_index != c.place_index:
                return  # the user went elsewhere meanwhile: the search no longer answers their question
            k, run, t = found
            if t is not None:
                self._show_iteration(k, run)
                self._stop_at(self.run_state, t, k)
                return
            if last != (N - 1 if n > 0 else 0):
                key, which = ("c", "later") if n > 0 else ("C", "earlier")
                self.notify(f"{key}: nothing in iterations {min(start + step, last)}.."
                            f"{max(start + step, last)}; {key} again searches the {which} ones", timeout=3)
                self._show_iteration(last, run)
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

        self.push_screen(DebugListScreen(self.debugging, len(self.run_state.events), self.run_state.trace,
                                         self.cursor.place(self.info)), done)

    def action_mute(self) -> None:
        from rnntui.tui.mute import MuteScreen

        def done(muted: frozenset[str] | None) -> None:
            if muted is None or muted == self.muted:
                return
            self.muted = muted
            run = self.run_state
            self._keep_cursor = True
            self.run_state = self._open(run.trace.whole, None if run.other is None else run.other.whole, run.labels)
            self.notify("muted: " + (", ".join(sorted(muted)) or "none"), timeout=2)

        self.push_screen(MuteScreen(self.run_state.kinds, self.muted), done)

    # --- training: iterations ----------------------------------------------------------------

    def _other_training(self):
        """B, when A and B are both training runs (their iterations move together), else None."""
        other = self.compared
        return other if self.training is not None and other is not None and is_training(other) else None

    @staticmethod
    def _iteration_of(run, k: int):
        """Iteration k's record of a training run (the run itself for the iteration it holds)."""
        return run if k == run.record_iteration else run.iteration(k)

    def _open_iteration(self, k: int, alone: OpenRun | None = None) -> OpenRun:
        """Iteration k of A, opened with B beside it: B's own iteration k when B trains (its last when it has
        fewer), else B as it is. *alone*: A's iteration k already opened without B. IterationNotKept when a
        saved trace does not keep one of them."""
        a = alone.trace.whole if alone is not None else self._iteration_of(self.training, k)
        b = self.compared
        if b is None:
            return alone or self._open(a)
        if is_training(b):
            b = self._iteration_of(b, min(k, b.iterations - 1))
        return self._open(a, other=b)

    def _to_iteration(self, k: int) -> None:
        """Show iteration *k*: the views below show its run; the place, pass and step stay. One not in the
        cache is recomputed in a worker (seconds): the header says so, the keys still answer, Esc cancels."""
        if self.training is None:
            self.notify("this run has no train: section: it has one iteration", timeout=2)
            return
        N = self.training.iterations
        k = min(max(k, 0), N - 1)
        if k == self.iteration:
            if self._iteration_target is not None:  # back where we are: the one on its way is not wanted
                job = self._jobs.pop("iteration", None)
                if job is not None:
                    job[0].cancel()
                self._iteration_target = None
                self._show_busy()
            return
        if self._iteration_ready(k):
            try:  # the iteration whose record the training trace holds is the trace itself
                run = self._open_iteration(k)
            except IterationNotKept as exc:
                self.notify(str(exc), timeout=4)
                return
            self._show_iteration(k, run)
            return
        self._iteration_target = k

        def done(run: OpenRun) -> None:
            if self._iteration_target == k:
                self._show_iteration(k, run)

        self._background("iteration", f"computing iteration {k}", lambda: warmed(self._open_iteration(k)), done)

    def _iteration_ready(self, k: int) -> bool:
        """Whether iteration *k* (and B's beside it) opens at once, from the cache."""
        b = self._other_training()
        return self.training.is_cached(k) and (b is None or b.is_cached(min(k, b.iterations - 1)))

    def _show_iteration(self, k: int, run: OpenRun) -> None:
        job = self._jobs.pop("iteration", None)
        if job is not None:  # a slower move on its way is overtaken by this one
            job[0].cancel()
            self._show_busy()
        self._iteration_target = None
        self.iteration = k
        # a what-if from here changes this iteration's run (A's, with B beside)
        self.original, self._elements = run.trace.whole, None
        self.workers.cancel_group(self, "recompute")            # a what-if of the iteration left behind
        self._pending = None
        if self.changes or self.seed is not None:  # they were of the iteration shown before
            self.changes, self.seed = (), None
            self.notify("what-ifs and the chosen backprop are of one iteration: cleared", timeout=2)
        for pane in self.query(TrainingPane):
            pane.iteration = k
        self._keep_cursor = True
        self.run_state = run

    def action_iteration(self, n: int) -> None:
        # keys pressed while an iteration is computed move on from the one on its way
        base = self._iteration_target if self._iteration_target is not None else self.iteration
        self._to_iteration(base + int(n))

    def action_iteration_end(self, last: int) -> None:
        if self.training is not None:
            self._to_iteration(self.training.iterations - 1 if int(last) else 0)

    def action_iteration_event(self, n: int) -> None:
        """`j` / `J`: to the iteration where the next (previous) run of iteration events begins, as `n` /
        `N` do for runs of steps; the notice says how far each run goes."""
        if self.training is None:
            return
        events = self._iteration_events()
        ahead = sorted({e.iteration for e in events if (e.iteration > self.iteration if int(n) > 0
                                                        else e.iteration < self.iteration)})
        if not ahead:
            self.notify(("j: no run of iteration events begins after" if int(n) > 0 else
                         "J: no run of iteration events begins before") + f" iteration {self.iteration}", timeout=2)
            return
        k = ahead[0] if int(n) > 0 else ahead[-1]
        self._to_iteration(k)
        found = [e.text for e in events if e.iteration == k]
        self.notify(cut("; ".join(found[:3]), MESSAGE_CHARS), timeout=3, markup=False)

    def _iteration_events(self):
        """The runs of iteration events of the training run (computed once: the run does not change)."""
        from rnntui.render.training import iteration_events

        if self._iteration_event_runs is None:
            self._iteration_event_runs = iteration_events(self.training)
        return self._iteration_event_runs

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
            self.changes, self.seed = changes, seed
            self._keep_cursor = True
            self.run_state = self._open(run, other=other, labels=("what-if", "original") if other is not None
                                        else ("A", "B"))
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
        if self.run_state.other is not None and self.run_state.labels == ("A", "B"):
            self.notify("what-if works on one run: open it without --compare", timeout=3)
            return
        entry = info.entries[place.entry]
        steps_node = hasattr(entry.handler, "settable_values")   # a graph's recurrence: its step graph's values
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
            self._sample_into(data)   # a data set's sample: the written scenario reads it alone
            stem = cut(Path(self.info.file).stem, STEM_CHARS) or "scenario"
            it = f"-iteration{self.iteration}" if self.training is not None else self._sample_suffix()
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
        # the keys that make sense here (a hidden footer key is no key at this place)
        shown = [b for b in self.BINDINGS if self.check_action(*parse_action(b.action)[1:]) is not False]
        self.push_screen(HelpScreen(shown + PANEL_BINDINGS, self.run_state.trace, self.cursor))

    def action_export(self) -> None:
        from rnntui.atomic import atomic_write
        from rnntui.errors import RnntuiError

        c = self.cursor
        stem = cut(Path(self.info.file).stem, STEM_CHARS) or "trace"
        # a training run's iterations (a data set's samples) each get their own file: one never overwrites another
        it = f"-iteration{self.iteration}" if self.training is not None else self._sample_suffix()
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
