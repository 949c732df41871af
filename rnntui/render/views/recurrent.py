"""The view of one direction of one sub-layer of a recurrent entry: the cell at step t (gates, the
state update in numbers), states over time, dL/dh_t over time and the verdict, exact values.
Everything about the family (gate names, equations, stories) comes from its Family object."""
from __future__ import annotations

import math

import numpy as np

from rnntui.engine.checkpoint import StepRows, kept_row
from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.diagnostics import jacobian_norm_at, row_norms
from rnntui.engine.graph import source_input
from rnntui.engine.handlers import handler
from rnntui.engine.interventions import MASK
from rnntui.numfmt import fmt, fmt_terms
from rnntui.render.analysis import RULE, equations, verdict_pending, verdicts
from rnntui.render.colors import SEQUENTIAL_STYLES, sequential_index
from rnntui.render.pertrace import PerTrace
from rnntui.render.cursor import order_sign
from rnntui.render.heatmap import state_heatmap, title_words
from rnntui.render.report_table import Columns
from rnntui.render.segments import Cells
from rnntui.render.tokens import token_label
from rnntui.render.strips import log_sparkline, unit_strip, value_bar, window
from rnntui.render.views.base import BOLD, DIM, PlaceView, story
from rnntui.engine.diagnostics import vector_norm

VERDICT_COLOURS = {"vanishing": "cyan", "exploding": "red", "healthy": "green", "one step": "green"}


def bar_width(width: int) -> int:
    return 16 if width >= 70 else 8


NAME_MIN, NAME_MAX = 16, 28  # the label column of a unit row: at least this (rows line up from view to view)


def name_width(labels) -> int:
    """The label column for rows with these *labels*: the longest one and a space, so none is cut."""
    return min(max([NAME_MIN] + [len(label) + 1 for label in labels]), NAME_MAX)


def unit_window(width: int, H: int, unit: int, name_w: int = NAME_MIN) -> tuple[int, int]:
    """The units shown: as many as fit beside the name column and the value bar."""
    return window(H, unit, max(min(H, width - name_w - bar_width(width) - 12), 4))


def unit_row(cells: Cells, name: str, vec, u: int, u0: int, u1: int, scale: float, width: int,
             gate: bool = False, name_w: int = NAME_MIN) -> None:
    """One line: the name, one character per unit (the selected one reversed), the selected value's bar.
    *name_w*: the label column (`name_width` of the rows shown together); a longer name ends in …"""
    if cells.rows[-1]:
        cells.newline()
    cells.add((name if len(name) < name_w else name[:name_w - 2] + "…").ljust(name_w))
    unit_strip(vec[u0:u1], u - u0, scale, gate, into=cells)
    cells.add(" ")
    lo, hi = (0.0, 1.0) if gate else (-scale, scale)
    value_bar(float(vec[u]), bar_width(width), lo, hi, gate=gate, into=cells)


def finite_scale(vec, at_least: float = 0.0) -> float:
    """The largest finite |value| of *vec* (at least *at_least*), 1 if none is above zero."""
    a = np.abs(vec)
    top = float(a.max()) if a.size else 0.0
    if not math.isfinite(top):   # an inf or NaN among them (rare): the finite ones alone
        finite = a[np.isfinite(a)]
        top = float(finite.max()) if finite.size else 0.0
    return max(top, at_least) if max(top, at_least) > 0 else 1.0


_SCALES: dict = {}


def run_scale(a: np.ndarray, b: int) -> float:
    """The largest finite |value| of sample *b* over every step and unit of *a* (T, B, H), 1 if none is
    above zero: the one scale a panel's bars share across steps. Kept per array (a trace is immutable)."""
    top = kept_row(a.trace, f"top:{a.key}") if isinstance(a, StepRows) else None
    if top is not None:   # a checkpointed run: its sweep kept each sample's largest |value|
        return float(top[b]) if top[b] > 0 else 1.0
    key = (id(a), b)
    hit = _SCALES.get(key)
    if hit is not None and hit[0] is a:
        return hit[1]
    if len(_SCALES) > 64:
        _SCALES.clear()
    value = finite_scale(a[:, b])
    _SCALES[key] = (a, value)
    return value


