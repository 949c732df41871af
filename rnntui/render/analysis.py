"""What the views say about a trace, as frozen data: gradient verdicts, events, equations.

Pure functions of the trace (NumPy only), shared by the TUI, `rnntui show` and the reports,
so what a report says is what the TUI shows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnntui.engine import keys
from rnntui.engine.handlers import handler
from rnntui.engine.keys import Place

THRESHOLDS = {"saturated": 0.5, "vanishing": 1e-6, "exploding": 1e6,   # defaults; a scenario's `events:` wins
              "update_ratio": 1e-2, "loss_rise": 1.0}


def thresholds(info) -> dict[str, float]:
    return {**THRESHOLDS, **dict(info.events)}


# The verdict's rule, on the end-to-end ratio (the gradient's norm where BPTT ends over its norm where it
# entered) and the per-step factor (that ratio's geometric mean per step, ratio^(1/steps)): a long sequence
# loses a dependency to a small per-step loss compounded, a short one only to a fast one.
VANISH_RATIO, VANISH_SLOW_RATIO, VANISH_FACTOR = 1e-2, 0.1, 0.9
EXPLODE_RATIO, EXPLODE_SLOW_RATIO, EXPLODE_FACTOR = 1e2, 10.0, 1.1
RULE = (f"rule: vanishing below {VANISH_RATIO:g} end to end, or below {VANISH_SLOW_RATIO:g} at under "
        f"{VANISH_FACTOR:g}x a step; exploding above {EXPLODE_RATIO:g}, or above {EXPLODE_SLOW_RATIO:g} at over "
        f"{EXPLODE_FACTOR:g}x a step")


def classify(ratio: float, factor: float) -> str:
    """The verdict's rule (RULE) on one gradient's end-to-end *ratio* and per-step *factor*."""
    if ratio < VANISH_RATIO or (factor < VANISH_FACTOR and ratio < VANISH_SLOW_RATIO):
        return "vanishing"
    if ratio > EXPLODE_RATIO or (factor > EXPLODE_FACTOR and ratio > EXPLODE_SLOW_RATIO):
        return "exploding"
    return "healthy"


@dataclass(frozen=True)
class Verdict:
    """One sample's gradient (or, in a trace saved before verdicts were per sample, the batch's)."""

    kind: str            # vanishing | exploding | healthy | one step | no gradient | non-finite
    factor: float        # average change of the gradient's norm per step back (geometric mean)
    ratio: float         # its norm at the last step BPTT reaches over that where it entered
    start: int           # step where the gradient entered (BPTT starts there for this direction)
    end: int             # step where BPTT ends (the sample's own last real step for a backward direction)
    jacobian: float      # median spectral norm of dh_t/dh_{t-1} over the sample's real steps
    basis: str = ""      # which gradient the verdict measured, in words
    cause: str = ""      # non-finite: where the inf or NaN came from, in words (nonfinite_cause)
    sample: int | None = None   # the sample it is for (None: the batch's, an older trace)
    zero: int | None = None     # the step from which on (to `end`) the gradient is exactly 0, if it reaches 0:
                                # then `factor` is the rate over the steps before, where it is not 0

    @property
    def rate_steps(self) -> int:
        """How many steps `factor` is the geometric mean over (up to where the gradient reaches 0, if it does)."""
        return self.steps if self.zero is None else abs(self.zero - self.start) - 1

    @property
    def steps(self) -> int:
        return abs(self.end - self.start)

    @property
    def sentence(self) -> str:
        if self.kind == "no gradient":
            return "no gradient reaches this layer (dL/dh is zero at every step)"
        if self.kind == "non-finite":
            return f"the gradient is not finite: {self.cause}"
        jac = f" (median step Jacobian norm {self.jacobian:.3g})" if math.isfinite(self.jacobian) else ""
        if self.kind == "one step":
            return f"one step: the gradient enters at step {self.start} and there is no earlier step to carry it to{jac}"
        verb = "shrinks" if self.factor < 1 else "grows"
        jac = f"; median step Jacobian norm {self.jacobian:.3g}" if math.isfinite(self.jacobian) else ""
        if self.zero is not None:  # a rate from 0 would say 0x a step: the rate up to where it still has a size
            rate = (f"{verb} about {self.factor:.3g}x per step over the {self.rate_steps} steps before"
                    if self.rate_steps > 0 else "0 one step after it entered")
            return (f"{self.kind}: at step {self.end} the gradient is 0 of its size at step {self.start}, "
                    f"{self.criterion} (exactly 0 from step {self.zero} to step {self.end}; {rate}{jac})")
        rate = (f"keeps its size, 1x per step over {self.steps} steps" if self.factor == 1 else
                f"{verb} about {self.factor:.3g}x per step over {self.steps} steps")
        return (f"{self.kind}: at step {self.end} the gradient is {self.ratio:.2g} of its size at step {self.start}, "
                f"{self.criterion} ({rate}{jac})")

    @property
    def criterion(self) -> str:
        """Which part of the rule (RULE) the measured ratio and rate meet, in words with its bounds."""
        r = self.ratio
        if self.kind == "vanishing":
            return (f"below {VANISH_RATIO:g}" if r < VANISH_RATIO else
                    f"below {VANISH_SLOW_RATIO:g} at under {VANISH_FACTOR:g}x a step")
        if self.kind == "exploding":
            return (f"above {EXPLODE_RATIO:g}" if r > EXPLODE_RATIO else
                    f"above {EXPLODE_SLOW_RATIO:g} at over {EXPLODE_FACTOR:g}x a step")
        if r < VANISH_SLOW_RATIO:
            return f"not below {VANISH_RATIO:g}, nor below {VANISH_SLOW_RATIO:g} at under {VANISH_FACTOR:g}x a step"
        if r > EXPLODE_SLOW_RATIO:
            return f"not above {EXPLODE_RATIO:g}, nor above {EXPLODE_SLOW_RATIO:g} at over {EXPLODE_FACTOR:g}x a step"
        return f"within {VANISH_SLOW_RATIO:g}..{EXPLODE_SLOW_RATIO:g}"

    @property
    def measured(self) -> str:
        """The whole rule with this gradient's own numbers."""
        if self.kind not in ("vanishing", "exploding", "healthy"):
            return ""
        return f"{RULE}; here {self.ratio:.2g} at {self.factor:.3g}x a step"


