"""A checkpointed run opens after its first segment (issue 23, "the first screen comes first"): the debugger
shows the forward pass at t=0 while the rest of the sweep runs in a worker (engine/run.py `SweepingRun`); the
views that need what the sweep has not computed say "computing: N%" with the sweep's fraction; once it is done,
every screen is the one a run swept before the first screen shows. The sweep is held at a piece with an event, so
what is ready is exact."""
from __future__ import annotations

import json
import threading
from contextlib import asynccontextmanager

import numpy as np
import pytest

from rnntui.engine import checkpoint
from rnntui.engine.run import SweepingRun, start_run
from rnntui.engine.scenario_run import run_scenario
from rnntui.scenario.loader import load_scenario
from rnntui.tui.app import RnntuiApp

SIZE = (120, 40)
T, S = 300, 64          # five segments: a sweep of ten pieces (five forward, five backward)


@pytest.fixture
def scenario(monkeypatch):
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    monkeypatch.setattr(RnntuiApp, "SWEEP_PUBLISH_EVERY", 0)   # every piece shown: what is ready is exact
    rng = np.random.default_rng(3)
    doc = {"version": 1, "name": "long", "mode": "many-to-many",
           "input": {"batch": rng.normal(size=(2, T, 3)).round(3).tolist(), "lengths": [T, 170]},
           "model": [{"type": "lstm", "hidden_size": 6, "num_layers": 2}, {"type": "dense", "units": 3}],
           "loss": {"kind": "cross_entropy", "target": rng.integers(0, 3, (2, T)).tolist()},
           "weights": {"init": "uniform", "low": -0.9, "high": 0.9},
           "debug": {"watch": ["mean(h)"], "break": ["norm(h) > 1.2"]}}
    return load_scenario("long.yaml", json.dumps(doc))


class Held:
    """A SweepingRun whose sweep stops after piece *at* (the first piece is done before the app opens) until
    `go()` (to the end) or `go(n)` (on to piece n)."""

    def __init__(self, sc, at: int):
        self.run = start_run(sc, recording="checkpointed")
        assert isinstance(self.run, SweepingRun)
        self.pieces, self.limit = 0, at
        self.moved = threading.Condition()
        advance = self.run.advance

        def held() -> bool:
            with self.moved:
                assert self.moved.wait_for(lambda: self.limit is None or self.pieces < self.limit, 30), \
                    "the test never let the sweep go on"
                self.pieces += 1
            return advance()

        self.run.advance = held
        held()   # the first piece: what `rnntui run` does before it opens the debugger

    def go(self, to: int | None = None) -> None:
        with self.moved:
            self.limit = to
            self.moved.notify_all()


def panel(app, name: str, width: int = 70) -> str:
    """The lines panel *name* draws at *width* (the same width for any two apps compared)."""
    view = app.query_one(f"#{name}")
    return "\n".join("".join(seg.text for seg in strip).rstrip() for strip in view._strips(width))


async def until(pilot, ready, tries: int = 200):
    for _ in range(tries):
        if ready():
            return
        await pilot.pause(0.01)
    raise AssertionError("never happened")


@asynccontextmanager
async def held_open(sc, at: int, size=SIZE):
    """The debugger on *sc*'s run held after piece *at*, once it shows that piece: (held, app, pilot). The sweep is
    let go when the block ends, however it ends."""
    held = Held(sc, at=at)
    app = RnntuiApp(held.run.preview(), sweep=held.run)
    try:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.run_state.sweeping is not None and app.run_state.sweeping.done == at)
            yield held, app, pilot
    finally:
        held.go()


async def press(pilot, keys):
    for k in keys:
        await pilot.press(k)
        await pilot.pause()


