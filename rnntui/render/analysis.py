"""What the views say about a trace, as frozen data: gradient verdicts, events, equations.

Pure functions of the trace (NumPy only), shared by the TUI, `rnntui show` and the reports,
so what a report says is what the TUI shows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnntui.engine.keys import Place

THRESHOLDS = {"saturated": 0.5, "vanishing": 1e-6, "exploding": 1e6,   # defaults; a scenario's `events:` wins
              "update_ratio": 1e-2, "loss_rise": 1.0}


def thresholds(info) -> dict[str, float]:
    return {**THRESHOLDS, **dict(info.events)}


@dataclass(frozen=True)
class Verdict:
    kind: str            # vanishing | exploding | healthy | no gradient | non-finite
    factor: float        # average change of the gradient's norm per step back
    ratio: float         # its norm at the last step BPTT reaches over that where it entered
    start: int           # step where the gradient entered (BPTT starts there for this direction)
    end: int             # step where BPTT ends
    jacobian: float      # median spectral norm of dh_t/dh_{t-1}
    basis: str = ""      # which gradient the verdict measured, in words
    cause: str = ""      # non-finite: where the inf or NaN came from, in words (nonfinite_cause)

    @property
    def sentence(self) -> str:
        if self.kind == "no gradient":
            return "no gradient reaches this layer (dL/dh is zero at every step)"
        if self.kind == "non-finite":
            return f"the gradient is not finite: {self.cause}"
        verb = "shrinks" if self.factor < 1 else "grows"
        jac = f" (median step Jacobian norm {self.jacobian:.3g})" if math.isfinite(self.jacobian) else ""
        return (f"{self.kind}: the gradient {verb} about {self.factor:.3g}x per step; at step {self.end} "
                f"it is {self.ratio:.2g} of its size at step {self.start}{jac}")


def verdict(trace, place: Place) -> Verdict | None:
    """Whether a gradient vanishes or explodes as BPTT carries it back through this direction.

    What is measured is one loss term's gradient: where the output has a step axis, the engine ran
    BPTT once more for the loss at the step this direction's BPTT starts from
    (`diag.{place}.term_gradnorm`), since the total dL/dh_t also holds each later step's own loss
    and would mostly measure how large those are. Without a step axis the loss is one term already.
    """
    if place.layer is None:
        return None
    term = place.diag_key("term_gradnorm")
    if term in trace:
        g = np.asarray(trace[term], dtype=float)
        s = int(trace[place.diag_key("term_step")])
        basis = (f"measured on the gradient of step {s}'s loss term alone, ‖dL_{s}/dh_t‖, as BPTT carries it "
                 f"back; the total dL/dh_t also holds every other step's own loss")
        if trace.info.entries[place.entry].part == "encoder":
            basis = (f"measured on the gradient of the decoder's step {s} loss term alone, as it comes back through "
                     f"the hand-over and BPTT carries it through the encoder; the total dL/dh_t also holds every "
                     f"other decoder step's loss")
        if trace.info.packs(trace.info.entries[place.entry]) and s > 0:
            reach = sum(1 for n in trace.info.lengths if n > s)
            basis += f" (samples of different lengths: the {reach} of {trace.info.B} that reach step {s})"
    else:
        g = np.asarray(trace[place.diag_key("gradnorm")], dtype=float)
        basis = "measured on ‖dL/dh_t‖: the loss reaches the model at one output only, so this is one term"
    jkey = place.diag_key("jacnorm")
    h = trace[place.key("h")]
    jmed = math.nan
    if trace.is_computed(jkey) or h.size * h.shape[-1] <= 4_000_000:  # never a slow computation in a view
        jac = np.asarray(trace[jkey], dtype=float)
        if trace.info.packs(trace.info.entries[place.entry]):  # a padded step has no Jacobian (recorded 0)
            jac = jac[np.arange(jac.shape[0])[:, None] < np.asarray(trace.info.lengths)[None, :]]
        finite_jac = jac[np.isfinite(jac)]
        jmed = float(np.median(finite_jac)) if finite_jac.size else math.nan
    T = g.shape[0]
    backward_in_t = place.direction != "bwd"  # BPTT visits a forward direction from t = T-1 down

    def order(k: int) -> int:
        return T - 1 - k if backward_in_t else k

    seq = g[::-1] if backward_in_t else g
    if not np.all(np.isfinite(seq)):
        return Verdict("non-finite", math.nan, math.nan, order(0), order(T - 1), jmed, basis,
                       nonfinite_cause(trace, place))
    nz = np.flatnonzero(seq > 0)
    if nz.size == 0:
        return Verdict("no gradient", 0.0, 0.0, order(0), order(T - 1), jmed, basis)
    first = int(nz[0])
    steps = len(seq) - 1 - first
    ratio = float(seq[-1] / seq[first])
    factor = ratio ** (1 / steps) if steps > 0 and ratio > 0 else (0.0 if steps > 0 else 1.0)
    if ratio < 1e-2 or (factor < 0.9 and ratio < 0.1):
        kind = "vanishing"
    elif ratio > 1e2 or (factor > 1.1 and ratio > 10):
        kind = "exploding"
    else:
        kind = "healthy"
    return Verdict(kind, factor, ratio, order(first), order(T - 1), jmed, basis)


def _listed(keys: list[str], most: int = 3) -> str:
    return ", ".join(keys[:most]) + (f" and {len(keys) - most} more" if len(keys) > most else "")


def nonfinite_cause(trace, place: Place) -> str:
    """Why the gradient measured at *place* is not finite, from what the run recorded (diag.nonfinite.*),
    the earliest cause first: the parameters themselves (then the forward pass is not finite because
    they are), else the forward pass (the input, a state, the loss), else BPTT alone; or, when every
    value of dL/dh_t is finite, the norm that measures it is beyond the floating-point range."""
    keys = [str(k) for k in trace["diag.nonfinite.keys"]]
    firsts = {k: int(t) for k, t in zip(keys, trace["diag.nonfinite.key_first_step"])}
    if place.grad_key("h") not in firsts:
        limit = np.finfo(np.dtype(trace.info.dtype)).max
        return (f"every value of dL/dh_t is finite, but the norm measured is beyond the floating-point range "
                f"(about {limit:.1e}): the gradient is that large")
    params = [k for k in keys if k.startswith("param.")]
    forward = [k for k in keys if not k.startswith(("grad.", "gradnorm.", "param.", "diag."))]
    if forward:
        stepped = [k for k in forward if firsts[k] >= 0]
        inputs = [k for k in forward if k in ("input", "decoder.input")]   # what the run read: the first cause
        first = inputs[0] if inputs else min(stepped, key=lambda k: firsts[k]) if stepped else forward[0]
        at = f"{first}, from step {firsts[first]}" if first in stepped else first
    if params:
        if forward:
            return (f"the parameters themselves are not finite ({_listed(params)}), so the forward pass is not "
                    f"finite either ({at}), and BPTT computes the gradient from both")
        return f"the parameters themselves are not finite ({_listed(params)}), and BPTT multiplies by them"
    if forward:
        if first.endswith("input"):
            return f"the input is not finite ({at}), so neither is the forward pass, and BPTT computes the gradient from it"
        if all(k in ("loss", "loss.step", "loss.sample_step") for k in forward):  # the states and outputs are finite, their loss is not
            return f"the loss is not finite ({at}), and BPTT starts from its gradient"
        return f"the forward pass is not finite ({at}), and BPTT computes the gradient from it"
    return "it overflowed (inf or NaN) during BPTT; every value of the forward pass is finite"


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


@dataclass(frozen=True)
class EventRun:
    """Consecutive steps of one place with the same kind of event, met in one pass: where `n` lands.

    A trained LSTM's gates saturate on most steps; stepping event by event would be stepping. A run
    starts where its pass meets it first: the lowest step for a forward-pass event of a forward
    direction, the highest for a BPTT event (the order flips for a reverse direction)."""

    place: Place
    phase: str
    kind: str
    start: int      # the step the pass meets first
    end: int        # the last step of the run in that pass's order
    events: tuple[Event, ...]

    @property
    def steps(self) -> int:
        return abs(self.end - self.start) + 1

    @property
    def text(self) -> str:
        """The first event's words, and how far the run goes on (which `n` skips)."""
        first = self.events[0].text
        if self.steps == 1:
            return first
        return f"{first} (and {self.steps - 1} steps on, to step {self.end})"


