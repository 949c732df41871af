"""The timeline: the input per step (tokens, values), the cursor, each step's loss and event markers."""
from __future__ import annotations

import textwrap
from functools import lru_cache

import numpy as np
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.graph import source_input, source_path
from rnntui.engine.handlers import handler
from rnntui.engine.keys import Place, input_key
from rnntui.numfmt import compact
from rnntui.render.analysis import step_losses
from rnntui.render.parts import for_place
from rnntui.render.prediction import predicted_labels, saliency
from rnntui.render.cursor import Cursor, is_map, length, position
from rnntui.render.segments import Cells
from rnntui.render.strips import window
from rnntui.render.sweeping import WAITING
from rnntui.render.tokens import fed_input, fed_note, token_id, token_text, visible
from rnntui.engine.diagnostics import vector_norm

DIM = Style(dim=True)
CURSOR = Style(reverse=True, bold=True)
HERE = Style(bold=True, dim=False)
OTHER = Style(bold=False, dim=True)
BARS = "·▁▂▃▄▅▆▇█"  # dL/dx per step, relative to the largest step of the sample
EVENT_MARKS = {"non-finite": ("!", "magenta"), "saturated": ("S", "yellow"), "vanishing": ("v", "cyan"),
               "exploding": ("^", "red"), "break": ("●", "magenta")}  # break: where a breakpoint holds


def _token(trace, t: int, b: int) -> str:
    if "tokens" in trace:
        return token_text(trace, t, b)
    x = trace["input"]
    if x.ndim != 3:
        return ""
    f = fed_input(trace)
    v = f[2][t, b] if f is not None and f[1] <= t < f[2].shape[0] else x[t, b]   # a fed-back value: what was read
    if v.size == 1:
        return compact(float(v[0]), 6)
    hot = np.flatnonzero(v)
    if hot.size == 1 and v[hot[0]] == 1:  # a one-hot step is a token: show its id (and word, where known)
        if keys.META_VOCAB in trace and hot[0] < len(trace[keys.META_VOCAB]):
            return visible(trace[keys.META_VOCAB][hot[0]])
        return f"#{int(hot[0])}"
    return f"|{float(vector_norm(v)):.3g}|"


PAD = "╌"  # a padded step: past the end of a shorter sample, no value


