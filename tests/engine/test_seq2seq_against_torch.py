"""Encoder-decoder against PyTorch: for each family, encoders of one and two layers, one and two
directions (concat and sum), the decoder started from the encoder's merged final states. Compared
to 1e-9 in float64: loss, outputs, every parameter gradient, dL/d(hand-over), and the encoder's
per-step total dL/dh_t (and dL/dc_t) in every layer and direction, which torch gives from a
step-by-step encoder of cells with retained gradients."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402
from rnntui.errors import ScenarioError  # noqa: E402

V_SRC, V_TGT, E, H = 9, 8, 4, 3
T_SRC, T_TGT, B = 5, 4, 2
ENCODERS = [(1, False, "concat"), (2, False, "concat"), (1, True, "concat"), (2, True, "sum")]


def scenario(kind, layers, bidir, how, dec_kind=None, seed=0):
    rng = np.random.default_rng(seed)
    Hd = H * (2 if bidir and how == "concat" else 1)
    return {
        "version": 1, "seed": seed, "mode": "encoder-decoder",
        "input": {"tokens": rng.integers(1, V_SRC, (B, T_SRC)).tolist()},
        "model": [{"type": "embedding", "num_embeddings": V_SRC, "embedding_dim": E},
                  {"type": kind, "hidden_size": H, "num_layers": layers, "bidirectional": bidir, "merge": how}],
        "decoder": {"input": {"tokens": rng.integers(0, V_TGT, (B, T_TGT)).tolist()},
                    "model": [{"type": "embedding", "num_embeddings": V_TGT, "embedding_dim": E},
                              {"type": dec_kind or kind, "hidden_size": Hd, "num_layers": layers},
                              {"type": "dense", "units": V_TGT}]},
        "weights": {"init": "uniform", "low": -0.7, "high": 0.7},
        "loss": {"kind": "cross_entropy", "target": rng.integers(0, V_TGT, (B, T_TGT)).tolist()},
    }


def run_doc(tmp_path, doc):
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(doc))
    return rnntui.run(p)


CELLS = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def _param(trace, name):
    return torch.tensor(trace[f"param.{name}"], requires_grad=True)


def torch_run(trace, kind, layers, bidir, how, dec_kind):
    """The same run: an encoder of cells step by step (every h_t keeps its gradient), the merged final
    states as (h_0, c_0) of the decoder module, a Linear and cross_entropy over the decoder's steps."""
    P = {k[len("param."):]: _param(trace, k[len("param."):]) for k in trace if k.startswith("param.")}
    x = torch.tensor(trace["input"][..., 0], dtype=torch.long)
    inp = P["0.weight"][x]
    dirs = ["fwd", "bwd"] if bidir else ["fwd"]
    kept, finals = {}, []
    for j in range(layers):
        outs, fin = [], {}
        for d in dirs:
            sfx = f"_l{j}" + ("_reverse" if d == "bwd" else "")
            W = [P[f"1.{n}{sfx}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h = torch.zeros(B, H, dtype=torch.float64)
            c = torch.zeros(B, H, dtype=torch.float64)
            hs, cs = [None] * T_SRC, [None] * T_SRC
            for t in (range(T_SRC - 1, -1, -1) if d == "bwd" else range(T_SRC)):
                if kind == "lstm":
                    h, c = torch._VF.lstm_cell(inp[t], (h, c), *W)
                    c.retain_grad()
                    cs[t] = c
                elif kind == "gru":
                    h = torch._VF.gru_cell(inp[t], h, *W)
                else:
                    h = torch._VF.rnn_tanh_cell(inp[t], h, *W)
                h.retain_grad()
                hs[t] = h
            kept[f"model.1.l{j}.{d}.h"] = hs
            if kind == "lstm":
                kept[f"model.1.l{j}.{d}.c"] = cs
            fin[d] = (hs[-1] if d == "fwd" else hs[0], (cs[-1] if d == "fwd" else cs[0]) if kind == "lstm" else None)
            outs.append(torch.stack(hs))
        inp = torch.cat(outs, -1)
        finals.append(fin)

    def merged(k):
        parts = [f[d][k] for f in finals for d in dirs]
        per_layer = [parts[i:i + len(dirs)] for i in range(0, len(parts), len(dirs))]
        return torch.stack([p[0] if len(p) == 1 else (torch.cat(p, -1) if how == "concat" else p[0] + p[1])
                            for p in per_layer])

    h0 = merged(0)
    h0.retain_grad()
    dk = dec_kind or kind
    Hd = h0.shape[-1]
    dec = MODULES[dk](E, Hd, num_layers=layers).double()
    with torch.no_grad():
        for n, p in dec.named_parameters():
            p.copy_(P[f"3.{n}"])
    xd = torch.tensor(trace["decoder.input"][..., 0], dtype=torch.long)
    state = (h0, merged(1)) if dk == "lstm" else h0
    out, _ = dec(P["2.weight"][xd], state)
    y = out @ P["4.weight"].T + P["4.bias"]
    tgt = torch.tensor(trace["meta.target"], dtype=torch.long)
    loss = torch.nn.functional.cross_entropy(y.reshape(-1, V_TGT), tgt.reshape(-1))
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in P.items() if v.grad is not None}
    grads.update({f"3.{n}": p.grad.numpy() for n, p in dec.named_parameters()})
    per_step = {k: torch.stack([s.grad for s in v]).numpy() for k, v in kept.items()}
    return float(loss.detach()), y.detach().numpy(), grads, per_step, h0.grad.numpy()


GRID = [(k, *e) for k, e in itertools.product(["rnn", "lstm", "gru"], ENCODERS)]


@pytest.mark.parametrize("kind,layers,bidir,how", GRID,
                         ids=[f"{k}-l{n}-{'bi-' + m if b else 'uni'}" for k, n, b, m in GRID])
def test_encoder_decoder_matches_torch(tmp_path, kind, layers, bidir, how):
    trace = run_doc(tmp_path, scenario(kind, layers, bidir, how))
    loss, y, grads, per_step, dh0 = torch_run(trace, kind, layers, bidir, how, None)
    np.testing.assert_allclose(trace["loss"], loss, rtol=1e-9)
    np.testing.assert_allclose(trace["model.4.out"], y, rtol=1e-9, atol=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], g, rtol=1e-9, atol=1e-12, err_msg=name)
    for key, g in per_step.items():
        np.testing.assert_allclose(trace[f"grad.{key}"], g, rtol=1e-8, atol=1e-13, err_msg=key)
    np.testing.assert_allclose(trace["grad.handover.h"], dh0, rtol=1e-9, atol=1e-12)
    assert trace.info.T == T_TGT and trace.info.entries[1].steps == T_SRC


