"""The faster paths give what the slower ones gave: a report table's rows as segments are what rich's
Text made of them (in every format, for rows that fit, rows that do not, and rows holding a control
code or wide characters); every step's predictions at once are each step's own; the views' per-sample
gradient norms and per-step Jacobian norms are computed once and equal the direct ones."""
from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console, Group
from rich.style import Style

import rnntui
from rnntui.engine.diagnostics import jacobian_norms, ParamView
from rnntui.render import prediction
from rnntui.render.parts import for_output
from rnntui.render.report_table import Columns
from rnntui.render.views import recurrent


def _table() -> Columns:
    cols = Columns("a table", [("t", ">"), ("name", "<"), ("value", ">")], keys=1)
    for t in range(30):
        cols.add(str(t), f"row {t}", (f"{t * 1.5:.3e}", Style(color="red") if t % 3 else None))
    cols.add("30", "bell\x07here", "1")          # a control code: rich's Text takes it out
    cols.add("31", "宽字符宽字符", "2")            # wide characters: two cells each
    cols.add("32", "x" * 120, "3")               # wider than the page: cut with an ellipsis
    return cols


@pytest.mark.parametrize("width", [200, 60, 20])
@pytest.mark.parametrize("kind", ["html", "txt", "svg"])
def test_a_tables_segments_are_what_rich_text_made_of_its_rows(width, kind):
    view = _table().render()

    def export(renderable) -> str:
        console = Console(record=True, width=width, file=io.StringIO(), color_system=None if kind == "txt"
                          else "truecolor", force_terminal=kind != "txt")
        console.print(renderable)
        return {"html": lambda: console.export_html(inline_styles=True), "txt": console.export_text,
                "svg": lambda: console.export_svg(unique_id="x")}[kind]()

    assert export(view) == export(Group(*view.lines(width)))


@pytest.mark.parametrize("name", ["lstm-delayed-recall", "cnn-digit", "bptt"])
def test_predictions_at_once_are_each_steps_own(name):
    trace = rnntui.run(name)
    out = for_output(trace)
    T = out["output"].shape[0] if prediction.has_steps(out) else 1
    rows = [(t, b) for t in range(T) for b in range(trace.info.B)]
    together = prediction.predictions(out, rows)
    for (t, b), p in zip(rows, together):
        at = (t, b) if prediction.has_steps(out) else (b,)
        if prediction.classifies(out):
            probs = prediction.probabilities(out, at)
            want = np.argsort(-probs, kind="stable")[:3]
            assert [label for label, _ in p.top] == [prediction.labels(out, probs.size)[i] for i in want]
            assert [q for _, q in p.top] == [float(probs[i]) for i in want]
        else:
            assert p.values == tuple(float(v) for v in np.asarray(out["output"])[at].reshape(-1))


def test_a_samples_gradient_norms_and_a_steps_jacobian_norms_are_computed_once(monkeypatch):
    trace = rnntui.run("lstm-delayed-recall")
    place = trace.info.places[0]
    calls = []
    real_rows, real_at = recurrent.row_norms, recurrent.jacobian_norm_at
    monkeypatch.setattr(recurrent, "row_norms", lambda a: calls.append("rows") or real_rows(a))
    monkeypatch.setattr(recurrent, "jacobian_norm_at", lambda *a: calls.append("jac") or real_at(*a))
    g = recurrent.sample_gradnorm(trace, place, 0)
    assert np.array_equal(recurrent.sample_gradnorm(trace, place, 0), g)
    assert np.allclose(g, np.linalg.norm(trace[place.grad_key("h")][:, 0], axis=-1), rtol=1e-12)
    j = recurrent.step_jacobian_norms(trace, place, 3)
    assert np.array_equal(recurrent.step_jacobian_norms(trace, place, 3), j)
    want = jacobian_norms(trace.info.entries[0], trace, ParamView(trace), place, steps=[3])[0]
    assert np.array_equal(j, want)
    assert calls == ["rows", "jac"]


@pytest.mark.parametrize("name", ["lstm-delayed-recall", "gru-delayed-recall", "bptt"])
def test_the_step_tables_rows_at_once_are_each_steps_own(name):
    """Every step's statistics computed together are what one step's own reductions give, cell for cell."""
    from rnntui.engine.diagnostics import vector_norm
    from rnntui.numfmt import fmt

    trace = rnntui.run(name)
    place = next(p for p in trace.info.places if p.recurrent)
    e = trace.info.entries[place.entry]
    fam = e.family
    T = trace[place.key("h")].shape[0]
    table = recurrent.step_table(trace, place, range(T)).cols
    sats = {n: trace[place.diag_key(f"sat.{n}")] for n in fam.saturation(e)}
    for s, row in zip(range(T), table.rows):
        want = [str(s)]
        if "tokens" in trace:
            want.append(row[1])  # the token's label: not a statistic
        for _, key in fam.report_columns(e):
            v = trace[place.key(key)][s]
            cell = f"{v.mean():.3g} [{v.min():.2g}, {v.max():.2g}]"
            gate = key.removeprefix("gates.")
            if gate in sats and key.startswith("gates."):
                cell += f" {sats[gate][s]:.0%}"
            want.append(cell)
        if "h" in sats and not fam.gates:
            want.append(f"{sats['h'][s]:.0%}")
        want += [fmt(float(vector_norm(trace[place.key(st)][s])), 0) for st in fam.states]
        assert row == want, s
