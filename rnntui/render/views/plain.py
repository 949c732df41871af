"""The view of a dense, activation or flatten entry (or a conv1d over time): its output vector at
step t, unit by unit, and its gradient in the backward pass."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.handlers import handler
from rnntui.render import norm
from rnntui.render.heatmap import state_heatmap
from rnntui.render.norm import normalises
from rnntui.render.segments import Cells
from rnntui.render.views.base import BOLD, DIM, PlaceView, param_norms
from rnntui.render.views.dense_story import class_bars, linear_story
from rnntui.render.views.recurrent import details_text, finite_scale, unit_row, unit_window


def has_steps(info, entry) -> bool:
    return bool(entry.seq_out and info.seq)


def output_vector(trace, c, entry) -> np.ndarray:
    key = keys.out(entry.index)
    arr = trace[key] if c.phase == "forward" else trace[keys.grad(key)]
    vec = arr[c.t, c.sample] if has_steps(trace.info, entry) else arr[c.sample]
    return np.asarray(vec).reshape(-1)


def linear(trace, entry) -> bool:
    """A matrix times the input plus a bias (nn.Linear): a 2-d weight and a bias."""
    w = keys.entry_param(entry.index, "weight")
    return w in trace and np.ndim(trace[w]) == 2 and keys.entry_param(entry.index, "bias") in trace


def once_words(info) -> str:
    """What an entry without steps computes once: per sequence after a many-to-one reduction, per sample
    after a CNN."""
    return "one vector per sequence" if info.seq else "one vector per sample"


class PlainView(PlaceView):
    kind = "plain"

    def length(self, info, place):
        e = info.entries[place.entry]
        return e.steps if has_steps(info, e) else 1

    def where(self, info, place, t):
        e = info.entries[place.entry]
        return f"t={t}" if has_steps(info, e) else once_words(info)

    def cell(self, trace, c, width):
        info = trace.info
        place = c.place(info)
        entry = info.entries[place.entry]
        vec = output_vector(trace, c, entry)
        u = min(c.unit, vec.size - 1)
        u0, u1 = unit_window(width, vec.size, u)
        cells = Cells()
        unit_row(cells, "out" if c.phase == "forward" else "dL/dout", vec, u, u0, u1, finite_scale(vec), width)
        where = f"t={c.t}" if has_steps(info, entry) else once_words(info)
        title = Text(f"{place.label(info)} · {where} · sample {c.sample} · unit {u}", BOLD)
        if normalises(entry):   # how the value was made from the input and the statistics
            at = (c.t, c.sample, u) if has_steps(info, entry) else (c.sample, u)
            return Group(title, cells, *norm.story(trace, entry, at, u, c.phase))
        at = (c.t, c.sample) if has_steps(info, entry) else (c.sample,)
        words = [Text(w, DIM) for w in handler(entry.type).step_words(entry, trace, at)]
        if c.phase == "forward" and linear(trace, entry):  # W·x + b in numbers, the softmax, the classes
            return Group(title, cells, *words, *linear_story(trace, entry, at, u), *class_bars(trace, entry, at, u, width))
        return Group(title, cells, *words)

    def states(self, trace, c, width, height):
        info = trace.info
        entry = info.entries[c.place(info).entry]
        if not has_steps(info, entry):
            return Group(Text(f"{once_words(info)} (no steps to show)", DIM))
        key = keys.out(entry.index)
        arr = trace[key] if c.phase == "forward" else trace[keys.grad(key)]
        vals = arr[:, c.sample]
        if vals.ndim != 2:   # (T, F) as it is: a checkpointed trace's (StepRows) reads the steps drawn only
            vals = np.asarray(vals).reshape(arr.shape[0], -1)
        own = info.length_of(c.sample) if info.packs(entry) else arr.shape[0]  # a shorter sample's padding
        return Group(state_heatmap(vals, c.t, c.unit, width, height, "out" if c.phase == "forward" else "dL/dout",
                                   length=own if own < arr.shape[0] else None))

    def gradients(self, trace, c, width, defer=False):
        return param_norms(trace, trace.info.entries[c.place(trace.info).entry])

    def details(self, trace, c):
        info = trace.info
        entry = info.entries[c.place(info).entry]
        name = "out" if c.phase == "forward" else "dL/dout"
        at = f"t={c.t}" if has_steps(info, entry) else once_words(info)
        u = min(c.unit, output_vector(trace, c, entry).size - 1)
        return details_text({name: output_vector(trace, c, entry)}, f"{at}, sample {c.sample}", u, f"unit {u}")
