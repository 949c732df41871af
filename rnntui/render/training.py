"""Training as a second axis (docs/scenario-format.md `train:`): the curves over iterations, the
(iterations x steps) picture of the gradient BPTT carries back, and the events found across
iterations. Reads only the `train.*` keys of a training trace (engine/train.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.numfmt import fmt
from rnntui.render.analysis import thresholds
from rnntui.render.colors import SEQUENTIAL_STYLES, sequential_index
from rnntui.render.segments import Cells
from rnntui.render.strips import log_sparkline, window

BOLD = Style(bold=True)
DIM = Style(dim=True)
CLIP = Style(color="yellow", bold=True)
SHADES = np.array(list(" ░▒▓█"))


def is_training(trace) -> bool:
    return "train.loss" in trace


@dataclass(frozen=True)
class IterationEvent:
    iteration: int
    kind: str      # non-finite | clipped | vanishing | exploding
    text: str


def iteration_events(trace) -> list[IterationEvent]:
    """Where, over iterations, the loss stopped being finite, clipping acted, and the gradient reaching
    step 0 of a recurrent place fell below or rose above the event thresholds."""
    out: list[IterationEvent] = []
    bad = int(trace["train.nonfinite.iteration"]) if "train.nonfinite.iteration" in trace else -1
    if bad >= 0:
        out.append(IterationEvent(bad, "non-finite", f"values stop being finite at iteration {bad}"
                                  f" (step {int(trace['train.nonfinite.step'])})"))
    clipped = np.asarray(trace["train.clipped"], dtype=bool) if "train.clipped" in trace else np.zeros(0, bool)
    for k in np.flatnonzero(clipped):
        out.append(IterationEvent(int(k), "clipped", f"clipping acted at iteration {k}: ‖g‖ "
                                  f"{fmt(float(trace['train.gradnorm'][k]), 0)} → "
                                  f"{fmt(float(trace['train.gradnorm.clipped'][k]), 0)}"))
    limit = thresholds(trace.info)
    for p in trace.info.places:
        key = f"train.bptt.{p.prefix}" if p.layer is not None else None
        if key is None or key not in trace:
            continue
        at0 = np.asarray(trace[key], dtype=float)[:, 0]
        for k in np.flatnonzero(np.isfinite(at0) & (at0 > 0) & (at0 < limit["vanishing"])):
            out.append(IterationEvent(int(k), "vanishing", f"‖dL/dh_0‖ of {p.prefix} = {at0[k]:.2e} at iteration {k}"))
        for k in np.flatnonzero(np.isfinite(at0) & (at0 > limit["exploding"])):
            out.append(IterationEvent(int(k), "exploding", f"‖dL/dh_0‖ of {p.prefix} = {at0[k]:.2e} at iteration {k}"))
    return sorted(out, key=lambda e: (e.iteration, e.kind))


def _curve(values: np.ndarray, k: int, width: int, log: bool) -> Cells:
    lo, hi = window(values.size, k, max(width, 8))
    cells = Cells()
    v = np.asarray(values[lo:hi], dtype=float)
    if log:
        log_sparkline(v, k - lo, into=cells)
    else:  # a loss may be any sign: shift it to start at its smallest
        finite = v[np.isfinite(v)]
        base = float(finite.min()) if finite.size else 0.0
        log_sparkline(np.where(np.isfinite(v), v - base + (abs(base) + 1e-12) * 1e-3, v), k - lo, into=cells)
    return cells


def training_panel(trace, place, k: int, t: int, width: int, height: int = 6) -> Group:
    """Iteration k of N: the loss and gradient-norm curves (clipping marked), and the gradient each
    step of *place* received at every iteration, on a log scale, with (k, t) marked."""
    N = int(trace["train.loss"].shape[0])
    loss = np.asarray(trace["train.loss"], dtype=float)
    g = np.asarray(trace["train.gradnorm"], dtype=float)
    out = [Text(f"training: iteration {k} of 0..{N - 1}   loss {fmt(float(loss[k]), 0)}   ‖g‖ {fmt(float(g[k]), 0)}"
                + (f" → clipped to {fmt(float(trace['train.gradnorm.clipped'][k]), 0)}"
                   if bool(trace["train.clipped"][k]) else ""), BOLD)]
    w = max(width - 8, 8)
    lo, hi = window(N, k, w)
    row = Cells().add("loss  ", DIM)
    row.rows[-1].extend(_curve(loss, k, w, log=False).rows[0])
    out.append(row)
    row = Cells().add("‖g‖   ", DIM)
    row.rows[-1].extend(_curve(g, k, w, log=True).rows[0])
    out.append(row)
    clipped = np.asarray(trace["train.clipped"], dtype=bool)[lo:hi]
    if clipped.any():
        marks = Cells().add("clip  ", DIM)
        marks.add("".join("c" if c else " " for c in clipped), CLIP)
        out.append(marks)
    key = f"train.bptt.{place.prefix}" if place.layer is not None else None
    if key is None or key not in trace:
        out.append(Text("(the gradient picture is drawn at a recurrent place)", DIM))
        return Group(*out)
    out.append(_bptt_picture(np.asarray(trace[key], dtype=float), k, t, width, height, place))
    return Group(*out)


def _bptt_picture(a: np.ndarray, k: int, t: int, width: int, height: int, place) -> Cells:
    """Rows: iterations around k; columns: steps around t; shade: log10 ‖dL/dh_t‖ over the picture."""
    N, T = a.shape
    i0, i1 = window(N, k, max(height, 2))
    s0, s1 = window(T, t, max(width - 10, 4))
    block = a[i0:i1, s0:s1]
    pos = block[np.isfinite(block) & (block > 0)]
    out = Cells().add(f"‖dL/dh_t‖ of {place.prefix} (log): iterations {i0}..{i1 - 1} down, steps {s0}..{s1 - 1} "
                      "across", DIM)
    if pos.size == 0:
        return out.newline().add("  no gradient to draw", DIM)
    lo, hi = np.log10(pos.min()), np.log10(pos.max())
    with np.errstate(all="ignore"):
        level = np.where(np.isfinite(block) & (block > 0), (np.log10(block) - lo) / max(hi - lo, 1e-12), 0.0)
    # the whole picture's characters and styles at once (a redraw per key must stay cheap)
    chars = np.where(np.isfinite(block), SHADES[np.rint(level * (len(SHADES) - 1)).astype(np.intp)], "!")
    index = sequential_index(0.3 + 0.7 * level)
    styles = SEQUENTIAL_STYLES[0][index]
    if i0 <= k < i1 and s0 <= t < s1:
        styles[k - i0, t - s0] = SEQUENTIAL_STYLES[1][index[k - i0, t - s0]]
    for r, it in enumerate(range(i0, i1)):
        out.newline().add(f"{'▶' if it == k else ' '}{it:>6} ", BOLD if it == k else DIM)
        out.rows[-1].extend(zip(chars[r].tolist(), styles[r].tolist()))
    return out


def training_report(trace) -> list:
    """The report's training section: the curves as text, the per-parameter table at the first and last
    iteration, and where the events began."""
    from rnntui.render.report_table import Columns

    N = int(trace["train.loss"].shape[0])
    loss = np.asarray(trace["train.loss"], dtype=float)
    out: list = [Text(f"Training: {N} iterations; loss {fmt(float(loss[0]), 0)} at iteration 0, "
                      f"{fmt(float(loss[-1]), 0)} at iteration {N - 1}", BOLD)]
    out.append(Text("loss  ") + Text(_curve(loss, N - 1, min(N, 100), log=False).plain))
    out.append(Text("‖g‖   ") + Text(_curve(np.asarray(trace["train.gradnorm"], float), N - 1, min(N, 100), True).plain))
    cols = Columns("Per parameter: gradient norm and update / parameter ratio, first and last iteration",
                   [("parameter", "<"), ("‖grad‖ first", ">"), ("‖grad‖ last", ">"), ("ratio first", ">"),
                    ("ratio last", ">")])
    for key in sorted(k for k in trace if k.startswith("train.gradnorm.param.")):
        name = key[len("train.gradnorm.param."):]
        gn = trace[key]
        ratio = trace[f"train.update_ratio.{name}"]
        cols.add(name, f"{gn[0]:.3e}", f"{gn[-1]:.3e}", f"{ratio[0]:.3e}", f"{ratio[-1]:.3e}")
    out.append(cols.render())
    events = iteration_events(trace)
    first: dict[str, IterationEvent] = {}
    for e in events:
        first.setdefault(e.kind, e)
    if first:
        out.append(Text("Events over iterations (where each kind began):", BOLD))
        out += [Text(f"  {e.kind}: {e.text}") for e in first.values()]
    else:
        out.append(Text("No events over iterations (non-finite, clipping, vanishing or exploding at step 0).", DIM))
    return out
