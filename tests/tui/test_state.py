"""The debugger's one state (tui/state.py `DebuggerState`) and its outer axes (tui/axes/), without a terminal:
each transition is a pure function of the state, checked here on real runs; then a third axis, registered
in this test alone (its module: the class below, its pane, one registry line), moved along in the app."""
from __future__ import annotations

import numpy as np
import pytest
from textual.binding import Binding

import rnntui
from rnntui.engine.edits import Change, apply_changes
from rnntui.render.cursor import Cursor
from rnntui.render.watches import Breakpoint, DebugState
from rnntui.samples.axis import open_axis
from rnntui.scenario.bundled import resolve
from rnntui.tui import axes as registry
from rnntui.tui.axes import Axis
from rnntui.tui.axes.iterations import Iterations
from rnntui.tui.axes.samples import Samples
from rnntui.tui.state import DebuggerState, kept_cursor, open_run
from rnntui.tui.widgets.base import TraceView


@pytest.fixture(scope="module")
def data():
    return open_axis(str(resolve("scan-gradient-health")))


def moved_keeps_everything_else(before: DebuggerState, after: DebuggerState, axis: str) -> None:
    """What a move along *axis* leaves alone: the watches, the mutes, the other axes' positions."""
    assert after.debugging is before.debugging and after.muted == before.muted
    assert {n: p for n, p in after.positions.items() if n != axis} == \
        {n: p for n, p in before.positions.items() if n != axis}
    assert after.axes is before.axes


