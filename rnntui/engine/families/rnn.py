"""The Elman RNN, as torch.nn.RNN."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rnntui.engine.families.base import (CellConfig, equals, Family, overwritten_note, previous_next, set_note,
                                         RecurrentConfig, StepProduct, transposed)
from rnntui.engine.families.driver import BackwardSteps, ForwardSteps
from rnntui.engine.fields import choice
from rnntui.numfmt import fmt


@dataclass(frozen=True)
class RNNConfig(RecurrentConfig):
    nonlinearity: Literal["tanh", "relu", "identity"] = choice("tanh", doc="the activation of h")


@dataclass(frozen=True)
class RNNCellConfig(CellConfig):
    nonlinearity: Literal["tanh", "relu"] = choice("tanh", doc="as nn.RNNCell")


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
    cell_config = RNNCellConfig

    def forward_steps(self, entry, x, p, reverse, cur, prev) -> ForwardSteps:
        T, B, _ = x.shape
        H = p["weight_hh"].shape[1]
        P = (x.reshape(T * B, -1) @ p["weight_ih"].T).reshape(T, B, H)
        P += p["bias_ih"] + p["bias_hh"]
        Hs = cur["h"]
        recurrent = StepProduct(p["weight_hh"], B)
        M, buf, product = recurrent.M, recurrent.buf, recurrent.out
        pre, hs, hp = P, Hs, transposed(prev["h"])
        nl = entry.nonlinearity

        def step(t, put):
            np.matmul(M, hp[t], buf)
            a, h = pre[t], hs[t]
            np.add(a, product, a)
            if put is not None:
                put("pre", t, a)
            if nl == "tanh":
                np.tanh(a, h)
            elif nl == "relu":
                np.maximum(a, 0, out=h)
            else:
                np.copyto(h, a)
            if put is not None:
                put("h", t, h)

        return ForwardSteps(step, {"h": Hs, "pre": P}, padded=(P,))

    @staticmethod
    def derivative(nonlinearity: str, h: np.ndarray, pre: np.ndarray) -> np.ndarray:
        """d act / d pre, from the recorded h and pre."""
        if nonlinearity == "tanh":
            return 1 - h * h
        if nonlinearity == "relu":
            return (pre > 0).astype(h.dtype)
        return np.ones_like(h)

    def backward_steps(self, entry, x, p, run, DH, into, out, lean) -> BackwardSteps:
        B = run.h.shape[1]
        K = self.derivative(entry.nonlinearity, run.h, run.record["pre"])
        through_W = StepProduct(p["weight_hh"].T, B)   # dA @ W
        dA = np.empty_like(run.h)
        dh, k, da, daT, hout = DH, K, dA, transposed(dA), out["h"]
        M, (to, copy), buf = through_W.M, through_W.rows(out["h"]), through_W.out

        def step(t, ov):
            a = da[t]
            np.multiply(dh[t], k[t], a)
            if ov is not None:  # an overwritten h or pre: nothing flows into what computed it
                ov.cut("h", t, a)
                ov.cut("pre", t, a)
            np.matmul(M, daT[t], to[t])
            if copy:
                np.copyto(hout[t], buf)

        return BackwardSteps(step, lambda: (dA, dA, None))

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

    def cell_formula(self, entry) -> str:
        return f"h' = {entry.nonlinearity}(W_ih x + b_ih + W_hh h + b_hh)"