async def test_the_forward_pass_at_t0_shows_before_the_sweep_is_done(scenario):
    swept = run_scenario(scenario, recording="checkpointed")
    held = Held(scenario, at=1)
    app = RnntuiApp(held.run.preview(), sweep=held.run)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            progress = app.run_state.sweeping
            assert progress is not None and (progress.forward, progress.backward) == (1, 0)
            assert app.cursor.t == 0 and app.cursor.phase == "forward"
            shown = {name: panel(app, name) for name in ("cell", "states", "details")}
            header = panel(app, "header", 120)
            assert "loss computing: 10%" in header and "forward pass" in header and "t=0" in header
            assert "sweeping: forward █▋░░░░░░░░░░░░░░ 10% (the keys still answer)" in header
            held.go()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.run_state.sweeping is None
            assert f"loss {float(swept['loss']):.4f}" in panel(app, "header", 120)
        first = RnntuiApp(swept)
        async with first.run_test(size=SIZE) as pilot:
            await pilot.pause()
            # the forward views before the sweep was done: the swept run's, to the digit
            assert shown == {name: panel(first, name) for name in shown}
    finally:
        held.go()


@pytest.mark.parametrize("at", [3, 7])
async def test_the_views_that_wait_say_computing_with_the_sweeps_fraction(scenario, at):
    """Held after *at* of the ten pieces: 3 (the forward sweep through segments 0..2, steps 0..191) or 7 (the
    forward sweep done, the backward pass through segments 4, 3)."""
    held = Held(scenario, at=at)
    app = RnntuiApp(held.run.preview(), sweep=held.run)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.run_state.sweeping.done == at)
            n = f"{at * 10}%"
            for name in ("timeline", "gradients", "watches"):   # the backward pass's, whatever the step
                assert panel(app, name).startswith(f"computing: {n}"), name
            await press(pilot, ["b"])                             # BPTT at t=0
            for name in ("cell", "states", "details"):
                assert panel(app, name).startswith(f"computing: {n}"), name
            assert "the backward pass" in panel(app, "cell")
            await press(pilot, ["b", "g", *"250", "enter"])      # forward, t=250: segment 3
            ready = min(at, 5) * S
            if ready <= 250:
                words = panel(app, "cell", 200)
                assert words.startswith(f"computing: {n} (the forward sweep has not reached every step shown; "
                                        f"steps 0..{ready - 1} are ready)")
            else:
                assert "t=250" in panel(app, "cell") and "computing" not in panel(app, "cell")
            if ready <= 250:   # on to the end of the forward sweep: the step's forward pass shows, the rest waits
                held.go(5)
                await until(pilot, lambda: app.run_state.sweeping.done == 5)
                await pilot.pause()
                assert "t=250" in panel(app, "cell") and "computing" not in panel(app, "cell")
                assert panel(app, "gradients").startswith("computing: 50%")
            held.go()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "computing" not in panel(app, "cell") + panel(app, "gradients")
    finally:
        held.go()


KEYS = [["right"] * 3 + ["b"], ["right_square_bracket", "down", "b", "end"], ["s", "g", *"120", "enter"]]


async def release(pilot, app, held) -> None:
    """Let the held sweep go on, and wait until its workers are done and their screen is painted."""
    held.go()
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("keys", KEYS, ids=["-".join(k[:3]) for k in KEYS])
async def test_once_the_sweep_is_done_every_screen_is_the_swept_runs(scenario, keys):
    """Keys pressed while the sweep runs; then the screens are the ones of the same keys on the run swept
    before the first screen (the same bits: the finished run replaces the snapshot)."""
    swept = run_scenario(scenario, recording="checkpointed")
    shots = []
    held = Held(scenario, at=2)
    app = RnntuiApp(held.run.preview(), sweep=held.run)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await press(pilot, keys)
            assert app.run_state.sweeping is not None
            await release(pilot, app, held)
            shots.append(app.export_screenshot())
            cursors = [app.cursor]
    finally:
        held.go()
    first = RnntuiApp(swept)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, keys)
        await first.workers.wait_for_complete()
        await pilot.pause()
        shots.append(first.export_screenshot())
        cursors.append(first.cursor)
    assert cursors[0] == cursors[1]
    assert shots[0] == shots[1]


