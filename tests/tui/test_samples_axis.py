"""The samples axis (rnntui run --dataset / --scan): the ranking as a pane, ( ) S r Enter opening data-set samples,
the header's words checked against the scan's row and the sample's own run (rnntui.run(name, sample=k))."""
from __future__ import annotations

import time

import numpy as np
import pytest

import rnntui
from rnntui.render.analysis import verdicts
from rnntui.render.samples import sample_words
from rnntui.samples.axis import SamplesAxis, open_axis
from rnntui.samples.measure import first_recurrent_place
from rnntui.scenario.bundled import resolve
from rnntui.tui.app import RnntuiApp
from rnntui.tui.samples_pane import RankingTable

NAME = "scan-gradient-health"
SIZE = (100, 30)


@pytest.fixture(scope="module")
def axis():
    return open_axis(str(resolve(NAME)))


def app_on(axis, rank=0):
    k = axis.at_rank(rank)
    return RnntuiApp(axis.run(k), samples=axis, sample=k)


def header_text(app) -> str:
    return "\n".join(s.text for s in app.query_one("#header")._strips(app.size.width - 2, app.cursor))


def test_moves_along_the_ranking(axis):
    worst, second, last = axis.at_rank(0), axis.at_rank(1), axis.at_rank(len(axis) - 1)
    assert axis.move(worst, 1) == second and axis.move(second, -1) == worst
    assert axis.move(worst, -1) is None and axis.move(last, 1) is None     # nothing beyond the ends
    assert axis.move(worst, 10**6) == last
    assert [axis.rank(r["sample"]) for r in axis.ranked] == list(range(len(axis)))
    partial = SamplesAxis(type(axis.scan)(axis.scan.rows[:5], axis.scan.N, "", ""), axis.scenario)
    assert partial.rank(150) is None and partial.move(150, 1) == partial.at_rank(0)
    assert "not reached by the scan" in sample_words(150, 200, None, None)


@pytest.mark.parametrize("rank", [0, 1, 2, 199])
def test_the_words_are_true_of_the_row_and_of_the_samples_own_run(axis, rank):
    k = axis.at_rank(rank)
    row = axis.row(k)
    run = axis.run(k)
    alone = rnntui.run(NAME, sample=k)                         # what `rnntui run --sample k` opens
    assert float(run["loss"]) == float(alone["loss"]) == row["loss"]
    place = first_recurrent_place(run.info)
    np.testing.assert_array_equal(run[place.grad_key("h")], alone[place.grad_key("h")])
    v = verdicts(alone, place, jacobian=False).of(0)           # the opened run's own verdict
    assert (v.kind, float(v.factor)) == (row["verdict"], row["rate"])
    words = sample_words(k, axis.N, axis.rank(k), row)
    assert words == f"sample {k} of 200 (rank {rank + 1}, {v.kind} at {v.factor:.3g}x a step)"
    ranked = sorted(axis.ranked, key=lambda r: -abs(np.log(r["rate"])))  # worst: the rate furthest from 1
    assert ranked[rank]["sample"] == k or abs(np.log(ranked[rank]["rate"])) == abs(np.log(row["rate"]))


async def wait(app, pilot):
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_keys_open_samples_and_keep_place_pass_and_step(axis):
    app = app_on(axis)
    async with app.run_test(size=SIZE) as pilot:
        k0 = axis.at_rank(0)
        assert app.sample_index == k0 and f"sample {k0} of 200 (rank 1, " in header_text(app)
        assert app.focused is None                   # the ranking never takes the arrows by itself
        await pilot.press("right", "right", "b")
        before = app.cursor
        await pilot.press("right_parenthesis")
        await wait(app, pilot)
        k1 = axis.at_rank(1)
        assert app.sample_index == k1
        assert app.run_state.trace.whole is axis.opened(k1)
        assert float(app.run_state.trace["loss"]) == axis.row(k1)["loss"]
        assert (app.cursor.phase, app.cursor.place_index) == (before.phase, before.place_index)
        n1 = axis.row(k1)["length"]
        assert app.cursor.t == min(before.t, n1 - 1)   # the step kept (within the sample's own steps)
        assert sample_words(k1, 200, 1, axis.row(k1)) in header_text(app)
        await pilot.press("left_parenthesis")         # opened before: at once, no worker
        assert app.sample_index == k0 and app.cursor.phase == "backward"
        await pilot.press("left_parenthesis")         # the worst has none before it
        assert app.sample_index == k0
        # S: a sample by its index
        await pilot.press("S", "4", "2", "enter")
        await wait(app, pilot)
        assert app.sample_index == 42 and float(app.run_state.trace["loss"]) == axis.row(42)["loss"]
        assert f"sample 42 of 200 (rank {axis.rank(42) + 1}, " in header_text(app)
        await pilot.press("S", "9", "9", "9", "enter")   # out of range: said, the dialog stays
        assert "expected a whole number from 0 to 199" in str(app.screen.query_one("#sample-error").render())
        await pilot.press("escape")
        # r: the keys go to the ranking; Enter opens the row under its cursor
        await pilot.press("r")
        table = app.query_one(RankingTable)
        assert app.focused is table and table.cursor_row == axis.rank(42)
        await pilot.press("down", "down", "enter")
        await wait(app, pilot)
        assert app.sample_index == axis.at_rank(axis.rank(42) + 2)
        await pilot.press("escape", "right")          # the arrows are the debugger's again
        assert app.focused is None


