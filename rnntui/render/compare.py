"""Two runs side by side (`rnntui run A --compare B`, `rnntui export A --compare B`).

The cursor moves through A; B is read at the same place (entry, sub-layer, direction), pass, step
and sample. What the place's view shows is compared name by name: a recurrent place's states and
gates (their gradients in BPTT), any other entry's output (its gradient). Where B lacks the place,
the step or the value, or its shape differs, the panel says so instead of a difference.

Only like for like is subtracted. The same shape is not the same meaning: unit k of an LSTM's h and
unit k of a GRU's h come from different equations, so where the place's entry types differ only the
sizes ‖A‖ and ‖B‖ are compared (a gradient's size means the same in both: how much of the loss reaches
the place) and the panel says why A-B is not taken. Where the types agree but the place's weights
differ, A-B is taken and the panel says that the weights differ: unit k then means the same in both only
where their weights share an origin (an edited weight, two trainings from one start), not where they were
trained apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.diagnostics import vector_norm
from rnntui.engine.families.base import STEMS
from rnntui.errors import printable
from rnntui.numfmt import fmt
from rnntui.render.cursor import Cursor
from rnntui.render.doc import Heading
from rnntui.render.report_table import Columns
from rnntui.render.segments import Cells
from rnntui.render.strips import unit_strip

BOLD = Style(bold=True)
DIM = Style(dim=True)
WARN = Style(color="yellow")


@dataclass(frozen=True)
class Compared:
    """One name at one step: A's and B's values (None where B has none) and why not; *alike*: whether
    they are the same quantity, so that A - B means something (else only their sizes are compared)."""

    name: str
    a: np.ndarray
    b: np.ndarray | None
    why: str = ""
    alike: bool = True

    @property
    def diff(self) -> np.ndarray | None:
        return None if self.b is None or not self.alike else self.a - self.b


def _place_params(info, place) -> list[str]:
    """The parameters that compute a place's values: its direction's of a recurrent entry, else the entry's."""
    e = info.entries[place.entry]
    if place.layer is None:
        return list(e.params)
    return [n for n in (place.param(stem) for stem in STEMS) if n in e.params]


def same_outputs(ia, ib, place) -> bool:
    """Whether *place* is both models' output, read by the same loss against the same classes: its unit k
    then means the same in both (class k's score or probability), whatever their weights."""
    last = len(ia.entries) - 1
    return (place.layer is None and place.entry == last == len(ib.entries) - 1 and ia.loss == ib.loss
            and ia.class_names == ib.class_names)


def weights_differ(a, b, place) -> float | None:
    """‖W_A - W_B‖ / ‖W_A‖ over the parameters of *place* (None when they are the same, bit for bit, or
    the place has none); inf when B lacks one of them or holds it in another shape."""
    names = _place_params(a.info, place)
    if not names or names != _place_params(b.info, place):
        return None if not names else float("inf")
    pa = [np.asarray(a[keys.param(n)], dtype=float) for n in names]
    pb = [np.asarray(b[keys.param(n)], dtype=float) for n in names]
    if any(x.shape != y.shape for x, y in zip(pa, pb)):
        return float("inf")
    if all(np.array_equal(x, y) for x, y in zip(pa, pb)):
        return None
    size = np.sqrt(sum(float(np.sum(x * x)) for x in pa))
    diff = np.sqrt(sum(float(np.sum((x - y) ** 2)) for x, y in zip(pa, pb)))
    return diff / size if size > 0 else float("inf")


