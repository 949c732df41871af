"""A scenario's `debug:` expressions are checked, before the run, against the same places the run's
TraceInfo lists (one function, engine/keys.py places_of): every place of the trace can be named with
@, and nothing else."""
from __future__ import annotations

import pytest

from rnntui.errors import ScenarioError
from rnntui.scenario import load_scenario
from rnntui.scenario.bundled import bundled


@pytest.mark.parametrize("name", ["bilstm-apple", "stacked-lstm", "seq2seq-reverse", "cnn-digit"])
def test_every_place_of_the_run_and_no_other_can_be_named(traces, tmp_path, name):
    text = bundled()[name].read_text()
    places = traces[name].info.places
    watches = "".join(f"\n    - \"mean(x) @{p.prefix}\"" for p in places)
    path = bundled()[name].parent / f"{name}.yaml"
    load_scenario(path, text=text + f"\ndebug:\n  watch:{watches}\n")   # every place is known
    last = max(p.entry for p in places)
    for wrong in (f"model.{last + 1}", f"model.{places[0].entry}.l9.fwd"):
        with pytest.raises(ScenarioError, match="debug.watch"):
            load_scenario(path, text=text + f"\ndebug:\n  watch: [\"mean(x) @{wrong}\"]\n")