async def test_continue_waits_for_the_sweep_and_escape_drops_it(scenario):
    """`c` while the sweep runs: it says it waits (events and breakpoints need the backward pass), the header
    says so, Esc drops it; pressed again, it lands once the sweep is done where it lands on the swept run."""
    swept = run_scenario(scenario, recording="checkpointed")
    first = RnntuiApp(swept)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, ["c"])
        landing = first.cursor
    assert landing.t > 0
    held = Held(scenario, at=4)
    app = RnntuiApp(held.run.preview(), sweep=held.run)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.run_state.sweeping.done == 4)
            await press(pilot, ["c"])
            assert "c waits for it" in panel(app, "header", 120)
            assert any("c: waits for the sweep (40% done" in str(n.message) for n in app._notifications)
            await press(pilot, ["escape"])
            assert "c waits" not in panel(app, "header", 120) and app._after_sweep is None
            await press(pilot, ["n"])                           # n too: the events are found with the sweep
            assert "n waits for it" in panel(app, "header", 120)
            await press(pilot, ["escape", "right", "c"])        # the keys still answer; c waits again
            assert app.cursor.t == 1 and app._after_sweep is not None
            await press(pilot, ["left"])
            held.go()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.cursor == landing
    finally:
        held.go()


def test_rnntui_run_opens_a_long_run_after_its_first_segment_and_a_short_one_whole(tmp_path, monkeypatch):
    import rnntui

    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    path = tmp_path / "long.yaml"
    path.write_text("version: 1\nname: long\ninput: {generate: {kind: noise, length: 300, features: 3}}\n"
                    "model:\n  - {type: gru, hidden_size: 4}\nloss: {kind: sum}\n")
    started = rnntui._run(str(path), 200_000, None, first_segment=True)
    assert isinstance(started, SweepingRun)
    assert (started.progress.forward, started.progress.backward) == (1, 0)
    preview = started.preview()
    assert preview.steps("model.0.l0.fwd.h", 0, S).shape == (S, 1, 4)
    with pytest.raises(checkpoint.NotReady, match="10% of the sweep done"):
        preview["loss"]
    assert np.array_equal(started.finish()["loss"], rnntui.run(str(path), max_memory=200_000)["loss"])
    whole = rnntui._run(str(path), None, None, first_segment=True)   # within the memory limit: recorded whole
    assert type(whole).__name__ == "Trace" and whole.recording.mode == "full"
    # a many-to-one run too: its head (a pass of its own after the segments) comes once the forward sweep is done
    path.write_text("version: 1\nname: m2o\nmode: many-to-one\ninput: {generate: {kind: noise, length: 300, "
                    "features: 3}}\nmodel:\n  - {type: gru, hidden_size: 4}\n  - {type: dense, units: 2}\n"
                    "loss: {kind: sum}\n")
    m2o = rnntui._run(str(path), 200_000, None, first_segment=True)
    assert isinstance(m2o, SweepingRun) and (m2o.progress.forward, m2o.progress.own_total) == (1, 1)
    with pytest.raises(checkpoint.NotReady, match="the head after the last step"):
        m2o.preview()["model.1.out"]
    assert m2o.preview().steps("model.0.l0.fwd.h", 0, S).shape == (S, 1, 4)
    assert np.array_equal(m2o.finish()["loss"], rnntui.run(str(path), max_memory=200_000)["loss"])


async def test_a_sweep_that_fails_is_said_and_nothing_waits_for_it(scenario):
    """The sweep's worker raises (here: out of memory at the fourth piece): the header says why, the views that
    waited say they are not computed (never "computing" for ever), and `c` says it cannot search."""
    held = Held(scenario, at=99)
    advance = held.run.advance

    def failing() -> bool:
        if held.pieces >= 3:
            raise MemoryError("no room for segment 3")
        return advance()

    held.run.advance = failing
    app = RnntuiApp(held.run.preview(), sweep=held.run)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            header = panel(app, "header", 200)
            assert "sweeping the run failed: no room for segment 3; what needs the rest of it is not computed" in header
            assert panel(app, "gradients", 200).startswith("not computed: the sweep stopped at 30% (no room for segment 3)")
            assert "h fwd t 0..63" in panel(app, "states")      # what was swept still shows
            await press(pilot, ["c"])
            assert app._after_sweep is None
            assert any("c: needs the whole sweep, which stopped" in str(n.message) for n in app._notifications)
    finally:
        held.go()


