"""Findings of the new-user trial on the CLI (docs/cli.md): which command an error names, the width of a
report that is piped, what `export --iteration` writes."""
from __future__ import annotations

from typer.testing import CliRunner

from rnntui.cli import app
from rnntui.render.report import TEXT_WIDTH


def test_show_names_itself_in_its_errors():
    for args in (["show", "lstm-delayed-recall", "--iteration", "3"], ["show", "rnn-sine", "--entry", "7"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2
        assert result.output.startswith("rnntui: show error: "), result.output
        assert "export" not in result.output
    exported = CliRunner().invoke(app, ["export", "rnn-sine", "--entry", "7", "-o", "never-written.txt"])
    assert exported.exit_code == 2 and exported.output.startswith("rnntui: export error: ")


def test_piped_show_is_the_text_report_at_its_own_width(tmp_path):
    """Piped, `show` prints what `export -o r.txt` writes: the fixed width, not the 80 columns a console
    without a terminal assumes (which put a description's panel and every wide row on two lines)."""
    shown = CliRunner().invoke(app, ["show", "bilstm-apple"])
    assert shown.exit_code == 0
    out = tmp_path / "r.txt"
    assert CliRunner().invoke(app, ["export", "bilstm-apple", "-o", str(out)]).exit_code == 0
    assert shown.output == out.read_text(encoding="utf-8")
    lines = shown.output.splitlines()
    assert len(lines[0]) == TEXT_WIDTH and lines[0].startswith("╭")   # the description's panel spans it
    assert max(len(ln) for ln in lines) == TEXT_WIDTH


def test_compare_report_keeps_each_run_and_its_missing_names_whole(tmp_path):
    out = tmp_path / "cmp.txt"
    result = CliRunner().invoke(app, ["export", "training-lstm-memory", "--compare", "training-gru-memory",
                                      "-o", str(out), "--steps", "0:2"])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("A Training: an LSTM learns 30-step delayed recall  loss ")
    assert lines[1].startswith("B Training: a GRU learns 30-step delayed recall  loss ")
    assert any("B's is gru" in ln for ln in lines)
    note = next(ln for ln in lines if "only in" in ln)  # never broken between "only in" and "A"
    assert "only in A: c, gates.i" in note
    assert max(len(ln) for ln in lines) <= TEXT_WIDTH


def test_export_iteration_writes_that_iterations_record_and_says_so(tmp_path, traces):
    import numpy as np
    import pytest

    import rnntui
    from rnntui.engine.trace import IterationNotKept

    training = traces["training-exploding-clipped"]
    N, k = training.iterations, 7
    out = tmp_path / "it7.npz"
    result = CliRunner().invoke(app, ["export", "training-exploding-clipped", "--iteration", str(k), "-o", str(out)])
    assert result.exit_code == 0, result.output
    saved = rnntui.load_trace(out)
    record = training.iteration(k)
    assert saved.record_iteration == k and saved.iterations == N
    assert float(saved["loss"]) == float(record["loss"]) == float(training["train.loss"][k])
    assert float(saved["loss"]) != float(training["loss"])             # not the last iteration's
    for name in ("param.0.weight_hh_l0", "model.0.l0.fwd.h", "grad.param.0.weight_hh_l0"):
        np.testing.assert_array_equal(saved[name], record[name])
    np.testing.assert_array_equal(saved["train.loss"], training["train.loss"])   # the whole run's curves go with it
    np.testing.assert_array_equal(saved["train.final.param.0.weight_hh_l0"], training["train.final.param.0.weight_hh_l0"])
    assert saved.iteration(k) is saved
    with pytest.raises(IterationNotKept, match=f"keeps the record of iteration {k} only"):
        saved.iteration(N - 1)
    shown = CliRunner().invoke(app, ["show", str(out)])
    assert shown.exit_code == 0
    assert f"Iteration {k} (the step report below" in shown.output and f"Iteration {N - 1}" not in shown.output
    assert f"iteration {k}: loss: mse = {float(record['loss']):.6g}" in " ".join(shown.output.split())
    last = tmp_path / "last.npz"
    assert CliRunner().invoke(app, ["export", "training-exploding-clipped", "-o", str(last)]).exit_code == 0
    assert rnntui.load_trace(last).record_iteration == N - 1


def test_export_iteration_that_cannot_be_written_is_refused(tmp_path):
    for source, k, words in (("rnn-sine", 2, "this run has no train: section"),
                             ("training-exploding-clipped", 10_000, "expected 0..")):
        out = tmp_path / "x.npz"
        result = CliRunner().invoke(app, ["export", source, "--iteration", str(k), "-o", str(out)])
        assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output
        assert not out.exists()
    saved = tmp_path / "it3.npz"
    assert CliRunner().invoke(app, ["export", "training-exploding-clipped", "--iteration", "3", "-o", str(saved)]).exit_code == 0
    again = CliRunner().invoke(app, ["export", str(saved), "--iteration", "4", "-o", str(tmp_path / "y.npz")])
    assert again.exit_code == 2 and "keeps the record of iteration 3 only" in again.output
    assert not (tmp_path / "y.npz").exists()


def test_a_file_that_names_an_iteration_it_does_not_have_is_refused(tmp_path):
    import numpy as np

    import rnntui

    good = tmp_path / "it3.npz"
    assert CliRunner().invoke(app, ["export", "training-exploding-clipped", "--iteration", "3", "-o", str(good)]).exit_code == 0
    arrays = dict(np.load(good))
    arrays["train.record_iteration"] = np.asarray(10_000)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    result = CliRunner().invoke(app, ["show", str(bad)])
    assert result.exit_code == 2 and "train.record_iteration: found [10000]" in result.output
    assert rnntui.load_trace(good).record_iteration == 3


def test_validate_lists_problems_of_every_stage_and_says_what_waits(tmp_path):
    """A train: problem no longer hides the target's and the interventions' (they need the model's layout,
    not the optimizer); what truly waits on an earlier problem is named after the file's problems."""
    import re

    path = tmp_path / "b.yaml"
    path.write_text("input: {generate: {kind: sine, length: 20}}\n"
                    "length: 4\n"
                    "model: [{type: lstm, hidden_size: 4}, {type: dense, units: 1}]\n"
                    "loss: {kind: mse, target: [[1]]}\n"
                    "train: {iterations: 5, optimizer: {kind: adam, momentum: 0.9}}\n"
                    "interventions: [{at: model.0.l0.fwd, t: 50, set: c, value: 1}]\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    found = re.findall(r"b\.yaml:(\d+):\d+: ([\w.\[\]]+):", result.output)
    assert [(int(n), key) for n, key in found] == [(2, "length"), (4, "loss.target"), (5, "train.optimizer.momentum"),
                                                   (6, "interventions[0].t")]
    assert "not checked until" not in result.output   # everything was checked
    path.write_text("input: {generate: {kind: sine, length: 20}}\n"
                    "model: [{type: conv1d, out_channels: 2, kernel_size: 30}]\n"
                    "train: {iterations: 5, optimizer: {kind: adam, momentum: 0.9}}\n"
                    "interventions: [{at: model.0.l0.fwd, t: 50, set: c, value: 1}]\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    lines = result.output.splitlines()
    assert result.exit_code == 2 and "b.yaml:2:" in lines[1] and "b.yaml:3:" in lines[2]
    assert lines[3].endswith("b.yaml: not checked until the model's sizes fit together, as they need them: the "
                             "weights, the loss target, initial states, interventions and debug expressions")
    shown = CliRunner().invoke(app, ["show", str(path)])   # one line per problem elsewhere
    assert shown.exit_code == 2 and "not checked" not in shown.output and "b.yaml:3:" in shown.output


def test_yaml_syntax_errors_in_words_at_their_line_and_column():
    """ruamel's token names (`<block end>`, `<block mapping start>`, scalar, token) never reach the user;
    the line and column stay where the parser found the mistake."""
    from pathlib import Path

    corpus = Path(__file__).parent / "bad_scenarios"
    files = sorted(corpus.glob("yaml-*.yaml"))
    assert len(files) >= 6
    result = CliRunner().invoke(app, ["validate", *map(str, files)])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if "YAML syntax" in ln]
    assert len(lines) == len(files)
    for ln in lines:
        for jargon in ("<block", "<stream", "scalar", "token", "expected <", "while parsing", "while scanning"):
            assert jargon not in ln, ln
    assert "yaml-indented-key.yaml:7:4: YAML syntax: this line is indented differently" in result.output
    assert "yaml-key-without-colon.yaml:3:1: YAML syntax: found `model` with no ':'" in result.output
    assert "yaml-syntax.yaml:4:5: YAML syntax: the {...} map that begins here is never closed" in result.output


def test_a_run_over_the_memory_limit_that_cannot_be_checkpointed_says_why(tmp_path):
    """The loader refuses a run too large for --max-memory before making anything; docs/debugger.md: the
    refusal says why it cannot be checkpointed instead (a stacked bidirectional LSTM: the layer above reads the
    backward direction, which needs the whole sequence first)."""
    path = tmp_path / "long.yaml"
    path.write_text("version: 1\nmode: many-to-many\ninput: {generate: {kind: noise, length: 4000, features: 4}}\n"
                    "model:\n  - {type: lstm, hidden_size: 16, num_layers: 2, bidirectional: true}\nloss: {kind: sum}\n")
    result = CliRunner().invoke(app, ["show", str(path), "--max-memory", "1MB"])
    assert result.exit_code == 2, result.output
    assert "more than the memory limit of" in result.output
    assert ("it cannot be checkpointed: a bidirectional layer with another recurrent layer is recorded whole"
            ) in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_a_sample_past_the_data_set_blames_the_option_not_the_file():
    """`run --sample 999` on a data set of 200: the file has no `input.sample` key to point at; the message
    says the number came from --sample and names the data set's range, at the file's `input.dataset`."""
    result = CliRunner().invoke(app, ["show", "scan-gradient-health", "--sample", "999"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "input.sample" not in text
    assert ("scan-gradient-health.yaml:11:9: input.dataset: gradient-health.npz has samples 0..199; found sample 999 "
            "asked for (--sample, or rnntui.run's sample=)") in text, text


def test_export_full_with_a_report_is_refused_not_ignored(tmp_path):
    out = tmp_path / "r.txt"
    result = CliRunner().invoke(app, ["export", "bptt", "-o", str(out), "--full"])
    assert result.exit_code == 2, result.output
    assert "--full writes a checkpointed run's .npz with every array whole; found .txt" in " ".join(result.output.split())
    assert not out.exists()


def test_a_graph_reports_its_output_not_a_mode_it_does_not_have():
    """A graph has no `mode` (docs/scenario-format.md); graph-shared-encoder's last node gives one output per
    sample ((B, 3)), graph-layernorm-lstm's one per step ((T, B, 3)): the report says which, never
    'many-to-many' for the first."""
    import rnntui

    for name, words in (("graph-shared-encoder", "graph: one output per sample"),
                        ("graph-layernorm-lstm", "graph: an output at every step")):
        result = CliRunner().invoke(app, ["show", name])
        assert result.exit_code == 0, result.output
        line = next(ln for ln in result.output.splitlines() if ln.startswith("loss: "))
        assert words in line and "mode:" not in line, line
        out = rnntui.run(name)["output"]
        assert (out.ndim == 3) == (name == "graph-layernorm-lstm")


def test_a_packed_recurrence_report_prints_no_jacobian_at_a_padded_step(tmp_path):
    """Sample 0 has 3 of 5 steps: at t=3, 4 it has no step (its state is carried as it was), so its column says
    `padding` (not the 0 the trace holds there), and 'largest of the batch' is sample 1's own norm."""
    import re

    import rnntui

    path = tmp_path / "gp.yaml"
    path.write_text("""\
inputs:
  x: {batch: [[[1],[0.5],[0.2],[0],[0]], [[0.3],[0.1],[0.7],[0.2],[0.9]]], lengths: [3, 5]}
model:
  - id: cell
    type: recurrence
    from: x
    state: {h: 3}
    step:
      - {id: xh, op: cat, from: [x, h]}
      - {id: z, type: dense, units: 3, activation: sigmoid, from: xh}
      - {id: hn, op: mul, from: [z, h]}
    next: {h: hn}
    emit: z
  - {id: head, type: dense, units: 1}
loss: {kind: sum}
""")
    jac = rnntui.run(path)["diag.model.0.jacnorm"]
    result = CliRunner().invoke(app, ["show", str(path)])
    assert result.exit_code == 0, result.output
    rows = {int(m[1]): (m[2], m[3]) for m in re.finditer(r"^(\d) │ \S+ │ [█·]* *│ +(\S+) │ +(\S+)$",
                                                            result.output, re.M)}
    assert sorted(rows) == [0, 1, 2, 3, 4], result.output
    for t in range(5):
        own = "padding" if t >= 3 else f"{jac[t, 0]:.4g}"
        largest = jac[t, 1] if t >= 3 else max(jac[t])
        assert rows[t] == (own, f"{largest:.4g}"), (t, rows[t], jac[t])


def test_the_iteration_events_say_a_kinds_later_runs(traces):
    """training-exploding-clipped clips in 11 runs of iterations, not only the first (0..9): the line of where
    clipping began says how many runs follow and how many iterations it acted at in all, from train.clipped."""
    import numpy as np

    from rnntui.render.training import _runs

    clipped = np.flatnonzero(np.asarray(traces["training-exploding-clipped"]["train.clipped"], dtype=bool))
    runs = _runs(clipped)
    assert len(runs) > 2 and runs[0] == (0, 9)
    result = CliRunner().invoke(app, ["show", "training-exploding-clipped"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert (f"clipped: clipping acted at iterations 0..9 (10 iterations); at 0: ‖g‖ 7.0277 → 1.0000; then "
            f"{len(runs) - 1} more runs, {clipped.size} iterations in all, the last at iteration {runs[-1][1]}") in text


def test_validate_says_an_encoder_decoders_steps_for_both_parts():
    """validate said T=6 (the decoder's) for an encoder of 5 steps (and of 100,000 in a trial)."""
    from typer.testing import CliRunner

    from rnntui.cli import app
    from rnntui.scenario import load_scenario
    from rnntui.scenario.bundled import resolve

    sc = load_scenario(resolve("seq2seq-reverse"))
    out = CliRunner().invoke(app, ["validate", "seq2seq-reverse"])
    assert out.exit_code == 0
    assert f"encoder T={sc.x.shape[0]}, decoder T={sc.decoder_x.shape[0]}, B={sc.B}" in out.output
    assert sc.x.shape[0] != sc.decoder_x.shape[0]
