"""The view of an embedding entry: at step t, the token read, the row of the table it looked up, and in
the backward pass that vector's gradient, which is what the row's gradient receives from this step."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from rnntui.engine import keys
from rnntui.numfmt import fmt
from rnntui.render.segments import Cells
from rnntui.render.tokens import token_label
from rnntui.render.views.base import BOLD, DIM, param_norms
from rnntui.render.views.plain import PlainView, output_vector
from rnntui.render.views.recurrent import details_text, finite_scale, name_width, unit_row, unit_window
from rnntui.engine.diagnostics import vector_norm


def ids_of(trace, entry) -> np.ndarray:
    """The ids an embedding node read, (T, B, 1): the input (a graph node's own input)."""
    return trace[keys.input_key(entry.reads[0]) if entry.reads else "input"]


def looked_up(trace, c, entry) -> int:
    """The id sample c.sample read at step c.t (what the model read: the pad id at a padded step)."""
    return int(ids_of(trace, entry)[c.t, c.sample, 0])


def _weight(entry) -> str:
    """The table's name: the node's own, or (a graph node that shares it) the one it reads."""
    own = next(iter(entry.params), None)
    return own if own is not None else next(iter(entry.aliases.values()))


def _token(trace, c, entry, k: int) -> str:
    """The token read, where the trace holds this input's tokens (a graph's first input), else its id."""
    first = not entry.reads or entry.reads[0] == (trace.info.inputs or ("",))[0]
    return (token_label(trace, c.t, c.sample) if first else "") or f"#{k}"


class EmbeddingView(PlainView):
    kind = "embedding"

    def cell(self, trace, c, width):
        info = trace.info
        place = c.place(info)
        entry = info.entries[place.entry]
        vec = output_vector(trace, c, entry)
        k = looked_up(trace, c, entry)
        u = min(c.unit, vec.size - 1)
        name = f"{_weight(entry)}[{k}]" if c.phase == "forward" else "dL/dvector"
        name_w = name_width([name])
        u0, u1 = unit_window(width, vec.size, u, name_w)
        token = _token(trace, c, entry, k)
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
        table = _weight(entry)
        readers = [e for e in trace.info.entries if e.view == "embedding" and _weight(e) == table]
        uses = sum(int((np.asarray(ids_of(trace, e))[..., 0] == k).sum()) for e in readers)
        total = float(vector_norm(trace[keys.grad_param(_weight(entry))][k]))
        tied = [e for e in trace.info.entries if e.view != "embedding" and table in e.aliases.values()]
        also = "".join(f", plus {keys.entry_prefix(e.index)} ({e.type}, tied)'s gradient" for e in tied)
        return (f"{table}[{k}]'s gradient sums this over the {uses} read(s) of id {k} (all steps and samples"
                f"{', in ' + str(len(readers)) + ' nodes' if len(readers) > 1 else ''}){also}: "
                f"‖dL/d{table}[{k}]‖ = {fmt(total, 0)}")

    def gradients(self, trace, c, width, defer=False):
        entry = trace.info.entries[c.place(trace.info).entry]
        g = trace[keys.grad_param(_weight(entry))]
        used = int(np.count_nonzero(np.any(g != 0, axis=1)))
        return Group(param_norms(trace, entry), Text(f"rows with a gradient: {used} of {g.shape[0]} (only the ids "
                                                     "the input reads)", DIM))

    def details(self, trace, c):
        entry = trace.info.entries[c.place(trace.info).entry]
        name = "vector" if c.phase == "forward" else "dL/dvector"
        vec = output_vector(trace, c, entry)
        u = min(c.unit, vec.size - 1)
        token = _token(trace, c, entry, looked_up(trace, c, entry))
        return details_text({name: vec}, f"t={c.t}, sample {c.sample}, token {token}", u, f"unit {u}")
