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


def _jacobian_term(info) -> str:
    text = " ".join(plain(glossary(info), 300).split())
    return text.split("median step Jacobian norm:", 1)[1].split("‖step t's term", 1)[0]


def test_the_step_jacobians_words_hold_on_an_lstm_whose_gradient_is_carried_by_c(tmp_path):
    """A one-unit LSTM whose forget gate is open (bias 10) and whose W_hh is small: ‖dh_t/dh_{t-1}‖ (c_{t-1}
    held fixed) is below 0.1 at every step, yet the one loss term's dL/dh_t grows from step 20 to step 0,
    carried back through c. `?` must not say that the gradient must shrink there; on a tanh RNN it must."""
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        mode: many-to-one
        input: {generate: {kind: pulse, length: 30, at: 0}}
        model: [{type: lstm, hidden_size: 1}]
        weights:
          init: constant
          value: 0.0
          set:
            0.weight_ih_l0: [[1.0], [0.0], [1.0], [0.0]]
            0.weight_hh_l0: [[0.3], [0.3], [0.3], [0.3]]
            0.bias_ih_l0: [0.0, 10.0, 0.0, 0.0]
        loss: {kind: sum}
        """))
    t = rnntui.run(path)
    jac = t["diag.model.0.l0.fwd.jacnorm"][:, 0]
    g = np.abs(t["grad.model.0.l0.fwd.h"][:, 0, 0])
    assert (jac[1:] < 0.1).all() and g[0] > 1.5 * g[20]           # the counterexample, from the run itself
    words = _jacobian_term(t.info)
    assert "must shrink" not in words
    assert "with c_{t-1} held fixed" in words and "flows back through c" in words
    rnn = _jacobian_term(rnntui.run("vanishing-gradient").info)
    assert "below 1 at every step, the gradient must shrink" in rnn and "held fixed" not in rnn


def test_the_step_jacobians_words_hold_on_the_lower_layer_of_a_stack(tmp_path):
    """Two identity RNN layers: the lower one's ‖dh_t/dh_{t-1}‖ is at most 0.1 at every step, yet its dL/dh_t
    keeps its size, fed at every step by the layer above (whose W_hh is 1.0)."""
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        mode: many-to-one
        input: {generate: {kind: pulse, length: 20, at: 0}}
        model: [{type: rnn, hidden_size: 1, num_layers: 2, nonlinearity: identity}]
        weights:
          init: constant
          value: 0.0
          set: {0.weight_ih_l0: [[1.0]], 0.weight_hh_l0: [[0.1]], 0.weight_ih_l1: [[1.0]], 0.weight_hh_l1: [[1.0]]}
        loss: {kind: sum}
        """))
    t = rnntui.run(path)
    jac = t["diag.model.0.l0.fwd.jacnorm"][:, 0]
    g = np.abs(t["grad.model.0.l0.fwd.h"][:, 0, 0])
    assert (jac <= 0.1 + 1e-12).all() and g[0] >= g[-1]
    words = _jacobian_term(t.info)
    assert "must shrink" not in words and "from the recurrent layer above" in words


def _identity_rnn(tmp_path, w_hh: float, T: int):
    path = tmp_path / "u.yaml"
    path.write_text(textwrap.dedent(f"""\
        input: {{generate: {{kind: pulse, length: {T}, at: 0}}}}
        mode: many-to-one
        model:
          - {{type: rnn, hidden_size: 1, nonlinearity: identity}}
        weights: {{init: constant, value: 0.0, set: {{0.weight_ih_l0: [[1.0]], 0.weight_hh_l0: [[{w_hh}]]}}}}
        loss: {{kind: sum}}
        """))
    return rnntui.run(path)


def test_a_gradient_that_underflows_to_zero_keeps_its_rate(tmp_path):
    """dL/dh_t = 0.5^(T-1-t) falls below the smallest float64 (2^-1074) 1075 steps back and is 0 from there on:
    the verdict's rate is 0.5x a step (the Jacobian's), never "0x per step", and it says where it became 0."""
    trace = _identity_rnn(tmp_path, 0.5, 1400)
    g = np.ravel(trace["diag.model.0.l0.fwd.gradnorm"])
    zero = int(np.flatnonzero(g > 0)[0]) - 1        # the latest step where it is 0, counting back from T-1
    assert zero == 1399 - 1075 and g[zero] == 0 and g[zero + 1] > 0
    text = " ".join(plain(gradient_table(trace, trace.info.places[0], range(1400)), 200).split())
    assert "0x per step" not in text and "at 0x a step" not in text, text
    assert (f"vanishing: at step 0 the gradient is 0 of its size at step 1399, below 0.01 (exactly 0 from step {zero} "
            f"to step 0; shrinks about 0.5x per step over the 1074 steps before; median step Jacobian norm 0.5)") in text
    assert "here 0 at 0.5x a step" in text
    # the bars' range: 2^-1074 (the smallest subnormal) to 1, 10^323.3 apart, never "infx"
    assert "bars from 4.94e-324 (shortest) to 1.00e+00 (longest), 10^323x apart" in text, text


def test_a_gradient_cut_in_one_step_says_so(tmp_path):
    """W_hh = 0: dL/dh_t is 1 at the last step and exactly 0 at every earlier one."""
    trace = _identity_rnn(tmp_path, 0.0, 6)
    assert list(np.ravel(trace["diag.model.0.l0.fwd.gradnorm"])) == [0, 0, 0, 0, 0, 1]
    text = " ".join(plain(gradient_table(trace, trace.info.places[0], range(6)), 200).split())
    assert "(exactly 0 from step 4 to step 0; 0 one step after it entered" in text, text


def test_the_gradient_strips_range_is_of_the_steps_it_names(tmp_path):
    """The panel's "range A .. B, steps S..E" is the smallest and largest ‖dL/dh_t‖ over steps S..E: on a run
    longer than the strip, not the whole run's (4.94e-324 here, 1075 steps back)."""
    trace = _identity_rnn(tmp_path, 0.5, 1400)
    g = np.ravel(trace["diag.model.0.l0.fwd.gradnorm"])
    text = " ".join(plain(RecurrentView().gradients(trace, Cursor(phase="backward", t=1399), 40), 40).split())
    m = re.search(r"range (\S+) \.\. (\S+), steps (\d+)\.\.(\d+)", text)
    assert m, text
    s, e = int(m[3]), int(m[4])
    assert e == 1399 and 10 < e - s < 40
    assert (m[1], m[2]) == (f"{g[s:e + 1].min():.2e}", f"{g[s:e + 1].max():.2e}") == (f"{0.5 ** (e - s):.2e}", "1.00e+00")


def test_a_gradient_that_keeps_its_size_neither_grows_nor_shrinks(tmp_path):
    """W_hh = 1 (identity RNN): dL/dh_t is exactly 1 at every step; the verdict says it keeps its size."""
    trace = _identity_rnn(tmp_path, 1.0, 6)
    assert set(np.ravel(trace["diag.model.0.l0.fwd.gradnorm"])) == {1.0}
    text = " ".join(plain(gradient_table(trace, trace.info.places[0], range(6)), 200).split())
    assert "healthy: at step 0 the gradient is 1 of its size at step 5, within 0.1..10 (keeps its size, 1x per step over 5 steps" in text, text
    assert "grows" not in text and "shrinks" not in text
