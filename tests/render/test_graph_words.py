"""Words about graph models (and models read from PyTorch) checked against the run they describe: greedy
decoding's fed-back ids, what a recurrence reads at each step, the step Jacobian's bound, an activation-less
step node's equation."""
from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

import rnntui
from rnntui.render.cursor import Cursor
from rnntui.render.header import header
from rnntui.render.report import ReportOptions, build
from rnntui.render.timeline import timeline


def text_of(items, width: int = 200) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    for item in items if isinstance(items, list) else [items]:
        console.print(item)
    return out.getvalue()


def _greedy():
    """A greedy decoder as docs/debug-your-pytorch-model.md writes it, read by from_torch; and the ids its
    loop fed back, as torch itself computes them."""
    import torch
    nn, F = torch.nn, torch.nn.functional

    class Greedy(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_emb, self.emb = nn.Embedding(8, 4), nn.Embedding(8, 4)
            self.enc, self.cell, self.out = nn.GRU(4, 6, batch_first=True), nn.GRUCell(4, 6), nn.Linear(6, 8)

        def forward(self, start, src):
            h = self.enc(self.src_emb(src))[1][-1]
            tok, outs = start[:, 0], []
            for _ in range(5):
                h = self.cell(self.emb(tok), h)
                o = F.log_softmax(self.out(h), dim=-1)
                outs.append(o)
                tok = o.argmax(-1)
            return torch.stack(outs, 1)

    torch.manual_seed(4)
    model = Greedy().double()
    src = torch.tensor([[1, 2, 3, 6, 6], [5, 6, 4, 7, 3]])
    start = torch.tensor([[1], [2]])
    with torch.no_grad():
        chosen = model(start, src).argmax(-1).numpy()          # (B, steps): the id fed to the next step
    trace = rnntui.from_torch(model, start, src, loss="nll", target=torch.tensor([[3, 1, 4, 1, 5]] * 2))
    return trace, chosen


def test_greedy_decodings_tokens_are_the_ids_it_fed_back():
    trace, chosen = _greedy()
    assert (chosen[:, :4] != 0).any()          # the padding (id 0) is not what the steps read
    read = [[int(start)] + [int(v) for v in chosen[b, :4]] for b, start in enumerate((1, 2))]
    report = text_of(build(trace, ReportOptions(width=200)))
    for b in range(2):
        assert f"tokens of sample {b}: " + " ".join(f"[{t}]{i}" for t, i in enumerate(read[b])) in report
    assert "from step 1 on, the ids shown are those model.3 fed back (argmax of the step before)" in report
    rec = next(k for k, p in enumerate(trace.info.places) if p.entry == 3)
    for t in range(5):
        head = text_of(header(trace, Cursor(t=t, place_index=rec, sample=1)))
        assert f"(t={t}: #{read[1][t]})" in head
    line = text_of(timeline(trace, Cursor(t=2, place_index=rec), {}, width=120))
    assert "input  " + "    ".join(str(i) for i in read[0]) in line
    assert "fed back" in line


def test_the_model_map_says_an_outer_node_a_state_starts_from_is_not_read_at_every_step():
    """The attention decoder reads the encoder's steps (enc) at every step and enc_last once, as h's start;
    the map said `outer enc, enc_last` on its 'each step' line."""
    from rnntui.render.model_map import model_map

    trace = rnntui.run("graph-attention-reverse")
    conf = trace.info.entries[4].config
    assert conf["start"] == {"h": "enc_last"} and set(conf["outer"]) == {"enc", "enc_last"}
    from rnntui.engine.ops.recurrence import step_layout

    reads = {r for s in step_layout(trace.info.entries[4]) for r in s.reads}
    assert "enc" in reads and "enc_last" not in reads      # no step node reads enc_last
    for compact in (False, True):
        drawn = model_map(trace.info, compact=compact).plain
        line = next(x for x in drawn.splitlines() if "step: " in x)
        assert "h (16, from enc_last)" in line
        assert "outer enc" in line and "outer enc, enc_last" not in line and not line.rstrip(" │").endswith("enc_last")


def _jacobian_line(trace) -> str:
    from rnntui.render.glossary import glossary

    return next(x for x in glossary(trace.info).plain.splitlines() if "median step Jacobian norm" in x)


def test_the_jacobian_bound_is_not_claimed_where_an_attention_feeds_every_encoder_step():
    """In the attention seq2seq, the GRU encoder's one-term gradient at step t-1 is larger than its step
    Jacobian times that at step t (the bound BPTT through h alone obeys) at some steps: the attention brings
    it in there. The help said: 'below 1 at every step, the gradient must shrink'."""
    trace = rnntui.run("graph-attention-reverse")
    g = np.asarray(trace["diag.model.1.l0.fwd.term_gradnorm"])
    j = np.asarray(trace["diag.model.1.l0.fwd.jacnorm"])
    assert (g[:-1] > 1.05 * j[1:] * g[1:]).any()     # more than h_t's path alone can carry back
    line = _jacobian_line(trace)
    assert "must shrink" not in line
    assert "into model.1 enc from model.4 dec, which reads its steps" in line


def test_two_encoders_side_by_side_are_not_stacked():
    """The shared encoder reads two inputs side by side: neither LSTM reads the other, and what reaches each
    from outside is its final state's gradient alone (grad of its output, (B, H)). The help said the gradient
    also flows 'from the recurrent layer above'."""
    trace = rnntui.run("graph-shared-encoder")
    for k in (2, 3):
        assert np.asarray(trace[f"grad.model.{k}.out"]).shape == (2, 6)     # one step's gradient, the last
    line = _jacobian_line(trace)
    assert "layer above" not in line and "back through c" in line
    stacked = _jacobian_line(rnntui.run("stacked-lstm"))
    assert "from the recurrent layer above" in stacked


def test_a_one_layer_rnn_keeps_the_bound():
    line = _jacobian_line(rnntui.run("rnn-apple"))
    assert line.endswith("below 1 at every step, the gradient must shrink")


def test_a_step_dense_without_activation_is_the_linear_map_alone(tmp_path):
    """A recurrence's dense step node with no activation computes W x + b (checked on the run's own values);
    its equation read `y = none(W x + b)`."""
    from rnntui.render.analysis import equations
    from rnntui.engine.ops.recurrence import step_layout

    path = tmp_path / "cell.yaml"
    path.write_text("""\
version: 1
input: {values: [[0.5], [-1.0], [0.25]]}
model:
  - id: rec
    type: recurrence
    state: {h: 3}
    step:
      - {id: xh, op: cat, from: [x, h]}
      - {id: lin, type: dense, units: 3, from: xh}
      - {id: hn, op: tanh, from: lin}
    next: {h: hn}
    emit: hn
loss: {kind: sum}
""")
    trace = rnntui.run(path)
    lin = next(s for s in step_layout(trace.info.entries[0]) if s.id == "lin" or str(s.index).endswith("lin"))
    W, b = trace["param.0.lin.weight"], trace["param.0.lin.bias"]
    xh = np.asarray(trace["model.0.xh.out"])
    np.testing.assert_allclose(np.asarray(trace["model.0.lin.out"]), xh @ W.T + b, rtol=1e-12)
    words = " ".join(equations(lin))
    assert "y = W x + b" in words and "none(" not in words


def test_an_encoders_verdict_says_the_loss_terms_step_is_the_outputs():
    """The attention seq2seq's encoder runs over src's 5 steps (0..4); its verdict is measured on the loss term
    at step 5 of the output, which steps through tgt_in. It said 'sample 0's step 5 loss term' beside 'at
    step 0 ... of its size at step 4', a step the encoder does not have."""
    from rnntui.render.analysis import verdicts

    trace = rnntui.run("graph-attention-reverse")
    enc = next(p for p in trace.info.places if p.entry == 1)
    s = int(np.asarray(trace["diag.model.1.l0.fwd.term_step"])[0])
    assert s >= trace.info.entries[1].steps == 5          # not one of the encoder's steps
    vs = verdicts(trace, enc)
    axis = "(the output steps through input 'tgt_in', model.1 through input 'src')"
    assert f"sample 0's loss term at the output's step {s} alone {axis}" in vs.of(0).basis
    assert f"loss term at the output's step {s} {axis} alone" in vs.basis
    dec = next(p for p in trace.info.places if p.entry == 4)    # the decoder steps as the output does
    assert "output's" not in verdicts(trace, dec).of(0).basis


SHARED_GRU = """\
version: 1
seed: 3
inputs:
  premise: {tokens: [[1, 4, 2, 5, 3], [6, 2, 7, 1, 8]]}
  hypothesis: {tokens: [[9, 0, 3, 3, 7], [2, 2, 8, 6, 5]]}
model:
  - {id: emb_p, type: embedding, num_embeddings: 10, embedding_dim: 5, from: premise}
  - {id: emb_h, same_as: emb_p, from: hypothesis}
  - {id: enc_p, type: gru, hidden_size: 6, from: emb_p, take: final}
  - {id: enc_h, same_as: enc_p, from: emb_h, take: final}
  - {id: both, op: cat, from: [enc_p, enc_h]}
  - {id: head, type: dense, units: 3}
loss: {kind: cross_entropy, target: [0, 2]}
"""


def test_a_shared_gru_has_its_step_jacobians(tmp_path):
    """Two inputs through one GRU (same_as): the second node's step Jacobian norms are those of the owner's
    weights on its own states (torch's autograd Jacobian of nn.GRUCell), where `show` crashed on the
    missing `3.weight_hh_l0` (a from_torch siamese GRU encoder)."""
    import torch
    path = tmp_path / "shared-gru.yaml"
    path.write_text(SHARED_GRU)
    trace = rnntui.run(path)
    cell = torch.nn.GRUCell(5, 6).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(torch.tensor(np.asarray(trace[f"param.2.{name}_l0"])))
    x = np.asarray(trace["model.1.out"])          # hypothesis, embedded: (T, B, 5)
    h = np.asarray(trace["model.3.l0.fwd.h"])
    jac = np.asarray(trace["diag.model.3.l0.fwd.jacnorm"])
    for t in range(1, 5):
        for b in range(2):
            J = torch.autograd.functional.jacobian(
                lambda hp: cell(torch.tensor(x[t, b:b + 1]), hp[None])[0], torch.tensor(h[t - 1, b]))
            assert jac[t, b] == pytest.approx(float(torch.linalg.matrix_norm(J, 2)), rel=1e-9)


def test_a_second_encoders_step_table_shows_not_the_first_inputs_tokens(tmp_path):
    """The step table of the node over hypothesis showed the first input's tokens (premise's) beside its
    steps; now none (the trace holds the first input's tokens only), and a batch's table says its token
    column is sample 0's."""
    path = tmp_path / "shared-gru.yaml"
    path.write_text(SHARED_GRU.replace("type: gru", "type: lstm"))
    trace = rnntui.run(path)
    assert trace.info.entries[3].reads == (1,) and trace.info.inputs[0] == "premise"
    report = text_of(build(trace, ReportOptions(width=200)))
    table = report[report.index("Forward pass, model.3"):]
    head = table.splitlines()[1]
    assert "token" not in head and "forget f" in head
    first = report[report.index("Forward pass, model.2"):]
    assert "token: sample 0's" in first.splitlines()[0] and " token " in first.splitlines()[1]


LSTM_CELL_LOOP = """\
version: 1
seed: 2
input: {batch: [[[0.5], [-1.0], [0.25], [0.8], [-0.3], [1.1]], [[0.1], [0.9], [-0.7], [0.3], [0.6], [-1.2]]]}
model:
  - id: loop
    type: recurrence
    state: {h: 4, c: 4}
    step:
      - {id: cell, type: lstm_cell, hidden_size: 4, from: [x, h, c]}
      - {id: lin, type: dense, units: 1, from: cell}
    next: {h: cell, c: cell.c}
    emit: lin
loss: {kind: sum}
"""


def test_a_recurrence_nodes_help_speaks_of_its_states_together(tmp_path):
    """A recurrence carrying h and c (an LSTMCell loop, as from_torch reads one): its Jacobian is over both
    states, so the bound holds (checked on the run: the one-term gradient at t-1 never exceeds the step
    Jacobian's norm times that at t), and the help says it is ‖ds_t/ds_{t-1}‖; it spoke of ‖dh_t/dh_{t-1}‖
    alone and of 'step t's term of dW_hh', which no view of this model draws."""
    path = tmp_path / "loop.yaml"
    path.write_text(LSTM_CELL_LOOP)
    trace = rnntui.run(path)
    g = np.asarray(trace["diag.model.0.term_gradnorm"])
    j = np.asarray(trace["diag.model.0.jacnorm"])
    assert (g[:-1] <= j[1:] * g[1:] * (1 + 1e-9)).all()
    from rnntui.render.glossary import glossary

    words = glossary(trace.info).plain
    assert "(at model.0 loop: ‖ds_t/ds_{t-1}‖, s its states h, c together)" in words
    assert "must shrink" in words and "dW_hh" not in words
    assert "dW_hh" in glossary(rnntui.run("lstm-apple").info).plain


def test_ids_read_as_ids_show_no_input_gradient():
    """The greedy decoder's token input goes into its step's own embedding as ids: the run's dL/d(input) is 0
    everywhere (no gradient reaches an id), which the report printed as ‖dL/dx_t‖ = 0.000e+00 at every step,
    as if the tokens did not matter; the embedding's own rows do get a gradient. Now no such column or row."""
    trace, _ = _greedy()
    assert not np.asarray(trace["grad.input"]).any()
    assert np.asarray(trace["grad.param.3.emb.weight"]).any()
    report = text_of(build(trace, ReportOptions(width=200)))
    assert "dL/dx_t" not in report
    rec = next(k for k, p in enumerate(trace.info.places) if p.entry == 3)
    assert "dL/dx" not in text_of(timeline(trace, Cursor(t=2, place_index=rec), {}, width=120))
    tied = rnntui.run("graph-tied-lm")                   # ids through an embedding node: its vectors' gradient
    assert "dL/dx_t" in text_of(build(tied, ReportOptions(width=200)))


def test_the_gradient_range_says_when_it_leaves_out_zeros(tmp_path):
    """A sample shorter than the batch: its padded steps have dL/dh_t = 0 (drawn ·). The range line said
    'range a .. b, steps 0..3', a log scale's range that leaves the zeros out, as if it were over every step."""
    from rnntui.render.views import view_for

    path = tmp_path / "packed.yaml"
    path.write_text("mode: many-to-many\ninput: {batch: [[[1.0], [0.5], [-0.3], [0.2]], [[0.4], [-1.0]]]}\n"
                    "model:\n  - {type: gru, hidden_size: 3}\n  - {type: dense, units: 2}\n"
                    "loss: {kind: cross_entropy, target: [[0, 1, 1, 0], [1, 0]]}\n")
    trace = rnntui.run(path)
    place = trace.info.places[0]
    dh = np.asarray(trace["grad.model.0.l0.fwd.h"])[:, 1]
    norms = np.sqrt((dh ** 2).sum(-1))
    assert (norms[2:] == 0).all() and (norms[:2] > 0).all()
    view = view_for(trace.info, place)
    words = text_of(view.gradients(trace, Cursor(sample=1), 80))
    assert f"range {norms[:2].min():.2e} .. {norms[:2].max():.2e}, steps 0..3 (0 at 2 of them, left out)" in words
    full = text_of(view.gradients(trace, Cursor(sample=0), 80))
    assert "range" in full and "left out" not in full


def test_an_encoders_header_does_not_call_an_output_step_its_own():
    """At the attention seq2seq's encoder, step t=3 is a step of src; the header said 'predicted at t=3: 1 99%',
    the output's step 3 (a step of tgt_in), as if it belonged to that source step. It now says what the chain's
    encoder says: the output's prediction at its t=0, which is the run's own argmax there."""
    trace = rnntui.run("graph-attention-reverse")
    enc = next(k for k, p in enumerate(trace.info.places) if p.entry == 1)
    head = text_of(header(trace, Cursor(t=3, place_index=enc)))
    assert "predicted at t=3" not in head
    first = int(np.asarray(trace["output"])[0, 0].argmax())
    assert f"the output predicts at t=0: {trace.info.class_names[first]} " in head
    dec = next(k for k, p in enumerate(trace.info.places) if p.entry == 4)
    assert "predicted at t=3" in text_of(header(trace, Cursor(t=3, place_index=dec)))


def test_the_help_says_an_encoders_s_is_the_outputs_step():
    """The help's verdict row speaks of 'step s, where it entered'; at the attention seq2seq's encoder s = 5 is
    no step of it (src has 0..4): the help now says so, and that the ratio is measured from its last step, as
    the verdict's own numbers are (its ratio is term_gradnorm at step 0 over that at step 4)."""
    from rnntui.render.analysis import verdicts
    from rnntui.render.glossary import glossary

    trace = rnntui.run("graph-attention-reverse")
    g = np.asarray(trace["diag.model.1.l0.fwd.term_gradnorm"])
    enc = next(p for p in trace.info.places if p.entry == 1)
    assert verdicts(trace, enc).of(0).ratio == pytest.approx(g[0, 0] / g[4, 0], rel=1e-12)
    words = glossary(trace.info).plain
    assert ("at model.1 enc: s is a step of the output, which steps through another input; the term reaches "
            "those nodes through what reads them, and the end-to-end ratio is measured from their last step") in words
    assert "s is a step of the output" not in glossary(rnntui.run("lstm-apple").info).plain


def test_a_generators_fed_back_values_are_the_values_shown():
    """PyTorch's time_sequence_prediction with future=3: from step 8 on the loop reads its own output of the
    step before, not the input (padded with zeros there). The report's values, the timeline's input row and
    the ‖dL/dx_t‖ column said 0 at those steps (a gradient of a value never read)."""
    import torch
    nn = torch.nn

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1, self.linear = nn.LSTMCell(1, 6), nn.Linear(6, 1)

        def forward(self, input, future=0):
            outputs = []
            h = torch.zeros(input.size(0), 6, dtype=input.dtype)
            c = torch.zeros(input.size(0), 6, dtype=input.dtype)
            for input_t in input.split(1, dim=1):
                h, c = self.lstm1(input_t, (h, c))
                output = self.linear(h)
                outputs += [output]
            for _ in range(future):
                h, c = self.lstm1(output, (h, c))
                output = self.linear(h)
                outputs += [output]
            return torch.cat(outputs, dim=1)

    torch.manual_seed(0)
    model = Sequence().double()
    x = torch.sin(torch.arange(8, dtype=torch.double) * 0.6)[None].repeat(2, 1)
    with torch.no_grad():
        out = model(x, future=3).numpy()                       # (B, 11): step t's output, fed to step t+1
    trace = rnntui.from_torch(model, x, kwargs={"future": 3}, loss="mse", target=torch.zeros(2, 11, dtype=torch.double))
    read = np.concatenate([x[0].numpy(), out[0, 7:10]])        # what each of the 11 steps read, sample 0
    report = text_of(build(trace, ReportOptions(width=200)))
    assert "values of sample 0: " + " ".join(f"{v:.3g}" for v in read) in report
    assert "from step 8 on, the values shown are those model.0 fed back" in report
    rows = [ln for ln in report.splitlines() if ln.strip().startswith(("7 │", "8 │", "9 │", "10 │")) and "target" in ln]
    assert len(rows) == 8
    assert all(ln.rstrip().endswith(" -") == (not ln.strip().startswith("7 ")) for ln in rows)
    line = text_of(timeline(trace, Cursor(t=9), {}, width=200))
    assert f"{read[9]:.3g}"[:5] in line.splitlines()[0]


def test_the_attention_heatmap_calls_its_rows_source_steps():
    """The attention heatmap's rows are the source steps (0..4 of src), its columns the decoder's steps; its
    title said 'units 0..4' like a state's heatmap."""
    from rnntui.render.views import view_for

    trace = rnntui.run("graph-attention-reverse")
    k = next(k for k, p in enumerate(trace.info.places) if p.entry == 4)
    w = np.asarray(trace["model.4.ctx.weights"])
    assert w.shape[-1] == 5 and np.allclose(w.sum(-1), 1)     # a distribution over the 5 source steps
    shown = text_of(view_for(trace.info, trace.info.places[k]).states(trace, Cursor(place_index=k), 100, 20))
    title = next(ln for ln in shown.splitlines() if "scale" in ln and ("source steps" in ln or "units" in ln)
                 and "t 0..5" in ln)
    assert "source steps 0..4" in title and "units" not in title


def test_the_timeline_marks_help_names_the_norm_a_recurrence_measures(tmp_path):
    """The vanishing / exploding marks of a recurrence carrying h and c measure ‖dL/ds_t‖, both states'
    gradients together (checked on the run's own arrays, which differ from h's alone); the `?` help and the
    `m` dialog said ‖dL/dh_t‖. A one-state recurrence named h (graph-custom-cell) and an LSTM layer keep h."""
    from rnntui.render.glossary import event_words, gradient_norm_words
    from rnntui.tui.mute import option

    path = tmp_path / "loop.yaml"
    path.write_text(LSTM_CELL_LOOP)
    trace = rnntui.run(path)
    gn = np.asarray(trace["diag.model.0.gradnorm"])        # what the marks are drawn from
    dh, dc = np.asarray(trace["grad.model.0.h"]), np.asarray(trace["grad.model.0.c"])
    assert gn == pytest.approx(np.sqrt((dh ** 2).sum((1, 2)) + (dc ** 2).sum((1, 2))), rel=1e-12)
    assert not np.allclose(gn, np.sqrt((dh ** 2).sum((1, 2))), rtol=1e-3)   # not h's alone
    for kind in ("vanishing", "exploding"):
        words = event_words(trace.info)[kind]
        assert words.startswith("BPTT: ‖dL/ds_t‖ (over the batch; at model.0 loop: s its states h, c together)"), words
        assert "dL/dh_t" not in words
    assert "‖dL/ds_t‖ below" in option("vanishing", 0, False, gradient_norm_words(trace.info, notes=False)).plain
    for name in ("graph-custom-cell", "lstm-apple"):
        words = event_words(rnntui.run(name).info)["vanishing"]
        assert words.startswith("BPTT: ‖dL/dh_t‖ (over the batch) is below"), words


TWO_TOKEN_INPUTS = """\
inputs:
  premise: {tokens: [[1, 4, 2, 5, 3], [6, 2, 7, 1, 8]], vocab: [a, b, c, d, e, f, g, h, i, j]}
  hypothesis: {tokens: [[1, 4, 9], [6, 2, 2]], vocab: [A, B, C, D, E, F, G, H, I, J]}
model:
  - {id: emb_p, type: embedding, num_embeddings: 10, embedding_dim: 3, from: premise}
  - {id: emb_h, type: embedding, num_embeddings: 10, embedding_dim: 3, from: hypothesis}
  - {id: enc_p, type: lstm, hidden_size: 4, from: emb_p, take: final}
  - {id: enc_h, type: lstm, hidden_size: 4, from: emb_h, take: final}
  - {id: both, op: cat, from: [enc_p, enc_h]}
  - {type: dense, units: 2}
loss: {kind: sum}
"""


@pytest.mark.parametrize("name", ["graph-shared-encoder", "two-vocabularies"])
def test_a_graphs_report_names_each_token_inputs_tokens(name, tmp_path):
    """Two token inputs (premise, hypothesis): the report's 'tokens of sample b' lines showed the first input's
    alone and did not say whose. Each input's line now names it and holds the ids its embedding read (checked
    on the run: the embedding node's output at step t is the row of its table at that id) and its own words."""
    import re

    if name == "two-vocabularies":
        path = tmp_path / "two.yaml"
        path.write_text(TWO_TOKEN_INPUTS)
        name = path
    trace = rnntui.run(name)
    report = text_of(build(trace, ReportOptions(width=200)))
    first = trace.info.inputs[0]
    assert not re.search(r"^tokens of sample", report, re.M), "a token line that names no input"
    for k, e in enumerate(trace.info.entries[:2]):       # the two embeddings, each reading one input
        src = e.reads[0]
        assert isinstance(src, str) and src in trace.info.inputs
        out = np.asarray(trace[f"model.{k}.out"])         # (T, B, D)
        own = f"param.{k}.weight"                         # a shared embedding (same_as) reads model.0's table
        table = np.asarray(trace[own if own in trace else "param.0.weight"])
        for b in range(trace.info.B):
            line = next(x for x in report.splitlines() if x.startswith(f"{src} tokens of sample {b}: "))
            ids = [int(m) for m in re.findall(r"#(\d+)", line)] or \
                [int(m) for m in re.findall(r"\[\d+\](\d+)", line)]
            assert len(ids) == out.shape[0], line
            for t, i in enumerate(ids):                   # the id named is the row the model read
                assert np.array_equal(out[t, b], table[i]), (line, t)
            if isinstance(name, type(tmp_path)):          # the input's own words, not the first input's
                words = re.findall(r"\[\d+\](\w)#", line)
                assert words == [("abcdefghij" if src == first else "ABCDEFGHIJ")[i] for i in ids], line
    if isinstance(name, type(tmp_path)):
        assert f"in its input's vocabulary ({first}'s has 10)" in report


def test_the_verdicts_term_is_named_over_the_states_a_recurrence_carries(tmp_path):
    """The verdict of a recurrence carrying h and c is measured on ‖dL_s/d(h,c)_t‖, both states' one-term
    gradients together (checked against torch autograd through an LSTMCell loop with the run's weights: it is
    not h's alone); the `?` help called it ‖dL_s/dh_t‖ and 'with respect to h_t'. A layer's stays h."""
    import torch

    from rnntui.render.glossary import glossary

    path = tmp_path / "loop.yaml"
    path.write_text(LSTM_CELL_LOOP)
    trace = rnntui.run(path)
    P = {k.split(".", 2)[2]: torch.tensor(np.asarray(trace[k])) for k in trace if k.startswith("param.0.")}
    cell = torch.nn.LSTMCell(1, 4, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(P[f"cell.{name}"])
    x = torch.tensor(np.asarray(trace["input"]))            # (T, B, 1)
    T, B = x.shape[:2]
    s = np.asarray(trace["diag.model.0.term_step"])
    want = np.zeros((T, B))
    for b in range(B):
        h, c, states = torch.zeros(1, 4, dtype=torch.float64), torch.zeros(1, 4, dtype=torch.float64), []
        for t in range(T):
            h, c = cell(x[t, b:b + 1], (h, c))
            h.retain_grad(), c.retain_grad()
            states.append((h, c))
        y = states[s[b]][0] @ P["lin.weight"].T + P["lin.bias"]   # the one loss term: sample b's output at s
        y.sum().backward()
        for t in range(s[b] + 1):
            dh, dc = states[t][0].grad, states[t][1].grad
            want[t, b] = float(torch.sqrt((dh ** 2).sum() + (0 if dc is None else (dc ** 2).sum())))
    got = np.asarray(trace["diag.model.0.term_gradnorm"])
    assert got[: s.max() + 1] == pytest.approx(want[: s.max() + 1], rel=1e-10)
    h_alone = [float(torch.sqrt((st[0].grad ** 2).sum())) for st in states[: s[-1]]]
    assert not np.allclose(got[: s[-1], -1], h_alone, rtol=1e-3)
    words = glossary(trace.info).plain
    assert "one loss term's gradient ‖dL_s/d(h,c)_t‖ as BPTT" in words and "‖dL_s/dh_t‖" not in words
    assert "dL_s/d(h,c)_t: the gradient of the loss term at step s alone with respect to (h,c)_t at model.0 loop, " \
           "its states h, c together" in words
    for name in ("graph-custom-cell", "lstm-apple"):
        assert "one loss term's gradient ‖dL_s/dh_t‖ as BPTT" in glossary(rnntui.run(name).info).plain