KIND_WORDS = {"vanishing": ("vanishes", "vanish"), "exploding": ("explodes", "explode"),
              "healthy": ("is healthy", "are healthy"), "one step": ("has one step", "have one step"),
              "no gradient": ("gets no gradient", "get no gradient"), "non-finite": ("is not finite", "are not finite")}
KIND_ORDER = ("non-finite", "exploding", "vanishing", "healthy", "one step", "no gradient")


@dataclass(frozen=True)
class Verdicts:
    """A place's verdict sample by sample, each measured from the sample's own gradient, and the batch in words."""

    samples: tuple[Verdict, ...]
    basis: str           # what was measured, for the whole batch

    def of(self, b: int) -> Verdict:
        return self.samples[min(b, len(self.samples) - 1)]

    @property
    def worst(self) -> Verdict:
        """The sample furthest from healthy: a non-finite one first, else the largest change end to end."""
        def badness(v: Verdict):
            if v.kind == "non-finite":
                return (2, 0.0)
            if v.kind in ("vanishing", "exploding"):
                return (1, abs(math.log10(v.ratio)) if v.ratio > 0 else math.inf)
            return (0, 0.0)
        return max(self.samples, key=badness)

    @property
    def kind(self) -> str:
        """One kind for the batch (a colour): every sample's if they agree, else the worst sample's."""
        kinds = {v.kind for v in self.samples}
        return kinds.pop() if len(kinds) == 1 else self.worst.kind

    @property
    def summary(self) -> str:
        """The batch in words: how many samples are of each kind, and the worst one's numbers."""
        if len(self.samples) == 1:
            return self.samples[0].sentence
        counts = {k: sum(v.kind == k for v in self.samples) for k in KIND_ORDER}
        B = len(self.samples)
        parts = [f"{n}{f' of {B} samples' if not i else ''} {KIND_WORDS[k][1 if n > 1 else 0]}"
                 for i, (k, n) in enumerate((k, n) for k, n in counts.items() if n)]
        if len(parts) == 1 and counts[self.samples[0].kind] == B:
            parts = [f"all {B} samples {KIND_WORDS[self.samples[0].kind][1]}"]
        out = ", ".join(parts)
        w = self.worst
        if w.kind in ("vanishing", "exploding"):
            out += (f"; the worst, sample {w.sample}: {w.ratio:.2g} end to end (step {w.start} to {w.end}) at "
                    f"{w.factor:.3g}x a step")
        elif w.kind == "non-finite":
            out += f"; sample {w.sample}: {w.sentence}"
        return out