class Values:
    """What a family's story reads: v(name) at the cursor's step, sample and unit; v.prev(name) at the step
    this direction read before it: where the pass began, the initial state the run was given (`{place}.h0`:
    an `initial_state`, a decoder's hand-over, a generator's start), else zeros. *grad* reads dL/d(name)
    instead. v.overwritten(name): whether a what-if set name's value here (its `intervened` mask)."""

    def __init__(self, trace, place, t: int, b: int, u: int, grad: bool = False):
        self.trace, self.place, self.t, self.b, self.u, self.grad = trace, place, t, b, u, grad

    def _key(self, name: str) -> str:
        return self.place.grad_key(name) if self.grad else self.place.key(name)

    def __call__(self, name: str) -> float:
        return float(self.trace[self._key(name)][self.t, self.b, self.u])

    def prev(self, name: str) -> float:
        a = self.trace[self._key(name)]
        tp = self.t - order_sign("forward", self.place.direction)
        if 0 <= tp < a.shape[0]:
            return float(a[tp, self.b, self.u])
        start = self._key(f"{name}0")  # (B, H): the state the pass began from, recorded where it was given
        return float(self.trace[start][self.b, self.u]) if start in self.trace else 0.0

    def overwritten(self, name: str) -> bool:
        key = self.place.key(f"{MASK}.{name}")
        return not self.grad and key in self.trace and bool(self.trace[key][self.t, self.b, self.u])


