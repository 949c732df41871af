"""A trace in Jupyter/IPython (`_repr_html_`) and rich (`__rich__`): its name, model table, loss and
each recurrent place's gradient verdict."""
from __future__ import annotations

import html
import io

from rich.console import Console

from rnntui.render.analysis import verdict


def test_a_trace_summarises_itself_for_notebooks_and_rich(traces):
    trace = traces["bilstm-apple"]
    page = html.unescape(trace._repr_html_())
    assert page.startswith("<pre") and trace.info.name in page
    assert f"{float(trace['loss']):.6g}" in page and "model.0" in page and "lstm" in page
    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(trace)
    text = out.getvalue()
    for place in trace.info.places:
        v = verdict(trace, place)
        if v is not None:
            assert f"{place.label(trace.info)}: {v.sentence}" in text
            assert v.sentence in " ".join(page.split())
