"""Training as a second axis (docs/scenario-format.md `train:`): the curves over iterations, the
(iterations x steps) picture of the gradient BPTT carries back, and the events found across
iterations. Reads only the `train.*` keys of a training trace (engine/train.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.numfmt import fmt
from rnntui.render.analysis import state_symbol, steps_place, thresholds
from rnntui.render.colors import SEQUENTIAL_STYLES, sequential_index
from rnntui.render.pertrace import PerTrace
from rnntui.render.segments import Cells
from rnntui.render.strips import BLOCKS, DIM_REVERSE, log_sparkline, window

BOLD = Style(bold=True)
DIM = Style(dim=True)
CLIP = Style(color="yellow", bold=True)
# the gradient picture's shades, lowest to highest: every level is visible, so '·' (no gradient: zero)
# and '!' (not finite) stay apart from the smallest gradient drawn
PICTURE_SHADES = np.array(list("░▒▓█"))
NO_GRADIENT = "·"
LABEL = 6  # "loss  ", "‖g‖   ", "clip  ": the curves' row labels
PAIR_LABEL = 7  # "A loss ", "B ‖g‖  ", "B clip ": two runs' rows


def is_training(trace) -> bool:
    return keys.TRAIN_LOSS in trace


@dataclass(frozen=True)
class IterationEvent:
    """A run of consecutive iterations with one kind of event (of one place): where `j` lands is its
    first iteration; *end* is its last."""

    iteration: int
    kind: str      # non-finite | clipped | vanishing | exploding
    text: str
    end: int

    @property
    def iterations(self) -> int:
        return self.end - self.iteration + 1


def _runs(ks: np.ndarray) -> list[tuple[int, int]]:
    """Sorted whole numbers as runs of consecutive ones: (first, last) pairs."""
    ks = np.asarray(ks, dtype=np.int64)
    if ks.size == 0:
        return []
    cut = np.flatnonzero(np.diff(ks) != 1)
    return list(zip(np.r_[ks[0], ks[cut + 1]].tolist(), np.r_[ks[cut], ks[-1]].tolist()))


def _lasting(a: int, b: int, verb: str) -> str:
    return "" if a == b else f" and {verb} through iteration {b} ({b - a + 1} iterations)"


def _what_is_not_finite(trace) -> str:
    """The arrays the first non-finite iteration's values reached (train.nonfinite.keys), and the step
    where the forward pass first met them when one of them has steps."""
    bad = [str(k) for k in trace[keys.TRAIN_NONFINITE_KEYS]] if keys.TRAIN_NONFINITE_KEYS in trace else []
    if not bad:
        return ""
    shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    # diag.nonfinite.first_step is 0 when no array with steps holds them (the loss alone): no step then
    stepless = all(k == "loss" or k.startswith((keys.PARAM_PREFIX, keys.BUFFER_PREFIX, keys.GRADNORM_PREFIX)) for k in bad)
    step = int(trace[keys.TRAIN_NONFINITE_STEP]) if keys.TRAIN_NONFINITE_STEP in trace else -1
    return f" ({shown}" + ("" if stepless or step < 0 else f"; from step {step}") + ")"


def iteration_events(trace) -> list[IterationEvent]:
    """Where, over iterations, the loss or gradient norm stopped being finite, clipping acted, and the
    gradient reaching step 0 of a recurrent place fell below or rose above the event thresholds: one
    event per run of consecutive iterations, at the iteration where the run begins."""
    out: list[IterationEvent] = []
    loss = np.asarray(trace[keys.TRAIN_LOSS], dtype=float)
    g = np.asarray(trace[keys.TRAIN_GRADNORM], dtype=float)
    bad = int(trace[keys.TRAIN_NONFINITE_ITERATION]) if keys.TRAIN_NONFINITE_ITERATION in trace else -1
    for a, b in _runs(np.flatnonzero(~(np.isfinite(loss) & np.isfinite(g)))):
        out.append(IterationEvent(a, "non-finite", f"values stop being finite at iteration {a}"
                                  + (_what_is_not_finite(trace) if a == bad else "")
                                  + _lasting(a, b, "stay so"), b))
    clipped = np.asarray(trace[keys.TRAIN_CLIPPED], dtype=bool) if keys.TRAIN_CLIPPED in trace else np.zeros(0, bool)
    for a, b in _runs(np.flatnonzero(clipped)):
        at = (f"‖g‖ {fmt(float(g[a]), 0)} → {fmt(float(trace[keys.TRAIN_GRADNORM_CLIPPED][a]), 0)}")
        out.append(IterationEvent(a, "clipped", f"clipping acted at iteration {a}: {at}" if a == b else
                                  f"clipping acted at iterations {a}..{b} ({b - a + 1} iterations); at {a}: {at}", b))
    limit = thresholds(trace.info)
    out += _update_events(trace, limit["update_ratio"]) + _loss_rise_events(loss, limit["loss_rise"])
    for p in trace.info.places:
        key = keys.train_bptt(p.prefix) if steps_place(trace.info, p) else None
        if key is None or key not in trace:
            continue
        at0 = np.asarray(trace[key], dtype=float)[:, 0]
        finite = np.isfinite(at0)
        for kind, lim, side, words in (("vanishing", limit["vanishing"], finite & (at0 > 0) & (at0 < limit["vanishing"]),
                                        ("falls below", "is below", "stays below")),
                                       ("exploding", limit["exploding"], finite & (at0 > limit["exploding"]),
                                        ("rises above", "is above", "stays above"))):
            for a, b in _runs(np.flatnonzero(side)):
                # "falls below" only where the iteration before was on the other side of the threshold
                crossed = a > 0 and np.isfinite(at0[a - 1]) and (at0[a - 1] >= lim if kind == "vanishing"
                                                                  else at0[a - 1] <= lim)
                verb = f"{words[0]} {lim:g} at iteration {a}" if crossed else f"{words[1]} {lim:g} from iteration {a}"
                h = state_symbol(trace.info, p)
                out.append(IterationEvent(a, kind, f"‖dL/d{h}_0‖ of {p.prefix} {verb} ({at0[a]:.2e})"
                                          + _lasting(a, b, words[2]), b))
    return sorted(out, key=lambda e: (e.iteration, e.kind))


def _update_events(trace, limit: float) -> list[IterationEvent]:
    """Runs of iterations where some parameter's update was more than *limit* of its size, naming the
    largest at the run's first iteration."""
    from rnntui.render.training_cause import ratios

    names, r = ratios(trace)
    if not names:
        return []
    worst = np.where(np.isfinite(r), r, -1.0).max(axis=0)
    out = []
    for a, b in _runs(np.flatnonzero(worst > limit)):
        i = int(np.argmax(np.where(np.isfinite(r[:, a]), r[:, a], -1.0)))
        out.append(IterationEvent(a, "big update", f"an update above {limit:g} of its parameter at iteration {a} "
                                  f"(‖ΔP‖/‖P‖ of {names[i]}: {fmt(float(r[i, a]), 0)})"
                                  + _lasting(a, b, "stays so"), b))
    return out


