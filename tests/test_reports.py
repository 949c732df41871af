"""Reports: every format read back, with the scenario's name, gate names, tokens, loss and the
per-step gradient norms checked against the trace; `rnntui show`; atomic writes."""
from __future__ import annotations

import html
import re

import numpy as np
import pytest
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app


def plain(path) -> str:
    """The text a person reads in a txt, html or svg report."""
    data = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        # a table row on one line, its cells between " │ " as the text report draws them
        data = re.sub(r"<svg.*?</svg>", "", data, flags=re.S)
        data = re.sub(r"</t[dh]>\s*<t[dh][^>]*>", " │ ", data)
        data = re.sub(r"<[^>]+>", "", data)
    elif path.suffix == ".svg":
        # rich's SVG: one <text> per run, laid out on rows by y
        runs = re.findall(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', data)
        rows: dict[float, list] = {}
        for x, y, t in runs:
            rows.setdefault(float(y), []).append((float(x), t))
        data = "\n".join("".join(t for _, t in sorted(r)) for _, r in sorted(rows.items()))
    return html.unescape(data).replace("\xa0", " ")


@pytest.mark.parametrize("suffix", [".txt", ".html", ".svg"])
def test_report_formats_read_back(tmp_path, suffix):
    out = tmp_path / f"report{suffix}"
    result = CliRunner().invoke(app, ["export", "bilstm-apple", "-o", str(out), "--width", "140"])
    assert result.exit_code == 0, result.output
    text = plain(out)
    trace = rnntui.run("bilstm-apple")
    assert trace.info.name in text
    for gate in ("input i", "forget f", "candidate g", "output o"):
        assert gate in text
    for t, tok in enumerate(trace["tokens"]):
        assert f"[{t}]{tok}" in text
    assert f"{float(trace['loss']):.6g}" in text
    for d in ("fwd", "bwd"):
        for g in trace[f"diag.model.0.l0.{d}.gradnorm"]:
            assert f"{g:.3e}" in text, f"‖dL/dh‖ {g:.3e} of {d} missing"
        for name in ("0.weight_hh_l0", "0.weight_hh_l0_reverse"):
            norm = float(np.linalg.norm(trace[f"grad.param.{name}"]))
            assert f"{norm:.4g}" in text
    if suffix == ".html":
        raw = out.read_text()
        assert raw.lstrip().startswith("<!DOCTYPE html>") and raw.rstrip().endswith("</html>")


def test_verdict_in_words():
    result = CliRunner().invoke(app, ["show", "vanishing-gradient"], terminal_width=120)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "vanishing: at step 0 the gradient is 1.9e-09 of its size at step 29, below 0.01 (shrinks about 0.5x per step over 29 steps" in text
    result = CliRunner().invoke(app, ["show", "exploding-gradient"], terminal_width=120)
    text = " ".join(result.output.split())
    assert "exploding: at step 0 the gradient is 5.4e+08 of its size at step 29, above 100 (grows about 2x per step over 29 steps" in text


def test_show_narrows_to_steps_and_entry():
    trace = rnntui.run("rnn-sine")
    g = trace["diag.model.0.l0.fwd.gradnorm"]
    result = CliRunner().invoke(app, ["show", "rnn-sine", "--steps", "3:6"], terminal_width=120)
    assert result.exit_code == 0
    rows = [ln for ln in result.output.splitlines() if re.match(r"\s*\d+ │ \d\.\d{3}e[+-]\d\d", ln)]
    assert [int(r.split("│")[0]) for r in rows] == [5, 4, 3]  # in the order BPTT visits them
    for r in rows:
        t = int(r.split("│")[0])
        assert f"{g[t]:.3e}" in r
    one = CliRunner().invoke(app, ["show", "rnn-sine", "--step", "7", "--entry", "1"], terminal_width=120)
    assert one.exit_code == 0 and "Forward pass" not in one.output and "1.weight" in one.output
    assert "0.weight_hh_l0" not in one.output


@pytest.mark.parametrize("args,message", [
    (["--steps", "x"], "expected START:STOP"),
    (["--steps", "50:60"], "expected steps within 0..29"),
    (["--entry", "7"], "expected an entry index in 0..1"),
    (["--step", "1", "--steps", "1:2"], "give one of them"),
])
def test_show_refuses_bad_options(args, message):
    result = CliRunner().invoke(app, ["show", "rnn-sine", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_nonfinite_values_are_reported(tmp_path):
    np.save(tmp_path / "x.npy", np.array([[0.1], [np.inf], [0.3]]))
    (tmp_path / "s.yaml").write_text("input: {file: x.npy}\nmodel: [{type: rnn, hidden_size: 2}]\n")
    result = CliRunner().invoke(app, ["show", str(tmp_path / "s.yaml")], terminal_width=120)
    assert result.exit_code == 0
    assert "Non-finite values (inf or NaN) begin at step 1" in result.output
    assert "model.0.l0.fwd.pre (from step 1)" in result.output
    assert "model.0.l0.fwd.h " not in result.output  # tanh(-inf) = -1: the state itself stays finite


def test_failing_report_leaves_existing_file_untouched(tmp_path, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("precious")
    from rich.console import Console

    def boom(self, *a, **k):
        raise RuntimeError("render failed")

    monkeypatch.setattr("rnntui.render.html_report.document", boom)
    with pytest.raises(RuntimeError):
        CliRunner().invoke(app, ["export", "rnn-sine", "-o", str(out)], catch_exceptions=False)
    assert out.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    result = CliRunner().invoke(app, ["export", "no-such", "-o", str(out)])
    assert result.exit_code == 2 and out.read_text() == "precious"


def test_conv_report_shows_every_feature_map(tmp_path):
    """The SVG report's half-block maps (the HTML report's heatmaps: tests/render/test_html_report.py)."""
    out = tmp_path / "cnn.svg"
    result = CliRunner().invoke(app, ["export", "cnn-digit", "-o", str(out), "--width", "120"])
    assert result.exit_code == 0, result.output
    text = plain(out)
    trace = rnntui.run("cnn-digit")
    for e in trace.info.entries:
        if e.options:
            assert f"Feature maps, model.{e.index} {e.type} {tuple(e.out_shape)}" in text
            assert f"Gradients dL/d(feature map), model.{e.index}" in text
    # half-block pixels: the input image plus, per map entry, forward and backward maps of every channel
    expected = -(-12 // 2) * 12
    for e in trace.info.entries:
        if e.options:
            C, H, W = e.out_shape
            expected += 2 * C * (-(-H // 2)) * W
    assert text.count("▀") == expected
    scale = float(np.abs(trace["model.0.out"]).max())
    assert f"shared scale ±{scale:.3g}" in text


@pytest.mark.parametrize("name", ["rnn-sine", "bilstm-apple", "stacked-lstm", "one-to-many", "bptt"])
def test_step_losses_sum_to_the_loss(name):
    from rnntui.render.analysis import step_losses

    trace = rnntui.run(name)
    per_step = step_losses(trace)
    assert per_step.shape == (trace.info.T,)
    np.testing.assert_allclose(per_step.sum(), float(trace["loss"]), rtol=1e-12)
    assert step_losses(rnntui.run("many-to-one")) is None


def test_conv_text_report_draws_maps_in_shade_characters(tmp_path):
    """A .txt report has no colour: each pixel of a map is one shade character (sign kept), on the
    scale shared by all channels; checked pixel by pixel against the trace."""
    out = tmp_path / "cnn.txt"
    result = CliRunner().invoke(app, ["export", "cnn-digit", "-o", str(out), "--width", "100"])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert "▀" not in "\n".join(lines)
    maps = np.asarray(rnntui.run("cnn-digit")["model.0.out"][0], dtype=float)  # (8, 12, 12)
    scale = float(np.abs(maps).max())
    top = next(i for i, ln in enumerate(lines) if ln.startswith(f"all 8 channels (feature maps), shared scale ±{scale:.3g}"))
    # 100 columns hold 7 maps of 12 with a space between: channels 0..6, then channel 7 below them
    for k in range(8):
        label_row = top + 1 if k < 7 else top + 1 + 13
        col = (k % 7) * 13
        assert lines[label_row][col:col + 12].strip() == ("▸0" if k == 0 else str(k))
        for y in range(12):
            expected = ""
            for v in maps[k, y]:
                level = min(int(abs(v) / scale * 4 + 0.5), 4)
                expected += (" ░▒▓█" if v >= 0 else " -=≡■")[level]
            assert lines[label_row + 1 + y][col:col + 12].ljust(12) == expected, (k, y)


@pytest.mark.parametrize("suffix", [".html", ".svg"])
@pytest.mark.parametrize("name", ["lstm-delayed-recall", "bilstm-apple", "gru-delayed-recall"])
def test_html_and_svg_are_as_wide_as_their_widest_table(tmp_path, name, suffix):
    """At the old fixed width 100 a gate-table row wrapped (`0.522 [0.0039, ⏎0.99]`): the default
    width comes from the content, so every row of the gate table is whole on one line."""
    out = tmp_path / f"report{suffix}"
    result = CliRunner().invoke(app, ["export", name, "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = plain(out).splitlines()
    trace = rnntui.run(name)
    gates = trace.info.entries[0].gates
    header = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("t │") and "|h|" in ln)
    columns = lines[header].count("│")
    rows = [ln for ln in lines[header + 1:header + 1 + trace.info.T] if re.match(r"\s*\d+ │", ln)]
    assert len(rows) == trace.info.T, lines[header:header + 4]
    for ln in rows:
        assert ln.count("│") == columns and ln.rstrip().endswith(tuple("0123456789")), ln
    assert all(f" {g} " in lines[header] for g in gates), lines[header]
    # an explicit width still rules, and a text report keeps 100 columns
    narrow = tmp_path / f"narrow{suffix}"
    assert CliRunner().invoke(app, ["export", name, "-o", str(narrow), "--width", "100"]).exit_code == 0
    txt = tmp_path / "r.txt"
    assert CliRunner().invoke(app, ["export", name, "-o", str(txt)]).exit_code == 0
    assert max(len(ln) for ln in txt.read_text().splitlines()) <= 100


@pytest.mark.parametrize("suffix", [".txt", ".html", ".svg"])
def test_export_compare_writes_both_runs_and_their_difference(tmp_path, suffix):
    out = tmp_path / f"diff{suffix}"
    result = CliRunner().invoke(app, ["export", "lstm-delayed-recall", "--compare", "gru-delayed-recall",
                                      "-o", str(out), "--steps", "0:5"])
    assert result.exit_code == 0, result.output
    text = plain(out)
    a, b = rnntui.run("lstm-delayed-recall"), rnntui.run("gru-delayed-recall")
    assert a.info.name in text and "only in A" in text
    for t in range(5):
        # an LSTM's h and a GRU's: their sizes side by side, no difference (not the same quantity)
        ha, hb = a["model.0.l0.fwd.h"][t, 0], b["model.0.l0.fwd.h"][t, 0]
        row = f"{np.linalg.norm(ha):.3g} / {np.linalg.norm(hb):.3g}"
        assert re.search(rf"\n{t} │ +{re.escape(row)}\n", text), row
    oa, ob = a["model.1.out"][0], b["model.1.out"][0]  # the heads' outputs: the same two classes
    assert f"{np.linalg.norm(oa):.3g} / {np.linalg.norm(ob):.3g} / {np.linalg.norm(oa - ob):.3g}" in text
    refused = CliRunner().invoke(app, ["export", "lstm-delayed-recall", "--compare", "gru-delayed-recall",
                                       "-o", str(tmp_path / "x.npz")])
    assert refused.exit_code == 2 and "--compare writes a report" in refused.output
