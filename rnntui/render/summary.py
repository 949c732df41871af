"""A trace's summary for notebooks and rich (`Trace.__rich__`, `Trace._repr_html_`): its name, the
model table, the loss and the vanishing/exploding verdict of every recurrent place; for a training run, how
many iterations it has, the loss at the first and last, and which iteration the rest is of."""
from __future__ import annotations

import html
import io

from rich.console import Console, Group
from rich.style import Style
from rich.text import Text

from rnntui.errors import printable


def summary(trace) -> Group:
    from rnntui.render.analysis import verdict
    from rnntui.render.report import model_table, whatif_words

    info = trace.info
    training = "train.loss" in trace  # one iteration's record of a training run: which, of how many, the loss
    at = f" at iteration {int(getattr(trace, 'record_iteration', trace['train.loss'].shape[0] - 1))}" if training else ""
    out = [Text(printable(info.name), Style(bold=True))] + ([training_words(trace)] if training else []) + [
           model_table(trace), *filter(None, [whatif_words(trace)]),
           Text(f"loss{at}: {info.loss} = {float(trace['loss']):.6g}   mode: {info.mode}   dtype: {info.dtype}   "
                f"B={info.B}" + (f", T={info.T}" if info.seq else ""))]
    for place in info.places:
        v = verdict(trace, place)
        if v is not None:
            out.append(Text(f"{place.label(info)}: {v.sentence}"))
    return Group(*out)


def training_words(trace) -> Text:
    """A training run's line, as `rnntui show` says it, and which iteration the numbers below are of (the
    trace's own record: the last, or the one `export --iteration` kept)."""
    from rnntui.numfmt import fmt

    loss = trace["train.loss"]
    N = int(loss.shape[0])
    k = int(getattr(trace, "record_iteration", N - 1))
    which = "the last" if k == N - 1 else f"of iterations 0..{N - 1}"
    return Text(f"Training: {N} iterations; loss {fmt(float(loss[0]), 0)} at iteration 0, {fmt(float(loss[-1]), 0)} "
                f"at iteration {N - 1}; what follows is iteration {k} ({which})", Style(bold=True))


def summary_html(trace) -> str:
    """The summary as an HTML fragment (rich's own export, inline styles), for a notebook cell."""
    console = Console(record=True, width=100, file=io.StringIO(), color_system="truecolor", force_terminal=True)
    console.print(summary(trace))
    body = console.export_html(inline_styles=True, code_format="{code}")
    return f'<pre style="font-family: monospace; line-height: 1.2">{body}</pre>' if body else html.escape(repr(trace))

