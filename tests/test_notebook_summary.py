"""A trace in Jupyter/IPython (`_repr_html_`) and rich (`__rich__`): its name, model table, loss and
each recurrent place's gradient verdict."""
from __future__ import annotations

import html
import re
import io

import numpy as np
from rich.console import Console

from rnntui.render.analysis import verdicts


def test_a_trace_summarises_itself_for_notebooks_and_rich(traces):
    trace = traces["bilstm-apple"]
    page = html.unescape(trace._repr_html_())
    assert page.startswith("<pre") and trace.info.name in page
    assert f"{float(trace['loss']):.6g}" in page and "model.0" in page and "lstm" in page
    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(trace)
    text = out.getvalue()
    for place in trace.info.places:
        v = verdicts(trace, place)
        if v is not None:
            assert f"{place.label(trace.info)}: {v.summary}" in text
            assert v.summary in " ".join(page.split())


def test_a_training_runs_summary_says_which_iteration_of_how_many(traces):
    trace = traces["training-rnn-memory"]
    loss = trace["train.loss"]
    N = int(loss.shape[0])
    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(trace)
    text = out.getvalue()
    page = " ".join(html.unescape(re.sub(r"<[^>]+>", "", trace._repr_html_())).split())  # the words, wrapped at 100
    from rnntui.numfmt import fmt
    line = (f"Training: {N} iterations; loss {fmt(float(loss[0]), 0)} at iteration 0, {fmt(float(loss[-1]), 0)} at "
            f"iteration {N - 1}; what follows is iteration {N - 1} (the last)")
    assert line in text and line in page
    assert f"loss at iteration {N - 1}: {trace.info.loss} = {float(trace['loss']):.6g}" in text
    np.testing.assert_allclose(float(trace["loss"]), float(loss[-1]), rtol=1e-6)  # the record is the last's


def _summary_text(trace) -> str:
    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(trace)
    return out.getvalue()


def test_inside_jupyter_the_summary_is_shown_once(traces, monkeypatch):
    """A rich Console inside Jupyter displays what it prints as well as recording it: the HTML summary (and an
    exported report) must not also reach the notebook by that way."""
    import rich.console
    import rich.jupyter

    shown = []
    monkeypatch.setattr(rich.console, "_is_jupyter", lambda: True)
    monkeypatch.setattr(rich.jupyter, "display", lambda *a, **k: shown.append(a))
    page = traces["many-to-one"]._repr_html_()
    assert "Many-to-one" in page and shown == []


def test_export_inside_jupyter_displays_nothing(traces, monkeypatch, tmp_path):
    import rich.console
    import rich.jupyter

    from rnntui.render.report import ReportOptions, write_report

    shown = []
    monkeypatch.setattr(rich.console, "_is_jupyter", lambda: True)
    monkeypatch.setattr(rich.jupyter, "display", lambda *a, **k: shown.append(a))
    write_report(traces["many-to-one"], tmp_path / "r.html", "html", ReportOptions())
    assert shown == [] and "Many-to-one" in (tmp_path / "r.html").read_text()


def test_a_cnn_summary_has_no_sequence_mode_and_shows_its_prediction(traces):
    trace = traces["cnn-digit"]
    text = _summary_text(trace)
    assert "mode:" not in text and "many-to-many" not in text
    assert f"a batch of {trace.info.B} image" in text
    out = np.asarray(trace["output"], dtype=float)[0]
    softmax = trace.info.entries[-1].activation == "softmax"  # the output is already probabilities
    p = out if softmax else np.exp(out - out.max()) / np.exp(out - out.max()).sum()
    best = int(np.argmax(p))
    target = int(np.asarray(trace["meta.target"])[0])
    line = next(ln for ln in text.splitlines() if ln.startswith("prediction, the sample: "))
    assert line.split(": ", 1)[1].startswith(f"{best} {p[best]:.0%}")
    assert f"target {target} {'✓' if best == target else '✗'}" in line


def test_a_packed_summary_predicts_at_each_samples_own_last_step(traces):
    """Each sample's line: the prediction at its own last real step, and at how many of its steps the top class
    is the target (counted here from the output and the target directly)."""
    trace = traces["bilstm-lengths"]
    text = _summary_text(trace)
    out = np.asarray(trace["output"], dtype=float)
    target = np.asarray(trace["meta.target"])
    names = list(trace.info.class_names)
    for b in range(trace.info.B):
        n = int(trace.info.lengths[b])
        right = int((out[:n, b].argmax(axis=-1) == target[:n, b]).sum())
        line = next(ln for ln in text.splitlines() if ln.startswith(f"prediction, sample {b} "))
        assert f"at its last step t={n - 1}: " in line
        assert f"target {names[int(target[n - 1, b])]}" in line
        assert line.endswith(f"(right at {right} of its {n} steps)")