def event_runs(info, found: list[Event]) -> list[EventRun]:
    """The runs of *found*, each once, ordered by place, phase, kind and start."""
    from rnntui.render.cursor import place_sign

    groups: dict[tuple[Place, str, str], dict[int, list[Event]]] = {}
    for ev in found:
        groups.setdefault((ev.place, ev.phase, ev.kind), {}).setdefault(ev.t, []).append(ev)
    runs: list[EventRun] = []
    for (place, phase, kind), at in groups.items():
        sign = place_sign(info, phase, place)
        steps = sorted(at, key=lambda t: sign * t)
        first = 0
        for k in range(1, len(steps) + 1):
            if k == len(steps) or steps[k] != steps[k - 1] + sign:
                run = steps[first:k]
                runs.append(EventRun(place, phase, kind, run[0], run[-1],
                                     tuple(ev for t in run for ev in at[t])))
                first = k
    return runs


def events(trace) -> list[Event]:
    """Non-finite values, saturated gates, gradient norms below 1e-6 or above 1e6, per step."""
    info = trace.info
    out: list[Event] = []
    keys = [str(k) for k in trace["diag.nonfinite.keys"]]
    firsts = trace["diag.nonfinite.key_first_step"]
    for key, t in zip(keys, firsts):
        if t < 0:
            continue
        for p in info.places:
            if p.layer is not None and p.prefix in key:
                phase = "backward" if key.startswith(("grad.", "gradnorm.")) else "forward"
                out.append(Event(phase, p, int(t), "non-finite", f"{key} is not finite from step {t}"))
                break
    if not info.seq:
        return out
    limit = thresholds(info)
    for p in info.places:
        if p.layer is None:
            continue
        e = info.entries[p.entry]
        for g in e.family.saturation(e):
            share = trace[p.diag_key(f"sat.{g}")]
            for t in np.flatnonzero(share >= limit['saturated']):
                out.append(Event("forward", p, int(t), "saturated",
                                 f"{g} saturated in {share[t]:.0%} of units at step {t}"))
        gn = trace[f"diag.{p.prefix}.gradnorm"]
        lo, hi = limit["vanishing"], limit["exploding"]
        for t in np.flatnonzero(np.isfinite(gn) & (gn > 0) & (gn < lo)):
            out.append(Event("backward", p, int(t), "vanishing", f"||dL/dh|| = {gn[t]:.2e} < {lo:g} at step {t}"))
        for t in np.flatnonzero(np.isfinite(gn) & (gn > hi)):
            out.append(Event("backward", p, int(t), "exploding", f"||dL/dh|| = {gn[t]:.2e} > {hi:g} at step {t}"))
    return out


def equations(entry) -> list[str]:
    return entry.handler.equations(entry)


def param_count(trace, entry) -> int:
    return int(sum(np.prod(trace[f"param.{name}"].shape) for name in entry.params))


def step_losses(trace, sample: int | None = None) -> np.ndarray | None:
    """Each step's share of the loss, for outputs with a step axis (they sum to `loss`); else None.
    With *sample*: that sample's own loss step by step (`loss.sample_step`), or None where the trace has
    no such key (a file saved before it was recorded)."""
    if sample is None:
        return trace["loss.step"] if "loss.step" in trace else None
    return trace["loss.sample_step"][:, sample] if "loss.sample_step" in trace else None