def test_a_bidirectional_runs_forward_pass_is_ready_from_the_end_once_its_backward_states_come(monkeypatch):
    """A bidirectional entry's step needs its backward direction's state, which the sweep finds from the last
    segment down after the forward direction's sweep: until then no step is ready; then the last segments first.
    What is read is the swept run's."""
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    rng = np.random.default_rng(5)
    doc = {"version": 1, "mode": "many-to-many", "input": {"batch": rng.normal(size=(2, T, 3)).round(3).tolist()},
           "model": [{"type": "gru", "hidden_size": 4, "bidirectional": True}], "loss": {"kind": "sum"}}
    sc = load_scenario("bidir.yaml", json.dumps(doc))
    swept = run_scenario(sc, recording="checkpointed")
    run = start_run(sc, recording="checkpointed")
    seen = []
    while run.advance():
        preview, p = run.preview(), run.progress
        try:
            preview.steps("model.0.l0.bwd.h", T - 1, T)
        except checkpoint.NotReady as wait:
            assert wait.bidir and wait.fraction == p.fraction
            seen.append(wait.steps)
            continue
        a, b = preview.forward_steps()
        seen.append((a, b))
        assert np.array_equal(preview.steps("model.0.l0.bwd.h", a, b), swept.steps("model.0.l0.bwd.h", a, b))
        if a:
            with pytest.raises(checkpoint.NotReady):
                preview.steps("model.0.l0.fwd.h", a - 1, a)
    # five forward pieces with nothing ready, then the states from the last segment (256..299) down, then all
    assert seen[:5] == [(0, 0)] * 5 and seen[5:9] == [(256, 300), (192, 300), (128, 300), (64, 300)]
    assert seen[9:] == [(0, 300)] * 5


# --- every checkpointed kind (engine/checkpoint_kinds.py) shows first too ------------------------------------------

def many_to_one_forward():
    """A unidirectional many-to-one (a GRU, then a dense head on its final state) over samples of their own
    lengths: its forward pass per step is ready segment by segment, its head and loss once the forward sweep is
    done."""
    rng = np.random.default_rng(11)
    doc = {"version": 1, "name": "long m2o", "mode": "many-to-one",
           "input": {"batch": rng.normal(size=(2, 200, 3)).round(3).tolist(), "lengths": [200, 100]},
           "model": [{"type": "gru", "hidden_size": 5, "num_layers": 2}, {"type": "dense", "units": 3}],
           "loss": {"kind": "cross_entropy", "target": [2, 0]},
           "weights": {"init": "uniform", "low": -0.9, "high": 0.9}}
    return load_scenario("m2o.yaml", json.dumps(doc))


def kinds():
    from tests.tui.test_checkpoint_kinds import KINDS

    return {"many-to-one": many_to_one_forward, "many-to-one-bidirectional": KINDS["many-to-one"],
            "encoder-decoder": KINDS["encoder-decoder"], "graph": KINDS["graph"],
            "graph-recurrence": KINDS["graph-recurrence"]}