async def test_a_slow_sample_opens_in_a_worker_without_freezing_the_keys(axis, monkeypatch):
    app = app_on(axis)
    slow = axis.run

    def run(k):
        time.sleep(2.0)
        return slow(k)

    k = axis.at_rank(150)
    assert axis.opened(k) is None
    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(axis, "run", run)
        await pilot.press("S", *str(k))
        start = time.perf_counter()
        await pilot.press("enter")
        await pilot.press("right")                    # the debugger still answers while the sample runs
        took = time.perf_counter() - start
        # the step was taken before the sample's run ended (a frozen loop would take it after)
        assert app.cursor.t == 1 and app.sample_index != k and took < 1.0
        await wait(app, pilot)
        assert app.sample_index == k and float(app.run_state.trace["loss"]) == axis.row(k)["loss"]


def test_run_refuses_dataset_with_compare(tmp_path):
    from typer.testing import CliRunner

    from rnntui.cli import app

    out = CliRunner().invoke(app, ["run", NAME, "--scan", "--compare", "bptt"])
    assert out.exit_code == 2 and "--compare" in out.output and "Traceback" not in out.output
    out = CliRunner().invoke(app, ["run", NAME, "--scan", "--sample", "500"])
    assert out.exit_code == 2 and "0..199" in out.output


async def test_a_shorter_sample_keeps_the_step_within_its_own_steps(axis):
    rank = next(r for r in range(len(axis) - 1)
                if axis.ranked[r]["length"] > axis.ranked[r + 1]["length"] + 1)   # the next one is shorter
    app = app_on(axis, rank)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("end")
        assert app.cursor.t == axis.ranked[rank]["length"] - 1
        await pilot.press("right_parenthesis")
        await wait(app, pilot)
        own = axis.ranked[rank + 1]["length"]
        assert app.sample_index == axis.at_rank(rank + 1) and app.cursor.t == own - 1
        assert f"step {own} of {own} (t={own - 1})" in header_text(app)


async def test_a_run_on_its_way_is_said_in_the_header_and_esc_cancels_it(axis, monkeypatch):
    import threading

    from rnntui.tui.widgets.header_bar import HeaderBar

    app = app_on(axis)
    gate = threading.Event()
    slow = axis.run
    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(axis, "run", lambda k: gate.wait(5) and slow(k))
        k = axis.at_rank(60)
        await pilot.press("S", *str(k), "enter")
        await pilot.pause(0.15)
        assert app.query_one(HeaderBar).busy.startswith(f"running sample {k}… ")
        await pilot.press("escape")                   # cancelled: nothing moves, a move counts from the shown one
        gate.set()
        await wait(app, pilot)
        assert app.sample_index == axis.at_rank(0) and app.query_one(HeaderBar).busy == ""
        monkeypatch.setattr(axis, "run", slow)
        await pilot.press("right_parenthesis")
        await wait(app, pilot)
        assert app.sample_index == axis.at_rank(1)


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 40)])
async def test_the_pane_opens_on_the_samples_row_with_the_columns_that_fit(axis, size):
    from rnntui.render.samples import ranking_columns

    k = 5
    app = RnntuiApp(axis.run(k), samples=axis, sample=k)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        table = app.query_one(RankingTable)
        assert table.cursor_row == axis.rank(k)
        cols = [str(c.label) for c in table.columns.values()]
        assert cols[:3] == ["sample", "verdict", "rate"] and len(cols) <= len(ranking_columns(axis.ranked, 10**4))
        assert table.virtual_size.width <= table.scrollable_content_region.width   # no column cut off


