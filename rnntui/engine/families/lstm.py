"""Long short-term memory, as torch.nn.LSTM."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from rnntui.engine.families.base import (equals, Family, initial, overwritten_note, previous_at, previous_next,
                                         set_note, step_rows, StepProduct, transposed)
from rnntui.engine.families.driver import BackwardSteps, ForwardSteps
from rnntui.numfmt import fmt, fmt_terms


class LSTM(Family):
    """Gate rows i, f, g, o, as PyTorch orders them:

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      input gate: how much is written
    f = sigmoid(W_if x + b_if + W_hf h + b_hf)      forget gate: how much of c is kept
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)         candidate: what would be written
    o = sigmoid(W_io x + b_io + W_ho h + b_ho)      output gate: how much of c is shown
    c' = f * c + i * g
    h' = o * tanh(c')

    Inside, rows are reordered to (o, i, f, g) so the three sigmoid gates are one slice
    and the three gates that multiply dL/dc are another.
    """

    name = "lstm"
    title = "LSTM"
    gates = ("i", "f", "g", "o")
    sigmoid_gates = frozenset("ifo")
    gate_words = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate"}
    states = ("h", "c")
    n_blocks = 4
    # G (4), Cs, TC, Hs; DH, DC, TT, CT, CH; c_prev, Kc, Ko, Kifg (3), dZ (4), h_prev; the gates
    # gathered (4), c's copy, TC, G (4), c_prev, Kc, Ko, Kifg (3) and D (4) with its three products
    forward_arrays, record_arrays, backward_arrays, jacobian_arrays = 7, 5, 11, 21

    @staticmethod
    @lru_cache(maxsize=64)
    def _perm(H: int) -> np.ndarray:
        """PyTorch's rows (i, f, g, o) in the internal order (o, i, f, g); made once per size (read-only)."""
        i, f, g, o = (np.arange(k * H, (k + 1) * H) for k in range(4))
        perm = np.concatenate([o, i, f, g])
        perm.flags.writeable = False
        return perm

    @staticmethod
    @lru_cache(maxsize=64)
    def _blocks(H: int) -> tuple[tuple[str, slice], ...]:
        """Each gate's columns in the internal row order (o, i, f, g)."""
        return tuple((f"gates.{k}", slice(n * H, (n + 1) * H)) for n, k in enumerate("oifg"))

    def forward_steps(self, entry, x, p, reverse, cur, prev) -> ForwardSteps:
        T, B, _ = x.shape
        H = p["weight_hh"].shape[1]
        perm = self._perm(H)
        # sigmoid(z) = (1 + tanh(z/2)) / 2: halving the sigmoid rows lets one tanh serve all gates
        scale = np.ones(4 * H, dtype=x.dtype)
        scale[: 3 * H] = 0.5
        Wih = p["weight_ih"][perm] * scale[:, None]
        recurrent = StepProduct(p["weight_hh"][perm] * scale[:, None], B)
        b = (p["bias_ih"] + p["bias_hh"])[perm] * scale
        G = (x.reshape(T * B, -1) @ Wih.T).reshape(T, B, 4 * H)
        G += b
        Cs, Hs = cur["c"], cur["h"]
        TC = np.empty_like(Cs)
        blocks = self._blocks(H)
        named = {"h": Hs, "c": Cs, "gates.i": G[..., H: 2 * H], "gates.f": G[..., 2 * H: 3 * H],
                 "gates.g": G[..., 3 * H:], "gates.o": G[..., :H]}
        # the views every step indexes, made once: a step then costs its ufuncs and its indexing
        gs, sig, o, i, f, gg = G, G[..., : 3 * H], named["gates.o"], named["gates.i"], named["gates.f"], named["gates.g"]
        cs, tc, hs, cp, hpT = Cs, TC, Hs, prev["c"], transposed(prev["h"])
        M, buf, product = recurrent.M, recurrent.buf, recurrent.out
        ig = np.empty((B, H), dtype=x.dtype)
        half = x.dtype.type(0.5)

        def step(t, put):
            np.matmul(M, hpT[t], buf)
            g, s, c = gs[t], sig[t], cs[t]
            np.add(g, product, g)
            np.tanh(g, g)
            np.multiply(s, half, s)
            np.add(s, half, s)
            if put is not None:
                for name, cols in blocks:
                    put(name, t, g[:, cols])
            np.multiply(f[t], cp[t], c)
            np.multiply(i[t], gg[t], ig)
            np.add(c, ig, c)
            if put is not None:
                put("c", t, c)
            np.tanh(c, tc[t])
            np.multiply(o[t], tc[t], hs[t])
            if put is not None:
                put("h", t, hs[t])

        def restore(kept):
            TC[kept] = np.tanh(Cs[kept])

        return ForwardSteps(step, named, {"G": G, "TC": TC, "perm": perm}, padded=(G, TC), restore=restore)

    @staticmethod
    def coefficients(G, TC, c_prev):
        """Per-step factors of BPTT that do not depend on the recursion, all steps at once.

        With internal order (o, i, f, g):
        dz_o = dh * Ko,  dc = dc_next * f + dh * Kc,  dz_{i,f,g} = dc * Kifg.
        """
        H = TC.shape[-1]
        o, i, f, g = (G[..., k * H:(k + 1) * H] for k in range(4))
        Kc = o * (1 - TC * TC)
        Ko = TC * o * (1 - o)
        Kifg = np.stack([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g)], axis=2)
        return Kc, Ko, Kifg

    def backward_steps(self, entry, x, p, run, DH, into, out, lean) -> BackwardSteps:
        T, B, H = run.h.shape
        G, TC, perm = run.cache["G"], run.cache["TC"], run.cache["perm"]
        Kc, Ko, Kifg = self.coefficients(G, TC, run.cache["prev"]["c"])
        through_W = StepProduct(p["weight_hh"][perm].T, B)   # dZ @ W
        DC, CH = (step_rows(T, B, H, x.dtype, keep=not lean) for _ in range(2))
        # DC: dL/dc_t; CH: its share through h_t, dL/dh_t ⊙ o ⊙ (1 - tanh² c)
        dZ = np.empty((T, B, 4 * H), dtype=x.dtype)
        dZifg = dZ[..., H:].reshape(T, B, 3, H)
        blocks = self._blocks(H)
        dh, dc, ch, kc, ko, kifg, f = DH, DC, CH, Kc, Ko, Kifg, G[..., 2 * H: 3 * H]
        dz, dzo, dzifg, dcb = dZ, dZ[..., :H], dZifg, DC[:, :, None, :]
        cin, cout, hout = into["c"], out["c"], out["h"]
        M, dzT, (to, copy), buf = through_W.M, transposed(dZ), through_W.rows(out["h"]), through_W.out

        def step(t, ov):
            # an overwritten h (c): its own gradient is recorded whole, none flows into what computed it
            dh_in = dh[t] if ov is None else ov.cut_copy("h", t, dh[t])
            c_h, d = ch[t], dc[t]
            np.multiply(dh_in, kc[t], c_h)
            np.add(c_h, cin[t], d)
            dc_in = d if ov is None else ov.cut_copy("c", t, d)
            np.multiply(dh_in, ko[t], dzo[t])
            np.multiply(kifg[t], dcb[t] if dc_in is d else dc_in[:, None, :], dzifg[t])
            if ov is not None:  # an overwritten gate: no gradient reaches its pre-activation
                for name, cols in blocks:
                    ov.cut(name, t, dz[t][:, cols])
            np.multiply(dc_in, f[t], cout[t])
            np.matmul(M, dzT[t], to[t])
            if copy:
                np.copyto(hout[t], buf)

        # dZ stays in the internal row order; the small weight gradients are put back instead
        return BackwardSteps(step, lambda: (dZ, dZ, perm), {"c": DC, "c.from_h": CH})

    def jacobian_factors(self, entry, arrays, place, params, steps):
        c = arrays[place.key("c")]
        i, f, g, o = (arrays[place.key(f"gates.{k}")][steps] for k in "ifgo")
        TC = np.tanh(c[steps])
        G = np.concatenate([o, i, f, g], axis=-1)
        Kc, Ko, Kifg = self.coefficients(G, TC, previous_at(c, steps, place.direction == "bwd",
                                                            initial(arrays, place, "c")))
        return None, np.concatenate([Kc * Kifg[:, :, 0], Kc * Kifg[:, :, 1], Kc * Kifg[:, :, 2], Ko], axis=-1)

    def equations(self, entry, direction: str = "fwd") -> list[str]:
        p, n = previous_next(direction)
        return [
            f"i_t = σ(W_ii x_t + b_ii + W_hi h_{{{p}}} + b_hi)      input gate",
            f"f_t = σ(W_if x_t + b_if + W_hf h_{{{p}}} + b_hf)      forget gate",
            f"g_t = tanh(W_ig x_t + b_ig + W_hg h_{{{p}}} + b_hg)   candidate",
            f"o_t = σ(W_io x_t + b_io + W_ho h_{{{p}}} + b_ho)      output gate",
            f"c_t = f_t ⊙ c_{{{p}}} + i_t ⊙ g_t",
            "h_t = o_t ⊙ tanh(c_t)",
            f"BPTT: dL/dc_t = dL/dh_t ⊙ o_t ⊙ (1 - tanh²c_t) + dL/dc_{{{n}}} ⊙ f_{{{n}}}",
        ]

    def forward_story(self, entry, v):
        i, f, g, o = (v(f"gates.{k}") for k in "ifgo")
        cp, ct = v.prev("c"), v("c")  # ct: what h_t read, the value a what-if set where it set one
        return [
            ("head", "c_t = f⊙c_prev + i⊙g"),
            ("body", f"    = {fmt(f, 0)}×{fmt(cp, 0)} + {fmt(i, 0)}×{fmt(g, 0)} " + equals(v, "c", f * cp + i * g)),
            *set_note(v, "c", "c_t"),
            ("note", f"    kept {fmt(f * cp, 0)} of {fmt(cp, 0)} (forget gate {f:.0%} open), wrote {fmt(i * g, 0)}"),
            ("head", "h_t = o⊙tanh(c_t)"),
            ("body", f"    = {fmt(o, 0)}×{fmt(float(np.tanh(ct)), 0)} " + equals(v, "h", o * float(np.tanh(ct)))),
            *set_note(v, "h", "h_t"),
            *overwritten_note(v, [f"gates.{k}" for k in "ifgo"]),
        ]

    def backward_story(self, entry, v):
        from_h, through, dc = fmt_terms(v("c.from_h"), v("c.through_time"), v("c"))
        return [
            ("head", "dL/dc_t = dL/dh_t⊙o⊙(1-tanh²c) + dL/dc_next⊙f_next"),
            ("body", f"        = {from_h} (from h_t) + {through} (through time) = {dc}"),
            ("note", "      the cell-state path multiplies by the forget gate only: no W_hh, no tanh'"),
        ]

    def through_time_words(self, entry) -> str:
        return "W_hhᵀ(gate gradients at t+1)"

    def cell_formula(self, entry) -> str:
        return "i,f,g,o = σ,σ,tanh,σ(W_ih x + b_ih + W_hh h + b_hh); c' = f c + i g; h' = o tanh(c')"