class RecurrentView(PlaceView):
    kind = "recurrent"

    def where(self, info, place, t):
        return f"t={t}"

    def cell(self, trace, c, width):
        info = trace.info
        place = c.place(info)
        entry = info.entries[place.entry]
        fam = entry.family
        H = entry.hidden_size
        u = min(c.unit, H - 1)
        rows = fam.forward_rows(entry) if c.phase == "forward" else [(f"dL/d{s}_t", s, False) for s in fam.states]
        name_w = name_width(label for label, _, _ in rows)
        u0, u1 = unit_window(width, H, u, name_w)
        cells = Cells()
        title = Text(f"{fam.title} l{place.layer} {place.direction} · t={c.t} · unit {u}"
                     f"  (units {u0}..{u1 - 1} of {H})", BOLD)
        if c.phase == "forward":
            for label, key, gate in rows:
                vec = trace[place.key(key)][c.t, c.sample]
                unit_row(cells, label, vec, u, u0, u1, 1.0 if gate else finite_scale(vec, 1.0), width, gate, name_w)
            lines = story(fam.forward_story(entry, Values(trace, place, c.t, c.sample, u)))
        else:
            for label, s, _ in rows:
                # one scale over every step of the sample (a tiny gradient draws a short bar, as in the heatmap);
                # the story's first line says so
                scale = run_scale(trace[place.grad_key(s)], c.sample)
                vec = trace[place.grad_key(s)][c.t, c.sample]
                unit_row(cells, label, vec, u, u0, u1, scale, width, name_w=name_w)
            lines = self._backward_story(trace, c, entry, place, u)
        return Group(title, cells, *lines)

    def _backward_story(self, trace, c, entry, place, u) -> list[Text]:
        fam = entry.family
        t, b = c.t, c.sample
        v = Values(trace, place, t, b, u, grad=True)
        dh = v("h")
        out = [Text.assemble((f"BPTT at t={t}: dL/dh_t = {fmt(dh, 0)}", BOLD), (" (bars: all-step scale)", DIM))]
        out += story(fam.backward_story(entry, v))
        info = trace.info
        own = info.length_of(b) if info.packs(entry) else entry.steps
        started = t == (own - 1 if place.direction != "bwd" else 0)
        chosen = seed_step(trace, entry)
        if chosen is not None:  # `o` chose one step's output or loss term: BPTT of it starts at that step
            started = t == chosen
        top = place.layer == entry.num_layers - 1
        if started and entry.part == "encoder" and top:
            out.append(Text("the encoder's BPTT starts here, from the decoder: dL/dh_t is what came back through "
                            "the hand-over (the encoder's own output is not used)", DIM))
        elif started and entry.part != "encoder":
            out.append(Text("BPTT starts here: only the output at this step contributes"
                            + (f" (sample {b}'s last step: length {own})" if own < entry.steps else ""), DIM))
        else:
            from_out, through, _ = fmt_terms(v("h.from_output"), v("h.through_time"), dh)
            out.append(Text(f"dL/dh_t = from the output at t + {fam.through_time_words(entry)}", BOLD))
            out.append(Text(f"        = {from_out} + {through} (through time)"))
            if started:  # a lower layer of an encoder: its own final state went to the decoder too
                out.append(Text(f"      through time here: the decoder's gradient through the hand-over; from the "
                                f"output: from layer {place.layer + 1} above", DIM))
            if trace.info.feed == "output" and not handler(trace.info.entries[0].type).reads_ids:
                # a generator's output at t is step t+1's input: the first term carries that step's dL/dx too
                out.append(Text("  feed: output: the first term holds step t+1's dL/dx", DIM))
        jac = step_jacobian_norms(trace, place, t)[b]
        out.append(Text(f"‖dh_t/dh_prev‖ = {fmt(float(jac), 0)} at this step", DIM))
        return out

    def states(self, trace, c, width, height):
        """h (and c) heatmaps; bidirectional entries show both directions in reading order."""
        info = trace.info
        place = c.place(info)
        entry = info.entries[place.entry]
        grad = c.phase == "backward"
        names = entry.family.states
        dirs = list(entry.directions)
        rows = max(height // (len(names) * len(dirs)) - 2, 2)
        own = info.length_of(c.sample) if info.packs(entry) else entry.steps
        maps = []
        for d in dirs:
            for name in names:
                here = keys.Place(entry.index, place.layer, d)
                key = here.grad_key(name) if grad else here.key(name)
                label = f"{('▸ ' if d == place.direction else '  ')}{'dL/d' if grad else ''}{name} {d}"
                if d == "bwd":  # where it starts, in as many words as the width takes (the same in every title)
                    first = (" (reads from the end: t=T-1 first)" if own == entry.steps else
                             f" (reads from this sample's end: t={own - 1} first)")
                    labels = [label + first, f"{label} (reads t={own - 1} first)", f"{label} (t={own - 1} first)"]
                else:
                    labels = [label] * 3
                values = trace[key][:, c.sample]
                maps.append((values, labels, [title_words(values, c.t, c.unit, width, rows, brief=b,
                                                          length=own if own < entry.steps else None)
                                              for b in (False, True)]))
        # the longest form every title takes on one line: shorter labels first, then the scale without its word
        forms = ((0, 0), (1, 0), (2, 0), (2, 1))
        label_k, brief = next((f for f in forms if all(len(lab[f[0]]) + 1 + len(w[f[1]]) <= width
                                                          for _, lab, w in maps)), forms[-1])
        parts = [state_heatmap(values, c.t, c.unit, width, rows, labels[label_k], brief=bool(brief),
                               length=own if own < entry.steps else None) for values, labels, _ in maps]
        return Group(*parts)

    def gradients(self, trace, c, width, defer=False):
        """dL/dh_t per step on a log scale, each step's contribution to the weight gradients, the verdict
        (*defer*: while its one-term gradient is not measured, a line that says so)."""
        info = trace.info
        place = c.place(info)
        T = self.length(info, place)
        start, stop = window(T, c.t, max(width - 2, 8))
        # the header names one sample: dL/dh_t is that sample's own (its rows of the recorded (T, B, H) array)
        g = np.asarray(sample_gradnorm(trace, place, c.sample), dtype=float)
        pos = g[np.isfinite(g) & (g > 0)]
        lo, hi = (float(np.log10(pos.min())), float(np.log10(pos.max()))) if pos.size else (None, None)
        of = f" of sample {c.sample}" if trace.info.B > 1 else ""
        out = [Text(f"‖dL/dh_t‖{of} (log scale) at t={c.t}: {fmt(float(g[c.t]), 0)}", BOLD),
               log_sparkline(g[start:stop], c.t - start, lo, hi, into=Cells())]
        window_g = g[start:stop]
        shown = window_g[np.isfinite(window_g) & (window_g > 0)]   # the range of the steps it names (the bars' scale is all steps')
        if shown.size:
            zero = int((window_g == 0).sum())   # drawn ·, left out of a log scale's range: said, not hidden
            out.append(Text(f"range {shown.min():.2e} .. {shown.max():.2e}, steps {start}..{stop - 1}"
                            + (f" (0 at {zero} of them, left out)" if zero else ""), DIM))
        batch = batch_words(trace.info.B)  # a weight's gradient sums over the samples: no sample has its own here
        for stem, label in (("weight_hh", "W_hh"), ("weight_ih", "W_ih")):
            vals = np.asarray(trace[keys.step_gradnorm(place.param(stem))], dtype=float)
            shown = vals[start:stop]
            shown = shown[np.isfinite(shown) & (shown > 0)]
            span = f"; bars {shown.min():.1e}..{shown.max():.1e}" if shown.size else ""
            out.append(Text(f"‖step t's term of d{label}‖{batch}: {fmt(float(vals[c.t]), 0)}{span}"))
            out.append(log_sparkline(vals[start:stop], c.t - start, into=Cells()))
        if keys.META_SEED in trace:  # the gradients are of one output or loss term (`o`), the verdict is the loss's
            out.append(Text("the vanishing/exploding verdict measures the loss's gradient: O shows it again", DIM))
            return Group(*out)
        # first: what the panel concludes is its line seen first (Tab brings it to the top)
        return Group(*verdict_lines(trace, place, c.sample, defer), *out)

    def details(self, trace, c):
        info = trace.info
        place = c.place(info)
        entry = info.entries[place.entry]
        fam = entry.family
        if c.phase == "forward":
            names = list(fam.states) + [f"gates.{g}" for g in fam.gates] + (["pre"] if not fam.gates else [])
            vecs = {n: trace[place.key(n)][c.t, c.sample] for n in names}
        else:
            vecs = {f"dL/d{s}": trace[place.grad_key(s)][c.t, c.sample] for s in fam.states}
        extra = None
        if c.phase == "forward" and "h" in fam.saturation(entry):
            h = np.asarray(vecs["h"], dtype=float)
            finite = h[np.isfinite(h)]
            if finite.size:
                extra = f"saturated (|h|>0.95): {np.mean(np.abs(finite) > 0.95):.0%}\n"
        u = min(c.unit, entry.hidden_size - 1)
        if entry.reduce_final:
            extra = (extra or "") + final_state_words(info, entry, c.sample) + "\n"
        # the heatmaps beside show every direction (and layer): name the one these numbers are of, the cursor's
        of = " ".join(([f"l{place.layer}"] if entry.num_layers > 1 else [])
                      + ([place.direction] if len(entry.directions) > 1 else []))
        return details_text(vecs, f"t={c.t}, sample {c.sample}", u, f"unit {u}", extra, of=of)

    def report(self, trace, place, index, opts) -> list:
        info = trace.info
        entry = info.entries[place.entry]
        rng = opts.step_range(entry.steps)
        eq = Text("\n".join(equations(entry, place.direction)), DIM)
        out = [eq]
        if info.packs(entry):
            bwd = " and the backward direction starts at each sample's own last step" if "bwd" in entry.directions else ""
            out.append(Text("samples of different lengths (packed): " + ", ".join(
                f"{b}: {n}" for b, n in enumerate(info.lengths)) + f" of T={entry.steps}; padded steps hold zeros"
                + bwd, DIM))
        if entry.reduce_final and place.layer == entry.num_layers - 1 and place.direction == entry.directions[0]:
            out += [Text(final_state_words(info, entry, b), DIM) for b in range(min(info.B, 8))]
        return out + [step_table(trace, place, rng), Text(""), gradient_table(trace, place, rng), Text("")]


def seed_step(trace, entry) -> int | None:
    """The step where the gradient of a chosen output or loss term enters *entry* (engine/attribution.py), when
    the model's output has steps that line up with the entry's; None for the loss's gradient."""
    if keys.META_SEED not in trace or entry.part or not (trace.info.seq and trace.info.entries[-1].seq_out):
        return None
    from rnntui.engine.attribution import seed_of

    return seed_of(trace).t


_gradnorms = PerTrace(64)        # (trace, place, sample) -> (T,): every key of BPTT draws one
_step_jacobians = PerTrace(4096)  # (trace, place, t) -> (B,): ~10 ms each at H=256 when not all computed


MEASURING = "verdict: measuring… (BPTT once more, of one loss term alone; the other panels are ready)"


def verdict_lines(trace, place, sample: int | None, defer: bool = False) -> list[Text]:
    """The verdict in words: for *sample* (the cursor's; None: every sample, up to 8, as a report says it)
    and, for a batch, the batch summed up; a report adds the whole rule with the measured numbers (the panel
    names the part of the rule met in the sentence; `?` gives the whole); then what was measured.
    *defer*: not measured yet (`verdict_pending`), one line that says it is being measured."""
    if defer and verdict_pending(trace, place):
        return [Text(MEASURING, DIM)]
    vs = verdicts(trace, place)
    if vs is None:
        return []
    B = len(vs.samples)

    def style(kind: str, bold: bool = True) -> Style:
        return Style(color=VERDICT_COLOURS.get(kind, "magenta"), bold=bold)

    out = []
    if B == 1:
        v = vs.of(0)
        out.append(Text(v.sentence, style(v.kind)))
    elif sample is not None:
        v = vs.of(sample)
        out.append(Text(f"sample {sample}: {v.sentence}", style(v.kind)))
        out.append(Text(f"batch: {vs.summary}", style(vs.kind, bold=False)))
    else:
        v = vs.worst
        out.append(Text(f"batch: {vs.summary}", style(vs.kind)))
        out += [Text(f"sample {w.sample}: {w.sentence}", style(w.kind, bold=False)) for w in vs.samples[:8]]
        if B > 8:
            out.append(Text(f"(samples 8..{B - 1}: in the TUI, s changes sample)", DIM))
    if sample is None and v.measured:  # a report has the room for the whole rule (the panel: `?`)
        out.append(Text(v.measured if B == 1 else RULE, DIM))  # a batch: each sample's line has its numbers
    out.append(Text(v.basis if sample is not None or B == 1 else vs.basis, DIM))
    return out


def sample_gradnorm(trace, place, b: int) -> np.ndarray:
    """(T,): ‖dL/dh_t‖ of sample *b* alone, over its units (the batch's norm is `diag.*.gradnorm`); computed
    once per trace, place and sample."""
    kept = kept_row(trace, f"gradnorm:{place.prefix}")   # a checkpointed run: from its sweep
    if kept is not None:
        return kept[:, b]
    return _gradnorms.get(trace, ("gradnorm", place, b), lambda: row_norms(trace[place.grad_key("h")][:, b]))


def step_jacobian_norms(trace, place, t: int) -> np.ndarray:
    """(B,) norms of step *t*'s Jacobian dh_t/dh_{t-1}; computed once per trace, place and step."""
    return _step_jacobians.get(trace, (place, t), lambda: jacobian_norm_at(trace, place, t))


def steps_to_prefetch(trace, place, steps) -> list[int]:
    """Those of *steps* whose Jacobian norms the cell would compute when it is drawn there (none when the
    trace holds them all): what a UI computes ahead, off its own thread, with `jacobian_norm_at` step by step
    (the same numbers as here), and hands to `keep_step_jacobians`."""
    if trace.is_computed(place.diag_key("jacnorm")):
        return []
    return [t for t in steps if not _step_jacobians.has(trace, (place, t))]


def keep_step_jacobians(trace, place, values: dict) -> None:
    """Step -> (B,) norms computed ahead (`steps_to_prefetch`), kept as if the cell had computed them."""
    for t, v in values.items():
        _step_jacobians.get(trace, (place, t), lambda v=v: v)


def batch_words(B: int) -> str:
    """What a number over the whole batch says beside it, where a screen names one sample."""
    return f" (batch of {B})" if B > 1 else ""


def final_state_words(info, entry, b: int) -> str:
    """Which step each direction's final state came from: the many-to-one output of sample *b*."""
    last = (info.length_of(b) if info.packs(entry) else entry.steps) - 1
    parts = [f"fwd h at t={last}" + (f" (its own last step of {entry.steps})" if last < entry.steps - 1 else "")]
    if "bwd" in entry.directions:
        parts.append("bwd h at t=0")
    how = f" merged by {entry.merge}" if len(parts) > 1 else ""
    return f"many-to-one output of {keys.entry_prefix(entry.index)}, sample {b}: " + " and ".join(parts) + how


def details_text(vecs: dict, at: str, u: int, label: str, extra: str | None = None, of: str = "") -> Text:
    """Exact numbers of the first vector (min, max, mean, norm) and every vector's value at the selected unit.
    *of*: which direction (and layer) they belong to, named after the first vector's name ("h bwd")."""
    first = next(iter(vecs))
    vec = np.asarray(vecs[first], dtype=float).reshape(-1)
    u = min(u, vec.size - 1)
    finite = vec[np.isfinite(vec)]
    text = Text()
    text.append(f"{first}{' ' + of if of else ''} at {at}\n", BOLD)
    if finite.size:
        text.append(f"min {fmt(float(finite.min()), 0)}  max {fmt(float(finite.max()), 0)}  "
                    f"mean {fmt(float(finite.mean()), 0)}  ‖·‖ {fmt(float(vector_norm(finite)), 0)}\n")
    if finite.size < vec.size:
        text.append(f"{vec.size - finite.size} of {vec.size} values are not finite\n", Style(color="magenta"))
    if extra:
        text.append(extra)
    text.append(f"{label}: ", BOLD)
    text.append("  ".join(f"{n}={fmt(float(np.asarray(v).reshape(-1)[u]), 0)}" for n, v in vecs.items()))
    return text


def step_table(trace, place, rng: range) -> Group:
    info = trace.info
    e = info.entries[place.entry]
    fam = e.family
    columns = fam.report_columns(e)
    sats = {name: trace[place.diag_key(f"sat.{name}")] for name in fam.saturation(e)}
    # the trace's tokens are its first input's: a graph node over another input (a second encoder) reads others
    src = source_input(info.entries, place.entry)
    tokens = "tokens" in trace and (src is None or (src == info.inputs[0] and trace["input"].shape[0] == e.steps))
    headers = [("t", ">")] + ([("token", "<")] if tokens else [])
    headers += [(label, "<") for label, _ in columns]
    sat_h = "h" in sats and not fam.gates
    if sat_h:
        headers.append(("h saturated", ">"))
    headers += [(f"|{s}|", ">") for s in fam.states]
    packed = info.packs(e)
    if packed:  # padded samples hold zeros: every statistic is over the samples still running
        headers.insert(1, ("samples", ">"))
    # the statistics are the batch's, the token one sample's: the title says whose
    cols = Columns(f"Forward pass, {place.label(info)}: per step, mean [min, max] and share saturated"
                   + (" (over the samples still running)" if packed else "")
                   + ("; token: sample 0's" if tokens and info.B > 1 else ""), headers,
                   keys=1 + packed + tokens)
    arrays = {key: trace[place.key(key)] for _, key in columns}
    states = {s: trace[place.key(s)] for s in fam.states}
    lengths = np.asarray(info.lengths) if packed else None
    steps = np.asarray(list(rng), dtype=np.intp)
    whole = None
    if not packed and steps.size:   # every step over the same samples: each statistic at once, not per step
        with np.errstate(all="ignore"):
            whole = {key: [x.tolist() for x in _step_stats(arrays[key][steps])] for _, key in columns}
            norms = [row_norms(np.asarray(a[steps])).tolist() for a in states.values()]
            sat_at = {name: np.asarray(v)[steps].tolist() for name, v in sats.items()}
    for i, s in enumerate(rng):
        row = [str(s)]
        if whole is not None:
            if tokens:
                row.append(token_label(trace, s, 0))
            for _, key in columns:
                mean, lo, hi = whole[key]
                cell = f"{mean[i]:.3g} [{lo[i]:.2g}, {hi[i]:.2g}]"
                gate = key.removeprefix("gates.")
                if gate in sats and key.startswith("gates."):
                    cell += f" {sat_at[gate][i]:.0%}"
                row.append(cell)
            if sat_h:
                row.append(f"{sat_at['h'][i]:.0%}")
            row += [fmt(n[i], 0) for n in norms]
            cols.add(*row)
            continue
        real = slice(None) if lengths is None else lengths > s
        if packed:
            row.append(f"{int(real.sum())} of {info.B}")
        if tokens:
            row.append(token_label(trace, s, 0))
        if packed and not real.any():  # every sample ended before this padded step: nothing to summarize
            cols.add(*row, *["padding"] + ["-"] * (len(columns) - 1 + sat_h + len(states)))
            continue
        for _, key in columns:
            v = arrays[key][s][real]
            cell = f"{v.mean():.3g} [{v.min():.2g}, {v.max():.2g}]"
            gate = key.removeprefix("gates.")
            if gate in sats and key.startswith("gates."):
                cell += f" {sats[gate][s]:.0%}"
            row.append(cell)
        if sat_h:
            row.append(f"{sats['h'][s]:.0%}")
        row += [fmt(float(vector_norm(a[s][real])), 0) for a in states.values()]
        cols.add(*row)
    return cols.render()


def _step_stats(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per step (the first axis): the mean, smallest and largest value over the rest."""
    flat = np.asarray(a).reshape(a.shape[0], -1)
    return flat.mean(axis=1), flat.min(axis=1), flat.max(axis=1)


def gradient_table(trace, place, rng: range) -> Group:
    info = trace.info
    g = np.asarray(trace[place.diag_key("gradnorm")], dtype=float)
    pos = g[np.isfinite(g) & (g > 0)]
    lo, hi = (math.log10(pos.min()), math.log10(pos.max())) if pos.size else (0.0, 0.0)
    whh = trace[keys.step_gradnorm(place.param("weight_hh"))]
    wih = trace[keys.step_gradnorm(place.param("weight_ih"))]
    over = f" over the batch of {info.B}" if info.B > 1 else ""
    with np.errstate(over="ignore"):   # from a subnormal smallest norm the ratio overflows: say it in powers of 10
        apart = pos.max() / pos.min() if pos.size else 1.0
    apart = f"{apart:.3g}x" if math.isfinite(apart) else f"10^{hi - lo:.0f}x"
    span = (f"; bars from {pos.min():.2e} (shortest) to {pos.max():.2e} (longest), {apart} apart"
            if pos.size else "")
    cols = Columns(f"Backward pass (BPTT), {place.label(info)}: ‖dL/dh_t‖{over} per step, log scale{span}",
                   [("t", ">"), ("‖dL/dh_t‖", ">"), ("log scale", "<"), ("‖term of dW_hh‖", ">"),
                    ("‖term of dW_ih‖", ">")])
    order = list(rng)[::-1] if place.direction != "bwd" else list(rng)  # in the order BPTT visits them
    # every step's bar at once: its length and shade from log10 of the norm over the place's range
    at = np.asarray(order, dtype=np.intp)
    gs = g[at]
    with np.errstate(all="ignore"):
        a = np.where(np.isfinite(gs) & (gs > 0), (np.log10(np.where(gs > 0, gs, 1.0)) - lo) / max(hi - lo, 1e-12)
                     if hi > lo else 1.0, 0.0)
    length = np.rint(a * 20).astype(np.intp) + 1
    shade = SEQUENTIAL_STYLES[0][sequential_index(0.3 + 0.7 * a)]
    bad = ("!" * 21, Style(color="magenta", bold=True))
    gl, hh, ih, length = gs.tolist(), np.asarray(whh)[at].tolist(), np.asarray(wih)[at].tolist(), length.tolist()
    for j, s in enumerate(order):
        v = gl[j]
        if not math.isfinite(v):
            bar = bad
        elif v > 0:
            bar = ("█" * length[j], shade[j])
        else:
            bar = ("·", None)
        cols.add(str(s), f"{v:.3e}", bar, f"{hh[j]:.3e}", f"{ih[j]:.3e}")
    from rnntui.render.doc import Figure

    steps = np.asarray(list(rng), dtype=np.intp)
    chart = Figure(cols.render(), "steps", {"values": g[steps], "x": steps, "log": True, "xlabel": "step t",
                                            "title": f"‖dL/dh_t‖ per step, {place.label(info)}",
                                            "ylabel": "‖dL/dh_t‖ (log)"}, table=True)
    return Group(chart, *verdict_lines(trace, place, None))
