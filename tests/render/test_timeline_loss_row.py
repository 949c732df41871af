"""The timeline's loss row: the sample the header names, its own loss per step (loss.sample_step); at a sample's
padded steps it shows padding (╌), as the pred and dL/dx rows do; a file without that key shows the batch's
terms and says so; and its notes are wrapped, never cut, at 80 columns."""
from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from rnntui.engine.trace import Trace
from rnntui.numfmt import compact
from rnntui.render.cursor import Cursor
from rnntui.render.timeline import PAD, timeline
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text


def rows(trace, sample: int) -> dict[str, list[str]]:
    out = io.StringIO()
    Console(file=out, width=400, color_system=None).print(timeline(trace, Cursor(sample=sample), {}, 200))
    lines = out.getvalue().splitlines()
    table = {line[:6].strip(): line[6:].split() for line in lines if line[:6].strip() in ("loss", "pred", "dL/dx")}
    table["notes"] = [line.strip() for line in lines if line.startswith(("      sample", "      loss:"))]
    return table


def test_a_short_samples_padding_shows_no_loss(traces):
    trace = traces["bilstm-lengths"]
    lengths = [4, 5, 5, 6]  # the scenario's sentences: "I like apple ." ... "Apple pie is very sweet ."
    assert list(trace.info.lengths) == lengths
    T = trace["loss.step"].shape[0]
    for b, n in enumerate(lengths):
        r = rows(trace, b)
        assert r["loss"][n:] == [PAD] * (T - n) == r["pred"][n:] == r["dL/dx"][n:]
        # the real steps: this sample's own loss, step by step (its row adds up to its own loss)
        assert r["loss"][:n] == [compact(float(v), 6) for v in trace["loss.sample_step"][:n, b]]
        assert r["notes"] == ([f"sample {b} has {n} steps: t={n}..{T - 1} are padding (╌)"] if n < T - 1 else
                              [f"sample {b} has {n} steps: t={n} is padding (╌)"] if n < T else [])
    np.testing.assert_allclose(trace["loss.step"].sum(), trace["loss"], rtol=1e-12)


def without_sample_losses(trace):
    """The trace as a file saved before `loss.sample_step` was recorded reads back."""
    return Trace({k: trace[k] for k in trace._arrays if k != "loss.sample_step"}, trace.info, dict(trace._derived))


def test_a_file_without_sample_losses_shows_the_batchs_and_says_so(traces):
    trace = without_sample_losses(traces["bilstm-lengths"])
    T = trace["loss.step"].shape[0]
    words = "loss: the whole batch's, each step's term"
    for b, n in enumerate([4, 5, 5, 6]):
        r = rows(trace, b)
        assert r["loss"][:n] == [compact(float(v), 6) for v in trace["loss.step"][:n]]
        assert r["notes"] == [f"sample {b} has {n} steps: t={n}..{T - 1} are padding (╌); {words}" if n < T - 1 else
                              f"sample {b} has {n} steps: t={n} is padding (╌); {words}" if n < T else words]


def test_an_equal_length_batch_is_unchanged(traces):
    trace = traces["lstm-delayed-recall"]  # many-to-one: no loss row, no sample note
    r = rows(trace, 0)
    assert "loss" not in r and r["notes"] == []


async def test_the_screen_pads_the_loss_row(traces):
    app = RnntuiApp(traces["bilstm-lengths"])
    async with app.run_test(size=(120, 40)):
        lines = screen_text(app).splitlines()
    loss = next(line for line in lines if line.startswith("  loss"))
    assert loss.split()[-2:] == [PAD, PAD]


def test_long_notes_are_wrapped_not_cut(traces):
    trace = traces["bilstm-lengths"]
    out = io.StringIO()
    Console(file=out, width=400, color_system=None).print(timeline(trace, Cursor(), {}, 40))
    notes = [line.strip() for line in out.getvalue().splitlines() if line.startswith("      ") and line.strip()]
    assert all(len(line) <= 40 for line in out.getvalue().splitlines())
    assert " ".join(notes) == "steps 0..3 of 0..5 sample 0 has 4 steps: t=4..5 are padding (╌)"
    out = io.StringIO()
    Console(file=out, width=400, color_system=None).print(timeline(without_sample_losses(trace), Cursor(), {}, 40))
    notes = [line.strip() for line in out.getvalue().splitlines() if line.startswith("      ") and line.strip()]
    assert all(len(line) <= 40 for line in out.getvalue().splitlines())
    assert " ".join(notes) == ("steps 0..3 of 0..5 sample 0 has 4 steps: t=4..5 are padding (╌); loss: the whole "
                               "batch's, each step's term")


def test_no_event_mark_at_a_samples_padding(traces):
    """Events are the batch's (a saturation share over the samples still running): under `sample k` the
    event row drew them at k's own padded steps too, where the sample has nothing. Padding shows padding."""
    from rnntui.render.analysis import event_marks, events

    trace = traces["bilstm-lengths"]
    place = Cursor().place(trace.info)
    T = trace["loss.step"].shape[0]
    found = event_marks(events(trace)).get(place, {})
    marks = {place: {t: "saturated" for t in range(T)}}
    for b, n in enumerate(trace.info.lengths):
        out = io.StringIO()
        Console(file=out, width=400, color_system=None).print(timeline(trace, Cursor(sample=b), marks, 200))
        row = next(line for line in out.getvalue().splitlines() if line.startswith("event"))[6:].split()
        assert row == ["S"] * int(n) + [PAD] * (T - int(n)), (b, row)
    # and the run's own marks: none past the shortest sample's end under that sample
    short = int(np.argmin(trace.info.lengths))
    out = io.StringIO()
    Console(file=out, width=400, color_system=None).print(timeline(trace, Cursor(sample=short), {place: found}, 200))
    row = next(line for line in out.getvalue().splitlines() if line.startswith("event"))[6:].split()
    assert row[int(trace.info.lengths[short]):] == [PAD] * (T - int(trace.info.lengths[short]))
