"""The HTML report as a document (render/html_report.py): well-formed, self-contained, every section of
each kind of run present, its numbers read back equal to the trace's, and text from the run escaped."""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import numpy as np
import pytest

import rnntui
from rnntui.engine.diagnostics import vector_norm
from rnntui.render.report import ReportOptions, write_report

VOID = {"meta", "br", "img", "hr", "link", "input", "col", "wbr", "area", "base", "source"}
SVG_EMPTY = {"line", "path", "rect", "circle", "image", "polyline"}


class Doc(HTMLParser):
    """A strict reading: every element closed in order (SVG's self-closed ones too), the text of each table
    cell and heading, and every attribute (to find URLs and scripts)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.headings: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}   # caption or <summary> -> rows of cell texts
        self.attrs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.svgs: list[dict] = []
        self.paragraphs: list[str] = []
        self.dl: list[tuple[str, str]] = []
        self._text: list[str] | None = None
        self._row: list[str] | None = None
        self._rows: list[list[str]] | None = None
        self._caption = ""
        self._dt = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v or ""))
        if tag == "svg":
            self.svgs.append(dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)
        if tag in ("h1", "h2", "h3", "td", "th", "caption", "summary", "p", "dt", "dd"):
            self._text = []
        if tag == "table":
            self._rows = []
        if tag == "tr":
            self._row = []

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v or ""))
        assert tag in VOID | SVG_EMPTY, f"<{tag}/> self-closed"

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-3:]}"
        self.stack.pop()
        text = "".join(self._text or [])
        if tag in ("h1", "h2", "h3"):
            self.headings.append(text)
        elif tag in ("caption", "summary"):
            self._caption = re.sub(r" \([\d,]+ rows\)$", "", text) if tag == "summary" else text
        elif tag in ("td", "th") and self._row is not None:
            self._row.append(text)
        elif tag == "tr" and self._rows is not None:
            self._rows.append(self._row)
        elif tag == "table":
            self.tables[self._caption] = self._rows
            self._caption = ""
        elif tag == "p":
            self.paragraphs.append(text)
        elif tag == "dt":
            self._dt = text
        elif tag == "dd":
            self.dl.append((self._dt, text))

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def export(tmp_path, trace, other=None, **opts):
    out = tmp_path / "r.html"
    write_report(trace, out, "html", ReportOptions(**opts), other=other)
    raw = out.read_text(encoding="utf-8")
    doc = Doc()
    doc.feed(raw)
    doc.close()
    assert doc.stack == [], doc.stack
    assert raw.startswith("<!DOCTYPE html>") and raw.rstrip().endswith("</html>")
    # self-contained: no script, no external URL (only the SVG namespace and inline data: images)
    assert "script" not in doc.tags
    for tag, k, v in doc.attrs:
        assert not k.startswith("on"), (tag, k)
        if k in ("href", "src"):
            assert v.startswith("data:image/png;base64,"), (tag, k, v[:40])
        if k == "xmlns":
            assert v == "http://www.w3.org/2000/svg"
    assert "<link" not in raw and "@import" not in raw and "url(" not in raw
    return doc, raw


def table(doc, start: str) -> list[list[str]]:
    """The rows (header first) of the table whose caption starts with *start*."""
    found = [rows for cap, rows in doc.tables.items() if cap.startswith(start)]
    assert found, (start, list(doc.tables))
    return found[0]


def column(rows, name: str) -> list[str]:
    i = rows[0].index(name)
    return [r[i] for r in rows[1:]]


def test_recurrent_report_sections_and_numbers(tmp_path):
    trace = rnntui.run("bptt")
    doc, raw = export(tmp_path, trace)
    info = trace.info
    assert doc.headings[0] == info.name
    for h in ("Model", "Loss and input", "Output and prediction", "model.0 rnn l0 fwd", "Parameters", "Finite values"):
        assert h in doc.headings
    # the model table: each entry's parameter count
    from rnntui.render.analysis import param_count

    model = table(doc, "Model")
    assert column(model, "parameters") == [f"{param_count(trace, e):,}" for e in info.entries]
    assert any(p.startswith("loss: ") and f"= {float(trace['loss']):.6g}" in p for p in doc.paragraphs)
    # the BPTT table: ‖dL/dh_t‖ per step, in the order BPTT visits them, and its chart's range
    g = np.asarray(trace["diag.model.0.l0.fwd.gradnorm"], dtype=float)
    rows = table(doc, "Backward pass (BPTT), model.0 rnn l0 fwd")
    got = {int(t): v for t, v in zip(column(rows, "t"), column(rows, "‖dL/dh_t‖"))}
    assert got == {t: f"{g[t]:.3e}" for t in range(info.T)}
    chart = next(s for s in doc.svgs if s.get("aria-label", "").startswith("‖dL/dh_t‖ per step"))
    assert chart["data-scale"] == "log"
    pos = g[np.isfinite(g) & (g > 0)]
    assert float(chart["data-lo"]) == pytest.approx(pos.min(), rel=1e-5)
    assert float(chart["data-hi"]) == pytest.approx(pos.max(), rel=1e-5)
    # the verdict: its words and its rule, as the view says them
    from rnntui.render.analysis import verdict

    v = verdict(trace, info.places[0])
    assert v.sentence in doc.paragraphs and v.basis in doc.paragraphs
    params = table(doc, "Parameter gradients")
    for name, norm in zip(column(params, "parameter"), column(params, "‖grad‖")):
        assert norm == f"{vector_norm(trace[f'grad.param.{name}']):.4g}"


def test_long_tables_fold_and_short_ones_do_not(tmp_path):
    """A table of more than FOLD_ROWS rows is in <details> (its row count in the summary); a shorter one
    has a caption and stays open; --steps narrows the step tables until they no longer fold."""
    from rnntui.render.html_report import FOLD_ROWS

    trace = rnntui.run("lstm-long-recall")
    assert trace.info.T > FOLD_ROWS
    doc, raw = export(tmp_path, trace)
    folded = dict(re.findall(r'<details class="table"><summary>(.*?) \(([\d,]+) rows\)</summary>', raw))
    captions = re.findall(r"<caption>(.*?)</caption>", raw)
    for cap, rows in doc.tables.items():
        key = html.escape(cap)
        if len(rows) - 1 > FOLD_ROWS:
            assert folded.get(key) == f"{len(rows) - 1:,}", cap
        else:
            assert key in captions and key not in folded, cap
    assert any(c.startswith("Backward pass (BPTT)") for c in map(html.unescape, folded))
    _, narrow = export(tmp_path, trace, steps=(3, 6))
    assert '<details class="table">' not in narrow


def test_packed_and_encoder_decoder_sections(tmp_path):
    trace = rnntui.run("bilstm-lengths")
    doc, _ = export(tmp_path, trace)
    for d in ("fwd", "bwd"):
        assert f"model.1 lstm l0 {d}" in doc.headings
    assert any(p.startswith("samples of different lengths (packed): ") for p in doc.paragraphs)
    rows = table(doc, "Forward pass, model.1 lstm l0 fwd")
    lengths = np.asarray(trace.info.lengths)
    assert column(rows, "samples") == [f"{int((lengths > t).sum())} of {trace.info.B}" for t in range(trace.info.T)]
    trace = rnntui.run("seq2seq-reverse")
    doc, _ = export(tmp_path, trace)
    assert any(p.startswith("encoder tokens") for p in doc.paragraphs)
    assert any(p.startswith("decoder tokens") for p in doc.paragraphs)
    places = [p.label(trace.info) for p in trace.info.places if p.layer is not None]
    assert len(places) == 2 and all(p in doc.headings for p in places)


def test_cnn_feature_maps_are_svg_heatmaps_of_the_trace(tmp_path):
    trace = rnntui.run("cnn-digit")
    doc, raw = export(tmp_path, trace)
    channels = sum(e.out_shape[0] for e in trace.info.entries if e.options)
    assert raw.count('aria-label="channel ') == 2 * channels   # every channel's map and its gradient
    for e in trace.info.entries:
        if e.options:
            C = e.out_shape[0]
            for what in ("Feature maps", "Gradients dL/d(feature map)"):
                assert f"{what}, model.{e.index} {e.type} {tuple(e.out_shape)}" in doc.paragraphs
            # one small map per channel and phase, each pixel's value in its tooltip
            maps = np.asarray(trace[f"model.{e.index}.out"][0], dtype=float)
            assert raw.count(f'aria-label="channel {C - 1}"') >= 2
            first = re.search(r'aria-label="channel 0">(.*?)</svg>', raw[raw.index(f"Feature maps, model.{e.index}"):])
            vals = [float(x) for x in re.findall(r"<title>\(\d+, \d+\) ([^<]+)</title>", first.group(1))]
            np.testing.assert_allclose(vals, maps[0].reshape(-1), rtol=1e-3, atol=1e-300)
            break


def test_training_report_states_setup_marks_iteration_and_draws_curves(tmp_path):
    trace = rnntui.run("training-exploding-clipped")
    cfg = trace.train_config
    k = 3
    doc, raw = export(tmp_path, trace, iteration=k)
    for h in ("Training", "Training setup", f"Iteration {k}"):
        assert h in doc.headings, doc.headings
    facts = dict(doc.dl)
    assert facts["learning rate"] == f"{cfg.optimizer.learning_rate:g}"
    assert facts["optimizer"].startswith({"sgd": "SGD", "adam": "Adam"}[cfg.optimizer.kind])
    assert f"{cfg.clip.limit:g}" in facts["clipping"]
    assert facts["iterations"] == str(trace.iterations)
    loss = np.asarray(trace["train.loss"], dtype=float)
    curve = next(s for s in doc.svgs if s.get("aria-label") == "loss per iteration")
    assert curve["data-marker"] == str(k)
    pos = loss[np.isfinite(loss) & (loss > 0)]
    assert float(curve["data-lo"]) == pytest.approx(pos.min(), rel=1e-5)
    assert float(curve["data-hi"]) == pytest.approx(pos.max(), rel=1e-5)
    g = next(s for s in doc.svgs if s.get("aria-label") == "gradient norm per iteration")
    assert g["data-marker"] == str(k)
    picture = [s for s in doc.svgs if "iterations down, steps across" in s.get("aria-label", "")]
    bptt = np.asarray(trace["train.bptt.model.0.l0.fwd"], dtype=float)
    p = bptt[np.isfinite(bptt) & (bptt > 0)]
    assert picture and float(picture[0]["data-hi"]) == pytest.approx(p.max(), rel=1e-5)
    ratio = table(doc, "Per parameter")
    for name, first, last in zip(column(ratio, "parameter"), column(ratio, "ratio first"), column(ratio, "ratio last")):
        r = trace[f"train.update_ratio.{name}"]
        assert first == (f"{r[0]:.3e}" if np.isfinite(r[0]) else "moved from 0") and last == f"{r[-1]:.3e}"
    # the step report below is iteration k's
    rec = trace.iteration(k)
    assert any(f"= {float(rec['loss']):.6g}" in p for p in doc.paragraphs)


def test_compare_report_of_two_training_runs(tmp_path):
    a, b = rnntui.run("training-exploding"), rnntui.run("training-exploding-clipped")
    doc, raw = export(tmp_path, a, other=b)
    assert doc.headings[0].startswith("rnntui: ") and a.info.name in doc.headings[0]
    for h in ("Training", "Parameters"):
        assert h in doc.headings
    curve = next(s for s in doc.svgs if s.get("aria-label") == "loss per iteration")
    both = np.concatenate([np.asarray(t["train.loss"], dtype=float) for t in (a, b)])
    pos = both[np.isfinite(both) & (both > 0)]
    assert float(curve["data-hi"]) == pytest.approx(pos.max(), rel=1e-5)
    for label in ("loss per iteration", "gradient norm per iteration"):
        svg = re.search(rf'aria-label="{label}".*?</svg>', raw, re.S).group(0)
        assert svg.count('data-series="A"') == 1 and svg.count('data-series="B"') == 1
    side = table(doc, "Iterations side by side")
    assert side[0][:3] == ["iteration", "A loss", "B loss"]
    from rnntui.numfmt import fmt

    first = side[1]
    assert first[1] == fmt(float(a["train.loss"][0]), 0) and first[2] == fmt(float(b["train.loss"][0]), 0)


def test_text_from_the_run_is_escaped(tmp_path):
    y = tmp_path / "s.yaml"
    y.write_text("name: \"<script>alert('n')</script> & </table>\"\n"
                 "description: \"<img src=x onerror=alert(1)> \\e]0;pwned\\a \\x9b31m \\N <!-- --> ]]>\"\n"
                 "input: {text: \"<b>&'/\", tokenize: chars, vocab: [\"<\", b, \">\", \"&\", \"'\", /]}\n"
                 "model: [{type: embedding, num_embeddings: 6, embedding_dim: 3}, {type: rnn, hidden_size: 2}]\n")
    trace = rnntui.run(y)
    doc, raw = export(tmp_path, trace)
    assert "<script>" not in raw and "<img" not in raw and "<b>&" not in raw and "onerror=alert(1)>" not in raw
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", raw)   # no control character at all
    assert doc.headings[0] == "<script>alert('n')</script> & </table>"
    assert any("<img src=x onerror=alert(1)>" in p for p in doc.paragraphs)
    assert any(p.startswith("tokens: [0]<#0 [1]b#1 [2]>#2 [3]&#3 [4]'#4") for p in doc.paragraphs)
    assert "[0]&lt;#0 [1]b#1 [2]&gt;#2 [3]&amp;#3 [4]&#x27;#4" in raw
    rows = table(doc, "Forward pass, model.1 rnn")
    assert column(rows, "token")[:4] == ["< #0", "b #1", "> #2", "& #3"]


def test_training_setup_of_a_saved_trace_comes_from_its_keys(tmp_path):
    """A saved training trace keeps its setup (`train.config`): the report of the file states the same
    optimizer, schedule and clipping as the run's. A file written before that key claims only what its
    keys hold (train.lr, train.clipped), and never that no limit was set."""
    from rnntui.render.training import training_setup

    for name in ("training-exploding-clipped", "training-exploding"):
        trace = rnntui.run(name)
        trace.save(tmp_path / "t.npz")
        saved = rnntui.run(tmp_path / "t.npz")
        assert saved.train_config == trace.train_config
        facts = dict(training_setup(saved).pairs)
        assert facts == dict(training_setup(trace).pairs)
        cfg = trace.train_config
        assert facts["clipping"] == ("none" if cfg.clip is None else
                                     f"gradient norm at most {cfg.clip.limit:g} (clip_grad_norm_)")
        doc, _ = export(tmp_path, saved)
        assert dict(doc.dl) == facts

    # a file from before train.config: only what its keys say
    trace = rnntui.run("training-exploding")
    with np.load(tmp_path / "t.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "train.config"}
    np.savez(tmp_path / "old.npz", **arrays)
    old = rnntui.run(tmp_path / "old.npz")
    assert old.train_config is None
    facts = dict(training_setup(old).pairs)
    lr = np.asarray(trace["train.lr"], dtype=float)
    assert facts["learning rate"] == f"{lr[0]:g}" and np.all(lr == lr[0])
    assert not np.any(trace["train.clipped"])
    assert facts["clipping"] == "did not act (whether a limit was set is not recorded)"
    assert facts["optimizer"] == "not recorded" and facts["iterations"] == str(trace.iterations)


def test_a_saved_trace_with_a_broken_training_setup_is_refused(tmp_path):
    import subprocess
    import sys

    rnntui.run("training-exploding").save(tmp_path / "t.npz")
    with np.load(tmp_path / "t.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["train.config"] = np.asarray('{"iterations": "many"}')
    np.savez(tmp_path / "bad.npz", **arrays)
    r = subprocess.run([sys.executable, "-m", "rnntui", "show", str(tmp_path / "bad.npz")],
                       capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "train.config" in r.stderr and "Traceback" not in r.stderr


def test_compare_report_draws_both_runs_gradients_per_step(tmp_path):
    a, b = rnntui.run("rnn-vs-lstm"), rnntui.run("lstm-long-recall")
    doc, raw = export(tmp_path, a, other=b)
    shared = [p for p in a.info.places if p.layer is not None and p in b.info.places]
    assert shared
    for p in shared:
        label = f"‖dL/dh_t‖ per step, {p.label(a.info)}, A and B"
        chart = next(s for s in doc.svgs if s.get("aria-label") == label)
        both = np.concatenate([np.asarray(t[p.diag_key("gradnorm")], dtype=float) for t in (a, b)])
        pos = both[np.isfinite(both) & (both > 0)]
        assert float(chart["data-lo"]) == pytest.approx(pos.min(), rel=1e-5)
        assert float(chart["data-hi"]) == pytest.approx(pos.max(), rel=1e-5)
    assert "A loss" not in doc.tables   # not training runs: no training section


def test_training_setup_names_schedule_momentum_and_minibatches(tmp_path):
    """The setup's words against the run's own configuration: the optimizer's non-default keys, the
    learning rate from the first to the last iteration (the schedule's own numbers), minibatches."""
    from rnntui.render.training import training_setup

    y = tmp_path / "s.yaml"
    y.write_text("input: {generate: {kind: delayed-recall, length: 6, features: 1, batch: 4}}\n"
                 "mode: many-to-one\nmodel: [{type: rnn, hidden_size: 3}, {type: dense, units: 2}]\n"
                 "loss: {kind: cross_entropy, target: [1, 0, 1, 0]}\n"
                 "train: {iterations: 5, optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}, batch_size: 2,\n"
                 "        shuffle: true, schedule: {kind: step, step_size: 2, gamma: 0.5}, clip: {value: 0.25}}\n")
    trace = rnntui.run(y)
    cfg = trace.train_config
    facts = dict(training_setup(trace).pairs)
    rates = cfg.learning_rates()
    assert facts["optimizer"] == "SGD (momentum=0.9)"
    assert facts["learning rate"] == (f"{rates[0]:g} at iteration 0 → {rates[-1]:g} at iteration 4 "
                                      f"(min {min(rates):g}, max {max(rates):g})")
    assert rates[0] != rates[-1]
    np.testing.assert_array_equal(rates, trace["train.lr"])
    assert facts["schedule"] == cfg.schedule.describe() and "StepLR" in facts["schedule"]
    assert facts["clipping"] == "each gradient value within ±0.25 (clip_grad_value_)"
    assert facts["batch size"] == "2 samples an iteration, shuffled every pass"
