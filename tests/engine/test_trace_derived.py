"""A lazily derived key stays derivable when its derivation stops part way (a worker cancelled with Esc
raises out of it): only a finished one is kept, and it is computed once."""
from __future__ import annotations

import numpy as np
import pytest

import rnntui
from rnntui.engine.trace import Trace


class Stop(Exception):
    pass


def test_a_derivation_that_raises_is_not_lost_and_a_finished_one_runs_once():
    trace = rnntui.run("lstm-delayed-recall")
    calls = []

    def derive():
        calls.append(1)
        if len(calls) == 1:
            raise Stop
        return np.arange(3.0)

    t = Trace(dict(trace._arrays), trace.info, {"diag.x": derive})
    with pytest.raises(Stop):
        t["diag.x"]
    assert "diag.x" in t and not t.is_computed("diag.x")
    assert np.array_equal(t["diag.x"], [0.0, 1.0, 2.0]) and t.is_computed("diag.x")
    t["diag.x"]
    assert len(calls) == 2 and list(t).count("diag.x") == 1