def timeline(trace, c: Cursor, marks: dict[Place, dict[int, str]], width: int = 80, muted=(),
             sweeping=None) -> Text | Cells:
    """Input tokens or values per step, the cursor, and event markers for the current place
    (*marks*: analysis.event_marks of the trace's events; *muted*: kinds left out, said after the row;
    *sweeping*: a long run's sweep progress while it runs (engine/checkpoint.py `SweepProgress`): its events are
    not found yet, and the event row says so rather than show none)."""
    info = trace.info
    place = c.place(info)
    trace = for_place(trace, place)  # an encoder-decoder's decoder entries read the decoder's input
    outputs_here = info.entries[place.entry].part != "encoder"  # the loss and output are the decoder's
    T = length(info, place)
    if not info.seq:
        e = info.entries[place.entry]
        text = Text(f"input {tuple(trace['input'].shape[1:])} image · ", Style(dim=True))
        text.append(" → ".join(f"{x.type}{tuple(x.out_shape)}" for x in info.entries))
        if is_map(info, place):
            text.append(f"\n{keys.entry_prefix(e.index)} output position {position(info, place, c.t)} "
                        f"({c.t + 1} of {length(info, place)}); Right/Left move along positions", Style(dim=True))
        return text
    if "tokens" in trace:
        # at least 4 characters: a step's loss (1e-3) must fit its column, never be cut
        cw = max(min(int(np.char.str_len(trace["tokens"]).max()), 9), 4) + 1
    else:
        cw = 7
    ids = _shows_ids(trace)
    if ids:  # the id row's widest id fits too
        cw = max(cw, min(len(str(int(np.max(trace["token_ids"])))) + 2, 10))
    start, stop = window(T, c.t, max((width - 8) // cw, 1))
    src = source_input(info.entries, place.entry)   # a graph node's own input (None in a chain)
    # else an entry up to this one changed the count (steps_words), or a graph node reads another input
    same_steps = trace["input"].shape[0] == T and (src is None or src == info.inputs[0])
    cells = {t: _token(trace, t, c.sample) if same_steps else "" for t in range(start, stop)}  # only what is shown
    own = length(info, place, c.sample)  # a shorter sample's padding is drawn as padding
    for t in range(max(start, own), stop):
        cells[t] = PAD
    here = marks.get(place, {})
    text = Cells()  # laid out already: one column of cw cells a step, never wrapped
    text.append("input " if same_steps else "      ", DIM)
    for t in range(start, stop):
        style = CURSOR if t == c.t else None
        text.append(_fit(cells[t], cw - 1), style)
        text.append(" ")
    if ids and same_steps:
        text.newline().append("   id ", DIM)
        for t in range(start, stop):
            i = token_id(trace, t, c.sample)
            text.append(_fit("" if i is None else f"#{i}", cw - 1), HERE if t == c.t else OTHER)
            text.append(" ")
    text.newline().append(" step ", DIM)
    for t in range(start, stop):
        text.append(_fit(str(t), cw - 1), HERE if t == c.t else OTHER)
        text.append(" ")
    own_losses = step_losses(trace, c.sample)  # this sample's own loss per step; the batch's in an older file
    losses = own_losses if own_losses is not None else step_losses(trace)
    loss_row = losses is not None and losses.shape[0] == T and outputs_here
    if loss_row:
        text.newline().append(" loss ", DIM)
        for t in range(start, stop):  # at this sample's padding: no loss of its own
            shown = compact(float(losses[t]), cw - 1) if t < own else PAD
            text.append(shown.center(cw - 1), HERE if t == c.t else OTHER)
            text.append(" ")
    preds = predicted_labels(trace, c.sample) if outputs_here and (same_steps or T == trace["output"].shape[0]) \
        else None
    if preds is not None and len(preds) == T:
        text.newline().append(" pred ", DIM)
        for t in range(start, stop):
            text.append(_fit(preds[t] if t < own else PAD, cw - 1), HERE if t == c.t else OTHER)
            text.append(" ")
    sal = saliency(trace, c.sample) if same_steps else None
    f = fed_input(trace)
    not_read = f[1] if f is not None else T   # from here the steps read fed values, not the input: no dL/dx
    if sal is not None:
        top = float(sal[np.isfinite(sal)].max()) if np.isfinite(sal).any() else 0.0
        text.newline().append("dL/dx ", DIM)
        for t in range(start, stop):
            v = sal[t]
            ch = PAD if t >= own else " " if t >= not_read else "!" if not np.isfinite(v) else (
                BARS[min(int(v / top * (len(BARS) - 1) + 0.5), len(BARS) - 1)] if top > 0 else BARS[0])
            text.append(ch.center(cw - 1), HERE if t == c.t else OTHER)
            text.append(" ")
    text.newline().append("event ", DIM)
    if sweeping is not None:   # found over the whole run once its backward pass is done (a decoder's row shows first)
        text.append(f"computing: {sweeping.fraction:.0%} (the events are found once the sweep is done)", WAITING)
    for t in range(start, stop) if sweeping is None else ():  # an event is the batch's: none at a sample's padding
        ch, colour = EVENT_MARKS.get(here.get(t, ""), ("·", "grey50")) if t < own else (PAD, "grey50")
        text.append(ch.center(cw - 1), _mark_style(colour, ch in ("·", PAD)))
        text.append(" ")
    notes = [f"steps {start}..{stop - 1} of 0..{T - 1}"] if start > 0 or stop < T else []
    if muted:  # the event row does not show them: say so, or a muted run reads as a run without them
        notes.append("muted (m): " + ", ".join(f"{EVENT_MARKS[k][0]} {k}" for k in sorted(muted) if k in EVENT_MARKS))
    if info.feed == "output" and same_steps:  # a generator: say where its input comes from (one line, no more)
        notes.append(feed_note(info))
    if same_steps and fed_note(trace):   # a graph's recurrence feeding its own values back (greedy decoding)
        notes.append(fed_note(trace))
    lines = [" · ".join(notes)] if notes else []
    # the header names one sample: a loss row of the whole batch's terms (a file without loss.sample_step) says so
    batch_loss = "loss: the whole batch's, each step's term" if loss_row and info.B > 1 and own_losses is None else ""
    if own < T:
        pads = f"t={own}" + (f"..{T - 1} are" if own < T - 1 else " is")
        lines.append(f"sample {c.sample} has {own} step{'s' if own > 1 else ''}: {pads} padding ({PAD})"
                     + (f"; {batch_loss}" if batch_loss else ""))
    elif batch_loss:
        lines.append(batch_loss)
    if not same_steps:
        lines.append(steps_words(info, place.entry, trace["input"].shape[0]) if src is None
                     else graph_steps_words(info, place.entry, trace))
    for line in lines:  # rows are cut at the width, words are not: a long note goes on as many lines as it needs
        for part in textwrap.wrap(line, max(width - 6, 20)):
            text.newline().append("      " + part, DIM)
    return text


def steps_words(info, index: int, n_input: int) -> str:
    """Why entry *index* runs over another number of steps than its part's *n_input*-step input: each entry
    up to it that changed the count, read from the layout (a conv or pool over time turns n steps into
    fewer; a many-to-one recurrent entry hands on only its final state)."""
    entry = info.entries[index]
    steps, causes = n_input, []
    for x in info.entries[:index + 1]:
        if x.part != entry.part:  # an encoder-decoder's decoder reads its own input
            continue
        if x.steps != steps:
            what = f"the {steps}-step input" if not causes else f"those {steps} steps"
            who = f"this {x.type}" if x.index == index else f"{keys.entry_prefix(x.index)} ({x.type})"
            causes.append(f"{who} turns {what} into {x.steps}")
            steps = x.steps
        if x.reduce_final and x.index < index:
            causes.append(f"{keys.entry_prefix(x.index)} ({x.type}, many-to-one) hands on only its final state")
            steps = 1
    head = f"{keys.entry_prefix(index)} runs over {entry.steps} step{'s' if entry.steps != 1 else ''}"
    if not causes:  # no entry explains it: say what differs, claim no reason
        return f"{head}; the input has {n_input}"
    return f"{head}: " + "; then ".join(causes)


def graph_steps_words(info, index: int, trace) -> str:
    """A graph node's steps, and why they differ from its own input's: the input it reads (where it is not
    the first, whose tokens the timeline shows) and each node on the way that changed the count."""
    entry = info.entries[index]
    src = source_input(info.entries, index)
    x = trace[input_key(src)]
    steps = int(x.shape[0]) if x.ndim >= 3 else 1
    head = f"{keys.entry_prefix(index)} runs over {entry.steps} step{'s' if entry.steps != 1 else ''}"
    causes = [] if src == info.inputs[0] else [f"it reads input {src!r} ({steps} steps)"]
    for x in source_path(info.entries, index):
        out = x.steps if (x.seq_out or x.index == index) else 1
        if x.reduce_final and x.index < index:
            causes.append(f"{keys.entry_prefix(x.index)} ({x.type}, take: final) hands on only its final state")
        elif out != steps:
            who = f"this {x.type}" if x.index == index else f"{keys.entry_prefix(x.index)} ({x.type})"
            causes.append(f"{who} turns {'the' if len(causes) == 0 else 'those'} {steps} steps into {out}")
        steps = out
    conf = entry.config or {}
    fed = (f"; from step {conf.get('feed_after', 1)} on, its x is {str(conf['feed']).split('.', 1)[1]} of the step "
           "before, fed back, not the input's step") if conf.get("feed") else ""   # a recurrence generating
    if not causes:
        return f"{head}; the input has {steps}{fed}"
    return f"{head}: " + "; then ".join(causes) + fed


def _fit(text: str, w: int) -> str:
    """*text* centred in a column of *w* cells; a longer one ends in … (a cut word is not another word)."""
    return (text if len(text) <= w else text[: w - 1] + "…").center(w)


def feed_note(info) -> str:
    """Where a generator's input comes from (`feed: output`), as the timeline and the reports say it."""
    return ("input at t≥1 = " + ("arg-max id of " if handler(info.entries[0].type).reads_ids else "")
            + "output at t-1 (feed: output)")


def _shows_ids(trace) -> bool:
    """A row of ids under the tokens, unless the tokens are the ids written out (`tokens` input without a
    vocabulary)."""
    if "tokens" not in trace or "token_ids" not in trace or trace["token_ids"].size == 0:
        return False
    written = np.asarray(trace["token_ids"]).astype(str)
    return not np.array_equal(np.where(trace["token_ids"] < 0, "", written), trace["tokens"])


@lru_cache(maxsize=None)
def _mark_style(colour: str, dim: bool) -> Style:
    return Style(color=colour, dim=dim)
