"""A saved graph trace whose layout was tampered with is refused in one line, never a traceback: the
recurrence node's steps view on another type, a step graph that is not there, next values naming no node."""
from __future__ import annotations

import json

import numpy as np
import pytest

import rnntui
from tests.hostile.common import invoke, refused


def tampered(tmp_path, change) -> str:
    trace = rnntui.run("graph-custom-cell")
    arrays = {k: np.asarray(trace[k]) for k in trace.keys()}
    layout = json.loads(str(arrays["meta.layout"]))
    change(layout["entries"])
    arrays["meta.layout"] = np.asarray(json.dumps(layout))
    path = tmp_path / "t.npz"
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize("change, words", [
    (lambda es: es[1].update(view="steps"), "steps view exactly for recurrence nodes"),
    (lambda es: es[0].update(view="plain"), "steps view exactly for recurrence nodes"),
    (lambda es: es[0]["config"].update(step=[]), "expected a step graph"),
    (lambda es: es[0]["config"].update(next={"h": "0.nothing"}), "next and emit must name"),
    (lambda es: es[0]["config"].update(states={"h": 0}), "sizes of 1 or more"),
    (lambda es: es[0]["config"]["step"][0].update(reads="x"), "reads"),
])
def test_a_tampered_recurrence_is_refused(tmp_path, change, words):
    lines = refused(invoke("show", tampered(tmp_path, change)))
    assert len(lines) == 1 and words in lines[0], lines


def test_the_untampered_graph_trace_opens(tmp_path):
    path = tampered(tmp_path, lambda es: None)
    assert rnntui.load_trace(path).info.entries[0].type == "recurrence"