def steps_place(info, place: Place) -> bool:
    """Whether BPTT runs through *place*: a recurrent place, or a graph's recurrence node (the states it carries)."""
    from rnntui.engine.graph_diag import carries

    return place.layer is not None or carries(info.entries[place.entry])


def state_symbol(info, place: Place) -> str:
    """How the words name the state BPTT carries at *place*: `h`, a recurrence's one state by its name, or `s`
    (its states together, `s = (h, c)`)."""
    if place.layer is not None:
        return "h"
    names = tuple(info.entries[place.entry].config["states"])
    return names[0] if len(names) == 1 else "s"


def _state_grad(trace, place: Place) -> np.ndarray:
    if place.layer is not None:
        return trace[place.grad_key("h")]
    from rnntui.engine.graph_diag import state_grad

    return state_grad(trace, trace.info.entries[place.entry])


def sample_terms(trace, place: Place) -> tuple[np.ndarray, np.ndarray | None]:
    """(T, B) the norm of each sample's own one-term gradient at every step, and (B,) the step each sample's
    term entered at (None where the output has no step axis: then dL/dh_t is one term already, each row its
    own sample's). A trace saved before these were per sample holds (T,): returned as (T, 1), the batch's."""
    term = place.diag_key("term_gradnorm")
    if term in trace:
        g = np.asarray(trace[term], dtype=float)
        s = np.atleast_1d(np.asarray(trace[place.diag_key("term_step")]))
        return (g if g.ndim == 2 else g[:, None]), s
    from rnntui.engine.checkpoint import kept_row
    from rnntui.engine.diagnostics import row_norms

    kept = kept_row(trace, f"gradnorm:{place.prefix}")   # a checkpointed run: each sample's, from its sweep
    if kept is not None:
        return np.asarray(kept, dtype=float), None
    dh = _state_grad(trace, place)
    return row_norms(dh.reshape(-1, dh.shape[-1])).reshape(dh.shape[:2]).astype(float), None


VERDICT_AT_ONCE = 4_000_000
"""A UI measures the verdicts' one-term gradients at once (they cost a few ms) when `verdict_cost` is at most
this; above it, after the first paint, in a worker (`verdict_pending` places meanwhile say they are measuring)."""


def step_work(trace, place: Place) -> int:
    """About the multiply-adds of one pass of BPTT through *place* (steps x samples x H² for a recurrent place):
    what a step Jacobian's norm at every step, or one more backward pass, costs in proportion."""
    info = trace.info
    entry = info.entries[place.entry]
    if place.layer is not None:
        h = trace[place.key("h")]
        return int(h.size) * int(h.shape[-1])
    # a recurrence: one backward pass of its step graph per unit of its states, at every step, in the
    # chain's units (graph_diag measures a step graph's work against a chain's step)
    from rnntui.engine.graph_diag import CHEAP_WORK, jacnorm_work

    return jacnorm_work(entry, info.B) * 4_000_000 // CHEAP_WORK


def verdict_pending(trace, place: Place) -> bool:
    """Whether *place*'s verdict waits for its one-term gradient: a lean backward pass not run yet."""
    if not steps_place(trace.info, place):
        return False
    term = place.diag_key("term_gradnorm")
    return term in trace and not trace.is_computed(term)


def _term_keys(trace) -> list[str]:
    """The one-term gradient keys of *trace* not yet computed (each direction's pass computes all of its places')."""
    return [p.diag_key("term_gradnorm") for p in trace.info.places if verdict_pending(trace, p)]


def verdict_cost(trace) -> int:
    """What measuring every pending verdict costs (`step_work` summed over the places still waiting): compared
    with `VERDICT_AT_ONCE`."""
    return sum(step_work(trace, p) for p in trace.info.places if verdict_pending(trace, p))


