"""Words beside the verdict: bars on one scale across steps (BPTT cell), the ranges of log-scale bars (report
and panel), and the `?` help's terms with the run's own thresholds."""
from __future__ import annotations

import re
import textwrap

import numpy as np
from rich.console import Console

import rnntui
from rnntui.render.cursor import Cursor
from rnntui.render.glossary import glossary
from rnntui.render.views.recurrent import RecurrentView, gradient_table
from rnntui.render.analysis import RULE


def plain(renderable, width=120) -> str:
    con = Console(width=width, color_system=None, record=True, file=open("/dev/null", "w"))
    con.print(renderable)
    return con.export_text()


def bar_cells(line: str) -> int:
    return line.split("│", 1)[1].count("█")   # the value bar, right of the zero line


def test_bptt_bars_share_one_scale_across_steps(traces):
    """vanishing-gradient: dL/dh = 1.86e-9 at t=0 and 1 at t=29; the bar at t=0 is empty, the one at t=29 full,
    and the panel says the scale is the largest over every step."""
    trace = traces["vanishing-gradient"]
    view = RecurrentView()
    texts = {t: plain(view.cell(trace, Cursor(phase="backward", t=t), 100)) for t in (0, 29)}
    rows = {t: next(ln for ln in s.splitlines() if ln.startswith("dL/dh_t")) for t, s in texts.items()}
    assert bar_cells(rows[0]) == 0 and bar_cells(rows[29]) == 8, rows
    assert "1.86e-09" in rows[0]
    assert "BPTT at t=0: dL/dh_t = 1.86e-09 (bars: all-step scale)" in texts[0]


def test_report_log_bars_print_their_range(tmp_path):
    """A gradient that varies by 1.3x over the steps draws bars from shortest to longest: the range says so."""
    path = tmp_path / "flat.yaml"
    path.write_text(textwrap.dedent("""\
        input: {values: [[1], [0], [0], [0], [0], [0]]}
        mode: many-to-one
        model:
          - {type: rnn, hidden_size: 1, nonlinearity: identity}
        weights: {init: constant, value: 0.0, set: {0.weight_ih_l0: [[1.0]], 0.weight_hh_l0: [[0.95]]}}
        loss: {kind: sum}
        """))
    trace = rnntui.run(path)
    g = trace["diag.model.0.l0.fwd.gradnorm"]
    text = " ".join(plain(gradient_table(trace, trace.info.places[0], range(6)), 200).split())
    assert f"bars from {g.min():.2e} (shortest) to {g.max():.2e} (longest), {g.max() / g.min():.3g}x apart" in text
    assert f"{g.max() / g.min():.3g}" == "1.29"
    assert RULE in text   # the report prints the whole rule, with this run's numbers after it
    assert re.search(r"here 0\.77 at 0\.95x a step", text), text


def test_panel_ranges_beside_weight_terms(traces):
    trace = traces["bptt"]
    text = plain(RecurrentView().gradients(trace, Cursor(phase="backward", t=5), 200), 200)
    place = trace.info.places[0]
    for stem, label in (("weight_hh", "W_hh"), ("weight_ih", "W_ih")):
        vals = trace[f"gradnorm.step.{place.param(stem)}"]
        pos = vals[vals > 0]
        assert f"‖step t's term of d{label}‖" in text and f"bars {pos.min():.1e}..{pos.max():.1e}" in text


def test_help_explains_the_terms_with_the_runs_thresholds(tmp_path):
    path = tmp_path / "ev.yaml"
    path.write_text(textwrap.dedent("""\
        input: {generate: {kind: noise, length: 5, features: 2}}
        model:
          - {type: lstm, hidden_size: 3}
        events: {vanishing: 1.0e-3, exploding: 50, saturated: 0.25}
        loss: {kind: sum}
        """))
    text = " ".join(plain(glossary(rnntui.run(path).info), 300).split())
    for term in ("median step Jacobian norm", "‖step t's term of dW_hh‖", "⊙", "dL_s/dh_t", RULE):
        assert term in text, term
    assert "v vanishing: BPTT: ‖dL/dh_t‖ (over the batch) is below 0.001" in text
    assert "^ exploding: BPTT: ‖dL/dh_t‖ (over the batch) is above 50" in text
    assert "S saturated: forward: a gate (or a tanh state) is saturated in at least 25% of the units" in text
    assert "! non-finite" in text and "● break" in text


async def test_question_mark_shows_the_terms(traces):
    from textual.widgets import Static

    from rnntui.tui.app import RnntuiApp

    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        text = " ".join(plain(app.screen.query_one("#glossary", Static).content, 300).split())
        assert "median step Jacobian norm:" in text and "v vanishing: BPTT: ‖dL/dh_t‖" in text and RULE in text
