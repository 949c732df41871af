"""A trace in Jupyter/IPython (`_repr_html_`) and rich (`__rich__`): its name, model table, loss and
each recurrent place's gradient verdict."""
from __future__ import annotations

import html
import re
import io

import numpy as np
from rich.console import Console

from rnntui.render.analysis import verdicts


def test_a_trace_summarises_itself_for_notebooks_and_rich(traces):
    trace = traces["bilstm-apple"]
    page = html.unescape(trace._repr_html_())
    assert page.startswith("<pre") and trace.info.name in page
    assert f"{float(trace['loss']):.6g}" in page and "model.0" in page and "lstm" in page
    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(trace)
    text = out.getvalue()
    for place in trace.info.places:
        v = verdicts(trace, place)
        if v is not None:
            assert f"{place.label(trace.info)}: {v.summary}" in text
            assert v.summary in " ".join(page.split())


def test_a_training_runs_summary_says_which_iteration_of_how_many(traces):
    trace = traces["training-rnn-memory"]
    loss = trace["train.loss"]
    N = int(loss.shape[0])
    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(trace)
    text = out.getvalue()
    page = " ".join(html.unescape(re.sub(r"<[^>]+>", "", trace._repr_html_())).split())  # the words, wrapped at 100
    from rnntui.numfmt import fmt
    line = (f"Training: {N} iterations; loss {fmt(float(loss[0]), 0)} at iteration 0, {fmt(float(loss[-1]), 0)} at "
            f"iteration {N - 1}; what follows is iteration {N - 1} (the last)")
    assert line in text and line in page
    assert f"loss at iteration {N - 1}: {trace.info.loss} = {float(trace['loss']):.6g}" in text
    np.testing.assert_allclose(float(trace["loss"]), float(loss[-1]), rtol=1e-6)  # the record is the last's