def _loss_rise_events(loss: np.ndarray, limit: float) -> list[IterationEvent]:
    """Iterations where the (finite) loss grew by more than *limit* of its value at the iteration before."""
    prev, cur = loss[:-1], loss[1:]
    with np.errstate(all="ignore"):
        rose = np.isfinite(prev) & np.isfinite(cur) & (prev > 0) & (cur > prev * (1 + limit))
    out = []
    for a, b in _runs(np.flatnonzero(rose) + 1):
        out.append(IterationEvent(a, "loss rise", f"the loss rose by more than {limit:.0%} at iteration {a} "
                                  f"({fmt(float(loss[a - 1]), 0)} → {fmt(float(loss[a]), 0)})"
                                  + _lasting(a, b, "keeps rising so"), b))
    return out


# --- the curves over every iteration ----------------------------------------------------------------

def binned(values, width: int, per: int | None = None) -> tuple[np.ndarray, int]:
    """Every iteration in at most *width* columns: each column the mean of `per` consecutive iterations
    (the last column may hold fewer); a column holding a non-finite value is not finite. (columns, per).
    *per*: iterations a column, given (two runs drawn on one axis bin alike)."""
    v = np.asarray(values, dtype=float).reshape(-1)
    per = max(1, -(-v.size // max(int(width), 1))) if per is None else per
    if per == 1:
        return v, 1
    starts = np.arange(0, v.size, per)
    finite = np.isfinite(v)
    counts = np.diff(np.r_[starts, v.size])
    with np.errstate(all="ignore"):
        mean = np.add.reduceat(np.where(finite, v, 0.0), starts) / counts
    return np.where(np.logical_and.reduceat(finite, starts), mean, np.nan), per


def _linear_sparkline(v: np.ndarray, marker: int, lo: float, hi: float, into: Cells) -> None:
    """Bars from lo (lowest) to hi (highest), '!' where not finite; the marker in reverse video."""
    finite = np.isfinite(v)
    with np.errstate(all="ignore"):
        a = np.clip(np.where(finite, (v - lo) / max(hi - lo, 1e-300), 0.0), 0.0, 1.0)
    level = np.rint(a * (len(BLOCKS) - 1)).astype(np.intp)
    index = sequential_index(0.3 + 0.7 * a)
    for j in range(v.size):
        rev = 1 if j == marker else 0
        into.add("!" if not finite[j] else BLOCKS[level[j]],
                 SEQUENTIAL_STYLES[rev][-1] if not finite[j] else SEQUENTIAL_STYLES[rev][index[j]])


@dataclass(frozen=True)
class Curve:
    """A series over every iteration drawn in *width* columns, and the words that label its range."""

    cells: Cells     # one row: the bars
    per: int         # iterations a column
    log: bool        # log10 scale (False: linear, for a series that is not always positive)
    columns: int


@dataclass(frozen=True)
class Scale:
    """A curve's vertical scale: log10 from lo to hi (None: nothing positive to draw), or linear."""

    log: bool
    lo: float | None
    hi: float | None


def scale_of(*series, positive_only: bool = False) -> Scale:
    """One scale for every series given (two runs' losses drawn one above the other compare bar by bar):
    log from the smallest finite positive value to the largest, unless some finite value is negative (or,
    with *positive_only*, zero or negative): then linear from the smallest to the largest."""
    v = np.concatenate([np.asarray(x, dtype=float).reshape(-1) for x in series])
    finite = v[np.isfinite(v)]
    if finite.size == 0 or bool((finite > 0).all() if positive_only else (finite >= 0).all()):
        pos = finite[finite > 0]
        return Scale(True, *((math.log10(pos.min()), math.log10(pos.max())) if pos.size else (None, None)))
    return Scale(False, float(finite.min()), float(finite.max()))


def curve(values, k: int | None, width: int, positive_only: bool = False, scale: Scale | None = None,
          per: int | None = None) -> Curve:
    """*values* (one per iteration) in at most *width* columns, iteration *k*'s column in reverse video, on
    *scale* (default: the values' own, `scale_of`; zero drawn '·' on a log scale)."""
    v = np.asarray(values, dtype=float).reshape(-1)
    cols, per = binned(v, width, per)
    marker = -1 if k is None else k // per
    cells = Cells()
    sc = scale_of(v, positive_only=positive_only) if scale is None else scale
    if sc.log:
        log_sparkline(cols, marker, sc.lo, sc.hi, into=cells)
    else:
        _linear_sparkline(cols, marker, sc.lo, sc.hi, cells)
    return Curve(cells, per, sc.log, cols.size)


def axis(values, c: Curve, width: int | None = None, name: str = "loss") -> str:
    """The words under a curve, *width* wide (default: as wide as it): its first and last iteration with
    their values at the ends, and between them the smallest value and where, the scale, how many
    iterations a column holds and where the values stop being finite (the fullest words that fit)."""
    v = np.asarray(values, dtype=float).reshape(-1)
    N, w = v.size, max(c.columns, width or 0)
    left, right = f"└ 0: {fmt(float(v[0]), 0)}", f"{N - 1}: {fmt(float(v[-1]), 0)} ┘"
    finite = np.flatnonzero(np.isfinite(v))
    low = "no finite value"
    if finite.size:
        at = int(finite[np.argmin(v[finite])])
        low = f"min {fmt(float(v[at]), 0)} at {at}"
    bad = np.flatnonzero(~np.isfinite(v))
    scale = ("log scale", "log") if c.log else (f"linear scale ({name} is not always positive)", "linear")
    per = ((f"{c.per} iterations a column (their mean)", f"{c.per} iterations a column", f"{c.per} per column")
           if c.per > 1 else ("", "", ""))
    stops = (f"! not finite from {int(bad[0])}", f"! from {int(bad[0])}") if bad.size else ("", "")
    for parts in ((low, scale[0], per[0], stops[0]), (low, scale[0], per[1], stops[0]), (low, scale[1], per[2], stops[1]),
                  (low, per[2], stops[1]), (low, per[2]), (low,)):
        middle = " · ".join(p for p in parts if p)
        gap = w - len(left) - len(right) - len(middle)
        if gap >= 2:
            return left + " " * (gap // 2) + middle + " " * (gap - gap // 2) + right
    if w >= len(left) + len(right) + 1:
        return left + " " * (w - len(left) - len(right)) + right
    return f"0..{N - 1}"[:w]


def curve_rows(trace, k: int | None, width: int) -> list[Cells]:
    """The loss (with its range under it), the gradient norm and where clipping acted, over every
    iteration, each row at most *width* wide: the training pane's and the report's curves."""
    loss = np.asarray(trace[keys.TRAIN_LOSS], dtype=float)
    g = np.asarray(trace[keys.TRAIN_GRADNORM], dtype=float)
    w = max(width - LABEL, 8)
    rows = []
    c = curve(loss, k, w, positive_only=True)
    row = Cells().add("loss  ", DIM)
    row.rows[-1].extend(c.cells.rows[0])
    rows.append(row)
    rows.append(Cells().add(" " * LABEL).add(axis(loss, c, w), DIM))
    cg = curve(g, k, w)
    row = Cells().add("‖g‖   ", DIM)
    row.rows[-1].extend(cg.cells.rows[0])
    rows.append(row)
    # a run recorded from the user's own loop does not know whether the loop clipped: no row then
    clipped = np.asarray(trace[keys.TRAIN_CLIPPED], dtype=bool) if keys.TRAIN_CLIPPED in trace else np.zeros(0, bool)
    if clipped.any():
        starts = np.arange(0, clipped.size, c.per)
        marks = np.logical_or.reduceat(clipped, starts)
        rows.append(Cells().add("clip  ", DIM).add("".join("c" if m else " " for m in marks).rstrip(), CLIP))
    return rows


def paired_rows(a, b, k: int | None, width: int, labels: tuple[str, str] = ("A", "B")) -> list[Cells]:
    """Two training runs' loss and gradient-norm curves, each quantity's two rows on one scale and one
    iteration axis (a column holds the same iterations in both), with the scale and both runs' ends under
    the losses, and where clipping acted in either: the training pane's and the compare report's curves."""
    w = max(width - PAIR_LABEL, 8)
    N = max(int(a[keys.TRAIN_LOSS].shape[0]), int(b[keys.TRAIN_LOSS].shape[0]))
    per = max(1, -(-N // w))
    rows: list[Cells] = []
    for key, name, positive in ((keys.TRAIN_LOSS, "loss", True), (keys.TRAIN_GRADNORM, "‖g‖", False)):
        va, vb = (np.asarray(t[key], dtype=float) for t in (a, b))
        sc = scale_of(va, vb, positive_only=positive)
        for label, v in zip(labels, (va, vb)):
            c = curve(v, k if k is not None and k < v.size else None, w, scale=sc, per=per)
            row = Cells().add(f"{label} {name}"[:PAIR_LABEL - 1].ljust(PAIR_LABEL), DIM)
            row.rows[-1].extend(c.cells.rows[0])
            rows.append(row)
        if key == keys.TRAIN_LOSS:
            rows.append(Cells().add(" " * PAIR_LABEL).add(pair_axis(va, vb, sc, per, w, labels), DIM))
    for label, t in zip(labels, (a, b)):
        clipped = np.asarray(t[keys.TRAIN_CLIPPED], dtype=bool) if keys.TRAIN_CLIPPED in t else np.zeros(0, bool)
        if clipped.any():
            marks = np.logical_or.reduceat(clipped, np.arange(0, clipped.size, per))
            rows.append(Cells().add(f"{label} clip"[:PAIR_LABEL - 1].ljust(PAIR_LABEL), DIM)
                        .add("".join("c" if m else " " for m in marks).rstrip(), CLIP))
    return rows


def pair_axis(va, vb, sc: Scale, per: int, width: int, labels: tuple[str, str]) -> str:
    """The words under two losses: the scale they share, and each run's first and last value (the fullest
    words that fit in *width*)."""
    la, lb = labels
    if sc.log:
        rng = f"log scale {10 ** sc.lo:.2e} .. {10 ** sc.hi:.2e}" if sc.lo is not None else "log scale"
    else:
        rng = f"linear scale {fmt(sc.lo, 0)} .. {fmt(sc.hi, 0)}"
    ends = [f"{la} {fmt(float(va[0]), 0)} → {fmt(float(va[-1]), 0)}", f"{lb} {fmt(float(vb[0]), 0)} → {fmt(float(vb[-1]), 0)}"]
    cols = f"{per} iterations a column" if per > 1 else ""
    for parts in (("one " + rng + " for both", *ends, cols), ("one " + rng, *ends), (rng, *ends), (rng,)):
        text = " · ".join(p for p in parts if p)
        if len(text) <= width:
            return text
    return rng[:width]


def parting(a, b) -> tuple[int | None, dict[str, int | None]]:
    """Where two training runs part: the first iteration whose losses differ (by more than 1e-9 of their
    size, or one finite and the other not), and each run's first iteration whose loss or gradient norm is
    not finite (None: never), over the iterations both have."""
    la, lb = (np.asarray(t[keys.TRAIN_LOSS], dtype=float) for t in (a, b))
    n = min(la.size, lb.size)
    x, y = la[:n], lb[:n]
    with np.errstate(all="ignore"):
        same = (x == y) | (np.isfinite(x) & np.isfinite(y) & (np.abs(x - y) <= 1e-9 * np.maximum(np.abs(x), np.abs(y))))
        same |= np.isnan(x) & np.isnan(y)
    apart = np.flatnonzero(~same)
    firsts = {}
    for name, t in (("a", a), ("b", b)):
        bad = ~(np.isfinite(np.asarray(t[keys.TRAIN_LOSS], dtype=float)) & np.isfinite(np.asarray(t[keys.TRAIN_GRADNORM], dtype=float)))
        where = np.flatnonzero(bad)
        firsts[name] = int(where[0]) if where.size else None
    return (int(apart[0]) if apart.size else None), firsts


class CurveRows:
    """The curves drawn at the width they are printed at (a report on a narrow terminal does not wrap);
    with *other*, both runs' curves on one scale (`paired_rows`)."""

    def __init__(self, trace, k: int | None = None, other=None, labels: tuple[str, str] = ("A", "B")):
        self.trace, self.k, self.other, self.labels = trace, k, other, labels

    def __rich_console__(self, console, options):
        rows = (curve_rows(self.trace, self.k, options.max_width) if self.other is None else
                paired_rows(self.trace, self.other, self.k, options.max_width, self.labels))
        for row in rows:
            yield from row.__rich_console__(console, options)

    def __rich_measure__(self, console, options):
        return Measurement(LABEL + 8, options.max_width)


_curves = PerTrace(16)  # (trace, iteration, width) -> the curve rows: O(iterations) to bin
PANE_LINES = 11  # the training pane's lines (app.tcss: max-height 12, one of them its bottom border)


def _at_iteration(trace, k: int) -> str:
    """Iteration k's loss and gradient norm (and its clipping), as the pane's first line says them."""
    loss = np.asarray(trace[keys.TRAIN_LOSS], dtype=float)
    g = np.asarray(trace[keys.TRAIN_GRADNORM], dtype=float)
    if k >= loss.size:
        return f"(no iteration {k}: its last is {loss.size - 1})"
    clip = (keys.TRAIN_CLIPPED in trace and bool(trace[keys.TRAIN_CLIPPED][k]))
    return (f"loss {fmt(float(loss[k]), 0)}   ‖g‖ {fmt(float(g[k]), 0)}"
            + (f" → clipped to {fmt(float(trace[keys.TRAIN_GRADNORM_CLIPPED][k]), 0)}" if clip else ""))


def training_panel(trace, place, k: int, t: int, width: int, height: int = PANE_LINES, other=None,
                   labels: tuple[str, str] = ("A", "B")) -> Group:
    """Iteration k of N: the loss and gradient-norm curves over every iteration (clipping marked), the
    parameters' update ratios and the likely cause of a divergence, and the gradient each step of *place*
    received at the iterations around k, on a log scale, with (k, t) marked; *height* lines in all (the
    picture gets what the rest leaves, at least 2 rows). *other*: a second training run compared with this one
    (`--compare`): both runs' curves, on one scale, and each run's update ratios."""
    from rnntui.render.training_cause import parameter_line, short_cause

    N = int(trace[keys.TRAIN_LOSS].shape[0])
    # a run recorded from the user's loop: its iterations are the records, each at a step of that loop
    step = f" (step {int(trace[keys.TRAIN_STEP][k])} of your loop)" if keys.TRAIN_STEP in trace else ""
    if other is None:
        out = [Text(f"training: iteration {k} of 0..{N - 1}{step}   {_at_iteration(trace, k)}", BOLD)]
        # the curves change with the iteration and the width, not the step: a step key redraws them from here
        out += _curves.get(trace, (k, width), lambda: curve_rows(trace, k, width))
        out.append(parameter_line(trace, k, width))
        cause = short_cause(trace, width - 1)
        if cause is not None:
            out.append(Text(cause, Style(color="red")))
    else:
        la, lb = labels
        out = [Text(f"training: iteration {k} of 0..{N - 1}{step}   {la} {_at_iteration(trace, k)}   "
                    f"{lb} {_at_iteration(other, k)}", BOLD, no_wrap=True, overflow="ellipsis")]
        out += _curves.get(trace, (k, width, id(other)), lambda: paired_rows(trace, other, k, width, labels))
        for label, run in ((la, trace), (lb, other)):
            if k < int(run[keys.TRAIN_LOSS].shape[0]):
                out.append(Text(f"{label} ", DIM) + parameter_line(run, k, width - 2))
            cause = short_cause(run, width - 3)
            if cause is not None:
                out.append(Text(f"{label} {cause}", Style(color="red")))
        if height - len(out) < 4:  # no room left for the gradient picture's title, legend and two rows
            out.append(Text(f"(the gradient picture of each step: open {la} without --compare)", DIM))
            return Group(*out)
    key = keys.train_bptt(place.prefix) if steps_place(trace.info, place) else None
    if key is None or key not in trace:
        out.append(Text("(the gradient picture is drawn at a recurrent place)", DIM))
        return Group(*out)
    rows = max(height - len(out) - 2, 2)
    out.append(_bptt_picture(np.asarray(trace[key], dtype=float), k, t, width, rows, place,
                             state_symbol(trace.info, place)))
    return Group(*out)


def _bptt_picture(a: np.ndarray, k: int, t: int, width: int, height: int, place, h: str = "h") -> Cells:
    """Rows: iterations around k; columns: steps around t; shade: log10 ‖dL/dh_t‖ over the picture,
    with a legend: the smallest and largest values drawn, '·' for no gradient (zero), '!' not finite."""
    N, T = a.shape
    i0, i1 = window(N, k, max(height, 2))
    s0, s1 = window(T, t, max(width - 10, 4))
    block = a[i0:i1, s0:s1]
    drawn = np.isfinite(block) & (block > 0)
    pos = block[drawn]
    titles = (f"‖dL/d{h}_t‖ of {place.prefix}: iterations {i0}..{i1 - 1} down, steps {s0}..{s1 - 1} across",
              f"‖dL/d{h}_t‖ of {place.prefix}: iterations {i0}..{i1 - 1} ↓, steps {s0}..{s1 - 1} →",
              f"‖dL/d{h}_t‖: iterations {i0}..{i1 - 1} ↓, steps {s0}..{s1 - 1} →",
              f"‖dL/d{h}‖ iter. {i0}..{i1 - 1} ↓, t {s0}..{s1 - 1} →")
    # the longest wording that fits: a narrow pane would cut the end, which says what the axes are
    out = Cells().add(next((x for x in titles if len(x) <= width), titles[-1]), DIM)
    if pos.size == 0:
        return out.newline().add("  no gradient to draw (zero or not finite at every cell)", DIM)
    lo, hi = np.log10(pos.min()), np.log10(pos.max())
    legend = out.newline().add("  log scale: ", DIM)
    shades = sequential_index(0.3 + 0.7 * np.linspace(0.0, 1.0, len(PICTURE_SHADES)))
    for j, ch in enumerate(PICTURE_SHADES):
        legend.add(ch, SEQUENTIAL_STYLES[0][shades[j]])
        if j == 0:
            legend.add(f" {10 ** lo:.2e} ", DIM)
    legend.add(f" {10 ** hi:.2e}   {NO_GRADIENT} no gradient (zero)   ! not finite", DIM)
    with np.errstate(all="ignore"):
        level = np.where(drawn, (np.log10(block) - lo) / max(hi - lo, 1e-12), 0.0)
    # the whole picture's characters and styles at once (a redraw per key must stay cheap)
    chars = PICTURE_SHADES[np.rint(level * (len(PICTURE_SHADES) - 1)).astype(np.intp)].astype(object)
    chars[~drawn] = NO_GRADIENT
    chars[~np.isfinite(block)] = "!"
    index = sequential_index(np.where(np.isfinite(block), 0.3 + 0.7 * level, np.nan))
    marked = np.zeros(block.shape, dtype=bool)
    if i0 <= k < i1 and s0 <= t < s1:
        marked[k - i0, t - s0] = True
    styles = np.where(marked, SEQUENTIAL_STYLES[1][index], SEQUENTIAL_STYLES[0][index])
    styles[np.isfinite(block) & ~drawn] = np.where(marked, DIM_REVERSE, DIM)[np.isfinite(block) & ~drawn]
    for r, it in enumerate(range(i0, i1)):
        out.newline().add(f"{'▶' if it == k else ' '}{it:>6} ", BOLD if it == k else DIM)
        out.rows[-1].extend(zip(chars[r].tolist(), styles[r].tolist()))
    return out


def _ratio(r, size) -> str:
    """An update / parameter ratio; a parameter that was all zeros (a bias at its init) has no ratio to
    speak of: the update moved it from 0 (the recorded value is inf). *size*: ‖P_k‖, when recorded (an update
    that overflowed is inf too, from a parameter that was not 0)."""
    r = float(r)
    return "moved from 0" if math.isinf(r) and r > 0 and size is not None and float(size) == 0 else f"{r:.3e}"


def _optimizer_words(o) -> str:
    """An optimizer as torch.optim is called: its kind and the keys that differ from PyTorch's defaults."""
    from rnntui.engine.optim import KEYS, Optimizer

    default = Optimizer(kind=o.kind)
    keys = [f"{k}={getattr(o, k)!r}" if isinstance(getattr(o, k), (bool, tuple)) else f"{k}={getattr(o, k):g}"
            for k in KEYS[o.kind] if k != "lr" and getattr(o, k) != getattr(default, k) and getattr(o, k) is not None]
    name = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}.get(o.kind, o.kind)
    return name + (f" ({', '.join(keys)})" if keys else "")


def training_setup(trace) -> "Facts":
    """How the run trained: optimizer, learning rate, schedule, clipping, batch size and iterations, from
    the scenario's train: section where the trace has it (a replayed run), else from the recorded keys
    (a saved trace or your own loop's record: train.lr per iteration, train.clipped, train.batch)."""
    from rnntui.render.doc import Facts

    N = int(trace[keys.TRAIN_LOSS].shape[0])
    cfg = getattr(trace, "train_config", None)
    lr = np.asarray(trace[keys.TRAIN_LR], dtype=float) if keys.TRAIN_LR in trace else None
    rates = "not recorded" if lr is None or lr.size == 0 else (
        f"{lr[0]:g}" if np.all(lr == lr[0]) else f"{lr[0]:g} at iteration 0 → {lr[-1]:g} at iteration {lr.size - 1} "
        f"(min {lr.min():g}, max {lr.max():g})")
    pairs = []
    if cfg is not None:
        pairs.append(("optimizer", _optimizer_words(cfg.optimizer)))
        pairs.append(("learning rate", rates))
        pairs.append(("schedule", cfg.schedule.describe() if cfg.schedule is not None else "none (constant)"))
        pairs.append(("clipping", "none" if cfg.clip is None else
                      f"gradient norm at most {cfg.clip.limit:g} (clip_grad_norm_)" if cfg.clip.kind == "norm" else
                      f"each gradient value within ±{cfg.clip.limit:g} (clip_grad_value_)"))
        pairs.append(("batch size", f"the whole batch ({trace.info.B})" if cfg.batch_size is None else
                      f"{cfg.batch_size} samples an iteration" + (", shuffled every pass" if cfg.shuffle else "")))
    else:
        seen = "big updates" not in event_kinds_known(trace)[1]   # record() saw the optimizer's step
        pairs.append(("optimizer", ("your own loop's (recorded updates)" if seen else "your own loop's (its updates "
                                    "not recorded)") if keys.TRAIN_STEP in trace else "not recorded"))
        pairs.append(("learning rate", rates))
        if keys.TRAIN_CLIPPED in trace:
            acted = int(np.count_nonzero(trace[keys.TRAIN_CLIPPED]))
            pairs.append(("clipping", f"acted at {acted} of {N} iterations" if acted else
                          "did not act (whether a limit was set is not recorded)"))
        else:
            pairs.append(("clipping", "not recorded"))
        if keys.TRAIN_BATCH in trace:
            width = int(np.asarray(trace[keys.TRAIN_BATCH]).shape[1])
            pairs.append(("batch size", f"at most {width} samples an iteration"))
    pairs.append(("iterations", f"{N}" + (f" (recorded at steps {int(trace[keys.TRAIN_STEP][0])}.."
                                          f"{int(trace[keys.TRAIN_STEP][-1])} of your loop)" if keys.TRAIN_STEP in trace else "")))
    return Facts("Training setup", tuple(pairs))


def training_report(trace, k: int | None = None) -> list:
    """The report's training section: how it trained, the curves (iteration *k*, the one reported after
    them, marked), the per-parameter table at the first and last iteration, and where the events began."""
    from rnntui.render.report_table import Columns

    N = int(trace[keys.TRAIN_LOSS].shape[0])
    loss = np.asarray(trace[keys.TRAIN_LOSS], dtype=float)
    out: list = [Text(f"Training: {N} iterations; loss {fmt(float(loss[0]), 0)} at iteration 0, "
                      f"{fmt(float(loss[-1]), 0)} at iteration {N - 1}", BOLD), training_setup(trace)]
    out.append(CurveRows(trace, k))
    from rnntui.render.training_cause import likely_cause

    cause = likely_cause(trace)
    if cause is not None:
        out.append(Text(cause, Style(color="red")))
    # a loop recorded without seeing its optimizer's step (no `with`, no optimizer=): no update, so no ratio;
    # NaN there means not recorded, not a value that stopped being finite
    unseen = "big updates" in event_kinds_known(trace)[1]
    cols = Columns("Per parameter: gradient norm and update / parameter ratio, first and last iteration"
                   + ("; the updates were not recorded (-)" if unseen else ""),
                   [("parameter", "<"), ("‖grad‖ first", ">"), ("‖grad‖ last", ">"), ("ratio first", ">"),
                    ("ratio last", ">")])
    for key in sorted(k for k in trace if k.startswith(keys.TRAIN_GRADNORM_PARAM_PREFIX)):
        name = key[len(keys.TRAIN_GRADNORM_PARAM_PREFIX):]
        gn = trace[key]
        ratio = trace[keys.train_update_ratio(name)]
        size = trace[keys.train_param_norm(name)] if keys.train_param_norm(name) in trace else [None] * len(ratio)
        first, last = ("-", "-") if unseen else (_ratio(ratio[0], size[0]), _ratio(ratio[-1], size[-1]))
        cols.add(name, f"{gn[0]:.3e}", f"{gn[-1]:.3e}", first, last)
    out.append(cols.render())
    events = iteration_events(trace)
    first: dict[str, IterationEvent] = {}
    for e in events:
        first.setdefault(e.kind, e)
    if first:
        out.append(Text("Events over iterations (where each kind began):", BOLD))
        out += [Text(f"  {e.kind}: {e.text}{_later_runs(events, e)}") for e in first.values()]
    else:
        looked, unknown = event_kinds_known(trace)
        out.append(Text(f"No events over iterations ({', '.join(looked)})."
                        + (f" Not recorded, so not looked for: {', '.join(unknown)}." if unknown else ""), DIM))
    return out


def _later_runs(events: list[IterationEvent], first: IterationEvent) -> str:
    """What the line of a kind's first run leaves out: how many runs of it follow, and its iterations in all
    (a kind of one place only: a gradient's kinds are per recurrent place, each its own run)."""
    if first.kind in ("vanishing", "exploding"):
        return ""
    runs = [e for e in events if e.kind == first.kind]
    if len(runs) < 2:
        return ""
    n = len(runs) - 1
    return (f"; then {n} more run{'s' if n > 1 else ''}, {sum(e.iterations for e in runs)} iterations in all, "
            f"the last at iteration {runs[-1].end}")


def event_kinds_known(trace) -> tuple[list[str], list[str]]:
    """The kinds of iteration event the run's own arrays can show (looked for) and those they cannot
    (not recorded): a folder of `rnntui.record` knows no clipping, nor the updates when the loop did not let
    it see them, nor the gradient at step 0 of a model without a recurrent place."""
    from rnntui.render.training_cause import ratios

    _, r = ratios(trace)
    known = {"non-finite values": True, "clipping": keys.TRAIN_CLIPPED in trace,
             "big updates": bool(r.size) and bool((~np.isnan(r)).any()), "loss rises": True,
             "vanishing or exploding gradients at step 0": any(k.startswith(keys.TRAIN_BPTT_PREFIX) for k in trace)}
    return [k for k, v in known.items() if v], [k for k, v in known.items() if not v]
