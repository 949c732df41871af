"""The header: the run's name and loss, the pass, the place and where the cursor is in it."""
from __future__ import annotations

from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.checkpoint import NotReady
from rnntui.errors import printable
from rnntui.numfmt import fmt
from rnntui.engine.graph import source_input
from rnntui.render.cursor import Cursor, length, place_sign, step_index
from rnntui.render.parts import for_output, for_place
from rnntui.render.analysis import steps_apart
from rnntui.render.prediction import has_steps, predict
from rnntui.render.tokens import token_label
from rnntui.render.views import view_at
from rnntui.engine.keys import SAMPLE_IDS, SAMPLES_TOTAL


def is_what_if(trace) -> bool:
    """Whether the run has interventions (`meta.interventions` lists at least one)."""
    import json

    from rnntui.engine.interventions import META

    return META in trace and bool(json.loads(str(trace[META])))


NAME_AT_LEAST = 8        # the name gives way to the prediction, down to this many characters
NAME_BESIDE_BATCH = 12   # ... and keeps this many beside the loss's batch size before that gives way too


def top_line(trace, c: Cursor, width: int | None = None) -> Text:
    """The run's name, the loss and the prediction at the cursor, fitted to *width*: the prediction and its
    target with ✓/✗ are what a student looks for, so they are kept whole, and what gives way first is the
    loss's kind, then the third and second most likely class, then the batch's size, then the end of the name."""
    info = trace.info
    place = c.place(info)
    out = for_output(trace)
    if info.entries[place.entry].part == "encoder":  # the output is the decoder's: its steps are not these
        said, at = "the decoder predicts at t=0: ", 0
    else:
        try:
            stepped = has_steps(trace)
        except NotReady:   # a long run's output made after the steps (a many-to-one's head), not yet: said below
            stepped = None
        if stepped and steps_apart(info, place.entry):   # a graph's encoder: another input's steps
            said, at = "the output predicts at t=0: ", 0
        elif stepped is None:
            said, at = "predicted: ", 0
        else:
            at = c.t if stepped and c.t < trace["output"].shape[0] else 0
            said = f"predicted{f' at t={at}' if stepped else ''}: "
    try:
        loss = f"loss {fmt(float(trace['loss']), 0)}"
    except NotReady as wait:   # a long run still sweeping (engine/checkpoint.py): its loss comes with the backward pass
        loss = f"loss computing: {wait.fraction:.0%}"
    # the loss is the whole batch's, while the line below names one sample: say so
    batch = f"batch of {info.B}" if info.B > 1 else ""
    name = printable(info.name)  # control characters escaped
    # values overwritten inside the loop: not the model's own run (kept whole beside the name)
    marker = ("  what-if", Style(bold=True, color="yellow")) if is_what_if(trace) else ""
    with_batch = f"{loss}{f' ({batch})' if batch else ''}"
    # (the loss's words, how many classes, how much of the name must then fit), the first that fits wins
    forms = [(f"{loss} ({info.loss}{', ' + batch if batch else ''})", 3, len(name)), (with_batch, 3, len(name)),
             (with_batch, 2, len(name)), (with_batch, 1, min(len(name), NAME_BESIDE_BATCH)), (loss, 1, 0)]
    for loss_words, top, need in forms:
        try:
            guess = predict(out, at, c.sample, k=top).words()
        except NotReady as wait:   # a step the forward sweep has not reached yet
            guess = Text(f"computing: {wait.fraction:.0%}")
        rest = Text.assemble(marker, ("   " + loss_words, Style(dim=True)), ("   " + said, Style(dim=True)), guess)
        room = len(name) if width is None else width - rest.cell_len
        if room >= need:
            break
    if room < len(name):
        name = name[: max(room, NAME_AT_LEAST) - 1] + "…"
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(name, Style(bold=True))
    text.append_text(rest)
    return text


def header(trace, c: Cursor, width: int | None = None) -> Group:
    """Two lines, each cut to the width (never wrapped: the header keeps its height); the first fitted to
    *width* (`top_line`)."""
    info = trace.info
    place = c.place(info)
    view = view_at(info, c)
    phase = view.pass_name(info, c.phase)
    arrow = "→" if place_sign(info, c.phase, place) > 0 else "←"
    text = top_line(trace, c, width)
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{phase} {arrow}", Style(color="cyan" if c.phase == "forward" else "magenta", bold=True))
    n = 1 if c.handover else length(info, place, c.sample)  # a shorter sample of a packed batch: its own steps
    where = view.where(info, place, c.t)
    # the token read at this step, beside the step (early in the line: the line is cut at the width)
    part = for_place(trace, place)
    src = source_input(info.entries, place.entry)   # a graph node that reads another input: its tokens are not these
    first = src is None or src == info.inputs[0]
    token = token_label(part, c.t, c.sample) if info.seq and first and part["input"].shape[0] == n else ""
    if token:
        where = f"{where}: {token}"
    if n > 1:
        where = f"{view.step_noun} {step_index(c, info) + 1} of {n} ({where})"
    line.append(f"  {place.label(info)}  {where}  sample {c.sample} of {info.B}{data_sample_words(trace, c.sample)}")
    e = info.entries[place.entry]
    # a sample's own length where the place has steps (a many-to-one's dense reads one vector: none)
    if info.packs(e) and info.seq and not c.handover and (e.recurrent or e.seq_out):
        own, full = info.length_of(c.sample), e.steps
        line.append(f" (length {own} of {full})", Style(bold=own < full))
    return Group(text, line)


def data_sample_words(trace, b: int) -> str:
    """Which sample of the data the batch's sample *b* is, where the batch is some of a larger data's
    samples (a data set's batch, a training minibatch): " (no. 118 of 200 in the data)"; "" otherwise."""
    if SAMPLE_IDS not in trace:
        return ""
    ids = trace[SAMPLE_IDS]
    if b >= ids.size:
        return ""
    total = int(trace[SAMPLES_TOTAL]) if SAMPLES_TOTAL in trace else None
    of = f" of {total:,}" if total is not None else ""
    return f" (no. {int(ids[b]):,}{of} in the data)"


def seed_words(trace) -> Text | None:
    """What the gradients shown are of, when the user chose (engine/attribution.py, `o`): one line, or None
    when they are the loss's."""
    from rnntui.engine.attribution import seed_of

    seed = seed_of(trace)
    if seed is None:
        return None
    names = class_labels(trace)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("BPTT of ", Style(color="magenta", bold=True))
    text.append(printable(seed.words(names)), Style(color="magenta", bold=True))
    text.append(": every dL/d… shown is its gradient (O: the loss's again)", Style(color="magenta"))
    return text


def class_labels(trace) -> list[str] | None:
    """The output's class names: the scenario's class_names, else the vocabulary when it is as wide."""
    import numpy as np

    info = trace.info
    shape = trace["output"].shape
    width = int(np.prod(shape[2:] if (info.seq and info.entries[-1].seq_out) else shape[1:]))
    if info.class_names and len(info.class_names) == width:
        return list(info.class_names)
    if keys.META_VOCAB in trace and len(trace[keys.META_VOCAB]) == width:
        return [str(v) for v in trace[keys.META_VOCAB]]
    return None
