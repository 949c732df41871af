"""The step-through debugger: composes one widget per concept and routes keys to the cursor.

The app's only state is `cursor`, an index into the immutable trace; every key replaces it
and the views re-read the trace. Nothing is recomputed.
"""
from __future__ import annotations

import gc
from dataclasses import replace
from pathlib import Path

import numpy as np
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Footer

from rnntui.render import cursor as cur
from rnntui.render.analysis import events as find_events
from rnntui.render.cursor import Cursor
from rnntui.tui import blas
from rnntui.tui.screens import GotoScreen, HelpScreen
from rnntui.tui.widgets.base import TraceView
from rnntui.tui.widgets.cell_view import CellView
from rnntui.tui.widgets.details_pane import DetailsPane
from rnntui.tui.widgets.gradient_plot import GradientPlot
from rnntui.tui.widgets.header_bar import HeaderBar
from rnntui.tui.widgets.state_heatmap import StateHeatmap
from rnntui.tui.widgets.timeline import Timeline


NARROW_BELOW = 100

# Textual makes and drops thousands of small objects a frame; at CPython's default gen0 threshold
# (700) the collector runs several times a keypress and now and then walks every object of the
# app. Collecting less often keeps a step inside a frame (~1.5-4 ms a step in paired runs).
GC_THRESHOLD = (20_000, 50, 100)


def _params(action: str) -> tuple:
    """The literal parameters of an action string such as "step(-10)"."""
    if "(" not in action:
        return ()
    inner = action[action.index("(") + 1: action.rindex(")")]
    return tuple(int(p) for p in inner.split(",") if p.strip())