async def test_help_lists_the_samples_keys_only_where_a_data_set_is_open(axis):
    from rnntui.tui.screens import key_label

    for app, listed in ((app_on(axis), True), (RnntuiApp(axis.run(3)), False)):
        async with app.run_test(size=(120, 60)) as pilot:
            await pilot.press("question_mark")
            keys = {key_label(b.key): b.description for b in app.screen.bindings_table}
            assert ({"(", ")", "S", "r"} <= set(keys)) == listed
            if listed:
                assert keys[")"] == "Next in ranking" and keys["("] == "Prev in ranking"


@pytest.mark.parametrize("args, first", [(["--scan"], "worst"), (["--dataset", "GH", "--sample", "7"], 7)])
def test_run_scans_then_opens_the_debugger_on_the_samples(axis, monkeypatch, args, first):
    from typer.testing import CliRunner

    from rnntui.cli import app

    opened = []
    monkeypatch.setattr(RnntuiApp, "run", lambda self, **kw: opened.append(self))
    data = str(resolve(NAME).parent / "gradient-health.npz")
    out = CliRunner().invoke(app, ["run", NAME, *[data if a == "GH" else a for a in args]])
    assert out.exit_code == 0, out.output
    (tui,) = opened
    k = axis.at_rank(0) if first == "worst" else first
    assert tui.sample_index == k and [r["sample"] for r in tui.samples.ranked] == [r["sample"] for r in axis.ranked]
    assert float(tui.original["loss"]) == axis.row(k)["loss"] == float(rnntui.run(NAME, sample=k)["loss"])


def test_a_sample_whose_values_stop_being_finite_is_ranked_first_and_said_so(tmp_path):
    d = np.load(resolve(NAME).parent / "gradient-health.npz")
    x = d["x"][:6].copy()
    x[2, 3, 0] = 1e200          # sample 2's input at step 3: its values stop being finite there
    np.savez(tmp_path / "nf.npz", x=x, lengths=d["lengths"][:6], target=d["target"][:6])
    ax = open_axis(str(resolve(NAME)), dataset=str(tmp_path / "nf.npz"))
    run = ax.run(2)
    first = int(run["diag.nonfinite.first_step"])   # the opened run's own record
    assert first == 3 and ax.at_rank(0) == 2
    assert sample_words(2, ax.N, ax.rank(2), ax.row(2)) == "sample 2 of 6 (rank 1, first non-finite value at step 3)"
    key = str(run["diag.nonfinite.keys"][0])       # the value it names is not finite at that step, nor before
    values = np.asarray(run[key], dtype=float)
    assert not np.isfinite(values[3]).all() and np.isfinite(values[:3]).all()


async def test_e_names_the_sample_so_exports_of_two_samples_are_two_files(axis, tmp_path):
    app = app_on(axis)
    app.export_dir = tmp_path
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e", "right_parenthesis")
        await wait(app, pilot)
        await pilot.press("e")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"scan-gradient-health-sample{axis.at_rank(r)}-forward-t0.svg" for r in (0, 1))


async def test_watches_and_breakpoints_stay_and_read_the_sample_shown(axis):
    from tests.tui.test_watches import _panel

    app = app_on(axis)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", *"loss", "enter", "a", *"norm(dh) < 1e-3", "enter")
        debugging = app.debugging
        assert f"{axis.row(axis.at_rank(0))['loss']:.4f}" in _panel(app)
        await pilot.press("right_parenthesis")
        await wait(app, pilot)
        assert app.debugging is debugging
        assert f"{axis.row(axis.at_rank(1))['loss']:.4f}" in _panel(app)
        from rnntui.render.watches import holding

        trace, place = app.run_state.trace, app.cursor.place(app.info)
        dh = np.linalg.norm(np.asarray(trace["grad.model.0.l0.fwd.h"])[:, 0], axis=-1)
        n = axis.row(axis.at_rank(1))["length"]
        held = [bool(holding(trace, place, app.debugging, t)) for t in range(n)]
        assert held == list(dh[:n] < 1e-3) and any(held) and not all(held)   # this sample's own gradient


async def test_keys_typed_at_once_after_r_go_to_the_ranking(axis):
    from textual import events

    app = app_on(axis)
    async with app.run_test(size=SIZE) as pilot:
        unit = app.cursor.unit
        for key, char in (("r", "r"), ("down", None), ("enter", "\r")):   # queued together, as a fast typist's
            app.post_message(events.Key(key, char))
        await pilot.pause()
        await wait(app, pilot)
        assert app.sample_index == axis.at_rank(1) and app.cursor.unit == unit