def _names(info, place, phase: str) -> list[tuple[str, str]]:
    """(label, trace key) of what a view of *place* shows in *phase*."""
    e = info.entries[place.entry]
    grad = phase == "backward"
    if place.layer is not None:
        fam = e.family
        names = list(fam.states) if grad else list(fam.states) + [f"gates.{g}" for g in fam.gates]
        return [((f"dL/d{n}" if grad else n), place.grad_key(n) if grad else place.key(n)) for n in names]
    from rnntui.engine.graph_diag import carries, state_names, step_names

    if carries(e):   # a graph's recurrence: its states (and, forward, its step graph's values)
        if grad:
            return [(f"dL/d{n}", keys.grad(keys.node_value(e.index, n))) for n in state_names(e)]
        return [(n, k) for n, (k, gradient) in step_names(e).items() if not gradient]
    key = keys.out(e.index)
    return [("dL/dout" if grad else "out", keys.grad(key) if grad else key)]


def _at(trace, key: str, t: int, b: int, per_step: bool):
    arr = trace[key]
    if per_step:
        if t >= arr.shape[0]:
            return None
        arr = arr[t]
    return arr[b] if b < arr.shape[0] else None


def compared(a, b, c, words: bool = True) -> tuple[list[Compared], str]:
    """What can be compared at the cursor, and a sentence for what cannot or what to bear in mind (empty
    when there is nothing to say; not looked for without *words*)."""
    place = c.place(a.info)
    if place not in b.info.places:
        return [], f"B has no {place.label(a.info)}: nothing to compare here"
    ea, eb = a.info.entries[place.entry], b.info.entries[place.entry]
    per_step = a.info.seq and ea.seq_out or place.layer is not None
    alike = ea.type == eb.type  # the same equations: unit k of A and of B are the same quantity
    out, missing = [], []
    names_b = dict(_names(b.info, place, c.phase))
    for label, key in _names(a.info, place, c.phase):
        va = _at(a, key, c.t, c.sample, per_step)
        if va is None:
            continue
        if label not in names_b:
            missing.append(label)
            continue
        vb = _at(b, names_b[label], c.t, c.sample, per_step)
        if vb is None:
            out.append(Compared(label, va, None, f"B has no step {c.t} or sample {c.sample}"))
        elif vb.shape != va.shape:
            out.append(Compared(label, va, None, f"shapes differ: A {va.shape}, B {vb.shape}"))
        else:
            out.append(Compared(label, va, vb, alike=alike))
    note = ""
    if not alike:
        note = f"A's {keys.entry_prefix(ea.index)} is {ea.type}, B's is {eb.type}"
        shared = [r.name for r in out if r.b is not None]
        if shared:
            note += (f": their {', '.join(shared)} are not the same quantity (same shape, other equations), so only "
                     "their sizes are compared, not A-B")
        if missing:
            # the list last: a line that wraps breaks inside the list, never between "only in" and "A"
            note += f"; only in A: {', '.join(missing)}"
    elif words and any(r.b is not None for r in out) and not same_outputs(a.info, b.info, place):
        rel = weights_differ(a, b, place)
        if rel is not None:
            size = "" if not np.isfinite(rel) else f" (‖W_A-W_B‖/‖W_A‖ = {rel:.2g})"
            note = (f"the weights of {place.label(a.info)} differ{size}: A-B is unit by unit, and unit k means the "
                    "same in both only where their weights share an origin (one edited from the other, or both "
                    "trained from the same start), not where they were trained apart")
    return out, note


def _predictions(a, b, c, place, labels) -> list[Text]:
    """At the models' output (the same classes, the same loss): what each predicts at the cursor's step."""
    from rnntui.render.prediction import classifies, has_steps, predict

    if c.phase != "forward" or not same_outputs(a.info, b.info, place) or not classifies(a):
        return []
    if has_steps(a) != has_steps(b) or (has_steps(a) and (c.t >= b["output"].shape[0] or c.t >= a["output"].shape[0])):
        return []
    if c.sample >= b.info.B:
        return []
    return [Text.assemble((f"{lab} predicts ", BOLD), predict(run, c.t, c.sample).words())
            for lab, run in zip(labels, (a, b))]


