"""Recurrent cells: one direction of one sub-layer, forward over all steps and BPTT back.

Each cell follows PyTorch's equations literally (see the class docstrings) and keeps
PyTorch's parameter layout outside; inside, gate rows may be reordered so that the
per-step work is a few whole-array operations. Shapes (numpydoc style):

x : (T, B, D) input of the sub-layer, time first
h, c, gates : (T, B, H), indexed by position in the sequence; a reverse direction
    runs t = T-1 .. 0 and its state at index t has read steps T-1 down to t.

The input projection of all steps is one matrix product; each step then costs one
product with the recurrent matrix. Weight gradients are one product each at the end.
`forward` returns the record and what `backward` needs; `backward` returns the
input gradient, parameter gradients, total dL/dh_t (and dL/dc_t) and the per-step
pre-activation gradients used for per-step gradient norms.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class DirectionRun:
    """What one direction recorded: public arrays plus the caches backward needs."""

    h: np.ndarray
    record: dict[str, np.ndarray]            # trace keys relative to model.i.lj.dir
    cache: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DirectionGrads:
    dx: np.ndarray                           # (T, B, D)
    params: dict[str, np.ndarray]            # by stem: weight_ih, weight_hh, bias_ih, bias_hh
    record: dict[str, np.ndarray]            # h (and c): total dL/dh_t, dL/dc_t
    step_pre_ih: np.ndarray                  # (T, B, gH) gradient of the input projection per step
    step_pre_hh: np.ndarray                  # (T, B, gH) gradient of the recurrent projection per step
    h_prev: np.ndarray                       # (T, B, H) state each step read


def _order(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def previous(a: np.ndarray, reverse: bool) -> np.ndarray:
    """The state each step read: a shifted copy of *a* with zeros where the pass began."""
    out = np.zeros_like(a)
    if reverse:
        out[:-1] = a[1:]
    else:
        out[1:] = a[:-1]
    return out


class RNNCell:
    """Elman RNN, as torch.nn.RNN.

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),  act in {tanh, relu, identity}
    Recorded: ``pre`` (the argument of act) and ``h``.
    """

    gates: tuple[str, ...] = ()
    n_gates = 1

    def __init__(self, nonlinearity: str = "tanh"):
        self.nonlinearity = nonlinearity

    def forward(self, x, p, reverse: bool) -> DirectionRun:
        T, B, _ = x.shape
        H = p["weight_hh"].shape[1]
        P = (x.reshape(T * B, -1) @ p["weight_ih"].T).reshape(T, B, H)
        P += p["bias_ih"] + p["bias_hh"]
        Hs = np.empty_like(P)
        WT = np.ascontiguousarray(p["weight_hh"].T)
        h = np.zeros((B, H), dtype=x.dtype)
        for t in _order(T, reverse):
            P[t] += h @ WT
            if self.nonlinearity == "tanh":
                np.tanh(P[t], out=Hs[t])
            elif self.nonlinearity == "relu":
                np.maximum(P[t], 0, out=Hs[t])
            else:
                Hs[t] = P[t]
            h = Hs[t]
        return DirectionRun(Hs, {"h": Hs, "pre": P})

    def derivative(self, run: DirectionRun) -> np.ndarray:
        """d act / d pre at every step."""
        if self.nonlinearity == "tanh":
            return 1 - run.h * run.h
        if self.nonlinearity == "relu":
            return (run.record["pre"] > 0).astype(run.h.dtype)
        return np.ones_like(run.h)

    def backward(self, x, p, run: DirectionRun, dh_ext, reverse: bool) -> DirectionGrads:
        T, B, H = run.h.shape
        K = self.derivative(run)
        W = p["weight_hh"]
        DH = np.empty_like(run.h)
        dA = np.empty_like(run.h)
        dh_rec = np.zeros((B, H), dtype=x.dtype)
        for t in _order(T, not reverse):
            np.add(dh_ext[t], dh_rec, out=DH[t])
            np.multiply(DH[t], K[t], out=dA[t])
            dh_rec = dA[t] @ W
        return _weight_grads(x, p, run.h, dA, dA, DH, {"h": DH}, reverse)


class LSTMCell:
    """Long short-term memory, as torch.nn.LSTM (gate rows i, f, g, o).

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      input gate: how much is written
    f = sigmoid(W_if x + b_if + W_hf h + b_hf)      forget gate: how much of c is kept
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)         candidate: what would be written
    o = sigmoid(W_io x + b_io + W_ho h + b_ho)      output gate: how much of c is shown
    c' = f * c + i * g
    h' = o * tanh(c')

    Inside, rows are reordered to (o, i, f, g) so the three sigmoid gates are one slice
    and the three gates that multiply dL/dc are another.
    """

    gates = ("i", "f", "g", "o")
    n_gates = 4

    @staticmethod
    def _perm(H: int) -> np.ndarray:
        i, f, g, o = (np.arange(k * H, (k + 1) * H) for k in range(4))
        return np.concatenate([o, i, f, g])

    def forward(self, x, p, reverse: bool) -> DirectionRun:
        T, B, _ = x.shape
        H = p["weight_hh"].shape[1]
        perm = self._perm(H)
        # sigmoid(z) = (1 + tanh(z/2)) / 2: halving the sigmoid rows lets one tanh serve all gates
        scale = np.ones(4 * H, dtype=x.dtype)
        scale[: 3 * H] = 0.5
        Wih = p["weight_ih"][perm] * scale[:, None]
        WhhT = np.ascontiguousarray((p["weight_hh"][perm] * scale[:, None]).T)
        b = (p["bias_ih"] + p["bias_hh"])[perm] * scale
        G = (x.reshape(T * B, -1) @ Wih.T).reshape(T, B, 4 * H)
        G += b
        Cs = np.empty((T, B, H), dtype=x.dtype)
        TC = np.empty_like(Cs)
        Hs = np.empty_like(Cs)
        h = np.zeros((B, H), dtype=x.dtype)
        c = np.zeros((B, H), dtype=x.dtype)
        ig = np.empty((B, H), dtype=x.dtype)
        for t in _order(T, reverse):
            g = G[t]
            g += h @ WhhT
            np.tanh(g, out=g)
            s = g[:, : 3 * H]
            s *= 0.5
            s += 0.5
            np.multiply(g[:, 2 * H: 3 * H], c, out=Cs[t])
            np.multiply(g[:, H: 2 * H], g[:, 3 * H:], out=ig)
            Cs[t] += ig
            np.tanh(Cs[t], out=TC[t])
            np.multiply(g[:, :H], TC[t], out=Hs[t])
            h, c = Hs[t], Cs[t]
        rec = {
            "h": Hs, "c": Cs,
            "gates.i": G[..., H: 2 * H], "gates.f": G[..., 2 * H: 3 * H],
            "gates.g": G[..., 3 * H:], "gates.o": G[..., :H],
        }
        return DirectionRun(Hs, rec, {"G": G, "TC": TC, "perm": perm})

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

    def backward(self, x, p, run: DirectionRun, dh_ext, reverse: bool) -> DirectionGrads:
        T, B, H = run.h.shape
        G, TC, perm = run.cache["G"], run.cache["TC"], run.cache["perm"]
        c_prev = previous(run.record["c"], reverse)
        Kc, Ko, Kifg = self.coefficients(G, TC, c_prev)
        f = G[..., 2 * H: 3 * H]
        W = p["weight_hh"][perm]
        DH = np.empty((T, B, H), dtype=x.dtype)
        DC = np.empty_like(DH)
        dZ = np.empty((T, B, 4 * H), dtype=x.dtype)
        dZifg = dZ[..., H:].reshape(T, B, 3, H)
        dh_rec = np.zeros((B, H), dtype=x.dtype)
        dc_rec = np.zeros((B, H), dtype=x.dtype)
        for t in _order(T, not reverse):
            dh, dc = DH[t], DC[t]
            np.add(dh_ext[t], dh_rec, out=dh)
            np.multiply(dh, Kc[t], out=dc)
            dc += dc_rec
            np.multiply(dh, Ko[t], out=dZ[t, :, :H])
            np.multiply(Kifg[t], dc[:, None, :], out=dZifg[t])
            np.multiply(dc, f[t], out=dc_rec)
            dh_rec = dZ[t] @ W
        # dZ stays in the internal row order; the small weight gradients are put back instead
        return _weight_grads(x, p, run.h, dZ, dZ, DH, {"h": DH, "c": DC}, reverse, perm)


class GRUCell:
    """Gated recurrent unit, as torch.nn.GRU (gate rows r, z, n).

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)             reset gate
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)             update gate
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))          candidate
    h' = (1 - z) * n + z * h
    """

    gates = ("r", "z", "n")
    n_gates = 3

    def forward(self, x, p, reverse: bool) -> DirectionRun:
        T, B, _ = x.shape
        H = p["weight_hh"].shape[1]
        scale = np.ones(3 * H, dtype=x.dtype)
        scale[: 2 * H] = 0.5  # r and z rows halved: sigmoid through one tanh
        G = (x.reshape(T * B, -1) @ (p["weight_ih"] * scale[:, None]).T).reshape(T, B, 3 * H)
        G += p["bias_ih"] * scale
        WhhT = np.ascontiguousarray((p["weight_hh"] * scale[:, None]).T)
        bhh = p["bias_hh"] * scale
        Hs = np.empty((T, B, H), dtype=x.dtype)
        HPn = np.empty_like(Hs)
        h = np.zeros((B, H), dtype=x.dtype)
        tmp = np.empty((B, H), dtype=x.dtype)
        for t in _order(T, reverse):
            g = G[t]
            hp = h @ WhhT
            hp += bhh
            rz = g[:, : 2 * H]
            rz += hp[:, : 2 * H]
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            HPn[t] = hp[:, 2 * H:]
            n = g[:, 2 * H:]
            np.multiply(g[:, :H], HPn[t], out=tmp)
            n += tmp
            np.tanh(n, out=n)
            np.subtract(h, n, out=tmp)
            tmp *= g[:, H: 2 * H]
            np.add(n, tmp, out=Hs[t])
            h = Hs[t]
        rec = {"h": Hs, "gates.r": G[..., :H], "gates.z": G[..., H: 2 * H], "gates.n": G[..., 2 * H:]}
        return DirectionRun(Hs, rec, {"G": G, "HPn": HPn})

    @staticmethod
    def coefficients(G, HPn, h_prev):
        """Kn = (1-z)(1-n^2), Kz = (h_prev - n) z (1-z), Kr = (W_hn h + b_hn) r (1-r)."""
        H = HPn.shape[-1]
        r, z, n = G[..., :H], G[..., H: 2 * H], G[..., 2 * H:]
        Kn = (1 - z) * (1 - n * n)
        Kz = (h_prev - n) * z * (1 - z)
        Kr = HPn * r * (1 - r)
        return Kn, Kz, Kr

    def backward(self, x, p, run: DirectionRun, dh_ext, reverse: bool) -> DirectionGrads:
        T, B, H = run.h.shape
        G, HPn = run.cache["G"], run.cache["HPn"]
        h_prev = previous(run.h, reverse)
        Kn, Kz, Kr = self.coefficients(G, HPn, h_prev)
        z = G[..., H: 2 * H]
        mask = np.ones((T, B, 3 * H), dtype=x.dtype)
        mask[..., 2 * H:] = G[..., :H]  # the recurrent part of n is scaled by r
        W = p["weight_hh"]
        DH = np.empty((T, B, H), dtype=x.dtype)
        dX = np.empty((T, B, 3 * H), dtype=x.dtype)
        dHp = np.empty_like(dX)
        dh_rec = np.zeros((B, H), dtype=x.dtype)
        for t in _order(T, not reverse):
            dh = DH[t]
            np.add(dh_ext[t], dh_rec, out=dh)
            dan = dX[t, :, 2 * H:]
            np.multiply(dh, Kn[t], out=dan)
            np.multiply(dh, Kz[t], out=dX[t, :, H: 2 * H])
            np.multiply(dan, Kr[t], out=dX[t, :, :H])
            np.multiply(dX[t], mask[t], out=dHp[t])
            dh_rec = dHp[t] @ W
            dh_rec += dh * z[t]
        return _weight_grads(x, p, run.h, dX, dHp, DH, {"h": DH}, reverse)


def _weight_grads(x, p, h, d_ih, d_hh, DH, record, reverse, perm=None) -> DirectionGrads:
    """Weight gradients as one product each; *perm* maps PyTorch rows to the rows of d_ih/d_hh."""
    T, B, D = x.shape
    h_prev = previous(h, reverse)
    gH = d_ih.shape[-1]
    a = d_ih.reshape(T * B, gH)
    b = d_hh.reshape(T * B, gH)
    W_ih = p["weight_ih"] if perm is None else p["weight_ih"][perm]
    grads = {
        "weight_ih": a.T @ x.reshape(T * B, D),
        "weight_hh": b.T @ h_prev.reshape(T * B, -1),
        "bias_ih": a.sum(axis=0),
        "bias_hh": b.sum(axis=0),
    }
    if perm is not None:
        inv = np.argsort(perm)
        grads = {k: v[inv] for k, v in grads.items()}
    dx = (a @ W_ih).reshape(T, B, D)
    return DirectionGrads(dx, grads, record, d_ih, d_hh, h_prev)


def make_cell(kind: str, nonlinearity: str = "tanh"):
    if kind == "rnn":
        return RNNCell(nonlinearity)
    if kind == "lstm":
        return LSTMCell()
    if kind == "gru":
        return GRUCell()
    raise ValueError(kind)
