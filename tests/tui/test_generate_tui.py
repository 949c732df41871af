"""A generator (`feed: output`) in the TUI, unchanged views on a stepped trace: the timeline's input row
shows what each step read (the previous step's output, or the token chosen by arg-max) and says where it
came from; BPTT steps back through it with the recorded split of dL/dh_t and says that the first term
holds the next step's dL/dx."""
from __future__ import annotations

import json

import numpy as np

import rnntui
from rnntui.numfmt import compact, fmt_terms
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_lines

SIZE = (100, 30)


def row(lines, label):
    return next(ln for ln in lines if ln.lstrip().startswith(label + " "))


async def test_stepping_a_generator_forward_and_back(traces):
    trace = traces["sine-generator"]
    out = trace["output"][:, 0, 0]
    async with RnntuiApp(trace).run_test(size=SIZE) as pilot:
        await pilot.press("right", "right")
        lines = screen_lines(app := pilot.app)
        assert "(t=2)" in lines[1]
        shown = row(lines, "input").split()[1:]
        # step 0 read the given value; every later step read the output before it
        assert shown[0] == compact(0.382683, 6)
        assert shown[1:] == [compact(float(v), 6) for v in out[: len(shown) - 1]]
        assert any("input at t≥1 = output at t-1 (feed: output)" in ln for ln in lines)

        await pilot.press("b")
        lines = screen_lines(app)
        assert lines[1].lstrip().startswith("backward pass (BPTT)") and "(t=2)" in lines[1]
        await pilot.press("right", "right")  # BPTT walks back: t=0, the given input
        await pilot.press("left")           # and forward again, to t=1
        lines = screen_lines(app)
        assert "(t=1)" in lines[1]
        key = "grad.model.0.l0.fwd.h"
        from_out, through, _ = fmt_terms(trace[key + ".from_output"][1, 0, 0], trace[key + ".through_time"][1, 0, 0],
                                         trace[key][1, 0, 0])
        assert any(f"= {from_out} + {through} (through time)" in ln for ln in lines), "\n".join(lines)
        assert any("feed: output: the first term holds step t+1's dL/dx" in ln for ln in lines)


async def test_an_arg_max_generator_shows_the_tokens_it_chose(tmp_path):
    path = tmp_path / "gen.yaml"
    path.write_text(json.dumps({
        "mode": "one-to-many", "length": 8, "feed": "output", "seed": 1,
        "input": {"text": "a", "vocab": list("abcde")},
        "model": [{"type": "embedding", "num_embeddings": 5, "embedding_dim": 3},
                  {"type": "gru", "hidden_size": 4}, {"type": "dense", "units": 5, "activation": "softmax"}],
        "weights": {"init": "uniform", "low": -1.5, "high": 1.5},
        "loss": {"kind": "cross_entropy", "target": [1, 2, 3, 4, 0, 1, 2, 3]}}))
    trace = rnntui.run(path)
    chosen = np.argmax(trace["output"][:-1, 0], -1)
    assert len(set(chosen)) > 1
    async with RnntuiApp(trace).run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "right")
        lines = screen_lines(pilot.app)
        assert row(lines, "input").split()[1:] == ["a"] + ["abcde"[i] for i in chosen]
        assert row(lines, "id").split()[1:] == ["#0"] + [f"#{i}" for i in chosen]
        assert f"(t=3: {'abcde'[chosen[2]]} #{chosen[2]})" in lines[1]
        assert any("input at t≥1 = arg-max id of output at t-1 (feed: output)" in ln for ln in lines)