def measure_verdicts(trace) -> None:
    """Compute every one-term gradient the verdicts of *trace* read (in a worker, in the TUI)."""
    for key in _term_keys(trace):
        trace[key]


def _basis(trace, place: Place, s, b: int | None) -> str:
    """What the verdict measured, in words: for sample *b*, or for the whole batch (*b* None)."""
    info = trace.info
    entry = info.entries[place.entry]
    B = info.B
    h = state_symbol(info, place)
    states = "" if h != "s" else f" (s_t: the states {', '.join(entry.config['states'])} together)"
    whose = f"sample {b}'s " if (b is not None and B > 1) else ("each sample's " if B > 1 else "")
    if s is None:
        return (f"measured on {whose}‖dL/d{h}_t‖{states}: the loss reads one output" + (" of each sample" if B > 1 else "")
                + ", so it is one loss term")
    if B == 1:
        whose = "the "
    if entry.part == "encoder":
        return (f"measured on {whose}gradient of the decoder's step {int(s[0])} loss term alone, as it comes back "
                f"through the hand-over and BPTT carries it through the encoder; the total dL/dh_t also holds every "
                f"other decoder step's loss")
    axis = _other_axis(info, place)
    if b is not None:
        step = int(s[min(b, len(s) - 1)])
        own = " (its own last real step)" if info.packs(entry) and place.direction != "bwd" and \
            step < entry.steps - 1 and not axis else ""
        term = f"loss term at the output's step {step}" if axis else f"step {step} loss term"
        return (f"measured on {whose}{term} alone{own}{axis}, ‖dL_{step}/d{h}_t‖{states} (the total dL/d{h}_t also "
                f"holds every other step's loss)")
    steps = sorted({int(v) for v in s})
    at = f"step {steps[0]}" if len(steps) == 1 else "its own last real step (" + ", ".join(
        f"{int(v)}" for v in s) + ")"
    if axis:
        at = f"the output's {at}{axis}"
    return (f"measured on {whose}loss term at {at} alone, as BPTT carries it back{states}; the total dL/d{h}_t also "
            f"holds every other step's own loss")


def steps_apart(info, index: int) -> tuple[str, str] | None:
    """Where graph node *index*'s steps are not the output's (an encoder reads another input than the one the
    output steps through): (the output's input, this node's input); None where they are the same steps (and
    in a chain, whose encoder-decoder says so by its parts)."""
    from rnntui.engine.graph import is_graph, source_input

    entries = info.entries
    if not is_graph(entries):
        return None
    here, out = source_input(entries, index), source_input(entries, len(entries) - 1)
    return None if here == out else (out, here)


def _other_axis(info, place: Place) -> str:
    """The words that say the loss term's step is the output's, not this node's (`steps_apart`); else ""."""
    apart = steps_apart(info, place.entry)
    if apart is None:
        return ""
    out, here = apart
    return f" (the output steps through input {out!r}, {keys.entry_prefix(place.entry)} through input {here!r})"