def compare_header(a, b, labels: tuple[str, str] = ("A", "B")) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    la, lb = labels
    if labels != ("A", "B"):  # a what-if against its original: one name, two losses and their change
        text.append(f"{la} ", BOLD).append(f"loss {fmt(float(a['loss']), 0)}", DIM)
        text.append(f"   {lb} ", BOLD).append(f"loss {fmt(float(b['loss']), 0)}", DIM)
        text.append(f"   change {float(a['loss']) - float(b['loss']):+.4g}", BOLD)
        return text
    text.append("A ", BOLD).append(printable(a.info.name)).append(f"  loss {fmt(float(a['loss']), 0)}", DIM)
    text.append("   B ", BOLD).append(printable(b.info.name)).append(f"  loss {fmt(float(b['loss']), 0)}", DIM)
    return text


def compare_panel(a, b, c, width: int, labels: tuple[str, str] = ("A", "B")) -> Group:
    """A, B and A - B at the cursor: norms, the selected unit, and the difference unit by unit."""
    place = c.place(a.info)
    rows, note = compared(a, b, c)
    la, lb = labels
    out = [Text(f"{la} vs {lb} at {place.label(a.info)}, t={c.t}, sample {c.sample} "
                f"(loss {la} {fmt(float(a['loss']), 0)}, {lb} {fmt(float(b['loss']), 0)})", BOLD)]
    if note:
        out.append(Text(note, WARN))
    out += _predictions(a, b, c, place, labels)
    for r in rows:
        u = min(c.unit, r.a.size - 1)
        line = Text(f"{r.name:<10} ‖{la}‖ {fmt(vector_norm(r.a), 0)}  ", BOLD)
        if r.b is None:
            line.append(r.why, WARN)
            out.append(line)
            continue
        d = r.diff
        if d is None:  # not the same quantity: their sizes only
            line.append(f"‖{lb}‖ {fmt(vector_norm(r.b), 0)}", Style())
            out.append(line)
            continue
        line.append(f"‖{lb}‖ {fmt(vector_norm(r.b), 0)}  ‖{la}-{lb}‖ {fmt(vector_norm(d), 0)}",
                    Style())
        out.append(line)
        strip = Cells()
        strip.append(f"  unit {u}: {la} {fmt(float(r.a.reshape(-1)[u]), 0)} {lb} {fmt(float(r.b.reshape(-1)[u]), 0)}  "
                     f"{la}-{lb} ", DIM)
        scale = float(np.abs(d[np.isfinite(d)]).max()) if np.isfinite(d).any() else 1.0
        unit_strip(d.reshape(-1)[: max(width - 40, 4)], u, scale if scale > 0 else 1.0, into=strip)
        out.append(strip)
    if not rows and not note:
        out.append(Text("nothing to compare at this step", DIM))
    return Group(*out)


def compared_iteration(a, b, iteration: int | None) -> int | None:
    """The iteration a report of two runs compares: *iteration* when given, else the last at which every run
    that trains is finite (a diverged run's last iterations are all nan: nothing to compare), else the
    last; None when neither trains. ExportError for an iteration a training run does not have."""
    from rnntui.errors import ExportError
    from rnntui.render.training import is_training

    runs = [t for t in (a, b) if is_training(t)]
    if not runs:
        if iteration is not None:
            raise ExportError(f"--iteration: found {iteration}; neither run has a train: section")
        return None
    n = min(t.iterations for t in runs)
    if iteration is not None:
        if not 0 <= iteration < n:
            raise ExportError(f"--iteration: found {iteration}; expected 0..{n - 1}, the iterations "
                              + ("both runs have" if len(runs) == 2 else "of the run that trains"))
        return iteration
    ok = np.ones(n, dtype=bool)
    for t in runs:
        ok &= np.isfinite(np.asarray(t[keys.TRAIN_LOSS], dtype=float)[:n])
        ok &= np.isfinite(np.asarray(t[keys.TRAIN_GRADNORM], dtype=float)[:n])
    finite = np.flatnonzero(ok)
    return int(finite[-1]) if finite.size else n - 1


