"""Encoder-decoder (sequence to sequence): the encoder reads its input, hands its final states over,
and the decoder, started from them, reads its own input (teacher forcing); the loss is over the
decoder's steps.

Hand-over, layer j of the encoder's last recurrent entry to layer j of the decoder's first:

    h_dec,j(start) = merge(h_fwd,j[T-1], h_bwd,j[0])     (just h_fwd,j[T-1] for one direction)
    c_dec,j(start) = merge(c_fwd,j[T-1], c_bwd,j[0])     (an LSTM decoder from an LSTM encoder)

with the encoder entry's `merge`. BPTT runs back through the decoder to dL/d(start state) (the
recurrent handler's dstate0), through the merge, and into the encoder's final states, where it
enters the encoder's BPTT as the gradient through time at its last step (step 0 for the backward
direction). Recorded besides every entry's usual keys: `handover.h` (`handover.c`), (layers, B, H),
and their gradients `grad.handover.h` (`grad.handover.c`); `decoder.input` and `grad.decoder.input`.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from rnntui.engine import keys
from rnntui.engine.context import RunContext
from rnntui.engine.entries.recurrent import merge, unmerge
from rnntui.engine.walk import Walk

DECODER_INPUT = keys.DECODER_INPUT


def split(layout) -> int:
    """Where the decoder's entries begin."""
    return next(k for k, lay in enumerate(layout) if lay.part == "decoder")


class EncoderDecoder:
    """Two walks joined by the hand-over; `outs`/`pres` are the decoder's (what the loss reads)."""

    def __init__(self, layout, ctx: RunContext):
        k = split(layout)
        self.enc_last = layout[k - 1]
        self.dec_first = next(lay for lay in layout[k:] if lay.recurrent)
        # *lengths*: source sentences of different lengths (packed); each hands over its own last state
        # (interventions and dropout masks reach no encoder-decoder: only a single walk takes them)
        self.encoder = Walk(layout[:k], replace(ctx, plan=None, masks=None))
        self.decoder = Walk(layout[k:], replace(ctx, plan=None, masks=None, lengths={}, initial={}))

    @property
    def outs(self):
        return self.decoder.outs

    @property
    def pres(self):
        return self.decoder.pres

    def _finals(self) -> list[dict[str, tuple]]:
        """Per encoder layer: state name -> (forward direction's final, backward's or None)."""
        cache = self.encoder.caches[-1]
        runs, last = cache["runs"], cache["last"]
        out = []
        for layer in runs:
            f, b = layer["fwd"], layer.get("bwd")
            states = {}
            for s in self.dec_first.family.states:
                fin = f.record[s][last, np.arange(last.size)]  # each sample's own last step
                states[s] = (fin, None if b is None else b.record[s][0])
            out.append(states)
        return out

    def forward(self, x: np.ndarray, x_dec: np.ndarray, rec: dict) -> None:
        self.encoder.forward(x, rec)
        how = self.enc_last.merge
        start = {s: np.stack([merge(how, *layer[s]) for layer in self._finals()])
                 for s in self.dec_first.family.states}
        for s, v in start.items():
            rec[keys.handover(s)] = v
        rec[DECODER_INPUT] = x_dec
        self.decoder.forward(x_dec, rec, start={self.dec_first.index: start})

    def backward(self, g, g_pre, grads: dict, rec: dict, lean: str = "") -> np.ndarray:
        rec[keys.grad(DECODER_INPUT)] = self.decoder.backward(g, g_pre, grads, rec, lean=lean)
        i = self.decoder.layout.index(self.dec_first)
        dstart = self.decoder.caches[i]["dstate0"]
        how = self.enc_last.merge
        final: dict[str, list] = {}
        for j, layer in enumerate(self._finals()):
            for s, (f, b) in layer.items():
                rec.setdefault(keys.grad(keys.handover(s)), dstart[s])
                gf, gb = unmerge(how, dstart[s][j], f, b)
                final.setdefault(s, []).extend([gf] if b is None else [gf, gb])  # PyTorch's h_n order
        last_out = self.encoder.outs[-1]
        return self.encoder.backward(np.zeros_like(last_out), None, grads, rec,
                                     final={s: np.stack(v) for s, v in final.items()}, lean=lean)