KIND_NAMES = list(kinds())


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_kinds_preview_reads_the_swept_runs_bits_at_every_piece(monkeypatch, kind):
    """At every piece of the sweep of every kind, what the preview holds and reads is the finished run's
    (tests/engine/test_checkpoint_kinds.py `previews_are_the_finished_runs`); the forward pass per step comes
    segment by segment, a many-to-one's head and loss in one piece after the forward sweep, a decoder likewise."""
    from tests.engine.test_checkpoint_kinds import previews_are_the_finished_runs

    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    seen, K = previews_are_the_finished_runs(kinds()[kind]())
    if kind in ("many-to-one", "graph", "graph-recurrence"):      # the forward per step, segment by segment
        assert [s for _, s, _ in seen[:K]] == [(0, min((k + 1) * S, 200)) for k in range(K)]
    if kind == "many-to-one":           # the head and loss after the forward sweep (its one piece of its own)
        assert [(ph, loss) for ph, _, loss in seen[K - 1:K + 2]] == [("own", False), ("backward", True),
                                                                     ("backward", True)]
    if kind == "encoder-decoder":       # the encoder's forward first, the decoder once the forward sweep is done
        assert [loss for _, _, loss in seen] == [False] * K + [True] * (K + 1)


async def held_keys(sc, at: int, keys: list, size=SIZE):
    """The debugger on *sc*'s run held after piece *at*, *keys* pressed while it sweeps, then the sweep let go:
    (the panels forward shown at once, the screenshot and cursor once the sweep is done)."""
    async with held_open(sc, at, size) as (held, app, pilot):
        first = {name: panel(app, name) for name in ("cell", "states", "details")}
        await press(pilot, keys)
        assert app.run_state.sweeping is not None
        await release(pilot, app, held)
        assert app.run_state.sweeping is None
        return first, app.export_screenshot(), app.cursor


KIND_KEYS = [["end", "b"], ["g", "1", "5", "0", "enter", "b", "left", "right_square_bracket"],
             ["right_square_bracket", "right_square_bracket", "right", "b"], ["right", "c"]]


@pytest.mark.parametrize("keys", KIND_KEYS, ids=["end-b", "goto-150", "next-places", "continue"])
@pytest.mark.parametrize("kind", KIND_NAMES)
async def test_every_kind_opens_after_its_first_segment_and_ends_as_the_swept_run(monkeypatch, kind, keys):
    """Every kind opens after its first piece: the forward panels at t=0 are the swept run's (a bidirectional
    entry's say computing: its backward direction's states come later); keys pressed while the sweep runs; once it
    is done, the screen and cursor are those of the same keys on the run swept before its first screen."""
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    monkeypatch.setattr(RnntuiApp, "SWEEP_PUBLISH_EVERY", 0)
    sc = kinds()[kind]()
    swept = run_scenario(sc, recording="checkpointed")
    first, shot, cursor = await held_keys(sc, 1, keys)
    app = RnntuiApp(swept)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = {name: panel(app, name) for name in first}
        await press(pilot, keys)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert (app.export_screenshot(), app.cursor) == (shot, cursor)
    if kind == "many-to-one-bidirectional":
        assert all(text.startswith("computing: 6%") for text in first.values())
    else:
        assert first == shown


@pytest.mark.parametrize("kind, keys", [("many-to-one", ["right_square_bracket", "right_square_bracket"]),
                                        ("many-to-one", ["right_square_bracket", "right_square_bracket", "b"]),
                                        ("encoder-decoder", ["right_square_bracket", "right_square_bracket", "right",
                                                             "b"])])
