"""What the views say about a trace, as frozen data: gradient verdicts, events, equations.

Pure functions of the trace (NumPy only), shared by the TUI, `rnntui show` and the reports,
so what a report says is what the TUI shows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

VANISH_BELOW = 1e-6
EXPLODE_ABOVE = 1e6
SATURATED_SHARE = 0.5


@dataclass(frozen=True)
class Place:
    """One recurrent sub-layer direction, or a non-recurrent entry (layer = direction = None)."""

    entry: int
    layer: int | None = None
    direction: str | None = None

    @property
    def prefix(self) -> str:
        if self.layer is None:
            return f"model.{self.entry}"
        return f"model.{self.entry}.l{self.layer}.{self.direction}"

    def label(self, info) -> str:
        e = info.entries[self.entry]
        if self.layer is None:
            return f"model.{self.entry} {e.type}"
        return f"model.{self.entry} {e.type} l{self.layer} {self.direction}"


_places: dict[int, tuple] = {}


def places(info) -> tuple[Place, ...]:
    """Every place a cursor can be, in order. Asked several times a frame, so remembered per info
    (TraceInfo is frozen but holds dicts, so it is not hashable: keyed by identity, kept alive)."""
    known = _places.get(id(info))
    if known is not None and known[0] is info:
        return known[1]
    out = []
    for e in info.entries:
        if e.recurrent:
            for j in range(e.num_layers):
                for d in e.directions:
                    out.append(Place(e.index, j, d))
        else:
            out.append(Place(e.index))
    if len(_places) > 64:
        _places.clear()
    _places[id(info)] = (info, tuple(out))
    return _places[id(info)][1]


@dataclass(frozen=True)
class Verdict:
    kind: str            # vanishing | exploding | healthy | no gradient | non-finite
    factor: float        # average change of ||dL/dh_t|| per step back
    ratio: float         # ||dL/dh|| at the last step BPTT reaches over that at the first
    start: int           # step where BPTT starts (for this direction)
    end: int             # step where it ends
    jacobian: float      # median spectral norm of dh_t/dh_{t-1}

    @property
    def sentence(self) -> str:
        if self.kind == "no gradient":
            return "no gradient reaches this layer (dL/dh is zero at every step)"
        if self.kind == "non-finite":
            return "the gradient is not finite: it overflowed (inf or NaN) during BPTT"
        verb = "shrinks" if self.factor < 1 else "grows"
        jac = f" (median step Jacobian norm {self.jacobian:.3g})" if math.isfinite(self.jacobian) else ""
        return (f"{self.kind}: the gradient {verb} about {self.factor:.3g}x per step; at step {self.end} "
                f"it is {self.ratio:.2g} of its size at step {self.start}{jac}")


def verdict(trace, place: Place) -> Verdict | None:
    """How ||dL/dh_t|| changes as BPTT walks back through this direction."""
    if place.layer is None:
        return None
    g = np.asarray(trace[f"diag.{place.prefix}.gradnorm"], dtype=float)
    jkey = f"diag.{place.prefix}.jacnorm"
    h = trace[f"{place.prefix}.h"]
    jmed = math.nan
    if trace.is_computed(jkey) or h.size * h.shape[-1] <= 4_000_000:  # never a slow estimate in a view
        jac = np.asarray(trace[jkey], dtype=float)
        finite_jac = jac[np.isfinite(jac)]
        jmed = float(np.median(finite_jac)) if finite_jac.size else math.nan
    T = g.shape[0]
    backward_in_t = place.direction != "bwd"  # BPTT visits a forward direction from t = T-1 down

    def order(k: int) -> int:
        return T - 1 - k if backward_in_t else k

    seq = g[::-1] if backward_in_t else g
    if not np.all(np.isfinite(seq)):
        return Verdict("non-finite", math.nan, math.nan, order(0), order(T - 1), jmed)
    nz = np.flatnonzero(seq > 0)
    if nz.size == 0:
        return Verdict("no gradient", 0.0, 0.0, order(0), order(T - 1), jmed)
    first = int(nz[0])
    steps = len(seq) - 1 - first
    ratio = float(seq[-1] / seq[first])
    factor = ratio ** (1 / steps) if steps > 0 and ratio > 0 else 1.0
    if ratio < 1e-2 or (factor < 0.9 and ratio < 0.1):
        kind = "vanishing"
    elif ratio > 1e2 or (factor > 1.1 and ratio > 10):
        kind = "exploding"
    else:
        kind = "healthy"
    return Verdict(kind, factor, ratio, order(first), order(T - 1), jmed)


@dataclass(frozen=True)
class Event:
    phase: str      # forward | backward
    place: Place
    t: int
    kind: str       # non-finite | saturated | vanishing | exploding
    text: str


def event_marks(events: list[Event]) -> dict[Place, dict[int, str]]:
    """The first event's kind at each step of each place: what a timeline marks, indexed once."""
    marks: dict[Place, dict[int, str]] = {}
    for ev in events:
        marks.setdefault(ev.place, {}).setdefault(ev.t, ev.kind)
    return marks