def _param_counts(a, b) -> Columns:
    """Each entry's type and parameter count in A and B, and the totals."""
    from rnntui.render.analysis import param_count

    cols = Columns("Parameters", [("entry", "<"), ("A", "<"), ("A parameters", ">"), ("B", "<"),
                                  ("B parameters", ">")])
    ea, eb = a.info.entries, b.info.entries
    for i in range(max(len(ea), len(eb))):
        x, y = (ea[i] if i < len(ea) else None), (eb[i] if i < len(eb) else None)
        cols.add(keys.entry_prefix(i), x.type if x else "-", f"{param_count(a, x):,}" if x else "-",
                 y.type if y else "-", f"{param_count(b, y):,}" if y else "-")
    cols.add("total", "", f"{sum(param_count(a, x) for x in ea):,}", "", f"{sum(param_count(b, y) for y in eb):,}")
    return cols


def _training_section(a, b, k: int) -> list:
    """Both runs' curves over the iterations (on one scale when both train), where their losses part, where
    each first goes non-finite, and a few iterations side by side."""
    from rnntui.render.training import CurveRows, is_training, parting

    if not (is_training(a) and is_training(b)):
        one, label = (a, "A") if is_training(a) else (b, "B")
        return [Text(f"Training: only {label} trains ({one.iterations} iterations); the other run is compared "
                     f"as it is with {label}'s iteration {k}", BOLD), CurveRows(one, k), Text("")]
    out: list = [Text(f"Training: A {a.iterations} iterations, B {b.iterations}; loss and gradient norm, each on one "
                      "scale for both runs", BOLD), CurveRows(a, k, other=b)]
    apart, firsts = parting(a, b)
    la, lb = (np.asarray(t[keys.TRAIN_LOSS], dtype=float) for t in (a, b))
    n = min(la.size, lb.size)
    if apart is None:
        out.append(Text(f"The losses agree at every one of the {n} iterations both have."))
    elif apart == 0:
        out.append(Text(f"The losses differ from iteration 0 (A {fmt(float(la[0]), 0)}, B {fmt(float(lb[0]), 0)})."))
    else:
        out.append(Text(f"The losses agree through iteration {apart - 1} and part at iteration {apart} "
                        f"(A {fmt(float(la[apart]), 0)}, B {fmt(float(lb[apart]), 0)})."))
    for label, t in (("A", a), ("B", b)):
        f = firsts[label.lower()]
        out.append(Text(f"{label}: " + (f"the loss or gradient norm is first not finite at iteration {f}" if f is not None
                                        else f"finite at every one of its {t.iterations} iterations")))
    ga, gb = (np.asarray(t[keys.TRAIN_GRADNORM], dtype=float) for t in (a, b))
    marks = sorted({0, k, n - 1} | ({apart} if apart is not None else set())
                   | {f for f in firsts.values() if f is not None and f < n})
    cols = Columns("Iterations side by side", [("iteration", ">"), ("A loss", ">"), ("B loss", ">"), ("A ‖g‖", ">"),
                                               ("B ‖g‖", ">"), ("", "<")])
    for i in marks:
        why = [w for w, hit in (("first", i == 0), ("they part", i == apart), ("A not finite", i == firsts["a"]),
                                ("B not finite", i == firsts["b"]), ("compared below", i == k),
                                ("last both have", i == n - 1)) if hit]
        cols.add(str(i), fmt(float(la[i]), 0), fmt(float(lb[i]), 0), fmt(float(ga[i]), 0), fmt(float(gb[i]), 0),
                 ", ".join(why))
    out += [cols.render(), Text("")]
    return out


