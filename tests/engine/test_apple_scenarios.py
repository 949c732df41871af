"""The bundled "apple" scenarios (the lecture's BRNN example): their trained weights really do what the
descriptions say. On "I like apple. It is very healthy." (kept out of training) the bidirectional models tag
every word right, fruit at "apple"; their one-direction counterparts, which have read only "I like apple" at
"apple", cannot tell fruit from company there; only the words after "apple" decide. Each file loads through
`weights.file` key for key, and each run is PyTorch's to 1e-9 (float64)."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import rnntui
from rnntui.render.compare import compare_panel
from rnntui.render.cursor import Cursor
from rnntui.scenario.bundled import bundled
from rnntui.scenario.weights import read_weight_file
from rnntui.scenario.yaml_source import load_yaml

PAIRS = [("bilstm-apple", "lstm-apple"), ("brnn-apple", "rnn-apple")]
BOTH = [bi for bi, _ in PAIRS]
ONE = [one for _, one in PAIRS]
OTHER, FRUIT, COMPANY = 0, 1, 2
APPLE = 2  # "I like apple ..." : step 2
TOOLS = Path(__file__).resolve().parents[2] / "tools"


def _doc(name: str) -> dict:
    return load_yaml(bundled()[name].read_text(encoding="utf-8"), name)[0]


def _weights(name: str) -> dict[str, np.ndarray]:
    return read_weight_file(bundled()[name].parent / _doc(name)["weights"]["file"])


def _description(name: str) -> str:
    return " ".join(_doc(name)["description"].split())


def _p(trace, t: int = APPLE) -> np.ndarray:
    return np.asarray(trace["output"], dtype=float)[t, 0]


def _with_ending(name: str, tmp_path, ending: str, target: int):
    """The scenario on the same sentence with another last word (and the target that follows from it)."""
    doc = _doc(name)
    doc["input"]["text"] = doc["input"]["text"].replace("healthy", ending)
    doc["input"]["vocab"] = str(bundled()[name].parent / doc["input"]["vocab"])
    doc["weights"]["file"] = str(bundled()[name].parent / doc["weights"]["file"])
    doc["loss"]["target"][APPLE] = target
    path = tmp_path / f"{name}-{ending}.yaml"
    path.write_text(json.dumps(doc))
    return rnntui.run(path)


@pytest.mark.parametrize("name", BOTH)
def test_the_bidirectional_model_tags_every_word_of_the_shown_sentence(name, traces):
    trace = traces[name]
    assert " ".join(trace["tokens"]) == "I like apple . It is very healthy ."
    target = np.asarray(trace["meta.target"])[:, 0]
    assert target.tolist() == [OTHER, OTHER, FRUIT] + [OTHER] * 6
    assert np.asarray(trace["output"])[:, 0].argmax(-1).tolist() == target.tolist()
    assert _p(trace)[FRUIT] > 0.99
    # the description's number is the run's
    assert f"fruit with probability {_p(trace)[FRUIT]:.3f}" in _description(name)


@pytest.mark.parametrize("name", ONE)
def test_the_one_direction_model_cannot_tell_at_apple(name, traces):
    trace = traces[name]
    p = _p(trace)
    assert p[OTHER] < 0.01 and abs(p[FRUIT] - p[COMPANY]) < 0.02  # undecided between the two
    pred = np.asarray(trace["output"])[:, 0].argmax(-1)
    target = np.asarray(trace["meta.target"])[:, 0]
    assert (pred[np.arange(9) != APPLE] == target[np.arange(9) != APPLE]).all()  # every other word right
    words = _description(name)
    assert f"fruit {p[FRUIT]:.3f}, company {p[COMPANY]:.3f} (50% each on screen)" in words
    assert f"{p[FRUIT]:.0%}" == f"{p[COMPANY]:.0%}" == "50%"
    t = list(trace["tokens"]).index("healthy")
    assert f'"healthy" arrives at t={t}, too late for the tag at t={APPLE}' in words
    missed = pred[APPLE] != FRUIT
    assert ("the target (fruit) is missed by a hair" in words) == missed
    assert ("the target (fruit) is hit by a hair" in words) == (not missed)


@pytest.mark.parametrize("bi,one", PAIRS)
def test_only_the_words_after_apple_decide(bi, one, tmp_path, traces):
    """The same sentence ending in a company's word: the bidirectional model now says company at "apple";
    the one-direction model says at "apple" exactly what it said before (it has not read the ending yet)."""
    for ending, cls in (("profitable", COMPANY), ("sweet", FRUIT)):
        both = _with_ending(bi, tmp_path, ending, cls)
        assert _p(both).argmax() == cls and _p(both)[cls] > 0.9, ending
        assert np.asarray(both["output"])[:, 0].argmax(-1).tolist() == np.asarray(both["meta.target"])[:, 0].tolist()
        alone = _with_ending(one, tmp_path, ending, cls)
        np.testing.assert_array_equal(np.asarray(alone["output"])[:APPLE + 1], np.asarray(traces[one]["output"])[:APPLE + 1])


@pytest.mark.parametrize("bi,one", PAIRS)
def test_the_bidirectional_forward_direction_is_the_one_direction_model(bi, one, traces):
    a, b = traces[bi], traces[one]
    wa, wb = _weights(bi), _weights(one)
    for name, value in wb.items():
        if name.startswith("0."):
            np.testing.assert_array_equal(wa[name], value, err_msg=name)
    fwd_keys = [k for k in b if k.startswith("model.0.l0.fwd.")]  # states and gates of the forward pass
    assert "model.0.l0.fwd.h" in fwd_keys
    for key in fwd_keys:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # and the one-direction model's numbers that the bidirectional description quotes
    assert f"{one} gives fruit and company {_p(b)[FRUIT]:.0%} each there" in _description(bi)
    # what `rnntui run BI --compare ONE` shows: no difference in the forward direction, none to take in
    # the backward one, and the heads apart at "apple"
    fwd = Cursor(t=APPLE, place_index=a.info.places.index(b.info.places[0]))
    assert re.search(r"^h +‖A‖ \S+ +‖B‖ \S+ +‖A-B‖ 0\.0000$", _text(compare_panel(a, b, fwd, 120)), re.M)
    bwd = Cursor(t=APPLE, place_index=next(k for k, p in enumerate(a.info.places) if p.direction == "bwd"))
    assert "B has no model.0" in _text(compare_panel(a, b, bwd, 120))
    head = Cursor(t=APPLE, place_index=len(a.info.places) - 1)
    d = np.linalg.norm(_p(a) - _p(b))
    shown = _text(compare_panel(a, b, head, 120))
    assert f"‖A-B‖ {d:.4f}" in shown
    # the two predictions at "apple", side by side: fruit, and a coin toss
    assert "A predicts fruit 100% · " in shown and "target fruit ✓" in shown
    first, second = sorted(((_p(b)[k], name) for k, name in ((FRUIT, "fruit"), (COMPANY, "company"))), reverse=True)
    assert f"B predicts {first[1]} 50% · {second[1]} 50% · other 0%" in shown


def _text(renderable) -> str:
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(renderable)
    return out.getvalue()


@pytest.mark.parametrize("name", BOTH + ONE)
def test_the_weights_file_holds_every_parameter_and_nothing_else(name, traces):
    trace = traces[name]
    params = {k[len("param."):] for k in trace if k.startswith("param.")}
    loaded = _weights(name)
    assert set(loaded) == params
    for key, value in loaded.items():
        np.testing.assert_array_equal(trace[f"param.{key}"], np.asarray(value, dtype=np.float64), err_msg=key)
    assert _doc(name)["weights"]["init"] == "none"  # so a key missing from the file would be an error


@pytest.mark.parametrize("name", BOTH + ONE)
def test_the_scenario_matches_pytorch(name, traces):
    import torch
    trace = traces[name]
    e = trace.info.entries[0]
    W = {k: torch.tensor(np.asarray(v, dtype=np.float64)) for k, v in _weights(name).items()}
    cell = {"lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}[e.type]
    bidirectional = len(e.directions) == 2
    rnn = cell(trace["input"].shape[-1], e.hidden_size, bidirectional=bidirectional).double()
    head = torch.nn.Linear(W["1.weight"].shape[1], 3).double()
    with torch.no_grad():
        for module, i in ((rnn, 0), (head, 1)):
            for pname, p in module.named_parameters():
                p.copy_(W[f"{i}.{pname}"])
    x = torch.tensor(np.asarray(trace["input"]))
    y, _ = rnn(x)
    if bidirectional and e.merge == "sum":
        y = y[..., :e.hidden_size] + y[..., e.hidden_size:]
    logits = head(y)
    target = torch.tensor(np.asarray(trace["meta.target"]), dtype=torch.long)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 3), target.reshape(-1))
    np.testing.assert_allclose(float(trace["loss"]), loss.item(), rtol=1e-9)
    np.testing.assert_allclose(trace["output"], logits.softmax(-1).detach().numpy(), rtol=1e-9, atol=1e-12)


def test_the_shown_sentence_was_kept_out_of_training(traces):
    import torch  # noqa: F401 - the reference
    sys.path.insert(0, str(TOOLS))
    try:
        import make_apple
    finally:
        sys.path.remove(str(TOOLS))
    shown = " ".join(traces["bilstm-apple"]["tokens"])
    assert make_apple.SHOWN == shown
    assert shown in {" ".join(w) for w, _ in make_apple.sentences()}  # the grammar makes it ...
    trained = {" ".join(w) for w, _ in make_apple.training_sentences()}
    assert shown not in trained and make_apple.TWIN not in trained  # ... and training leaves it out
    vocab = (bundled()["bilstm-apple"].parent / "apple-vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab == make_apple.VOCAB
    for name in BOTH + ONE:
        assert _doc(name)["input"]["text"] == "I like apple. It is very healthy."