async def test_the_verdicts_jacobian_norms_are_computed_in_the_worker_not_by_the_view(axis, monkeypatch):
    app = app_on(axis)
    seen = []
    show = RnntuiApp._arrive   # where a worker's run reaches the state (tui/app.py `move_axis`)

    def spy(self, name, k, run):
        key = run.trace.info.places[self.cursor.place_index].diag_key("jacnorm")
        seen.append(run.trace.whole.is_computed(key))   # before any view has drawn the run
        show(self, name, k, run)

    monkeypatch.setattr(RnntuiApp, "_arrive", spy)
    k = axis.at_rank(90)
    assert axis.opened(k) is None
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("S", *str(k), "enter")
        await wait(app, pilot)
    assert seen == [True] and app.sample_index == k


async def test_W_writes_a_scenario_that_reads_the_open_sample(axis, tmp_path):
    app = app_on(axis)
    app.export_dir = tmp_path
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_parenthesis")
        await wait(app, pilot)
        await pilot.press("right", "right", "i", *"h = 0", "enter")
        await pilot.pause()
        shown = float(app.run_state.trace["loss"])
        assert app.run_state.labels == ("what-if", "original") and shown != axis.row(axis.at_rank(1))["loss"]
        await pilot.press("W")
    k = axis.at_rank(1)
    (path,) = tmp_path.glob("*.yaml")
    assert path.name == f"scan-gradient-health-sample{k}-whatif.yaml"
    assert float(rnntui.run(str(path))["loss"]) == shown        # the what-if on sample k, as the screen showed it


async def test_W_after_run_with_sample_writes_that_sample(tmp_path):
    """`rnntui run X --sample k` (no --dataset: no samples axis) then a what-if and W: the scenario written
    reads sample k, as the screen showed it, not the data set's first sample."""
    k = 7
    trace = rnntui.run("scan-gradient-health", sample=k)
    assert trace["meta.sample_ids"].tolist() == [k]
    app = RnntuiApp(trace, export_dir=tmp_path, sample=k)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "i", *"h = 0", "enter")
        await pilot.pause()
        shown = float(app.run_state.trace["loss"])
        assert shown != float(trace["loss"])
        await pilot.press("W")
    (path,) = tmp_path.glob("*.yaml")
    assert path.name == f"scan-gradient-health-sample{k}-whatif.yaml"
    assert float(rnntui.run(str(path))["loss"]) == shown


def right_column(app) -> str:
    """The gradients panel's text as drawn (the verdict and the gradient norms), its wrapped lines joined."""
    view = app.query_one("#gradients")
    return " ".join(s.text.strip() for s in view._strips(view.size.width, app.cursor))


@pytest.mark.parametrize("which", ["vanishing", "exploding"])
async def test_the_worst_sample_opened_shows_what_its_row_claims(axis, which):
    """The top of the ranking (and the worst exploding sample), opened in the debugger: BPTT's verdict panel
    says the row's verdict, its end-to-end ratio over the sample's own steps and its per-step rate, and the
    gradient-norm strip's range is the row's smallest and largest ||dL/dh_t||."""
    rank = next(i for i, r in enumerate(axis.ranked) if r["verdict"] == which)
    if which == "vanishing":
        assert rank == 0        # the bundled data set's worst sample is a vanishing one
    k = axis.at_rank(rank)
    row = axis.row(k)
    app = app_on(axis, rank)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        text = right_column(app)
        verb = "shrinks" if which == "vanishing" else "grows"
        assert (f"{which}: at step 0 the gradient is {row['ratio']:.2g} of its size at step {row['length'] - 1}"
                in text), text
        assert f"{verb} about {row['rate']:.3g}x per step over {row['length'] - 1} steps" in text
        assert f"range {row['min_gradnorm']:.2e} .. {row['max_gradnorm']:.2e}" in text
        # at the row's largest gradient's step, the cell says that norm
        await pilot.press("g", *str(row["max_gradnorm_step"]), "enter")
        await pilot.pause()
        assert app.cursor.t == row["max_gradnorm_step"]
        assert f"‖dL/dh_t‖ (log scale) at t={row['max_gradnorm_step']}: " in right_column(app)


async def test_help_lists_S_once_as_the_key_it_is_with_a_data_set_open(axis):
    """A sample of a data set opens as a batch of one: S opens a data-set sample (the batch's `Prev sample`
    has nothing to move to), so help lists S once, as what pressing it does."""
    from rnntui.tui.screens import HelpScreen, key_label

    app = app_on(axis)
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        listed = [b.description for b in app.screen.bindings_table if key_label(b.key) == "S"]
        assert listed == ["Go to data-set sample"], listed
        await pilot.press("escape", "S")
        await pilot.pause()
        assert "Open the data set's sample" in " ".join(str(w.render()) for w in app.screen.query("Static"))