def test_moving_the_samples_axis_keeps_place_pass_and_step(data):
    # the worst sample first; a long sample to stand at a late step, then a short one to clamp to its own end
    by_length = sorted(data.ranked, key=lambda r: r["length"])
    short, long_ = by_length[0]["sample"], by_length[-1]["sample"]
    axis = Samples(data, long_)
    watches = DebugState(watches=("norm(h)",), breakpoints=(Breakpoint("norm(dh) > 1"),))
    s0 = DebuggerState.first(open_run(data.run(long_)), watches, [axis])
    assert s0.at("sample") == long_ and s0.cursor == s0.run.start()
    place = next(i for i, p in enumerate(s0.run.places) if p.recurrent)
    at = Cursor(phase="backward", place_index=place, t=by_length[-1]["length"] - 2, unit=3)
    s1 = s0.to(at)
    middle = by_length[len(by_length) // 2]["sample"]
    run = open_run(data.run(middle))
    s2 = s1.moved("sample", middle, run)
    assert s1.cursor == at and s1.at("sample") == long_ and s1.run is s0.run   # the state before is unchanged
    assert s2.run is run and s2.at("sample") == middle and s2.original is run.trace.whole
    own = data.row(middle)["length"]
    assert (s2.cursor.phase, s2.cursor.place_index, s2.cursor.unit) == ("backward", place, 3)
    assert s2.cursor.t == min(at.t, own - 1)            # the step kept, or the sample's own last step
    moved_keeps_everything_else(s1, s2, "sample")
    s3 = s2.moved("sample", short, open_run(data.run(short)))
    assert s3.cursor.t == data.row(short)["length"] - 1 < at.t and s3.cursor.phase == "backward"
    # the moves are the ranking's (pure): ) from the worst is the second worst, ( from it the worst again
    worst, second = data.at_rank(0), data.at_rank(1)
    assert axis.move(worst, 1) == second and axis.move(second, -1) == worst and axis.move(worst, -1) is None
    assert axis.end(True) == data.at_rank(len(data) - 1) and len(axis) == data.N
    assert axis.words(worst).startswith(f"sample {worst} of 200 (rank 1, ")


def test_moving_the_iteration_axis_keeps_compare_b_beside_a(traces):
    a, b = traces["training-exploding"], traces["training-exploding-clipped"]
    axis = Iterations(a, other=b)
    s0 = DebuggerState.first(open_run(a, b), axes=[axis])
    assert s0.at("iteration") == a.record_iteration == len(axis) - 1
    s1 = s0.to(Cursor(phase="backward", t=17, unit=5))
    k = 10
    run = axis.open(k, s1)
    s2 = s1.moved("iteration", k, run)
    assert s2.at("iteration") == k and s2.cursor == s1.cursor   # the same model: everything of the cursor stays
    assert s2.run.other is not None and s2.run.labels == ("A", "B")
    assert float(s2.run.trace["loss"]) == float(np.asarray(a["train.loss"])[k])
    assert float(s2.run.other["loss"]) == float(np.asarray(b["train.loss"])[k])   # B's own iteration k
    np.testing.assert_array_equal(s2.run.other["grad.model.0.l0.fwd.h"], b.iteration(k)["grad.model.0.l0.fwd.h"])
    assert axis.move(k, 1000) == len(axis) - 1 and axis.move(0, -1) == 0 and axis.end(False) == 0
    # B that does not train stays as it is beside every iteration of A
    plain = traces["rnn-vs-lstm"]
    lone = Iterations(a, other=plain).open(3, s1)
    assert lone.other.whole is plain


def test_a_what_if_then_an_iteration_move_drops_the_what_if(traces):
    a = traces["training-exploding"]
    axis = Iterations(a)
    s0 = DebuggerState.first(open_run(a), axes=[axis]).to(Cursor(phase="backward", t=30, unit=2))
    change = Change("intervention", {"at": "model.0.l0.fwd", "t": 5, "set": "h", "units": [2], "value": 0.0})
    changed, original = apply_changes(s0.original, (change,), None)
    s1 = s0.recomputed(open_run(changed, original, ("what-if", "original")), (change,), None)
    assert s1.changes == (change,) and s1.run.labels == ("what-if", "original") and s1.cursor == s0.cursor
    assert s1.original is s0.original                     # undo returns to this iteration's own run
    run = axis.open(4, s1)
    s2 = s1.moved("iteration", 4, run)
    assert s2.changes == () and s2.seed is None and s2.run.other is None
    assert s2.original is run.trace.whole and s2.cursor == s0.cursor and s2.at("iteration") == 4
    assert s1.changes == (change,)                        # the state before keeps its what-if


def test_transitions_of_the_cursor_watches_and_mutes(traces):
    trace = traces["bptt"]
    s0 = DebuggerState.first(open_run(trace))
    c = Cursor(t=3, unit=0)
    assert s0.to(c).cursor == c and s0.cursor == s0.run.start() and s0.to(c).run is s0.run
    d = DebugState(watches=("h",))
    assert s0.watching(d).debugging is d and s0.debugging == DebugState()
    kinds = frozenset(s0.run.kinds)
    muted = s0.muting(kinds, open_run(trace, muted=kinds))
    assert muted.muted == kinds and not muted.run.events and muted.cursor == s0.cursor
    other = traces["vanishing-gradient"]
    opened = s0.to(c).opened(open_run(other))
    assert opened.cursor == opened.run.start() and s0.to(c).opened(open_run(trace), keep_cursor=True).cursor == c
    with pytest.raises(KeyError, match="no iteration axis"):
        s0.moved("iteration", 1, s0.run)


def test_kept_cursor_clamps_to_the_run_it_lands_in(traces):
    run = open_run(traces["bptt"])
    T = run.info.T
    far = Cursor(phase="forward", place_index=len(run.places) + 3, t=T + 50, sample=9, handover=True)
    kept = kept_cursor(far, run)
    assert kept.place_index == len(run.places) - 1 and kept.sample == run.info.B - 1 and not kept.handover
    from rnntui.render import cursor as cur

    assert kept.t == cur.length(run.info, run.places[kept.place_index]) - 1   # past the end: the last step


# --- a third axis, registered here only: its module (the class), its pane, one registry line ------------------

def toy_runs(tmp_path):
    """Three runs of one model, differing in the recurrent weight: what the toy axis moves along."""
    runs = []
    for k, w in enumerate((0.5, 0.9, 1.1)):
        path = tmp_path / f"toy{k}.yaml"
        path.write_text(f"""version: 1
name: toy record {k}
mode: many-to-one
input: {{generate: {{kind: pulse, length: 12, at: 0}}}}
model:
  - {{type: rnn, hidden_size: 1, nonlinearity: identity}}
weights: {{init: constant, value: 0.0, set: {{0.weight_ih_l0: [[1.0]], 0.weight_hh_l0: [[{w}]]}}}}
loss: {{kind: sum}}
""")
        runs.append(rnntui.run(str(path)))
    return runs


class ToyPane(TraceView):
    """The toy axis's pane: which record is open."""

    DEFAULT_CSS = "ToyPane { height: 1; }"

    def take(self, old, state) -> None:
        self.display = "toy" in state.axes
        self.at = state.at("toy")

    def render_view(self, cursor, width: int):
        return f"toy record {self.at} of 3"


class Toy(Axis):
    name, title, noun = "toy", "Toy records", "record"
    BINDINGS = [Binding("x", "axis('toy', 'move', 1)", "Next record", show=False, tooltip="The next toy record"),
                Binding("X", "axis('toy', 'move', -1)", "Prev record", show=False, tooltip="The previous one")]
    opened: list

    def __init__(self, records):
        self.records, self.opened = records, []

    @classmethod
    def attach(cls, trace, other, options):
        return cls(options["toy"]) if "toy" in options else None

    @classmethod
    def pane(cls, axis):
        return ToyPane(id="toy")

    def __len__(self):
        return len(self.records)

    def ready(self, k, state):   # records 0 and 1 open at once; record 2 in a worker, as an uncached iteration
        return open_run(self.records[k], muted=state.muted) if k < 2 else None

    def open(self, k, state):
        self.opened.append(k)
        return open_run(self.records[k], muted=state.muted)

    def words(self, k):
        return f"record {k} of 3"


@pytest.fixture
def toy_registered():
    registry.AXES.append(Toy)   # the one registry line
    yield
    registry.AXES.remove(Toy)


async def test_a_third_axis_registered_in_a_test_is_moved_along_by_the_app(toy_registered, tmp_path):
    from rnntui.tui.app import RnntuiApp
    from tests.tui.screen import screen_text

    runs = toy_runs(tmp_path)
    app = RnntuiApp(runs[0], axis_options={"toy": runs})
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.state.at("toy") == 0 and "toy record 0 of 3" in screen_text(app)
        await pilot.press("right", "right", "right", "b")
        before = app.cursor
        await pilot.press("x")
        await pilot.pause()
        assert app.state.at("toy") == 1 and app.run_state.trace.whole is runs[1] and app.cursor == before
        text = screen_text(app)
        assert "toy record 1 of 3" in text and "record 1 of 3" in app.query_one("#header").axis_words
        await pilot.press("x")                      # record 2 is opened in a worker
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.state.at("toy") == 2 and app.run_state.trace.whole is runs[2] and app.cursor == before
        assert app.state.axes["toy"].opened == [2]
        # the views show record 2's own numbers: h_t = 1.1^t at the pulse
        np.testing.assert_allclose(np.asarray(app.run_state.trace["model.0.l0.fwd.h"]).ravel()[:4],
                                   [1.0, 1.1, 1.21, 1.331], rtol=1e-6)
        await pilot.press("X", "X")
        await pilot.pause()
        assert app.state.at("toy") == 0 and app.run_state.trace.whole is runs[0]
        await pilot.press("question_mark")          # the help lists its keys under its own heading
        assert [t for t, _ in app.screen.groups][3:5] == ["Training iterations", "Toy records"]   # samples: hidden
        assert [b.key for t, bs in app.screen.groups if t == "Toy records" for b in bs] == ["x", "X"]


async def test_without_a_registration_the_toy_keys_do_nothing(tmp_path):
    from rnntui.tui.app import RnntuiApp

    runs = toy_runs(tmp_path)
    app = RnntuiApp(runs[0], axis_options={"toy": runs})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("x")
        await pilot.pause()
        assert "toy" not in app.state.axes and app.run_state.trace.whole is runs[0] and not app.query("#toy")


async def test_help_lists_the_keys_under_their_owners(traces):
    """`?` groups the keys by what owns them (tui/keymap.py; an axis's in its module): each heading is printed
    above exactly its own keys, the iterations' keys under theirs, and the samples' heading is left out where no
    data set is open (its keys are hidden there)."""
    import io

    from rich.console import Console
    from textual.widgets import Static

    from rnntui.tui import keymap
    from rnntui.tui.app import RnntuiApp
    from rnntui.tui.axes import AXES
    from rnntui.tui.screens import key_label

    app = RnntuiApp(traces["training-exploding"])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        titles = [t for t, _ in app.screen.groups]
        assert titles == ["Moving in the run", "Watches, breakpoints and events", "What-if", "Training iterations",
                          "The debugger", "Panels"]
        out = io.StringIO()
        console = Console(file=out, width=400, color_system=None)
        for widget in app.screen.query(Static):
            console.print(widget.content)
        lines = [line.strip() for line in out.getvalue().splitlines()]
        for group in keymap.groups(AXES):
            if group.title not in titles:
                continue
            at = lines.index(group.title)
            own = [b for t, bs in app.screen.groups if t == group.title for b in bs]
            for b, line in zip(own, lines[at + 1:]):   # the rows right under the heading are its keys
                assert line.startswith(key_label(b.key)) and b.description in line, (group.title, b, line)
        iteration_keys = [b.key for t, bs in app.screen.groups if t == "Training iterations" for b in bs]
        assert iteration_keys == [b.key for b in AXES[0].BINDINGS] == \
            ["full_stop", "comma", "greater_than_sign", "less_than_sign", "left_curly_bracket",
             "right_curly_bracket", "j", "J"]
