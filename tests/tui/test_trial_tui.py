"""Findings of the new-user trial in the TUI's dialogs and files: a saved iteration opens at itself, the
expression dialog points into what the user typed, `W` writes a scenario that runs where it is written."""
from __future__ import annotations

import rnntui
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

SIZE = (120, 40)


async def test_a_trace_exported_at_an_iteration_opens_at_that_iteration(traces, tmp_path):
    from rnntui.engine.train import with_record_of

    training = traces["training-exploding-clipped"]
    N = training.iterations
    path = tmp_path / "it5.npz"
    with_record_of(training, 5).save(path)
    app = RnntuiApp(rnntui.load_trace(path))
    async with app.run_test(size=SIZE) as pilot:
        assert app.iteration == 5 and f"training: iteration 5 of 0..{N - 1}" in screen_text(app)
        assert float(app.run_state.trace.whole["loss"]) == float(training["train.loss"][5])
        await pilot.press("full_stop")
        assert app.iteration == 5
        assert "keeps the record of iteration 5 only" in list(app._notifications)[-1].message


async def test_the_expression_dialog_points_into_what_was_typed(traces):
    """`w`, `mean(gates.f) +`: the expression ends after the '+', at column 16 of what was typed; the
    `@place` the dialog pins a kept watch with is nobody's typing, so it is never 'found'."""
    from rnntui.tui.screens import ExpressionScreen

    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", *"mean(gates.f) +")
        await pilot.pause()
        assert isinstance(app.screen, ExpressionScreen)
        shown = str(app.screen.query_one("#expression-error").content)
        assert shown == "mean(gates.f) +\n               ^\ncolumn 16: the expression ends here; expected a value " \
                        "(a number, a name, a function call or '(')"
        assert "@" not in shown
        await pilot.press("ctrl+u", *"mean(gates.q)")
        await pilot.pause()
        assert "column 6: found gates.q" in screen_text(app)
        await pilot.press("ctrl+u", *"mean(gates.f)", "enter")
        assert app.debugging.watches == ("mean(gates.f) @model.0.l0.fwd",)


async def _write_what_if(trace, export_dir, pilot_keys=("i", *"h = 1", "enter")):
    app = RnntuiApp(trace, export_dir=export_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*pilot_keys)
        whatif = app.run_state.trace.whole
        assert whatif is not trace
        await pilot.press("W")
        message = list(app._notifications)[-1].message
    return whatif, message


async def test_W_writes_a_scenario_whose_files_resolve_where_it_is_written(tmp_path):
    """A scenario that reads its input, weights and vocabulary from files next to it, what-if'd and written
    to another folder: the written file validates and runs to the what-if's numbers."""
    import numpy as np
    from typer.testing import CliRunner

    from rnntui.cli import app as cli

    src, out = tmp_path / "project" / "scenarios", tmp_path / "exports"
    (src / "data").mkdir(parents=True)
    out.mkdir()
    rng = np.random.default_rng(0)
    np.save(src / "data" / "x.npy", rng.normal(size=(1, 6, 2)))
    np.savez(src / "data" / "w.npz", **{"0.weight_ih_l0": rng.normal(size=(3, 2)), "0.weight_hh_l0": rng.normal(size=(3, 3)),
                                        "0.bias_ih_l0": rng.normal(size=3), "0.bias_hh_l0": rng.normal(size=3)})
    np.save(src / "data" / "h0.npy", rng.normal(size=(1, 1, 3)))
    (src / "s.yaml").write_text("input: {file: data/x.npy}\n"
                                "model:\n  - {type: rnn, hidden_size: 3, initial_state: {h: data/h0.npy}}\n"
                                "weights: {init: none, file: data/w.npz}\n")
    trace = rnntui.run(src / "s.yaml")
    whatif, message = await _write_what_if(trace, out)
    written = out / "s-whatif.yaml"
    text = written.read_text()
    assert "file: ../project/scenarios/data/x.npy" in text and "file: ../project/scenarios/data/w.npz" in text
    assert "h: ../project/scenarios/data/h0.npy" in text
    assert "input.file, weights.file, model[0].initial_state.h rewritten" in message
    assert CliRunner().invoke(cli, ["validate", str(written)]).exit_code == 0
    again = rnntui.run(written)
    for key in ("loss", "model.0.l0.fwd.h", "grad.param.0.weight_hh_l0"):
        np.testing.assert_array_equal(again[key], whatif[key])


async def test_W_on_a_bundled_scenario_names_its_weights_file_from_the_export_folder(tmp_path, traces):
    """The trial's case: `safetensors-weights` from another folder. Its weights file lives with the bundled
    scenarios, wherever the package is: the written scenario names that same file from the export folder
    (relative when the two folders share more than the root, absolute when they share only the root)."""
    import os

    import numpy as np

    from rnntui.scenario.bundled import bundled
    from rnntui.scenario.yaml_source import load_yaml

    whatif, _ = await _write_what_if(traces["safetensors-weights"], tmp_path)
    written = tmp_path / "safetensors-weights-whatif.yaml"
    expected = bundled()["safetensors-weights"].parent / "gru-head.safetensors"
    named = load_yaml(written.read_text(), str(written))[0]["weights"]["file"]
    assert os.path.samefile(written.parent / named, expected)
    shared = os.path.commonpath([os.path.abspath(expected), os.path.abspath(tmp_path)])
    assert os.path.isabs(named) == (shared == os.path.dirname(shared))
    again = rnntui.run(written)
    np.testing.assert_array_equal(again["model.0.l0.fwd.h"], whatif["model.0.l0.fwd.h"])
    np.testing.assert_array_equal(again["loss"], whatif["loss"])


def test_relocate_rewrites_every_kind_of_path():
    from rnntui.scenario.relocate import relocate

    data = {"input": {"text": "a b", "vocab": "v.txt"}, "compare": "rnn-sine",
            "decoder": {"input": {"file": "d/x.npz", "key": "x"}, "model": [{"type": "gru", "initial_state": {"h": "h.npy"}}]},
            "weights": {"file": "/abs/w.pt"}}
    changed = relocate(data, "/home/u/p/scen", "/home/u/p/out")
    assert data["input"]["vocab"] == "../scen/v.txt" and data["decoder"]["input"]["file"] == "../scen/d/x.npz"
    assert data["decoder"]["model"][0]["initial_state"]["h"] == "../scen/h.npy"
    assert data["weights"]["file"] == "/abs/w.pt" and data["compare"] == "rnn-sine"   # absolute; a bundled name
    assert changed == ["input.vocab", "decoder.input.file", "decoder.model[0].initial_state.h"]
    assert relocate(data, "/home/u/p/out", "/home/u/p/out") == []
    alone = {"weights": {"file": "w.pt"}}
    assert relocate(alone, "/opt/pkg/bundled", "/home/u/out") == ["weights.file"]
    assert alone["weights"]["file"] == "/opt/pkg/bundled/w.pt"   # only the root shared: absolute
