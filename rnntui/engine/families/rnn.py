"""The Elman RNN, as torch.nn.RNN."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rnntui.engine.families.base import (DirectionRun, equals, Family, inject_final, order, overwritten_note,
                                         previous_next, set_note, RecurrentConfig, resumed, split_record,
                                         start_state, StepProduct, step_rows, weight_grads, zero_padded)
from rnntui.engine.fields import choice
from rnntui.numfmt import fmt


@dataclass(frozen=True)
class RNNConfig(RecurrentConfig):
    nonlinearity: Literal["tanh", "relu", "identity"] = choice("tanh", doc="the activation of h")


class RNN(Family):
    """h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),  act in {tanh, relu, identity}.

    Recorded: ``pre`` (a_t, the argument of act) and ``h``.
    BPTT: dL/dh_{t-1} = W_hhᵀ (dL/dh_t ⊙ act'(a_t)) + the output's share at t-1.
    """

    name = "rnn"
    title = "RNN"
    gates = ()
    states = ("h",)
    n_blocks = 1
    # P and Hs; DH and TT; K (with a temporary while made), dA and h_prev; the copies of h and pre and
    # the derivative's temporaries
    forward_arrays, record_arrays, backward_arrays, jacobian_arrays = 2, 2, 3, 4
    config = RNNConfig

    def forward(self, entry, x, p, reverse: bool, pad=None, state0=None, overrides=None, resume=None) -> DirectionRun:
        T, B, _ = x.shape
        H = p["weight_hh"].shape[1]
        P = (x.reshape(T * B, -1) @ p["weight_ih"].T).reshape(T, B, H)
        P += p["bias_ih"] + p["bias_hh"]
        Hs = np.empty_like(P)
        recurrent = StepProduct(p["weight_hh"], B)
        h = start_state(state0, "h", B, H, x.dtype)
        h0 = None if state0 is None else h
        steps, kept, before = resumed(T, reverse, resume)
        if resume is not None:
            P[kept], Hs[kept] = resume[1]["pre"][kept], resume[1]["h"][kept]
            if before is not None:
                h = Hs[before]
        nl = entry.nonlinearity
        ov = overrides
        for t in steps:
            P[t] += recurrent(h)
            if ov is not None:
                ov.put("pre", t, P[t])
            if nl == "tanh":
                np.tanh(P[t], out=Hs[t])
            elif nl == "relu":
                np.maximum(P[t], 0, out=Hs[t])
            else:
                Hs[t] = P[t]
            if ov is not None:
                ov.put("h", t, Hs[t])
            zero_padded(Hs[t], pad, t)
            h = Hs[t]
        zero_padded(P, pad)
        return DirectionRun(Hs, {"h": Hs, "pre": P}, {"pad": pad, "h0": h0, "ov": ov})

    @staticmethod
    def derivative(nonlinearity: str, h: np.ndarray, pre: np.ndarray) -> np.ndarray:
        """d act / d pre, from the recorded h and pre."""
        if nonlinearity == "tanh":
            return 1 - h * h
        if nonlinearity == "relu":
            return (pre > 0).astype(h.dtype)
        return np.ones_like(h)

    def backward(self, entry, x, p, run: DirectionRun, dh_ext, reverse: bool, final=None, final_steps=None,
                 lean=False):
        T, B, H = run.h.shape
        K = self.derivative(entry.nonlinearity, run.h, run.record["pre"])
        through_W = StepProduct(p["weight_hh"].T, B)   # dA @ W
        DH = np.empty_like(run.h)
        TT = step_rows(T, B, H, x.dtype, keep=not lean)
        dA = np.empty_like(run.h)
        dh_rec = start_state(None if final_steps is not None else final, "h", B, H, x.dtype)
        pad, ov = run.cache.get("pad"), run.cache.get("ov")
        for t in order(T, not reverse):
            if final_steps is not None:  # each sample's last state is at its own step (a packed batch)
                inject_final(dh_rec, final, "h", final_steps, t)
            TT[t] = dh_rec
            np.add(dh_ext[t], dh_rec, out=DH[t])
            zero_padded(TT[t], pad, t)
            zero_padded(DH[t], pad, t)
            np.multiply(DH[t], K[t], out=dA[t])
            if ov is not None:  # an overwritten h or pre: nothing flows into what computed it
                ov.cut("h", t, dA[t])
                ov.cut("pre", t, dA[t])
            dh_rec = through_W(dA[t])
        grads = weight_grads(x, p, run.h, dA, dA, DH, split_record(DH, dh_ext, TT), reverse, h0=run.cache.get("h0"),
                             lean=lean)
        grads.state0 = {"h": dh_rec}
        return grads

    def settable(self, entry) -> tuple[str, ...]:
        return ("h", "pre")

    def jacobian_factors(self, entry, arrays, place, params, steps):
        h = arrays[place.key("h")][steps]
        return None, self.derivative(entry.nonlinearity, h, arrays[place.key("pre")][steps])

    def saturation(self, entry) -> dict[str, str]:
        return {"h": "h"} if entry.nonlinearity == "tanh" else {}

    def equations(self, entry, direction: str = "fwd") -> list[str]:
        act = entry.nonlinearity
        p, _ = previous_next(direction)
        return [
            f"a_t = W_ih x_t + b_ih + W_hh h_{{{p}}} + b_hh           pre-activation",
            f"h_t = {act}(a_t)",
            f"BPTT: dL/dh_{{{p}}} = W_hhᵀ (dL/dh_t ⊙ {act}'(a_t)) + (output's share at {p})",
        ]

    def describe(self, entry) -> str:
        return super().describe(entry) + f", {entry.nonlinearity}"

    def forward_rows(self, entry):
        return [("a pre-activation", "pre", False), ("h hidden state", "h", False)]

    def report_columns(self, entry):
        return [("pre-activation a", "pre")]

    def forward_story(self, entry, v):
        a = v("pre")
        nl = entry.nonlinearity
        act = float({"tanh": np.tanh(a), "relu": max(a, 0.0), "identity": a}[nl])
        # at a_t itself, not at the recorded h (a what-if may have set h to a value act never gives)
        deriv = {"tanh": 1 - act * act, "relu": float(a > 0), "identity": 1.0}[nl]
        return [("body", f"h_t = {nl}(a_t) = {nl}({fmt(a, 0)}) {equals(v, 'h', act)}   "
                         f"{nl}'(a_t) = {fmt(deriv, 0)}"),
                *set_note(v, "h", "h_t"), *overwritten_note(v, ["pre"])]

    def through_time_words(self, entry) -> str:
        return f"W_hhᵀ(dL/dh_next⊙{entry.nonlinearity}')"