def compare_report(a, b, steps: range | None = None, iteration: int | None = None) -> list:
    """Per place and step: ‖·‖ of A, B and A - B for each name both have (the forward pass, then BPTT);
    before them the parameter counts and, for training runs, the training section, and the iteration the
    steps are of (*iteration*, else `compared_iteration`'s choice)."""
    from rnntui.render.report import chosen_iteration
    from rnntui.render.training import is_training

    k = compared_iteration(a, b, iteration)
    whole = (a, b)
    if k is not None:  # the records compared below: each training run's iteration k
        a = chosen_iteration(a, k)[1] if is_training(a) else a
        b = chosen_iteration(b, k)[1] if is_training(b) else b
    # one line per run: the report's fixed width would wrap a single line of both names mid-name
    out: list = [Text.assemble((f"{label} ", BOLD), printable(t.info.name),
                               (f"  loss {fmt(float(t['loss']), 0)}" + (f" at iteration {k}" if is_training(w) else ""),
                                DIM))
                 for label, t, w in (("A", a, whole[0]), ("B", b, whole[1]))] + [Text("")]
    if k is not None:
        out += [Heading("Training")] + _training_section(*whole, k)
        picked = "chosen with --iteration" if iteration is not None else (
            "the last at which both runs are finite" if k < min(t.iterations for t in whole if is_training(t)) - 1
            else "the last") + "; --iteration picks another"
        out.append(Text(f"Compared below at iteration {k} ({picked})", BOLD))
    out += [Heading("Parameters"), _param_counts(a, b).render(), Text("")]
    for k, place in enumerate(a.info.places):
        out.append(Heading(place.label(a.info)))
        if place not in b.info.places:
            out.append(Text(f"{place.label(a.info)}: only in A", WARN))
            continue
        for phase in ("forward", "backward"):
            e = a.info.entries[place.entry]
            T = e.steps if (a.info.seq and (e.seq_out or place.layer is not None)) else 1
            rng = range(T) if steps is None else range(max(steps.start, 0), min(steps.stop, T))
            first, note = compared(a, b, Cursor(phase=phase, place_index=k, t=rng.start if len(rng) else 0))
            if note:
                out.append(Text(f"{place.label(a.info)}: {note}", WARN))
            names = [r.name for r in first if r.b is not None]
            if not names:
                continue
            alike = all(r.alike for r in first if r.b is not None)
            cols = Columns(f"{'Forward pass' if phase == 'forward' else 'Backward pass (BPTT)'}, "
                           f"{place.label(a.info)}: ‖A‖ / ‖B‖{' / ‖A-B‖' if alike else ''}, sample 0",
                           [("t", ">")] + [(n, ">") for n in names])
            for t in rng:
                rows, _ = compared(a, b, Cursor(phase=phase, place_index=k, t=t), words=False)
                got = {r.name: r for r in rows}
                cells = [str(t)]
                for n in names:
                    r = got.get(n)
                    if r is None or r.b is None:
                        cells.append("-")
                        continue
                    d = r.diff
                    cells.append(f"{vector_norm(r.a):.3g} / {vector_norm(r.b):.3g}"
                                 + ("" if d is None else f" / {vector_norm(d):.3g}"))
                cols.add(*cells)
            out += [_both_gradients(a, b, place, rng, cols.render()) if phase == "backward" else cols.render(), Text("")]
    return out


def _both_gradients(a, b, place, rng: range, table):
    """The BPTT table, and for a recurrent place both runs' ‖dL/dh_t‖ per step on one chart (the HTML
    report draws it; the text report prints the table)."""
    from rnntui.render.doc import Figure

    key = place.diag_key("gradnorm")
    if place.layer is None or key not in a or key not in b or not len(rng):
        return table
    steps = np.asarray(list(rng), dtype=np.intp)
    ga, gb = (np.asarray(t[key], dtype=float) for t in (a, b))
    if ga.shape != gb.shape:
        return table
    return Figure(table, "steps", {"series": [("A", ga[steps]), ("B", gb[steps])], "x": steps, "log": True,
                                   "xlabel": "step t", "ylabel": "‖dL/dh_t‖ (log)",
                                   "title": f"‖dL/dh_t‖ per step, {place.label(a.info)}, A and B"}, table=True)
