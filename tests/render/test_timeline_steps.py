"""The timeline's words for an entry that runs over another number of steps than the input: the reason
named is the model's own (a many-to-one entry's final state, a conv or pool over time), with the counts
PyTorch's size rule gives, never a conv or pool the model does not have."""
from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

import rnntui
from rnntui.engine.graph import source_input, source_path
from rnntui.engine.handlers import handler
from rnntui.render.cursor import Cursor
from rnntui.render.timeline import timeline
from rnntui.scenario.bundled import bundled
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text


def timeline_text(trace, place_index: int) -> str:
    out = io.StringIO()
    Console(file=out, width=400, color_system=None).print(timeline(trace, Cursor(place_index=place_index), {}, 390))
    return out.getvalue()


def words(trace, entry: int) -> str:
    """The 'runs over' line at the entry's first place ('' when it runs over the input's steps)."""
    k = next(k for k, p in enumerate(trace.info.places) if p.entry == entry)
    found = [line.strip() for line in timeline_text(trace, k).splitlines() if "runs over" in line]
    return found[0] if found else ""


def test_after_a_many_to_one_entry_the_reason_is_its_final_state(traces):
    trace = traces["lstm-vs-gru"]
    assert [e.type for e in trace.info.entries] == ["lstm", "dense"]
    assert words(trace, 1) == "model.1 runs over 1 step: model.0 (lstm, many-to-one) hands on only its final state"
    assert words(trace, 0) == ""


def test_a_strided_conv_and_a_pool_are_named_with_the_counts_they_make(tmp_path):
    L, k, s, pool = 30, 4, 2, 2
    conv_out = (L - k) // s + 1          # PyTorch's Conv1d length: floor((L - k) / s) + 1, no padding
    pool_out = conv_out // pool          # MaxPool1d with stride = kernel
    doc = {"version": 1, "seed": 1, "mode": "many-to-one",
           "input": {"generate": {"kind": "sine", "length": L, "features": 2, "period": 16}},
           "model": [{"type": "conv1d", "out_channels": 3, "kernel_size": k, "stride": s},
                     {"type": "maxpool1d", "kernel_size": pool},
                     {"type": "gru", "hidden_size": 4},
                     {"type": "dense", "units": 1}],
           "loss": {"kind": "sum"}}
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(doc))
    trace = rnntui.run(path)
    conv = f"the {L}-step input into {conv_out}"
    assert words(trace, 0) == f"model.0 runs over {conv_out} steps: this conv1d turns {conv}"
    assert words(trace, 1) == (f"model.1 runs over {pool_out} steps: model.0 (conv1d) turns {conv}; then this "
                               f"maxpool1d turns those {conv_out} steps into {pool_out}")
    assert words(trace, 2) == (f"model.2 runs over {pool_out} steps: model.0 (conv1d) turns {conv}; then model.1 "
                               f"(maxpool1d) turns those {conv_out} steps into {pool_out}")
    assert words(trace, 3) == (f"model.3 runs over 1 step: model.0 (conv1d) turns {conv}; then model.1 (maxpool1d) "
                               f"turns those {conv_out} steps into {pool_out}; then model.2 (gru, many-to-one) hands "
                               "on only its final state")


@pytest.mark.parametrize("name", sorted(n for n in bundled() if not n.startswith("training-")))
def test_every_reason_names_entries_the_model_has(traces, name):
    """Over the bundled models (a generator, an encoder-decoder, one-to-many, many-to-one, a CRNN, ...): a
    reason is given exactly where an entry's steps differ from its input's, and each entry it names is there,
    of that type, before or at the entry, and changes the count as said."""
    trace = traces[name]
    info = trace.info
    if not info.seq:
        return
    for e in info.entries:
        line = words(trace, e.index)
        src = source_input(info.entries, e.index)   # a graph node's own input (None in a chain)
        n_input = trace["decoder.input" if e.part == "decoder" else "input" if src is None else f"input.{src}"].shape[0]
        other_input = src is not None and src != info.inputs[0]
        assert bool(line) == (e.steps != n_input or other_input), (e.index, line)
        if other_input:   # a graph node reading another input than the first: which one, and its steps
            assert f"it reads input '{src}' ({n_input} steps)" in line
            line = line.replace(f"it reads input '{src}' ({n_input} steps)", "").strip(": ;")
            if e.steps == n_input:
                continue
        named = re.findall(r"model\.(\d+) \((\w+)", line) + [(str(e.index), kind) for kind in
                                                             re.findall(r"this (\w+) turns", line)]
        assert bool(named) == bool(line), line  # a reason names the entries that make it
        on_path = {x.index for x in source_path(info.entries, e.index)} if src is not None else None
        for index, kind in named:
            x = info.entries[int(index)]
            assert x.type == kind and x.index <= e.index and (x.reduce_final or x.options is not None
                                                              or handler(x.type).is_op), line
            assert on_path is None or x.index in on_path, line


async def test_the_screen_gives_the_many_to_one_reason(traces):
    app = RnntuiApp(traces["training-lstm-memory"])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right_square_bracket")
        text = screen_text(app)
    assert "model.1 runs over 1 step: model.0 (lstm, many-to-one) hands on only its final state" in text
    assert "conv1d" not in text
