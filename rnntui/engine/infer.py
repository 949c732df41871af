"""A chain's layout, walked with each entry type's handler (`infer_layout`), and what its run holds at its peak
(`trace_floats`, from the handlers' footprints): above the handlers, as engine/layout.py's records are below them."""
from __future__ import annotations

from math import prod

from rnntui.engine.handlers import handler
from rnntui.engine.layout import EntryInfo, LayoutContext, LayoutProblem


def infer_layout(types: list[str], configs: list, input_feat: tuple[int, ...], seq: bool, mode: str,
                 steps: int, first_index: int = 0) -> list[EntryInfo]:
    """Walk the entries (their types and configurations), returning their layouts or raising the first
    LayoutProblem. *steps* is the input's number of steps (1 for an image). *first_index*: the first
    entry's number (a decoder's entries continue the encoder's numbering)."""
    handlers = [handler(t) for t in types]
    recurrent_ix = [first_index + i for i, h in enumerate(handlers) if h.recurrent]
    if mode != "many-to-many" and not recurrent_ix and seq:
        raise LayoutProblem(first_index, None, f"mode {mode} needs a recurrent entry (rnn, lstm or gru) in the model")
    ctx = LayoutContext(mode, recurrent_ix[-1] if recurrent_ix else -1)
    out: list[EntryInfo] = []
    feat = tuple(input_feat)
    for i, (h, cfg) in enumerate(zip(handlers, configs), start=first_index):
        lay = h.layout(i, cfg, feat, seq, steps, ctx)
        if lay.activation in ("softmax", "log_softmax") and len(lay.out_shape) != 1:
            raise LayoutProblem(i, h.activation_key, f"{lay.activation} needs a vector of features; here it would act on a map of shape "
                                f"{lay.out_shape} (add a flatten and a dense entry first)")
        out.append(lay)
        feat, seq = lay.out_shape, lay.seq_out
        steps = lay.steps if seq else 1
    return out


def trace_floats(layout: list[EntryInfo], T: int, B: int) -> int:
    """How many numbers the run holds at its peak, for the memory check (docs/scenario-format.md).

    Every entry's held arrays and its parameters with their gradients, plus the largest of: one
    entry's backward working arrays (during the run; where the output has a step axis, also during
    the one-term backward pass a verdict reads, counted as if it recorded every entry's gradients once
    more: its recurrent entries keep only dL/dh_t, so this is an upper bound),
    and the largest lazily derived diagnostic."""
    prints = []
    steps_in = T
    total = 0
    for lay in layout:
        prints.append(handler(lay.type).footprint(lay, steps_in if lay.seq_in else 1, B))
        total += 2 * sum(prod(s) for s in lay.params.values())  # the parameter and its gradient
        steps_in = lay.steps
    last = layout[-1]
    n_out = prod(last.out_shape) * (last.steps if last.seq_out else 1) * B
    total += sum(f.held for f in prints) + 2 * n_out       # the loss's gradient (and its softmax form)
    temp = max(f.temp for f in prints)
    if layout[0].seq_in and last.seq_out and any(lay.recurrent for lay in layout):  # network.one_term_gradients
        temp += sum(f.records for f in prints) + 2 * n_out
    return total + max(temp, max(f.lazy for f in prints))
