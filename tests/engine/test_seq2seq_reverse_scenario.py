"""The bundled `seq2seq-reverse` scenario: its weights really reverse the digits it shows, the file
loads through `weights.file` key for key, and the run is PyTorch's to 1e-9 (float64)."""
from __future__ import annotations

import numpy as np

import rnntui
from rnntui.scenario.bundled import bundled
from rnntui.scenario.weights import read_weight_file
from rnntui.scenario.yaml_source import load_yaml

NAME = "seq2seq-reverse"
DIGIT0 = 3  # ids: PAD 0, GO 1, END 2, digit d is d + 3


def _doc() -> dict:
    return load_yaml(bundled()[NAME].read_text(encoding="utf-8"), NAME)[0]


def _weights() -> dict[str, np.ndarray]:
    return read_weight_file(bundled()[NAME].parent / _doc()["weights"]["file"])


def test_the_scenario_reverses_its_input_at_every_decoder_step():
    trace = rnntui.run(NAME)
    src = trace["token_ids"]                       # (T, B)
    target = np.asarray(trace["meta.target"])      # (T + 1, B): the reversed digits, then END
    assert np.array_equal(target[:-1], src[::-1]), "the scenario's target is not its input reversed"
    assert (target[-1] == 2).all()
    # teacher forcing: the decoder reads GO, then the target shifted right
    dec_in = np.asarray(trace["decoder.input"][..., 0], dtype=int)
    assert (dec_in[0] == 1).all() and np.array_equal(dec_in[1:], target[:-1])
    assert trace["model.4.out"].argmax(-1).tolist() == target.tolist()
    assert float(trace["loss"]) < 0.01


def test_the_first_digit_read_decides_the_last_digit_written(tmp_path):
    """Change only each sequence's first digit (and the targets that follow from it): decoder step
    4, whose input is the second digit, must now write the new first digit, which it can only have
    learnt from the encoder's final state."""
    import json

    doc = _doc()
    texts = doc["input"]["text"]
    changed = []
    for text in texts:
        d = text.split()
        d[0] = str((int(d[0]) + 5) % 10)
        changed.append(d)
    doc["input"]["text"] = [" ".join(d) for d in changed]
    doc["decoder"]["input"]["text"] = ["GO " + " ".join(d[::-1]) for d in changed]
    doc["loss"]["target"] = [[int(c) + DIGIT0 for c in d[::-1]] + [2] for d in changed]
    doc["weights"]["file"] = str(bundled()[NAME].parent / doc["weights"]["file"])
    path = tmp_path / "changed.yaml"
    path.write_text(json.dumps(doc))
    trace = rnntui.run(path)
    assert trace["model.4.out"][4].argmax(-1).tolist() == [int(d[0]) + DIGIT0 for d in changed]


def test_the_weights_file_holds_every_parameter_and_nothing_else():
    trace = rnntui.run(NAME)
    params = {k[len("param."):] for k in trace if k.startswith("param.")}
    loaded = _weights()
    assert set(loaded) == params
    for name, value in loaded.items():
        np.testing.assert_array_equal(trace[f"param.{name}"], np.asarray(value, dtype=np.float64), err_msg=name)
    assert _doc()["weights"]["init"] == "none"  # so a key missing from the file would be an error


def test_the_scenario_matches_pytorch():
    import torch
    trace = rnntui.run(NAME)
    W = {k: torch.tensor(np.asarray(v, dtype=np.float64)) for k, v in _weights().items()}
    enc_emb = torch.nn.Embedding(13, 8, padding_idx=0).double()
    enc = torch.nn.GRU(8, 32).double()
    dec_emb = torch.nn.Embedding(13, 8, padding_idx=0).double()
    dec = torch.nn.GRU(8, 32).double()
    out = torch.nn.Linear(32, 13).double()
    with torch.no_grad():
        for i, module in enumerate([enc_emb, enc, dec_emb, dec, out]):
            for name, p in module.named_parameters():
                p.copy_(W[f"{i}.{name}"])
    src = torch.tensor(trace["token_ids"], dtype=torch.long)
    dec_in = torch.tensor(np.asarray(trace["decoder.input"][..., 0]), dtype=torch.long)
    target = torch.tensor(np.asarray(trace["meta.target"]), dtype=torch.long)
    _, h_n = enc(enc_emb(src))
    y, _ = dec(dec_emb(dec_in), h_n)
    logits = out(y)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 13), target.reshape(-1))
    np.testing.assert_allclose(float(trace["loss"]), loss.item(), rtol=1e-9)
    np.testing.assert_allclose(trace["model.4.out"], logits.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(trace["handover.h"], h_n.detach().numpy(), rtol=1e-9, atol=1e-12)