def events(trace) -> list[Event]:
    """Non-finite values, saturated gates, gradient norms below 1e-6 or above 1e6, per step."""
    info = trace.info
    out: list[Event] = []
    keys = [str(k) for k in trace["diag.nonfinite.keys"]]
    firsts = trace["diag.nonfinite.key_first_step"]
    for key, t in zip(keys, firsts):
        if t < 0:
            continue
        for p in places(info):
            if p.layer is not None and p.prefix in key:
                phase = "backward" if key.startswith(("grad.", "gradnorm.")) else "forward"
                out.append(Event(phase, p, int(t), "non-finite", f"{key} is not finite from step {t}"))
                break
    if not info.seq:
        return out
    for p in places(info):
        if p.layer is None:
            continue
        e = info.entries[p.entry]
        for g in (e.gates or (("h",) if e.nonlinearity == "tanh" else ())):
            key = f"diag.{p.prefix}.sat.{g}"
            if key not in trace:
                continue
            share = trace[key]
            for t in np.flatnonzero(share >= SATURATED_SHARE):
                out.append(Event("forward", p, int(t), "saturated",
                                 f"{g} saturated in {share[t]:.0%} of units at step {t}"))
        gn = trace[f"diag.{p.prefix}.gradnorm"]
        for t in np.flatnonzero(np.isfinite(gn) & (gn > 0) & (gn < VANISH_BELOW)):
            out.append(Event("backward", p, int(t), "vanishing", f"||dL/dh|| = {gn[t]:.2e} < 1e-6 at step {t}"))
        for t in np.flatnonzero(np.isfinite(gn) & (gn > EXPLODE_ABOVE)):
            out.append(Event("backward", p, int(t), "exploding", f"||dL/dh|| = {gn[t]:.2e} > 1e6 at step {t}"))
    return out


EQUATIONS = {
    "lstm": [
        "i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate",
        "f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate",
        "g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   candidate",
        "o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate",
        "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t",
        "h_t = o_t ⊙ tanh(c_t)",
        "BPTT: dL/dc_t = dL/dh_t ⊙ o_t ⊙ (1 - tanh²c_t) + dL/dc_{t+1} ⊙ f_{t+1}",
    ],
    "gru": [
        "r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)      reset gate",
        "z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)      update gate",
        "n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))   candidate",
        "h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}",
        "BPTT: dL/dh_{t-1} gets z_t ⊙ dL/dh_t directly, plus the paths through r, z and n",
    ],
    "rnn": [
        "a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh           pre-activation",
        "h_t = {act}(a_t)",
        "BPTT: dL/dh_{t-1} = W_hhᵀ (dL/dh_t ⊙ {act}'(a_t)) + (output's share at t-1)",
    ],
    "dense": ["y = {act}(W x + b)    (nn.Linear, then the activation)"],
    "activation": ["y = {act}(x)"],
    "flatten": ["y = x.reshape(B, -1)"],
}


def equations(entry) -> list[str]:
    act = entry.nonlinearity if entry.type == "rnn" else entry.activation
    return [line.replace("{act}", act) for line in EQUATIONS.get(entry.type, [entry.type])]


def param_count(trace, entry) -> int:
    return int(sum(np.prod(trace[f"param.{name}"].shape) for name in entry.params))


def step_losses(trace) -> np.ndarray | None:
    """Each step's share of the loss, for outputs with a step axis (they sum to `loss`); else None."""
    info = trace.info
    last = info.entries[-1]
    if not (info.seq and last.seq_out):
        return None
    out = np.asarray(trace["output"], dtype=float)
    if info.loss == "sum":
        return out.reshape(out.shape[0], -1).sum(axis=1)
    target = np.asarray(trace["meta.target"])
    if info.loss == "mse":
        d = (out - target) ** 2
        return d.reshape(d.shape[0], -1).sum(axis=1) / d.size
    logits = trace[f"model.{last.index}.pre"] if last.activation == "softmax" else out
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(logp, target[..., None].astype(int), axis=-1)[..., 0]
    return -picked.sum(axis=1) / picked.size


def through_time(trace, place: Place, t: int, b: int) -> np.ndarray | None:
    """The part of dL/dh_t that arrived from the next step of this direction (the rest came from the
    output at t). None at the step where BPTT starts. Recomputed from recorded arrays only."""
    info = trace.info
    e = info.entries[place.entry]
    p = place.prefix
    n = t + (1 if place.direction != "bwd" else -1)  # the step that read h_t
    if not 0 <= n < e.steps:
        return None
    sfx = f"_l{place.layer}{'_reverse' if place.direction == 'bwd' else ''}"
    W = trace[f"param.{e.index}.weight_hh{sfx}"]
    H = e.hidden_size
    dh_n = trace[f"grad.{p}.h"][n, b]
    h_t = trace[f"{p}.h"][t, b]
    if e.type == "rnn":
        h_n, a_n = trace[f"{p}.h"][n, b], trace[f"{p}.pre"][n, b]
        deriv = {"tanh": 1 - h_n * h_n, "relu": (a_n > 0).astype(h_n.dtype), "identity": np.ones_like(h_n)}
        return (dh_n * deriv[e.nonlinearity]) @ W
    if e.type == "lstm":
        i, f, g, o = (trace[f"{p}.gates.{k}"][n, b] for k in "ifgo")
        tc = np.tanh(trace[f"{p}.c"][n, b])
        dc_n = trace[f"grad.{p}.c"][n, b]
        dz = np.concatenate([dc_n * g * i * (1 - i), dc_n * trace[f"{p}.c"][t, b] * f * (1 - f),
                             dc_n * i * (1 - g * g), dh_n * tc * o * (1 - o)])
        return dz @ W
    r, z, nn = (trace[f"{p}.gates.{k}"][n, b] for k in "rzn")
    hpn = h_t @ W[2 * H:].T + trace[f"param.{e.index}.bias_hh{sfx}"][2 * H:]
    dan = dh_n * (1 - z) * (1 - nn * nn)
    daz = dh_n * (h_t - nn) * z * (1 - z)
    dar = dan * hpn * r * (1 - r)
    return dh_n * z + np.concatenate([dar, daz, dan * r]) @ W
