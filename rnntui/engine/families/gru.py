"""The gated recurrent unit, as torch.nn.GRU."""
from __future__ import annotations

import numpy as np

from rnntui.engine.families.base import (DirectionRun, equals, Family, previous_next, initial, inject_final, order,
                                         overwritten_note, set_note, previous, previous_at, resumed, split_record,
                                         start_state, step_rows, StepProduct, weight_grads, zero_padded)
from rnntui.numfmt import fmt


class GRU(Family):
    """Gate rows r, z, n, as PyTorch orders them:

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)             reset gate
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)             update gate
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))          candidate
    h' = (1 - z) * n + z * h
    """

    name = "gru"
    title = "GRU"
    gates = ("r", "z", "n")
    sigmoid_gates = frozenset("rz")
    gate_words = {"r": "reset gate", "z": "update gate", "n": "candidate"}
    states = ("h",)
    n_blocks = 3
    # G (3), Hs, HPn; DH, TT; h_prev twice, Kn, Kz, Kr, dX (3), dHp (3); r, z, n gathered,
    # h_prev, HPn, their concatenation (3), Kn, Kz, Kr with two temporaries and D (3)
    forward_arrays, record_arrays, backward_arrays, jacobian_arrays = 5, 2, 11, 13

    def forward(self, entry, x, p, reverse: bool, pad=None, state0=None, overrides=None, resume=None) -> DirectionRun:
        T, B, _ = x.shape
        H = p["weight_hh"].shape[1]
        scale = np.ones(3 * H, dtype=x.dtype)
        scale[: 2 * H] = 0.5  # r and z rows halved: sigmoid through one tanh
        G = (x.reshape(T * B, -1) @ (p["weight_ih"] * scale[:, None]).T).reshape(T, B, 3 * H)
        # b_hr and b_hz join b_ir and b_iz here, once for all steps; b_hn stays with W_hn h, which r scales
        bias = p["bias_ih"].copy()
        bias[: 2 * H] += p["bias_hh"][: 2 * H]
        G += bias * scale
        recurrent = StepProduct(p["weight_hh"] * scale[:, None], B)
        bhn = p["bias_hh"][2 * H:]
        Hs = np.empty((T, B, H), dtype=x.dtype)
        HPn = np.empty_like(Hs)
        h = start_state(state0, "h", B, H, x.dtype)
        h0 = None if state0 is None else h
        steps, kept, before = resumed(T, reverse, resume)
        if resume is not None:
            rec = resume[1]
            for n, k in enumerate("rzn"):
                G[kept, :, n * H:(n + 1) * H] = rec[f"gates.{k}"][kept]
            Hs[kept] = rec["h"][kept]
            # W_hn h + b_hn of the copied steps, each made as the loop makes it, so the values agree to the bit
            prev = previous(Hs, reverse, h0)
            for t in range(T)[kept]:
                np.add(recurrent(prev[t])[:, 2 * H:], bhn, out=HPn[t])
            if before is not None:
                h = Hs[before]
        ov = overrides
        tmp = np.empty((B, H), dtype=x.dtype)
        for t in steps:
            g = G[t]
            hp = recurrent(h)
            rz = g[:, : 2 * H]
            rz += hp[:, : 2 * H]
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            if ov is not None:
                ov.put("gates.r", t, g[:, :H])
                ov.put("gates.z", t, g[:, H: 2 * H])
            np.add(hp[:, 2 * H:], bhn, out=HPn[t])
            n = g[:, 2 * H:]
            np.multiply(g[:, :H], HPn[t], out=tmp)
            n += tmp
            np.tanh(n, out=n)
            if ov is not None:
                ov.put("gates.n", t, n)
            np.subtract(h, n, out=tmp)
            tmp *= g[:, H: 2 * H]
            np.add(n, tmp, out=Hs[t])
            if ov is not None:
                ov.put("h", t, Hs[t])
            zero_padded(Hs[t], pad, t)
            h = Hs[t]
        zero_padded(G, pad)
        zero_padded(HPn, pad)
        rec = {"h": Hs, "gates.r": G[..., :H], "gates.z": G[..., H: 2 * H], "gates.n": G[..., 2 * H:]}
        return DirectionRun(Hs, rec, {"G": G, "HPn": HPn, "pad": pad, "h0": h0, "ov": ov})

    @staticmethod
    def coefficients(G, HPn, h_prev):
        """Kn = (1-z)(1-n^2), Kz = (h_prev - n) z (1-z), Kr = (W_hn h + b_hn) r (1-r)."""
        H = HPn.shape[-1]
        r, z, n = G[..., :H], G[..., H: 2 * H], G[..., 2 * H:]
        Kn = (1 - z) * (1 - n * n)
        Kz = (h_prev - n) * z * (1 - z)
        Kr = HPn * r * (1 - r)
        return Kn, Kz, Kr

    def backward(self, entry, x, p, run: DirectionRun, dh_ext, reverse: bool, final=None, final_steps=None,
                 lean=False):
        T, B, H = run.h.shape
        G, HPn, h0 = run.cache["G"], run.cache["HPn"], run.cache.get("h0")
        h_prev = previous(run.h, reverse, h0)
        Kn, Kz, Kr = self.coefficients(G, HPn, h_prev)
        r, z = G[..., :H], G[..., H: 2 * H]
        through_W = StepProduct(p["weight_hh"].T, B)   # dHp @ W
        DH = np.empty((T, B, H), dtype=x.dtype)
        TT = step_rows(T, B, H, x.dtype, keep=not lean)
        dX = np.empty((T, B, 3 * H), dtype=x.dtype)
        dHp = np.empty_like(dX)
        dh_rec = start_state(None if final_steps is not None else final, "h", B, H, x.dtype)
        tmp = np.empty((B, H), dtype=x.dtype)
        pad, ov = run.cache.get("pad"), run.cache.get("ov")
        for t in order(T, not reverse):
            dh = DH[t]
            if final_steps is not None:  # each sample's last state is at its own step (a packed batch)
                inject_final(dh_rec, final, "h", final_steps, t)
            TT[t] = dh_rec
            np.add(dh_ext[t], dh_rec, out=dh)
            zero_padded(TT[t], pad, t)
            zero_padded(dh, pad, t)
            # an overwritten h: its own gradient is recorded whole, none flows into what computed it
            dh_in = dh if ov is None else ov.cut_copy("h", t, dh)
            dan = dX[t, :, 2 * H:]
            np.multiply(dh_in, Kn[t], out=dan)
            if ov is not None:  # an overwritten gate: no gradient reaches its pre-activation
                ov.cut("gates.n", t, dan)
            # the r and z pre-activations take the same gradient from both products (copied into dX after the
            # loop); the recurrent part of n's is scaled by r
            np.multiply(dh_in, Kz[t], out=dHp[t, :, H: 2 * H])
            np.multiply(dan, Kr[t], out=dHp[t, :, :H])
            if ov is not None:
                ov.cut("gates.z", t, dHp[t, :, H: 2 * H])
                ov.cut("gates.r", t, dHp[t, :, :H])
            np.multiply(dan, r[t], out=dHp[t, :, 2 * H:])
            dh_rec = through_W(dHp[t])
            np.multiply(dh_in, z[t], out=tmp)
            dh_rec += tmp
        dX[..., : 2 * H] = dHp[..., : 2 * H]
        grads = weight_grads(x, p, run.h, dX, dHp, DH, split_record(DH, dh_ext, TT), reverse, h0=h0, lean=lean)
        grads.state0 = {"h": dh_rec}
        return grads

    def jacobian_factors(self, entry, arrays, place, params, steps):
        r, z, n = (arrays[place.key(f"gates.{k}")][steps] for k in "rzn")
        h = arrays[place.key("h")]
        H = h.shape[-1]
        h_prev = previous_at(h, steps, place.direction == "bwd", initial(arrays, place, "h"))
        HPn = h_prev @ params[place.param("weight_hh")][2 * H:].T + params[place.param("bias_hh")][2 * H:]
        Kn, Kz, Kr = self.coefficients(np.concatenate([r, z, n], axis=-1), HPn, h_prev)
        return z, np.concatenate([Kn * Kr, Kz, Kn * r], axis=-1)

    def equations(self, entry, direction: str = "fwd") -> list[str]:
        p, _ = previous_next(direction)
        return [
            f"r_t = σ(W_ir x_t + b_ir + W_hr h_{{{p}}} + b_hr)      reset gate",
            f"z_t = σ(W_iz x_t + b_iz + W_hz h_{{{p}}} + b_hz)      update gate",
            f"n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{{{p}}} + b_hn))   candidate",
            f"h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{{{p}}}",
            f"BPTT: dL/dh_{{{p}}} gets z_t ⊙ dL/dh_t directly, plus the paths through r, z and n",
        ]

    def forward_story(self, entry, v):
        r, z, n = (v(f"gates.{k}") for k in "rzn")
        hp = v.prev("h")
        return [
            ("head", "h_t = (1-z)⊙n + z⊙h_prev"),
            ("body", f"    = {fmt(1 - z, 0)}×{fmt(n, 0)} + {fmt(z, 0)}×{fmt(hp, 0)} "
                     + equals(v, "h", (1 - z) * n + z * hp)),
            *set_note(v, "h", "h_t"),
            ("note", f"    new {fmt((1 - z) * n, 0)}, kept {fmt(z * hp, 0)} (update gate {z:.0%}); reset gate {r:.0%}"),
            *overwritten_note(v, [f"gates.{k}" for k in "rzn"]),
        ]

    def through_time_words(self, entry) -> str:
        return "z_next⊙dL/dh_next + W_hhᵀ(gate gradients at t+1)"
