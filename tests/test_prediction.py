"""What users look for first: the prediction beside the target, dL/dinput per step, event thresholds."""
import textwrap

import numpy as np
from rich.console import Console

import rnntui
from rnntui.numfmt import compact, fmt_terms
from rnntui.render.analysis import events
from rnntui.render.cursor import Cursor
from rnntui.render.header import header
from rnntui.render.prediction import predict, predicted_labels
from rnntui.render.report import ReportOptions, build
from rnntui.render.timeline import timeline


def text_of(renderable, width=100) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def test_prediction_names_the_classes_and_the_target():
    trace = rnntui.run("bilstm-apple")
    p = np.asarray(trace["output"])[2, 0]
    pred = predict(trace, 2, 0)
    names = list(trace.info.class_names)  # other, fruit, company
    assert pred.top[0] == (names[int(p.argmax())], float(p.max()))
    assert pred.target == "fruit"  # the scenario's target at "apple"
    assert pred.correct == (int(p.argmax()) == 1)
    assert predicted_labels(trace, 0) == [names[i] for i in np.asarray(trace["output"])[:, 0].argmax(-1)]
    shown = text_of(timeline(trace, Cursor(t=2), {}, 100))
    assert "pred " in shown
    top = text_of(header(trace, Cursor(t=2)), 200)
    assert f"predicted at t=2: {pred.top[0][0]}" in top and f"target fruit {'✓' if pred.correct else '✗'}" in top


def test_report_lists_every_step_with_prediction_and_saliency():
    trace = rnntui.run("bilstm-apple")
    shown = "\n".join(text_of(r) for r in build(trace, ReportOptions()))
    g = np.asarray(trace["grad.input"])[:, 0]
    for t, tok in enumerate(trace["tokens"]):
        line = next(line for line in shown.splitlines() if line.startswith(f"{t} │ {tok} ") and "target" in line)
        assert f"{np.linalg.norm(g[t]):.3e}" in line


def test_regression_prediction_shows_values_and_target():
    trace = rnntui.run("rnn-sine")
    pred = predict(trace, 4, 0)
    out = np.asarray(trace["output"])[4, 0]
    assert pred.values == tuple(float(v) for v in out)
    assert pred.target is not None and not pred.top


def test_event_thresholds_come_from_the_scenario(tmp_path):
    base = textwrap.dedent("""\
        input: {generate: {kind: pulse, length: 12, at: 0}}
        mode: many-to-one
        model: [{type: rnn, hidden_size: 1, nonlinearity: identity}]
        weights: {init: constant, value: 0.0, set: {0.weight_ih_l0: [[1.0]], 0.weight_hh_l0: [[0.5]]}}
        """)
    (tmp_path / "a.yaml").write_text(base)
    (tmp_path / "b.yaml").write_text(base + "events: {vanishing: 0.01}\n")
    default = [e for e in events(rnntui.run(tmp_path / "a.yaml")) if e.kind == "vanishing"]
    strict = [e for e in events(rnntui.run(tmp_path / "b.yaml")) if e.kind == "vanishing"]
    assert default == []  # 0.5^11 = 4.9e-4 is above 1e-6
    assert sorted(e.t for e in strict) == [t for t in range(12) if 0.5 ** (11 - t) < 0.01]


def test_numbers_fit_their_column_without_being_cut():
    assert compact(0.013, 6) == "0.013"
    assert compact(7.6e-05, 6) == "7.6e-5"
    assert compact(1.2345e-16, 6) == "1e-16"
    for v in (0.013, 7.6e-05, 123456.0, -0.00042, 1e-300):
        text = compact(v, 6)
        assert len(text) <= 6 and abs(float(text) - v) <= abs(v) * 0.5, (v, text)


def test_terms_are_formatted_relative_to_what_they_sum_with():
    assert fmt_terms(-4.24e-22, 3.47e-06, 3.47e-06) == ["0.0000", "3.47e-06", "3.47e-06"]
    assert fmt_terms(1e-9, 1e-9, 2e-9) == ["1.00e-09", "1.00e-09", "2.00e-09"]


def test_one_hot_file_input_shows_token_ids(tmp_path):
    x = np.zeros((5, 4))
    x[np.arange(5), [2, 0, 3, 3, 1]] = 1
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "s.yaml").write_text("input: {file: x.npy}\nmodel: [{type: gru, hidden_size: 2}]\n")
    shown = text_of(timeline(rnntui.run(tmp_path / "s.yaml"), Cursor(), {}, 80))
    assert shown.splitlines()[0].split()[1:] == ["#2", "#0", "#3", "#3", "#1"]


def test_the_headers_loss_says_it_is_the_batchs_when_there_is_more_than_one_sample(traces):
    """The line below the loss names one sample (`sample k of B`): the loss beside it is the whole batch's."""
    batch = traces["lstm-delayed-recall"]
    assert batch.info.B > 1
    top = text_of(header(batch, Cursor(sample=1)), 200)
    assert f"({batch.info.loss}, batch of {batch.info.B})" in top and f"sample 1 of {batch.info.B}" in top
    one = rnntui.run("bilstm-apple")
    assert one.info.B == 1 and "batch of" not in text_of(header(one, Cursor(t=2)), 200)
