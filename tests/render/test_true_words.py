"""Sentences the screen and the reports say, checked against the run they are about (issue 19's smaller
untruths): each test builds the case the words were false on and reads the words back."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app
from rnntui.engine.interventions import MASK
from rnntui.render.analysis import equations
from rnntui.render.compare import compare_panel, compare_report
from rnntui.render.cursor import Cursor
from rnntui.render.header import header
from rnntui.render.maps.panels import explain
from rnntui.render.report import ReportOptions, build

DATA = Path(__file__).parent.parent / "data"


def text_of(items, width: int = 200) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    for item in items if isinstance(items, list) else [items]:
        console.print(item)
    return out.getvalue()


def write(tmp_path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


PACKED_GRU = """\
mode: {mode}
input: {{batch: [[[1.0], [0.5], [-0.3], [0.2]], [[0.4], [-1.0]]]}}
model:
  - {{type: gru, hidden_size: 3{bi}}}
  - {{type: dense, units: 2}}
loss: {{kind: cross_entropy, target: {target}}}
"""


def packed_gru(tmp_path, mode: str = "many-to-one", bidirectional: bool = False):
    target = "[0, 1]" if mode == "many-to-one" else "[[0, 1, 1, 0], [1, 0]]"
    return rnntui.run(write(tmp_path, f"{mode}-{bidirectional}.yaml", PACKED_GRU.format(
        mode=mode, bi=", bidirectional: true" if bidirectional else "", target=target)))


def test_the_dense_after_a_many_to_one_has_no_length_of_its_own(tmp_path):
    trace = packed_gru(tmp_path)
    info = trace.info
    assert info.lengths == (4, 2)
    dense = next(k for k, p in enumerate(info.places) if p.layer is None)
    for b, own in enumerate(info.lengths):
        rec = text_of(header(trace, Cursor(sample=b)))
        assert f"(length {own} of 4)" in rec  # the recurrent place steps through the sample's own steps
        top = text_of(header(trace, Cursor(sample=b, place_index=dense)))
        assert "one vector per sequence" in top and "length" not in top, top  # was "(length 4 of 1)"


def test_a_unidirectional_packed_report_speaks_of_no_backward_direction(tmp_path):
    one = text_of(build(packed_gru(tmp_path, "many-to-many"), ReportOptions()))
    assert "samples of different lengths (packed): 0: 4, 1: 2 of T=4; padded steps hold zeros" in one
    assert "backward direction" not in one
    both = text_of(build(packed_gru(tmp_path, "many-to-many", bidirectional=True), ReportOptions()))
    assert "the backward direction starts at each sample's own last step" in both


@pytest.mark.parametrize("name", ["bilstm-apple", "brnn-apple", "packed-bigru"])
def test_a_backward_directions_equations_read_the_next_step(name, tmp_path):
    """The words name the step each direction's state reads, and the recorded numbers follow them."""
    trace = packed_gru(tmp_path, "many-to-many", True) if name == "packed-bigru" else rnntui.run(name)
    entry = trace.info.entries[0]
    fwd, bwd = "\n".join(equations(entry, "fwd")), "\n".join(equations(entry, "bwd"))
    assert "h_{t-1}" in fwd and "h_{t+1}" not in fwd.split("BPTT")[0]
    assert "h_{t+1}" in bwd.split("BPTT")[0] and "h_{t-1}" not in bwd.split("BPTT")[0]
    assert bwd.startswith("backward direction: runs from t = T-1 down to 0")
    # the recorded backward direction does read step t+1: its state at t recomputed from h_{t+1}
    x = np.asarray(trace["input"], dtype=float)
    h = np.asarray(trace["model.0.l0.bwd.h"], dtype=float)
    W = {s: np.asarray(trace[f"param.0.{s}_l0_reverse"], dtype=float)
         for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    t = 1
    gi = x[t, 0] @ W["weight_ih"].T + W["bias_ih"]
    gh = h[t + 1, 0] @ W["weight_hh"].T + W["bias_hh"]
    if entry.type == "rnn":
        np.testing.assert_allclose(h[t, 0], np.tanh(gi + gh), rtol=1e-12)
    elif entry.type == "gru":
        H = h.shape[-1]
        r = 1 / (1 + np.exp(-(gi[:H] + gh[:H])))
        z = 1 / (1 + np.exp(-(gi[H:2 * H] + gh[H:2 * H])))
        n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
        np.testing.assert_allclose(h[t, 0], (1 - z) * n + z * h[t + 1, 0], rtol=1e-12)
    else:
        c, f, i, g = (np.asarray(trace[f"model.0.l0.bwd.{k}"], dtype=float) for k in ("c", "gates.f", "gates.i",
                                                                                     "gates.g"))
        assert "c_t = f_t ⊙ c_{t+1} + i_t ⊙ g_t" in bwd
        np.testing.assert_allclose(c[t], f[t] * c[t + 1] + i[t] * g[t], rtol=1e-12)
    report = text_of(build(trace, ReportOptions()))
    assert "backward direction: runs from t = T-1 down to 0" in report  # the bwd place's section


def test_a_pool_window_names_its_rows_and_columns():
    trace = rnntui.run("cnn-digit")
    e = trace.info.entries[1]  # maxpool2d, kernel 2
    x = np.asarray(trace["model.0.out"])[0]
    shown = text_of(explain(trace, e, 0, 3, (1, 2), 120))
    assert "window of input channel 3, rows 2..3, cols 4..5" in shown, shown
    assert f"= {x[3, 2:4, 4:6].max():.4f}" in shown
    conv = text_of(explain(trace, trace.info.entries[0], 0, 0, (0, 0), 200))
    assert "receptive field: input rows -1..1, cols -1..1" in conv  # padding 1: the window starts outside


def test_a_window_of_one_row_or_a_1d_map_is_named_as_such():
    from rnntui.render.maps.geometry import span_words

    assert span_words(np.array([2, 3]), np.array([4, 5]), one_d=False) == "rows 2..3, cols 4..5"
    assert span_words(np.array([0]), np.array([4, 5, 6]), one_d=False) == "row 0, cols 4..6"
    assert span_words(np.array([0]), np.array([4, 5]), one_d=True) == "positions 4..5"


def test_compare_subtracts_only_like_for_like():
    """An LSTM's h and a GRU's h have the same shape, not the same meaning: their sizes are compared, A-B is
    not taken, and the panel says why; the dense heads (the same classes, the same loss) are subtracted."""
    a, b = rnntui.run("lstm-delayed-recall"), rnntui.run("gru-delayed-recall")
    shown = text_of(compare_panel(a, b, Cursor(t=3), 200))
    ha, hb = a["model.0.l0.fwd.h"][3, 0], b["model.0.l0.fwd.h"][3, 0]
    assert "A's model.0 is lstm, B's is gru: their h are not the same quantity" in shown
    assert "not A-B" in shown and "A-B" not in shown.replace("not A-B", "")
    assert f"‖A‖ {np.linalg.norm(ha):.4f}  ‖B‖ {np.linalg.norm(hb):.4f}" in shown
    head = text_of(compare_panel(a, b, Cursor(t=3, place_index=1), 200))
    oa, ob = a["model.1.out"][0], b["model.1.out"][0]
    assert f"‖A-B‖ {np.linalg.norm(oa - ob):.4f}" in head and "weights" not in head
    report = text_of(compare_report(a, b, range(0, 2)))
    assert "model.0 lstm l0 fwd: ‖A‖ / ‖B‖, sample 0" in report
    assert f"{np.linalg.norm(a['model.0.l0.fwd.h'][1, 0]):.3g} / {np.linalg.norm(b['model.0.l0.fwd.h'][1, 0]):.3g}\n" \
        in report


def test_compare_of_one_family_with_other_weights_says_the_weights_differ(tmp_path):
    a = rnntui.run("lstm-delayed-recall")
    b = rnntui.what_if(a, [{"at": "model.0.l0.fwd", "t": 3, "set": "c", "value": 0.0}])
    same = text_of(compare_panel(b, a, Cursor(t=5), 200))
    d = b["model.0.l0.fwd.h"][5, 0] - a["model.0.l0.fwd.h"][5, 0]
    assert f"‖A-B‖ {np.linalg.norm(d):.4f}" in same and "weights" not in same  # the same weights: no caveat
    text = a.scenario_yaml()
    assert "seed: 4\n" in text
    other = rnntui.run(write(tmp_path, "other.yaml", text.replace("seed: 4\n", "seed: 5\n")))  # its own weights
    shown = text_of(compare_panel(a, other, Cursor(t=5), 200))
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    wa = np.concatenate([a[f"param.0.{n}"].ravel() for n in names])
    wb = np.concatenate([other[f"param.0.{n}"].ravel() for n in names])
    rel = np.linalg.norm(wa - wb) / np.linalg.norm(wa)
    assert f"the weights of model.0 lstm l0 fwd differ (‖W_A-W_B‖/‖W_A‖ = {rel:.2g})" in shown
    assert "‖A-B‖" in shown


def test_a_what_if_scenario_says_so_in_its_report(tmp_path):
    base = rnntui.run("lstm-delayed-recall")
    assert "What-if" not in text_of(build(base, ReportOptions()))
    path = write(tmp_path, "w.yaml", base.scenario_yaml() + (
        "\ninterventions:\n  - {at: model.0.l0.fwd, t: 3, set: c, units: [2], value: 0.5}\n"
        "  - {at: model.0.l0.fwd, steps: '5:9', set: gates.f, value: 1.0}\n"))
    for shown in (text_of(build(rnntui.run(path), ReportOptions())),
                  CliRunner().invoke(app, ["show", str(path)]).output):
        assert "What-if: 2 interventions overwrite values inside the recurrent loop" in shown
        assert "model.0.l0.fwd c, unit 2, set to 0.5 at t=3" in shown
        assert "model.0.l0.fwd gates.f, every unit, set to 1 at t=5..8" in shown
    from rnntui.render.summary import summary

    assert "What-if: 2 interventions" in text_of(summary(rnntui.run(path)))
    # and the debugger's header, first line, beside the name
    assert text_of(header(rnntui.run(path), Cursor())).splitlines()[0].startswith("LSTM gates on delayed recall  what-if")
    assert "what-if" not in text_of(header(base, Cursor()))


def test_check_json_on_a_saved_trace_names_the_file_checked(tmp_path):
    scenario = write(tmp_path, "gone.yaml", rnntui.run("bptt").scenario_yaml())
    saved = tmp_path / "saved.npz"
    rnntui.run(scenario).save(saved)
    scenario.unlink()  # the trace outlives the scenario it was made from
    result = CliRunner().invoke(app, ["check", str(saved), "--assert", "norm(h) >= 0", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["file"] == str(saved) and Path(out["file"]).exists()
    assert out["made_from"] == str(scenario)  # said as what it is: where the run came from, then
    fresh = json.loads(CliRunner().invoke(app, ["check", "bptt", "--assert", "norm(h) >= 0", "--json"]).output)
    assert Path(fresh["file"]).exists() and "made_from" not in fresh


def test_what_if_never_marks_a_padded_step(tmp_path):
    trace = packed_gru(tmp_path, "many-to-many", True)
    lengths = np.asarray(trace.info.lengths)
    new = rnntui.what_if(trace, [{"at": "model.0.l0.bwd", "steps": "0:4", "set": "h", "units": [1], "value": 0.5}])
    mask = np.asarray(new[f"model.0.l0.bwd.{MASK}.h"])
    real = np.arange(4)[:, None] < lengths[None, :]
    np.testing.assert_array_equal(mask[:, :, 1], real)
    assert not mask[:, :, [0, 2]].any()
    h = np.asarray(new["model.0.l0.bwd.h"])[:, :, 1]
    assert (h[real] == 0.5).all() and (h[~real] == 0).all()  # the padding won where nothing was overwritten
    path = write(tmp_path, "w.yaml", new.scenario_yaml() + "\ninterventions:\n  - {at: model.0.l0.bwd, steps: '0:4', "
                 "set: h, units: [1], value: 0.5}\n")
    np.testing.assert_array_equal(rnntui.run(path)[f"model.0.l0.bwd.{MASK}.h"], mask)  # a run marks the same