def test_an_lstm_encoder_hands_h_to_a_gru_decoder(tmp_path):
    trace = run_doc(tmp_path, scenario("lstm", 2, True, "concat", dec_kind="gru"))
    loss, _, grads, per_step, _ = torch_run(trace, "lstm", 2, True, "concat", "gru")
    np.testing.assert_allclose(trace["loss"], loss, rtol=1e-9)
    for name, g in grads.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], g, rtol=1e-9, atol=1e-12, err_msg=name)
    assert "handover.c" not in trace


@pytest.mark.parametrize("change,said", [
    (lambda d: d["decoder"]["model"][1].update(hidden_size=5), "decoder.model[1].hidden_size: model.1 (gru) hands "
     "over to model.3 (gru): found hidden_size 5; expected 6, the size of the encoder's final state (3 per "
     "direction, concat)"),
    (lambda d: d["decoder"]["model"][1].update(num_layers=1), "found 1 layer against the encoder's 2"),
    (lambda d: d["decoder"]["model"][1].update(bidirectional=True), "a decoder reads its steps in order"),
    (lambda d: d["decoder"]["model"][1].update(type="lstm"), "the decoder needs a starting c that a gru does not"),
    (lambda d: d["model"].append({"type": "dense", "units": 2}), "model[2].type: the encoder ends with a dense"),
    (lambda d: d["decoder"]["input"].update(tokens=[[1, 2]]), "found 1 sample; expected one per encoder sample (2)"),
    (lambda d: d.pop("decoder"), "mode: encoder-decoder needs a `decoder:` section"),
    (lambda d: d.update(mode="many-to-many"), "decoder: is only for mode encoder-decoder"),
])
def test_encoders_and_decoders_that_cannot_be_joined_are_refused(tmp_path, change, said):
    doc = scenario("gru", 2, True, "concat")
    change(doc)
    with pytest.raises(ScenarioError) as exc:
        run_doc(tmp_path, doc)
    assert said in str(exc.value)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_a_packed_encoder_hands_over_each_sources_own_last_state(tmp_path, kind):
    """Source sentences of different lengths: torch packs them (pack_padded_sequence) and hands h_n
    (each sample's own last step) to the decoder; the same loss and every parameter gradient."""
    from torch.nn.utils.rnn import pack_padded_sequence

    doc = scenario(kind, 2, True, "concat", seed=3)
    rng = np.random.default_rng(7)
    lengths = [5, 2, 3]
    doc["input"] = {"tokens": [rng.integers(1, V_SRC, n).tolist() for n in lengths]}
    for part in (doc["decoder"]["input"], doc["loss"]):
        key = "tokens" if "tokens" in part else "target"
        part[key] = part[key] + [part[key][0]]  # a third sample
    trace = run_doc(tmp_path, doc)
    assert trace["meta.lengths"].tolist() == lengths
    P = {k[len("param."):]: _param(trace, k[len("param."):]) for k in trace if k.startswith("param.")}
    enc = MODULES[kind](E, H, num_layers=2, bidirectional=True).double()
    dec = MODULES[kind](E, 2 * H, num_layers=2).double()
    with torch.no_grad():
        for n, p in enc.named_parameters():
            p.copy_(P[f"1.{n}"])
        for n, p in dec.named_parameters():
            p.copy_(P[f"3.{n}"])
    ids = torch.tensor(trace["input"][..., 0], dtype=torch.long)
    packed = pack_padded_sequence(P["0.weight"][ids], torch.tensor(lengths), enforce_sorted=False)
    _, final = enc(packed)

    def merged(s):
        return torch.stack([torch.cat([s[2 * j], s[2 * j + 1]], -1) for j in range(2)])

    state = (merged(final[0]), merged(final[1])) if kind == "lstm" else merged(final)
    out, _ = dec(P["2.weight"][torch.tensor(trace["decoder.input"][..., 0], dtype=torch.long)], state)
    y = out @ P["4.weight"].T + P["4.bias"]
    tgt = torch.tensor(trace["meta.target"], dtype=torch.long)
    loss = torch.nn.functional.cross_entropy(y.reshape(-1, V_TGT), tgt.reshape(-1))
    loss.backward()
    np.testing.assert_allclose(trace["loss"], float(loss.detach()), rtol=1e-9)
    np.testing.assert_allclose(trace["handover.h"], (state[0] if kind == "lstm" else state).detach().numpy(),
                               rtol=1e-9, atol=1e-12)
    grads = {k: v.grad.numpy() for k, v in P.items() if v.grad is not None}
    grads.update({f"1.{n}": p.grad.numpy() for n, p in enc.named_parameters()})
    grads.update({f"3.{n}": p.grad.numpy() for n, p in dec.named_parameters()})
    for name, g in grads.items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], g, rtol=1e-9, atol=1e-12, err_msg=name)