def verdicts(trace, place: Place, jacobian: bool = True) -> Verdicts | None:
    """Whether a gradient vanishes or explodes as BPTT carries it back through this direction, sample by sample.

    What is measured is one loss term's gradient, each sample's own: where the output has a step axis, the
    engine ran BPTT once more with only the term at the step this direction's BPTT starts from for that
    sample (its own last real step for a forward direction, step 0 for a backward one;
    `diag.{place}.term_gradnorm`), since the total dL/dh_t also holds each later step's own loss and would
    mostly measure how large those are. Without a step axis the loss reads one output of each sample, and
    each sample's dL/dh_t is one term already. Samples never mix in a recurrence, so each sample's verdict is
    its own; a padded step is never counted (BPTT of a sample runs over its real steps only).
    """
    info = trace.info
    if not steps_place(info, place):
        return None
    entry = info.entries[place.entry]
    G, s = sample_terms(trace, place)
    T, n = G.shape
    per_sample = n == info.B and not (s is not None and len(s) != n)
    lengths = [info.length_of(b) if info.packs(entry) else entry.steps for b in range(n)] if per_sample \
        else [entry.steps]
    jkey = place.diag_key("jacnorm")
    work = step_work(trace, place)
    jac = None
    # never a slow computation in a view; *jacobian* False: not at all (a scan reads the rate alone)
    if jacobian and (trace.is_computed(jkey) or work <= 4_000_000):
        jac = np.asarray(trace[jkey], dtype=float)
    backward_in_t = place.direction != "bwd"  # BPTT visits a forward direction from its last real step down
    out = []
    for b in range(n):
        own = min(lengths[b], T)
        g = G[:own, b]
        if jac is None:
            jmed = math.nan
        else:
            j = jac[:own, b] if per_sample else jac[:own]
            j = j[np.isfinite(j)]
            jmed = float(np.median(j)) if j.size else math.nan
        basis = _basis(trace, place, s, b if per_sample else None)
        sample = b if per_sample else None

        def order(k: int) -> int:
            return own - 1 - k if backward_in_t else k

        seq = g[::-1] if backward_in_t else g
        if not np.all(np.isfinite(seq)):
            out.append(Verdict("non-finite", math.nan, math.nan, order(0), order(own - 1), jmed, basis,
                               nonfinite_cause(trace, place), sample))
            continue
        nz = np.flatnonzero(seq > 0)
        if nz.size == 0:
            out.append(Verdict("no gradient", 0.0, 0.0, order(0), order(own - 1), jmed, basis, sample=sample))
            continue
        first = int(nz[0])
        steps = len(seq) - 1 - first
        if steps == 0:
            out.append(Verdict("one step", 1.0, 1.0, order(first), order(own - 1), jmed, basis, sample=sample))
            continue
        ratio = float(seq[-1] / seq[first])
        zero = None
        if ratio > 0:
            factor = ratio ** (1 / steps)
        else:  # it reaches exactly 0 (or underflows to it): the rate over the steps where it is not 0 yet
            last = int(nz[-1])
            zero = order(last + 1)
            factor = float(seq[last] / seq[first]) ** (1 / (last - first)) if last > first else 0.0
        out.append(Verdict(classify(ratio, factor), factor, ratio, order(first), order(own - 1), jmed, basis,
                           sample=sample, zero=zero))
    if not per_sample:  # an older trace: one norm over the batch
        old = (f"measured on the batch's ‖dL_s/dh_t‖, s = {int(s[0])}, as a trace saved before verdicts were sample "
               f"by sample recorded it (run the scenario again for each sample's own)")
        out = [Verdict(**{**v.__dict__, "basis": old}) for v in out]
        return Verdicts(tuple(out), old)
    return Verdicts(tuple(out), _basis(trace, place, s, None))


def verdict(trace, place: Place, sample: int = 0) -> Verdict | None:
    """The verdict for one sample (see `verdicts`)."""
    vs = verdicts(trace, place)
    return None if vs is None else vs.of(sample)


def _listed(keys: list[str], most: int = 3) -> str:
    return ", ".join(keys[:most]) + (f" and {len(keys) - most} more" if len(keys) > most else "")