async def test_a_kinds_own_pass_shows_once_done_and_says_computing_before(monkeypatch, kind, keys):
    """A many-to-one's head and an encoder-decoder's decoder run once the forward sweep is done (one piece of
    the sweep of their own): before it their views say what they wait for; after it, while the backward sweep
    still runs, the loss, the head's forward view and the decoder's BPTT (its gradients need only the decoder) are
    the swept run's, and the events row says they are not found yet."""
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    monkeypatch.setattr(RnntuiApp, "SWEEP_PUBLISH_EVERY", 0)
    sc = kinds()[kind]()
    swept = run_scenario(sc, recording="checkpointed")
    first = RnntuiApp(swept)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, keys)
        want = {name: panel(first, name) for name in ("cell", "header")}
    K = -(-200 // S)
    for at, done in ((K, False), (K + 1, True)):
        async with held_open(sc, at) as (_, app, pilot):
            await press(pilot, keys)
            n = f"{at / (2 * K + 1):.0%}"
            what = "the head after the last step" if kind == "many-to-one" else "the decoder"
            header = panel(app, "header")
            if not done:
                assert panel(app, "cell").startswith(f"computing: {n} ({what}, which runs ")
                assert f"loss computing: {n}" in header and f"sweeping: {what} " in panel(app, "header", 120)
            else:
                assert panel(app, "cell") == want["cell"]
                assert header.splitlines()[:2] == want["header"].splitlines()[:2]
                assert f"loss {float(swept['loss']):.4f}" in header
                if kind == "encoder-decoder":
                    assert f"event computing: {n} (the events are found once the sweep is done)" in \
                        panel(app, "timeline", 120)
                    assert "dL/dh_t" in want["cell"]


@pytest.mark.parametrize("kind", ["many-to-one", "encoder-decoder"])
async def test_once_a_kinds_own_pass_made_the_loss_no_view_says_the_loss_is_still_to_come(monkeypatch, kind):
    """After a many-to-one's head or an encoder-decoder's decoder ran (the loss in the header), the views that wait
    for the backward sweep say they wait for its gradients, not for the loss; before, they say the loss comes
    too."""
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    monkeypatch.setattr(RnntuiApp, "SWEEP_PUBLISH_EVERY", 0)
    sc = kinds()[kind]()
    K = -(-200 // S)
    for at, known in ((K, False), (K + 1, True)):
        async with held_open(sc, at) as (_, app, pilot):
            await press(pilot, ["b"])      # the encoder's / the steps' BPTT at t=0: the backward sweep's
            n = f"{at / (2 * K + 1):.0%}"
            assert ("loss computing" not in panel(app, "header", 120)) == known
            for name in ("gradients", "cell"):
                words = panel(app, name, 200).replace("\n", " ")
                assert words.startswith(f"computing: {n} (of the sweep: the backward pass, its gradients"), words
                assert ("the loss" not in words) == known, words


async def test_the_event_rows_fraction_follows_the_sweep(monkeypatch):
    """An encoder-decoder's decoder shows once its own pass is done; its timeline's event row says how far the
    sweep is, and says it again at the next snapshot (it was drawn whole, with no view waiting, and kept its first
    fraction while the header's went on)."""
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    monkeypatch.setattr(RnntuiApp, "SWEEP_PUBLISH_EVERY", 0)
    sc = kinds()["encoder-decoder"]()
    K = -(-200 // S)
    async with held_open(sc, K + 1) as (held, app, pilot):
        await press(pilot, ["right_square_bracket", "right_square_bracket"])   # a decoder entry
        for at in (K + 1, K + 2, K + 3):
            held.go(at)
            await until(pilot, lambda: app.run_state.sweeping.done == at)
            await pilot.pause()
            n = f"{at / (2 * K + 1):.0%}"
            assert f"loss {float(held.run.preview()['loss']):.4f}" in panel(app, "header", 120)
            assert f"event computing: {n} (the events are found once the sweep is done)" in \
                panel(app, "timeline", 120)


async def test_the_event_dialogs_say_the_events_are_not_found_while_the_sweep_runs(scenario):
    """`m` (mute kinds of event) and `L` (the watches and breakpoints, with the count of built-in events) while the
    sweep runs: the events are not found yet, and neither says the run has none; once the sweep is done they say
    the swept run's counts."""
    from textual.widgets import OptionList, Static

    from rnntui.tui.state import open_run

    swept = run_scenario(scenario, recording="checkpointed")
    kinds = dict(open_run(swept).kinds)
    assert kinds, "the run has events to count"
    held = Held(scenario, at=3)
    app = RnntuiApp(held.run.preview(), sweep=held.run)

    def mute_words() -> list[str]:
        options = app.screen.query_one("#mute-options", OptionList)
        return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

    def list_words() -> str:
        return " ".join(str(s.render()) for s in app.screen.query(Static))

    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.run_state.sweeping.done == 3)
            await press(pilot, ["m"])
            words = mute_words()
            assert len(words) == 4 and all(w.endswith("(found once the sweep is done)") for w in words), words
            await press(pilot, ["escape", "L"])
            assert "built-in events (n / N jump to them, m mutes kinds of them): found once the sweep is done" \
                in list_words()
            await press(pilot, ["escape"])
            held.go()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.run_state.sweeping is None
            await press(pilot, ["m"])
            for kind, w in zip(("non-finite", "saturated", "vanishing", "exploding"), mute_words()):
                n = kinds.get(kind, 0)
                assert w.endswith(f"({n} step{'s' if n != 1 else ''} in this run)"), w
            await press(pilot, ["escape", "L"])
            assert f"m mutes kinds of them): {sum(kinds.values())}" in list_words()
    finally:
        held.go()


async def test_a_bidirectional_many_to_ones_steps_show_once_its_own_pass_found_the_states(monkeypatch):
    """A bidirectional many-to-one's own pass finds the backward direction's states (then runs the head): its steps'
    forward views show from then on, the swept run's, and the header names what the sweep computes after it (the
    forward direction's backward pass, which finds those states again on its way), not the states."""
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    monkeypatch.setattr(RnntuiApp, "SWEEP_PUBLISH_EVERY", 0)
    sc = kinds()["many-to-one-bidirectional"]()
    swept = run_scenario(sc, recording="checkpointed")
    first = RnntuiApp(swept)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        want = {name: panel(first, name) for name in ("cell", "states", "details")}
    K = -(-200 // S)
    at = K + (K + 1) + 1          # the forward sweep, the own pass (the states, then the head), one piece after
    async with held_open(sc, at) as (_, app, pilot):
        await pilot.pause()
        assert app.run_state.sweeping.phase == "states"
        assert {name: panel(app, name) for name in want} == want
        header = panel(app, "header", 120)
        assert "sweeping: backward, the forward direction " in header and "states" not in header, header


async def test_the_headers_bar_says_the_fraction_the_views_say(scenario, monkeypatch):
    """Each snapshot of the sweep redraws the views' "computing: N%" and the header's bar with the same N at once
    (the bar followed on its own timer, a tenth of a second or, under load, seconds later: 38% above 42%)."""
    from textual.app import App

    def set_interval(self, interval, callback, **kw):   # the header's own timer never catches up here
        slow = getattr(callback, "__name__", "") == "_show_busy"
        return App.set_interval(self, 1000 if slow else interval, callback, **kw)

    monkeypatch.setattr(RnntuiApp, "set_interval", set_interval)
    held = Held(scenario, at=2)
    app = RnntuiApp(held.run.preview(), sweep=held.run)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.run_state.sweeping.done == 2)
            for at in (4, 7):
                held.go(at)
                await until(pilot, lambda: app.run_state.sweeping.done == at)
                await pilot.pause()
                header = panel(app, "header", 120)
                assert f"loss computing: {at * 10}%" in header and f" {at * 10}% (the keys still answer)" in header
    finally:
        held.go()


async def test_a_key_refused_while_sweeping_says_it_is_to_be_pressed_again(scenario):
    """`w` while the sweep runs is refused (unlike `n` and `c`, which wait for it): the words say so, and once the
    sweep is done nothing was added and no dialog opened by itself."""
    held = Held(scenario, at=3)
    app = RnntuiApp(held.run.preview(), sweep=held.run)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.run_state.sweeping.done == 3)
            watches = list(app.debugging.watches)
            await press(pilot, ["w"])
            said = [str(n.message) for n in app._notifications]
            assert any("w: a watch is checked and evaluated over the whole run: not while the sweep runs (30% done); "
                       "press the key again once it is done" in m for m in said), said
            held.go()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.run_state.sweeping is None
            assert list(app.debugging.watches) == watches and app.screen is app.screen_stack[0]
    finally:
        held.go()