class RnntuiApp(App):
    """Step through a recorded run, forward and backward in time.

    | Key | Action |
    | :- | :- |
    | Right / l, Left / h | next / previous step (in the order the current pass runs) |
    | Home / End | first / last step |
    | PgDn / PgUp | 10 steps on / back |
    | g | go to a step t |
    | b | forward pass <-> backward pass (BPTT) |
    | ] / [ | next / previous entry (each sub-layer and direction of a recurrent entry) |
    | d | other direction of a bidirectional entry |
    | Down / Up | next / previous unit |
    | s | next batch sample |
    | space | play / pause |
    | n / N | next / previous event of this entry (switching pass if the event is in the other one) |
    | e | export the current view (SVG) |
    | ? | help and the current cell's equations |
    | q | quit |
    """

    CSS_PATH = "app.tcss"
    TITLE = "rnntui"

    BINDINGS = [
        Binding("right,l", "step(1)", "Step", priority=True,
                tooltip="Next step, in the order the current pass and direction run"),
        Binding("left,h", "step(-1)", "Back", priority=True, tooltip="Previous step"),
        Binding("home", "jump(0)", "First", show=False, priority=True, tooltip="First step of the current pass"),
        Binding("end", "jump(1)", "Last", show=False, priority=True, tooltip="Last step of the current pass"),
        Binding("pagedown", "step(10)", "+10", show=False, priority=True, tooltip="10 steps on"),
        Binding("pageup", "step(-10)", "-10", show=False, priority=True, tooltip="10 steps back"),
        Binding("g", "goto", "Go to", show=False, tooltip="Go to a step t"),
        Binding("b", "phase", "Fwd/BPTT",
                tooltip="Switch between the forward pass and the backward pass (BPTT, from t=T-1 down to 0)"),
        Binding("right_square_bracket", "place(1)", "Next entry", show=False,
                tooltip="Next entry (each sub-layer and direction of a recurrent entry in turn)"),
        Binding("left_square_bracket", "place(-1)", "Prev entry", show=False, tooltip="Previous entry"),
        Binding("d", "direction", "Direction", tooltip="The other direction of a bidirectional entry"),
        Binding("down", "unit(1)", "Next unit", show=False, priority=True, tooltip="Select the next unit"),
        Binding("up", "unit(-1)", "Prev unit", show=False, priority=True, tooltip="Select the previous unit"),
        Binding("s", "sample", "Sample", show=False, tooltip="Next sample of the batch"),
        Binding("space", "play", "Play", tooltip="Play / pause: step on by itself"),
        Binding("n", "event(1)", "Next event",
                tooltip="Next event: non-finite value, saturated gate, gradient norm below 1e-6 or above 1e6"),
        Binding("N", "event(-1)", "Prev event", show=False, tooltip="Previous event"),
        Binding("e", "export", "Export", show=False, tooltip="Export the current view as an SVG file"),
        Binding("question_mark", "help", "Help", tooltip="This help, with the current cell's equations"),
        Binding("q", "quit", "Quit", tooltip="Quit"),
    ]

    cursor: reactive[Cursor] = reactive(Cursor, repaint=False)
    """The position in the trace: phase, place (entry, sub-layer, direction), step, unit, sample."""

    playing: reactive[bool] = reactive(False, bindings=True)
    """Whether Space is stepping on by itself."""

    def __init__(self, trace, export_dir: Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.trace = trace
        self.info = trace.info
        with np.errstate(all="ignore"):
            self.events = find_events(trace)
        by_place: dict = {}
        for ev in self.events:
            by_place.setdefault(ev.place, set()).add(ev.t)
        self._event_steps = {p: np.array(sorted(ts)) for p, ts in by_place.items()}
        self.export_dir = export_dir or Path.cwd()
        self._timer = None
        self._binding_state: tuple = ()
        self._gc_threshold: tuple | None = None
        self._blas_threads: int | None = None
        p0 = self.info.places[0]
        first = cur.first_step(self.info, "forward", p0.direction, p0)
        self.set_reactive(RnntuiApp.cursor, Cursor(t=first))

    def compose(self) -> ComposeResult:
        yield HeaderBar(self.trace, id="header")
        yield Timeline(self.trace, self.events, id="timeline")
        with Horizontal(id="main"):
            with VerticalScroll(id="left"):
                yield CellView(self.trace, id="cell")
                yield StateHeatmap(self.trace, id="states")
            with VerticalScroll(id="right"):
                yield GradientPlot(self.trace, id="gradients")
                yield DetailsPane(self.trace, id="details")
        yield Footer()

    def on_mount(self) -> None:
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLD)
        self._blas_threads = blas.set_threads(1)
        self.title = f"rnntui: {self.info.name}"
        self._push(self.cursor)
        self._fit(self.size.width)

    def on_unmount(self) -> None:
        if self._gc_threshold is not None:  # None when the app stopped before it was mounted
            gc.set_threshold(*self._gc_threshold)
        if self._blas_threads is not None:
            blas.set_threads(self._blas_threads)

    def on_resize(self, event) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        """Below 100 columns the two columns stack and scroll, so no panel is cut."""
        self.query_one("#main").set_class(width < NARROW_BELOW, "narrow")

    def watch_cursor(self, cursor: Cursor) -> None:
        self._push(cursor)
        # the footer is rebuilt only when an action turns on or off, not on every step
        state = tuple(self.check_action(b.action.split("(")[0], _params(b.action)) for b in self.BINDINGS)
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def _push(self, cursor: Cursor) -> None:
        for view in self.query(TraceView):
            view.cursor = cursor

    # --- which actions make sense here (the footer dims the others) -------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        c, info = self.cursor, self.info
        place = c.place(info)
        if action == "step":
            n = int(parameters[0])
            last = cur.last_step(info, c.phase, place.direction, place)
            first = cur.first_step(info, c.phase, place.direction, place)
            return None if (c.t == (last if n > 0 else first)) else True
        if action == "jump":
            target = cur.last_step(info, c.phase, place.direction, place) if parameters[0] else cur.first_step(
                info, c.phase, place.direction, place)
            return None if c.t == target else True
        if action == "place":
            k = c.place_index + int(parameters[0])
            return True if 0 <= k < len(info.places) else None
        if action == "direction":
            return True if cur.has_other_direction(c, info) else None
        if action == "unit":
            k = c.unit + int(parameters[0])
            return True if 0 <= k < self._width() else None
        if action == "sample":
            return True if info.B > 1 else None
        if action == "event":
            return True if self._event_target(int(parameters[0])) is not None else None
        if action in ("goto", "play"):
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
        out = self.trace[f"model.{e.index}.out"]
        return int(out[0, 0].size if (e.seq_out and self.info.seq) else out[0].size)

    # --- actions -------------------------------------------------------------------------------

    def action_step(self, n: int) -> None:
        self.cursor = cur.move(self.cursor, self.info, int(n))

    def action_jump(self, last: int) -> None:
        self.cursor = cur.to_end(self.cursor, self.info, bool(last))

    def action_phase(self) -> None:
        self.cursor = cur.switch_phase(self.cursor, self.info)

    def action_place(self, n: int) -> None:
        self.cursor = cur.switch_place(self.cursor, self.info, int(n))

    def action_direction(self) -> None:
        self.cursor = cur.switch_direction(self.cursor, self.info)

    def action_unit(self, n: int) -> None:
        self.cursor = replace(self.cursor, unit=min(max(self.cursor.unit + int(n), 0), self._width() - 1))

    def action_sample(self) -> None:
        self.cursor = replace(self.cursor, sample=(self.cursor.sample + 1) % self.info.B)

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
        if c.t == cur.last_step(self.info, c.phase, place.direction, place):
            self.playing = False
            return
        self.action_step(1)

    def _event_target(self, n: int):
        """The nearest event of this place after (n > 0) or before the cursor, in the current step order."""
        c, info = self.cursor, self.info
        place = c.place(info)
        steps = self._event_steps.get(place)
        if steps is None or steps.size == 0:
            return None
        forward_in_t = cur.place_sign(info, c.phase, place) * (1 if n > 0 else -1) > 0
        if forward_in_t:
            k = int(np.searchsorted(steps, c.t, side="right"))
            return int(steps[k]) if k < steps.size else None
        k = int(np.searchsorted(steps, c.t, side="left")) - 1
        return int(steps[k]) if k >= 0 else None

    def action_event(self, n: int) -> None:
        t = self._event_target(int(n))
        if t is None:
            return
        place = self.cursor.place(self.info)
        found = [ev for ev in self.events if ev.t == t and ev.place == place]
        phase = self.cursor.phase if any(ev.phase == self.cursor.phase for ev in found) else found[0].phase
        self.cursor = replace(self.cursor, t=t, phase=phase)
        self.notify("; ".join(ev.text for ev in found[:3]), timeout=3)

    def action_goto(self) -> None:
        def done(t: int | None) -> None:
            if t is not None:
                self.cursor = replace(self.cursor, t=t)

        self.push_screen(GotoScreen(cur.length(self.info, self.cursor.place(self.info))), done)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS, self.trace, self.cursor))

    def action_export(self) -> None:
        from rnntui.atomic import atomic_write
        from rnntui.errors import RnntuiError

        c = self.cursor
        stem = Path(self.info.file).stem or "trace"
        path = self.export_dir / f"{stem}-{c.phase}-t{c.t}.svg"
        try:
            svg = self.export_screenshot(title=f"{self.info.name}: {c.phase} t={c.t}")
            with atomic_write(path, "w") as f:
                f.write(svg)
        except (RnntuiError, OSError) as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        self.notify(f"wrote {path}")
