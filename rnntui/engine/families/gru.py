"""The gated recurrent unit, as torch.nn.GRU."""
from __future__ import annotations

import numpy as np

from rnntui.engine.families.base import (equals, Family, initial, overwritten_note, previous_at, previous_next,
                                         set_note, StepProduct, transposed)
from rnntui.engine.families.driver import BackwardSteps, ForwardSteps
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

    def forward_steps(self, entry, x, p, reverse, cur, prev) -> ForwardSteps:
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
        Hs = cur["h"]
        HPn = np.empty_like(Hs)
        named = {"h": Hs, "gates.r": G[..., :H], "gates.z": G[..., H: 2 * H], "gates.n": G[..., 2 * H:]}
        # the views every step indexes, made once
        rz, r, z, n = G[..., : 2 * H], named["gates.r"], named["gates.z"], named["gates.n"]
        hpn, hs, hp, hpT = HPn, Hs, prev["h"], transposed(prev["h"])
        M, buf = recurrent.M, recurrent.buf
        p_rz, p_n = recurrent.out[:, : 2 * H], recurrent.out[:, 2 * H:]
        tmp = np.empty((B, H), dtype=x.dtype)
        half = x.dtype.type(0.5)

        def step(t, put):
            np.matmul(M, hpT[t], buf)
            a = rz[t]
            np.add(a, p_rz, a)
            np.tanh(a, a)
            np.multiply(a, half, a)
            np.add(a, half, a)
            if put is not None:
                put("gates.r", t, r[t])
                put("gates.z", t, z[t])
            np.add(p_n, bhn, hpn[t])
            nt = n[t]
            np.multiply(r[t], hpn[t], tmp)
            np.add(nt, tmp, nt)
            np.tanh(nt, nt)
            if put is not None:
                put("gates.n", t, nt)
            np.subtract(hp[t], nt, tmp)
            np.multiply(tmp, z[t], tmp)
            np.add(nt, tmp, hs[t])
            if put is not None:
                put("h", t, hs[t])

        def restore(kept):
            # W_hn h + b_hn of the copied steps, each made as the loop makes it, so the values agree to the bit
            for t in range(T)[kept]:
                np.matmul(M, hpT[t], buf)
                np.add(p_n, bhn, hpn[t])

        return ForwardSteps(step, named, {"G": G, "HPn": HPn}, padded=(G, HPn), restore=restore)

    @staticmethod
    def coefficients(G, HPn, h_prev):
        """Kn = (1-z)(1-n^2), Kz = (h_prev - n) z (1-z), Kr = (W_hn h + b_hn) r (1-r)."""
        H = HPn.shape[-1]
        r, z, n = G[..., :H], G[..., H: 2 * H], G[..., 2 * H:]
        Kn = (1 - z) * (1 - n * n)
        Kz = (h_prev - n) * z * (1 - z)
        Kr = HPn * r * (1 - r)
        return Kn, Kz, Kr

    def backward_steps(self, entry, x, p, run, DH, into, out, lean) -> BackwardSteps:
        T, B, H = run.h.shape
        G, HPn = run.cache["G"], run.cache["HPn"]
        Kn, Kz, Kr = self.coefficients(G, HPn, run.cache["prev"]["h"])
        through_W = StepProduct(p["weight_hh"].T, B)   # dHp @ W
        dX = np.empty((T, B, 3 * H), dtype=x.dtype)
        dHp = np.empty_like(dX)
        tmp = np.empty((B, H), dtype=x.dtype)
        dh, kn, kz, kr, r, z = DH, Kn, Kz, Kr, G[..., :H], G[..., H: 2 * H]
        dan, dhp_r, dhp_z, dhp_n = dX[..., 2 * H:], dHp[..., :H], dHp[..., H: 2 * H], dHp[..., 2 * H:]
        hout = out["h"]
        M, dhpT, (to, copy), buf = through_W.M, transposed(dHp), through_W.rows(out["h"]), through_W.out

        def step(t, ov):
            # an overwritten h: its own gradient is recorded whole, none flows into what computed it
            dh_in = dh[t] if ov is None else ov.cut_copy("h", t, dh[t])
            dn = dan[t]
            np.multiply(dh_in, kn[t], dn)
            if ov is not None:  # an overwritten gate: no gradient reaches its pre-activation
                ov.cut("gates.n", t, dn)
            # the r and z pre-activations take the same gradient from both products (copied into dX after the
            # loop); the recurrent part of n's is scaled by r
            np.multiply(dh_in, kz[t], dhp_z[t])
            np.multiply(dn, kr[t], dhp_r[t])
            if ov is not None:
                ov.cut("gates.z", t, dhp_z[t])
                ov.cut("gates.r", t, dhp_r[t])
            np.multiply(dn, r[t], dhp_n[t])
            np.matmul(M, dhpT[t], to[t])
            if copy:
                np.copyto(hout[t], buf)
            np.multiply(dh_in, z[t], tmp)
            np.add(hout[t], tmp, hout[t])

        def finish():
            dX[..., : 2 * H] = dHp[..., : 2 * H]
            return dX, dHp, None

        return BackwardSteps(step, finish)

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

    def cell_formula(self, entry) -> str:
        return "r,z = σ(...); n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h' = (1 - z) n + z h"
