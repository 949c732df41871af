"""The view of an embedding entry: at step t, the token read, the row of the table it looked up, and in
the backward pass that vector's gradient, which is what the row's gradient receives from this step."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from rnntui.numfmt import fmt
from rnntui.render.segments import Cells
from rnntui.render.tokens import token_label
from rnntui.render.views.base import BOLD, DIM, param_norms
from rnntui.render.views.plain import PlainView, output_vector
from rnntui.render.views.recurrent import details_text, finite_scale, name_width, unit_row, unit_window
from rnntui.engine.diagnostics import vector_norm


def looked_up(trace, c) -> int:
    """The id sample c.sample read at step c.t (what the model read: the pad id at a padded step)."""
    return int(trace["input"][c.t, c.sample, 0])


def _weight(entry) -> str:
    return next(iter(entry.params))


class EmbeddingView(PlainView):
    kind = "embedding"

    def cell(self, trace, c, width):
        info = trace.info
        place = c.place(info)
        entry = info.entries[place.entry]
        vec = output_vector(trace, c, entry)
        k = looked_up(trace, c)
        u = min(c.unit, vec.size - 1)
        name = f"{_weight(entry)}[{k}]" if c.phase == "forward" else "dL/dvector"
        name_w = name_width([name])
        u0, u1 = unit_window(width, vec.size, u, name_w)
        token = token_label(trace, c.t, c.sample) or f"#{k}"
        title = Text(f"{place.label(info)} · t={c.t} · sample {c.sample} · {token} → {_weight(entry)}[{k}] · unit {u}",
                     BOLD)
        cells = Cells()
        unit_row(cells, name, vec, u, u0, u1, finite_scale(vec), width, name_w=name_w)
        lines = [title, cells]
        if c.phase != "forward":
            lines.append(Text(self._row_words(trace, entry, k), DIM))
        elif entry.padding_idx is not None and k == entry.padding_idx:
            lines.append(Text(f"id {k} is the padding_idx: its row is zero at init and never gets a gradient", DIM))
        return Group(*lines)

    @staticmethod
    def _row_words(trace, entry, k: int) -> str:
        if entry.padding_idx is not None and k == entry.padding_idx:
            return f"id {k} is the padding_idx: this gradient stops here, its row's gradient stays zero"
        ids = np.asarray(trace["input"])[..., 0]
        uses = int((ids == k).sum())
        total = float(vector_norm(trace[f"grad.param.{_weight(entry)}"][k]))
        return (f"{_weight(entry)}[{k}]'s gradient sums this over the {uses} read(s) of id {k} (all steps and "
                f"samples): ‖dL/d{_weight(entry)}[{k}]‖ = {fmt(total, 0)}")

    def gradients(self, trace, c, width):
        entry = trace.info.entries[c.place(trace.info).entry]
        g = trace[f"grad.param.{_weight(entry)}"]
        used = int(np.count_nonzero(np.any(g != 0, axis=1)))
        return Group(param_norms(trace, entry), Text(f"rows with a gradient: {used} of {g.shape[0]} (only the ids "
                                                     "the input reads)", DIM))

    def details(self, trace, c):
        entry = trace.info.entries[c.place(trace.info).entry]
        name = "vector" if c.phase == "forward" else "dL/dvector"
        vec = output_vector(trace, c, entry)
        u = min(c.unit, vec.size - 1)
        token = token_label(trace, c.t, c.sample) or f"#{looked_up(trace, c)}"
        return details_text({name: vec}, f"t={c.t}, sample {c.sample}, token {token}", u, f"unit {u}")
