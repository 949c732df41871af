"""A trace's summary for notebooks and rich (`Trace.__rich__`, `Trace._repr_html_`): its name, the
model table, the loss and the vanishing/exploding verdict of every recurrent place."""
from __future__ import annotations

import html
import io

from rich.console import Console, Group
from rich.style import Style
from rich.text import Text

from rnntui.errors import printable


def summary(trace) -> Group:
    from rnntui.render.analysis import verdict
    from rnntui.render.report import model_table

    info = trace.info
    out = [Text(printable(info.name), Style(bold=True)),
           model_table(trace),
           Text(f"loss: {info.loss} = {float(trace['loss']):.6g}   mode: {info.mode}   dtype: {info.dtype}   "
                f"B={info.B}" + (f", T={info.T}" if info.seq else ""))]
    for place in info.places:
        v = verdict(trace, place)
        if v is not None:
            out.append(Text(f"{place.label(info)}: {v.sentence}"))
    return Group(*out)


def summary_html(trace) -> str:
    """The summary as an HTML fragment (rich's own export, inline styles), for a notebook cell."""
    console = Console(record=True, width=100, file=io.StringIO(), color_system="truecolor", force_terminal=True)
    console.print(summary(trace))
    body = console.export_html(inline_styles=True, code_format="{code}")
    return f'<pre style="font-family: monospace; line-height: 1.2">{body}</pre>' if body else html.escape(repr(trace))

