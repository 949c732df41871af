"""Unusual but valid models, every key, at 80x24, and their reports: nothing crashes and NumPy never
warns over the screen (an overflowed or NaN run is shown, not warned about). Random key sequences,
dialogs included, at several sizes: the app always answers afterwards."""
from __future__ import annotations

import json
import random
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app as cli
from rnntui.engine.trace import Trace
from rnntui.tui.app import RnntuiApp
from rnntui.tui.screens import HelpScreen

CASES = {
    "dense-only-seq": {"input": {"values": [[1, 2], [3, 4], [5, 6]]},
                       "model": [{"type": "dense", "units": 3, "activation": "relu"},
                                 {"type": "activation", "function": "sigmoid"}]},
    "crnn-strided-m2o": {"mode": "many-to-one",
                         "input": {"generate": {"kind": "noise", "length": 15, "features": 3, "batch": 2}},
                         "model": [{"type": "conv1d", "out_channels": 4, "kernel_size": 3, "stride": 2},
                                   {"type": "maxpool1d", "kernel_size": 2},
                                   {"type": "gru", "hidden_size": 3, "bidirectional": True, "merge": "mul"},
                                   {"type": "dense", "units": 2}],
                         "loss": {"kind": "cross_entropy", "target": [0, 1]}},
    "identity-o2m": {"mode": "one-to-many", "length": 6, "input": {"values": [[1.0]]},
                     "model": [{"type": "rnn", "hidden_size": 2, "nonlinearity": "identity", "num_layers": 3,
                                "bidirectional": True, "merge": "mean"}]},
    "relu-batch": {"input": {"batch": [[[1], [2]], [[3], [4]], [[5], [6]]]},
                   "model": [{"type": "rnn", "hidden_size": 3, "nonlinearity": "relu"}, {"type": "flatten"},
                             {"type": "dense", "units": 1}],
                   "loss": {"kind": "mse", "target": [[[1], [2]], [[3], [4]], [[5], [6]]]}},
    "nan-lstm": {"input": {"file": "nan.npy"}, "model": [{"type": "lstm", "hidden_size": 2, "bidirectional": True}]},
    "conv-groups": {"input": {"image": np.random.default_rng(0).normal(size=(4, 6, 5)).round(3).tolist()},
                    "model": [{"type": "conv2d", "out_channels": 4, "kernel_size": [2, 3], "groups": 4,
                               "dilation": [2, 1], "activation": "tanh"}, {"type": "avgpool2d", "kernel_size": 1},
                              {"type": "flatten"}, {"type": "dense", "units": 2, "activation": "softmax"}],
                    "loss": {"kind": "cross_entropy", "target": 1}},
    "overflow": {"mode": "many-to-one", "input": {"generate": {"kind": "pulse", "length": 1100}},
                 "model": [{"type": "rnn", "hidden_size": 1, "nonlinearity": "identity"}],
                 "weights": {"init": "constant", "value": 0.0,
                             "set": {"0.weight_ih_l0": [[1.0]], "0.weight_hh_l0": [[2.0]]}}},
    "float32-chars": {"dtype": "float32", "input": {"text": "to be or not to be", "tokenize": "chars"},
                      "model": [{"type": "gru", "hidden_size": 5, "num_layers": 2, "bidirectional": True,
                                 "merge": "sum"}, {"type": "dense", "units": 4, "activation": "softmax"}]},
}
KEYS = ["right", "end", "pagedown", "b", "pageup", "right_square_bracket", "right_square_bracket", "d", "down",
        "s", "n", "N", "left_square_bracket", "home", "right", "b", "question_mark", "escape"]


@pytest.fixture
def scenario(tmp_path, request):
    np.save(tmp_path / "nan.npy", np.array([[0.1, 0.2], [np.nan, 0.3], [0.2, 0.1], [0.5, 0.5]]))
    path = tmp_path / f"{request.param}.yaml"
    path.write_text(json.dumps(CASES[request.param]))
    return path


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("scenario", sorted(CASES), indirect=True)
async def test_every_key_on_unusual_models(scenario):
    trace = rnntui.run(scenario)
    app = RnntuiApp(trace)
    async with app.run_test(size=(80, 24)) as pilot:
        for key in KEYS:
            await pilot.press(key)
        await pilot.pause()
        assert app.is_running and len(app.screen_stack) == 1


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("scenario", sorted(CASES), indirect=True)
def test_reports_of_unusual_models(scenario):
    result = CliRunner().invoke(cli, ["show", str(scenario)], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert "Parameter gradients" in result.output


# --- random key sequences, dialogs included, at several sizes ---------------------------------

MOVES = ["right", "left", "home", "end", "pagedown", "pageup", "up", "down", "b", "d", "s", "n", "N", "space",
         "right_square_bracket", "left_square_bracket"]
DIALOG = ["question_mark", "g", "escape", "enter", "backspace", "1", "7", "0", "x", "minus", "question_mark"]
SIZES = [(120, 36), (80, 24), (40, 12), (100, 30)]


def random_keys(rng: random.Random, n: int) -> list[str]:
    """Mostly moves; now and then a dialog opened and typed into (digits, a letter, ? inside it)."""
    keys: list[str] = []
    while len(keys) < n:
        if rng.random() < 0.25:
            keys.append(rng.choice(["question_mark", "g"]))
            keys.extend(rng.choice(DIALOG + MOVES[:8]) for _ in range(rng.randint(1, 8)))
        else:
            keys.append(rng.choice(MOVES))
    return keys


def phase_in_header(app) -> str:
    header = app.query_one("#header")
    text = " ".join(header.render_line(y).text for y in range(header.size.height))
    return "backward" if "backward pass" in text else "forward" if "forward pass" in text else "?"


async def still_answers(app, pilot) -> None:
    """Back on the debugger, `b` flips the phase the header shows and `?` opens the help."""
    for _ in range(3):
        if len(app.screen_stack) == 1:
            break
        await pilot.press("escape")
    assert len(app.screen_stack) == 1
    await pilot.pause()
    before = phase_in_header(app)
    assert before in ("forward", "backward")
    await pilot.press("b")
    await pilot.pause()
    assert phase_in_header(app) == ("backward" if before == "forward" else "forward")
    await pilot.press("question_mark")
    assert isinstance(app.screen, HelpScreen)
    await pilot.press("escape")
    assert len(app.screen_stack) == 1


def crafted_long_names():
    """A valid run whose name, description and tokens are far longer than any screen."""
    live = rnntui.run("bilstm-apple")
    tokens = np.array([f"[/]{'t' * 5000}{t}" for t in range(live.info.T)])
    return Trace({**{k: live[k] for k in live}, "tokens": tokens},
                 replace(live.info, name="[b]" + "N" * 1_000_000, description="[/] " * 200_000))


@pytest.mark.parametrize("name", ["rnn-sine", "cnn-digit", "long-text"])
async def test_random_key_sequences_leave_the_app_answering(name, traces, tmp_path):
    # seeded: a failure replays exactly. Three sizes of the four and 15 keys a size keep each
    # case near 5 s (Pilot waits for a frame after every key).
    rng = random.Random(f"rnntui-{name}")
    trace = crafted_long_names() if name == "long-text" else traces[name]
    app = RnntuiApp(trace, export_dir=tmp_path)
    async with app.run_test(size=SIZES[0]) as pilot:
        for size in rng.sample(SIZES, 3):
            await pilot.resize_terminal(*size)
            keys = random_keys(rng, 15)
            await pilot.press(*keys)
            assert app.is_running, (size, keys)
            await still_answers(app, pilot)
