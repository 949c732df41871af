"""What `?`, the header and `rnntui show` say about a checkpointed run's segments, against the segments the
run was recorded in (issue: '17 segments of 1,216 steps' was said of 20,000 steps, whose last segment has 544)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rnntui.engine import checkpoint
from rnntui.engine.scenario_run import run_scenario
from rnntui.scenario.loader import load_scenario


def _scenario(T: int):
    x = np.random.default_rng(0).normal(size=(2, T, 3)).round(3)
    doc = {"version": 1, "mode": "many-to-many", "input": {"batch": x.tolist()},
           "model": [{"type": "gru", "hidden_size": 4}], "loss": {"kind": "sum"}}
    return load_scenario("long.yaml", json.dumps(doc))


@pytest.mark.parametrize("T", [150, 128])
def test_the_segments_named_are_the_segments_recorded(monkeypatch, T):
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", 64)
    sc = _scenario(T)
    need = run_scenario(sc).recording.need
    trace = run_scenario(sc, max_memory=need - 1)
    bounds = trace.segments.bounds
    lengths = [b - a for a, b in bounds]
    assert sum(lengths) == T
    words = trace.recording.words()
    assert f"{len(bounds)} segments of {lengths[0]} steps" in words
    if lengths[-1] != lengths[0]:
        assert f"(the last {lengths[-1]})" in words
    else:
        assert "the last" not in words
