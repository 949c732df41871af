"""A trace's summary for notebooks and rich (`Trace.__rich__`, `Trace._repr_html_`): its name, the
model table, the loss, the first samples' predictions beside their targets and the vanishing/exploding verdict of
every recurrent place; for a training run, how
many iterations it has, the loss at the first and last, and which iteration the rest is of."""
from __future__ import annotations

import html
import io

from rich.console import Console, Group
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.errors import printable


def summary(trace) -> Group:
    from rnntui.render.analysis import verdicts
    from rnntui.render.report import model_table, whatif_words

    info = trace.info
    training = keys.TRAIN_LOSS in trace  # one iteration's record of a training run: which, of how many, the loss
    at = f" at iteration {int(getattr(trace, 'record_iteration', trace[keys.TRAIN_LOSS].shape[0] - 1))}" if training else ""
    out = [Text(printable(info.name), Style(bold=True))] + ([training_words(trace)] if training else []) + [
           model_table(trace), *filter(None, [whatif_words(trace)]),
           Text(f"loss{at}: {info.loss} = {float(trace['loss']):.6g}   {run_shape(trace)}")]
    out += prediction_lines(trace)
    for place in info.places:
        v = verdicts(trace, place)
        if v is not None:
            out.append(Text(f"{place.label(info)}: {v.summary}"))
    return Group(*out)


SAMPLES = 4  # the summary's prediction lines: the first few samples, and how many more there are


def prediction_lines(trace) -> list[Text]:
    """What the model predicts beside the target for the first samples: without a step axis (many-to-one,
    a CNN) the sample's prediction; with one, the prediction at the sample's own last step and, for a
    classifier with a target, at how many of its steps the top class is the target."""
    from rnntui.render.parts import for_output
    from rnntui.render.prediction import classifies, has_steps, predict, predictions

    out_trace = for_output(trace)
    info = trace.info
    steps = has_steps(out_trace)
    packed = steps and info.packs(info.entries[-1])
    lines = []
    for b in range(min(info.B, SAMPLES)):
        who = f"sample {b}" if info.B > 1 else "the sample"
        if not steps:
            lines.append(Text(f"prediction, {who}: {predict(out_trace, 0, b).words()}"))
            continue
        n = info.length_of(b) if packed else int(out_trace["output"].shape[0])
        text = f"prediction, {who} at its last step t={n - 1}: {predict(out_trace, n - 1, b).words()}"
        if classifies(out_trace) and keys.META_TARGET in out_trace:
            right = sum(bool(p.correct) for p in predictions(out_trace, [(t, b) for t in range(n)], k=1))
            text += f"   (right at {right} of its {n} steps)"
        lines.append(Text(text))
    if info.B > SAMPLES:
        lines.append(Text(f"... and {info.B - SAMPLES} more samples", Style(dim=True)))
    return lines


def run_shape(trace) -> str:
    """The run's mode, dtype and sizes: a sequence run's mode and steps; a CNN's batch of images (no mode)."""
    info = trace.info
    if not info.seq:
        return f"dtype: {info.dtype}   a batch of {info.B} image{'s' if info.B > 1 else ''}"
    steps = f"T={info.T}" if info.mode != "encoder-decoder" else \
        f"encoder T={trace['input'].shape[0]}, decoder T={info.T}"
    if info.inputs:   # a graph has no mode (docs/scenario-format.md): its last node's output has steps or not
        out = "an output at every step" if info.entries[-1].seq_out else "one output per sample"
        return f"graph: {out}   dtype: {info.dtype}   {steps}, B={info.B}"
    return f"mode: {info.mode}   dtype: {info.dtype}   {steps}, B={info.B}"


def training_words(trace) -> Text:
    """A training run's line, as `rnntui show` says it, and which iteration the numbers below are of (the
    trace's own record: the last, or the one `export --iteration` kept)."""
    from rnntui.numfmt import fmt

    loss = trace[keys.TRAIN_LOSS]
    N = int(loss.shape[0])
    k = int(getattr(trace, "record_iteration", N - 1))
    which = "the last" if k == N - 1 else f"of iterations 0..{N - 1}"
    return Text(f"Training: {N} iterations; loss {fmt(float(loss[0]), 0)} at iteration 0, {fmt(float(loss[-1]), 0)} "
                f"at iteration {N - 1}; what follows is iteration {k} ({which})", Style(bold=True))


def summary_html(trace) -> str:
    """The summary as an HTML fragment (rich's own export, inline styles), for a notebook cell."""
    # force_jupyter=False: inside Jupyter a rich Console also displays what it prints (the summary twice)
    console = Console(record=True, width=100, file=io.StringIO(), color_system="truecolor", force_terminal=True,
                      force_jupyter=False)
    console.print(summary(trace))
    body = console.export_html(inline_styles=True, code_format="{code}")
    return f'<pre style="font-family: monospace; line-height: 1.2">{body}</pre>' if body else html.escape(repr(trace))