def nonfinite_cause(trace, place: Place) -> str:
    """Why the gradient measured at *place* is not finite, from what the run recorded (diag.nonfinite.*),
    the earliest cause first: the parameters themselves (then the forward pass is not finite because
    they are), else the forward pass (the input, a state, the loss), else BPTT alone; or, when every
    value of dL/dh_t is finite, the norm that measures it is beyond the floating-point range."""
    bad = [str(k) for k in trace[keys.NONFINITE_KEYS]]
    firsts = {k: int(t) for k, t in zip(bad, trace[keys.NONFINITE_KEY_FIRST_STEP])}
    grads = [place.grad_key("h")] if place.layer is not None else \
        [place.grad_key(n) for n in trace.info.entries[place.entry].config["states"]]
    if not any(k in firsts for k in grads):
        limit = np.finfo(np.dtype(trace.info.dtype)).max
        return (f"every value of dL/dh_t is finite, but the norm measured is beyond the floating-point range "
                f"(about {limit:.1e}): the gradient is that large")
    params = [k for k in bad if k.startswith(keys.PARAM_PREFIX)]
    forward = [k for k in bad if not k.startswith((keys.GRAD_PREFIX, keys.GRADNORM_PREFIX, keys.PARAM_PREFIX, keys.DIAG_PREFIX))]
    if forward:
        stepped = [k for k in forward if firsts[k] >= 0]
        inputs = [k for k in forward if k in ("input", keys.DECODER_INPUT)]   # what the run read: the first cause
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
        if all(k in ("loss", keys.STEP_LOSS, keys.SAMPLE_STEP_LOSS) for k in forward):  # the states and outputs are finite, their loss is not
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
    bad = [str(k) for k in trace[keys.NONFINITE_KEYS]]
    firsts = trace[keys.NONFINITE_KEY_FIRST_STEP]
    for key, t in zip(bad, firsts):
        if t < 0:
            continue
        for p in info.places:
            if (p.layer is not None and p.prefix in key) or (steps_place(info, p) and f"{p.prefix}." in key):
                phase = "backward" if key.startswith((keys.GRAD_PREFIX, keys.GRADNORM_PREFIX)) else "forward"
                out.append(Event(phase, p, int(t), "non-finite", f"{key} is not finite from step {t}"))
                break
    if not info.seq:
        return out
    limit = thresholds(info)
    for p in info.places:
        if not steps_place(info, p):
            continue
        e = info.entries[p.entry]
        h = state_symbol(info, p)
        if p.layer is None:
            from rnntui.engine.graph_diag import gates

            names = gates(e)
        else:
            names = e.family.saturation(e)
        for g in names:
            share = trace[p.diag_key(f"sat.{g}")]
            for t in np.flatnonzero(share >= limit['saturated']):
                out.append(Event("forward", p, int(t), "saturated",
                                 f"{g} saturated in {share[t]:.0%} of units at step {t}"))
        gn = trace[keys.diag(p.prefix, "gradnorm")]
        lo, hi = limit["vanishing"], limit["exploding"]
        for t in np.flatnonzero(np.isfinite(gn) & (gn < lo) & ((gn > 0) | underflowed(gn, lo, p.direction == "bwd"))):
            out.append(Event("backward", p, int(t), "vanishing", f"||dL/d{h}|| = {gn[t]:.2e} < {lo:g} at step {t}"))
        for t in np.flatnonzero(np.isfinite(gn) & (gn > hi)):
            out.append(Event("backward", p, int(t), "exploding", f"||dL/d{h}|| = {gn[t]:.2e} > {hi:g} at step {t}"))
    return out


def underflowed(gn: np.ndarray, lo: float, backward_direction: bool) -> np.ndarray:
    """Per step: a norm of exactly 0 that a vanishing gradient underflowed to, i.e. whose nearest nonzero norm
    before it in BPTT's order (down from the last step; up from step 0 in a backward direction) is below *lo*. A
    zero with no such norm before it is no gradient at all (a step no loss reaches: a backward direction read only
    at its last step, padding), not a vanishing one."""
    g = gn[::-1] if not backward_direction else gn
    idx = np.arange(len(g))
    seen = np.maximum.accumulate(np.where((g != 0) & np.isfinite(g), idx, -1))   # last nonzero at or before
    out = (g == 0) & (seen >= 0) & (g[np.maximum(seen, 0)] < lo)
    return out[::-1] if not backward_direction else out


def equations(entry, direction: str | None = None) -> list[str]:
    """The entry's equations; at a recurrent place, as its *direction* runs them (the backward one reads
    the state of step t+1)."""
    if direction is None:
        return handler(entry.type).equations(entry)
    head = ["backward direction: runs from t = T-1 down to 0, so step t reads the state of step t+1"] \
        if direction == "bwd" else []
    return head + handler(entry.type).equations(entry, direction)


def param_count(trace, entry) -> int:
    return int(sum(np.prod(trace[keys.param(name)].shape) for name in entry.params))


def step_losses(trace, sample: int | None = None) -> np.ndarray | None:
    """Each step's share of the loss, for outputs with a step axis (they sum to `loss`); else None.
    With *sample*: that sample's own loss step by step (`loss.sample_step`), or None where the trace has
    no such key (a file saved before it was recorded)."""
    if sample is None:
        return trace[keys.STEP_LOSS] if keys.STEP_LOSS in trace else None
    return trace[keys.SAMPLE_STEP_LOSS][:, sample] if keys.SAMPLE_STEP_LOSS in trace else None
