"""The hand-over of an encoder-decoder, as its own moment between the encoder's last step and the
decoder's first: which final state went where, and in BPTT how the decoder's gradient splits back
into the encoder's directions (rnntui/engine/seq2seq.py records both sides)."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.entries.recurrent import unmerge
from rnntui.numfmt import fmt
from rnntui.render.cursor import handover_ends
from rnntui.render.segments import Cells
from rnntui.render.strips import log_sparkline
from rnntui.render.views.base import BOLD, DIM, PlaceView
from rnntui.render.views.recurrent import finite_scale, name_width, unit_row, unit_window
from rnntui.engine.diagnostics import vector_norm


def _norm(v) -> str:
    return fmt(float(vector_norm(v)), 0)


class HandoverView(PlaceView):
    kind = "handover"
    step_noun = "hand-over"

    def length(self, info, place) -> int:
        return 1

    def where(self, info, place, t: int) -> str:
        enc, dec = handover_ends(info)
        return f"hand-over {keys.entry_prefix(enc)} → {keys.entry_prefix(dec)}, layer {place.layer}"

    @staticmethod
    def _ends(trace, c):
        info = trace.info
        enc_i, dec_i = handover_ends(info)
        return info.entries[enc_i], info.entries[dec_i], c.place(info).layer

    def _finals(self, trace, enc, j, b, name, grad=False):
        """The encoder's final states of layer j (forward at T-1, backward at 0), sample b."""
        def key(d):
            place = keys.Place(enc.index, j, d)
            return place.grad_key(name) if grad else place.key(name)

        last = trace.info.length_of(b) - 1 if trace.info.packs(enc) else -1  # a packed source's own end
        f = trace[key("fwd")][last, b]
        bw = trace[key("bwd")][0, b] if "bwd" in enc.directions else None
        return f, bw

    def cell(self, trace, c, width):
        enc, dec, j = self._ends(trace, c)
        b = c.sample
        T = trace.info.length_of(b) if trace.info.packs(enc) else enc.steps
        H = dec.hidden_size
        u = min(c.unit, H - 1)
        labels = {s: f"{s}_0 of {keys.entry_prefix(dec.index)}" if c.phase == "forward" else f"dL/d{s}_0" for s in dec.family.states}
        name_w = name_width(labels.values())
        u0, u1 = unit_window(width, H, u, name_w)
        out = [Text(f"hand-over · encoder {keys.entry_prefix(enc.index)} l{j} → decoder {keys.entry_prefix(dec.index)} l{j} · unit {u}", BOLD)]
        cells = Cells()
        for s in dec.family.states:
            start = trace[keys.handover(s)][j, b]
            vec = start if c.phase == "forward" else trace[keys.grad(keys.handover(s))][j, b]
            unit_row(cells, labels[s], vec, u, u0, u1, finite_scale(vec, 1.0 if c.phase == "forward" else 0.0), width,
                     name_w=name_w)
        out.append(cells)
        two = "bwd" in enc.directions
        for s in dec.family.states:
            f, bw = self._finals(trace, enc, j, b, s)
            if c.phase == "forward":
                src = f"fwd {s}[{T - 1}] ({_norm(f)})" + (f" and bwd {s}[0] ({_norm(bw)}), merged by {enc.merge}"
                                                          if two else "")
                out.append(Text(f"{s}_0 of {keys.entry_prefix(dec.index)} l{j} ({_norm(trace[keys.handover(s)][j, b])}) = "
                                f"{src} of {keys.entry_prefix(enc.index)} l{j}"))
                out.append(Text(f"  unit {u}: " + _unit_source(enc.merge, f, bw, u, s, T), DIM))
            else:
                g = trace[keys.grad(keys.handover(s))][j, b]
                gf, gb = unmerge(enc.merge, g, f, bw)
                words = f"fwd dL/d{s}[{T - 1}] gets {_norm(gf)}" + (f", bwd dL/d{s}[0] gets {_norm(gb)}" if two else "")
                out.append(Text(f"dL/d{s}_0 of {keys.entry_prefix(dec.index)} l{j} ({_norm(g)}) goes back to the encoder: {words}"))
                top = j == enc.num_layers - 1
                out.append(Text("  as the gradient through time at the encoder's last step: " + (
                    "its BPTT starts from the decoder's gradient alone (the encoder's own output is not used)" if top
                    else f"layer {j + 1} above adds what it passes down"), DIM))
        return Group(*out)

    def states(self, trace, c, width, height):
        enc, dec, j = self._ends(trace, c)
        out = []
        for s in dec.family.states:
            key = keys.handover(s) if c.phase == "forward" else keys.grad(keys.handover(s))
            arr = trace[key][:, c.sample]
            for layer in range(arr.shape[0]):
                row = Cells()
                unit_row(row, f"{'▸' if layer == j else ' '} l{layer} {'' if c.phase == 'forward' else 'dL/d'}{s}_0",
                         arr[layer], min(c.unit, arr.shape[1] - 1), *unit_window(width, arr.shape[1], c.unit),
                         finite_scale(arr[layer], 1.0 if c.phase == "forward" else 0.0), width)
                out.append(row)
        return Group(*out)

    def gradients(self, trace, c, width, defer=False):
        """How much of the decoder's gradient reaches each source step: the encoder's ‖dL/dh_t‖."""
        enc, dec, j = self._ends(trace, c)
        out = [Text(f"how much of the decoder's gradient reaches each source step ({keys.entry_prefix(enc.index)} l{j}):", BOLD)]
        B = trace.info.B
        whose = f" over the batch's {B} samples" if B > 1 else ""   # diag.*.gradnorm: the batch's, not the sample's
        for d in enc.directions:
            g = np.asarray(trace[keys.Place(enc.index, j, d).diag_key("gradnorm")], dtype=float)
            out.append(Text(f"‖dL/dh_t‖ {d}{whose}, t=0..{g.shape[0] - 1}: {fmt(float(g[0]), 0)} at t=0, "
                            f"{fmt(float(g[-1]), 0)} at t={g.shape[0] - 1}"))
            out.append(log_sparkline(g, into=Cells()))
        out.append(Text("the encoder's output is not used: all of its gradient came from the decoder, through the "
                        "hand-over of each layer", DIM))
        return Group(*out)

    def details(self, trace, c):
        enc, dec, j = self._ends(trace, c)
        text = Text(f"hand-over, layer {j}, sample {c.sample}\n", BOLD)
        for s in dec.family.states:
            v = trace[keys.handover(s)][j, c.sample]
            g = trace[keys.grad(keys.handover(s))][j, c.sample]
            text.append(f"{s}_0: ‖·‖ {_norm(v)}   dL/d{s}_0: ‖·‖ {_norm(g)}\n")
        return text


def _unit_source(how: str, f, bw, u: int, s: str, T: int) -> str:
    """Where unit u of the merged state came from."""
    if bw is None:
        return f"= fwd {s}[{T - 1}][{u}] = {fmt(float(f[u]), 0)}"
    H = f.shape[0]
    if how == "concat":
        return (f"= fwd {s}[{T - 1}][{u}] = {fmt(float(f[u]), 0)}" if u < H
                else f"= bwd {s}[0][{u - H}] = {fmt(float(bw[u - H]), 0)}")
    if how == "mean":
        return f"= mean of fwd {fmt(float(f[u]), 0)} and bwd {fmt(float(bw[u]), 0)}"
    return f"= fwd {fmt(float(f[u]), 0)} {'+' if how == 'sum' else '×'} bwd {fmt(float(bw[u]), 0)}"
