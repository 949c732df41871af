"""The report of a run: what `rnntui show` prints and `rnntui export -o report.{txt,html,svg}` writes.

Built from the same analysis and strips as the TUI, so a report says what the TUI shows.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import numpy as np
from rich.console import Console, Group
from rich.panel import Panel
from rich.style import Style
from rich.table import Table
from rich.text import Text

from rnntui.errors import ExportError
from rnntui.render.analysis import EQUATIONS, param_count, places, verdict
from rnntui.render.colors import color_style, fmt, sequential
from rnntui.render.cursor import Cursor, is_map
from rnntui.render.featuremap import halfblock, overview
from rnntui.render.diagnostics_text import nonfinite_summary

GATE_LABEL = {"i": "input i", "f": "forget f", "g": "candidate g", "o": "output o",
              "r": "reset r", "z": "update z", "n": "candidate n", "h": "h"}


MAX_WIDTH = 10_000  # a report line wider than this is no longer read, and rich allocates per column


@dataclass(frozen=True)
class ReportOptions:
    steps: tuple[int, int] | None = None   # [start, stop)
    entry: int | None = None
    width: int | None = 100

    @classmethod
    def parse(cls, steps: str | None = None, step: int | None = None, entry: int | None = None,
              width: int | None = 100) -> "ReportOptions":
        rng = None
        if step is not None and steps is not None:
            raise ExportError("--step and --steps: give one of them")
        if step is not None:
            rng = (step, step + 1)
        elif steps is not None:
            m = re.fullmatch(r"\s*([0-9]{0,18})\s*:\s*([0-9]{0,18})\s*", steps)
            if not m:
                raise ExportError(f"--steps: found {steps[:40]!r}; expected START:STOP such as 3:10")
            rng = (int(m.group(1) or 0), int(m.group(2)) if m.group(2) else 1 << 62)
            if rng[1] <= rng[0]:
                raise ExportError(f"--steps: found {steps.strip()!r}; expected START below STOP, such as 3:10")
        if step is not None and not 0 <= step < 1 << 62:
            raise ExportError(f"--step: found {step}; expected a step from 0")
        if width is not None and not 40 <= width <= MAX_WIDTH:
            raise ExportError(f"--width: found {width}; expected {40} to {MAX_WIDTH} columns")
        return cls(rng, entry, width)

    def step_range(self, T: int) -> range:
        if self.steps is None:
            return range(T)
        a, b = self.steps
        if not (0 <= a < T) or b <= a:
            raise ExportError(f"--steps/--step: found {a}:{b if b < 1 << 62 else ''}; expected steps within 0..{T - 1}")
        return range(a, min(b, T))


def model_table(trace) -> Table:
    info = trace.info
    t = Table(title="Model", title_justify="left", header_style="bold")
    for col in ("entry", "type", "configuration", "output", "parameters"):
        t.add_column(col, justify="right" if col == "parameters" else "left")
    for e in info.entries:
        if e.recurrent:
            conf = f"hidden {e.hidden_size}, layers {e.num_layers}"
            if len(e.directions) == 2:
                conf += f", bidirectional ({e.merge})"
            if e.type == "rnn":
                conf += f", {e.nonlinearity}"
            if e.reduce_final:
                conf += ", final state only"
        else:
            conf = f"activation {e.activation}" if e.type in ("dense", "activation") else ""
        out = trace[f"model.{e.index}.out"].shape
        t.add_row(f"model.{e.index}", e.type, conf, str(tuple(out)), f"{param_count(trace, e):,}")
    return t


def _input_section(trace) -> Text:
    info = trace.info
    x = trace["input"]
    text = Text()
    if "tokens" in trace:
        text.append("tokens: ", Style(bold=True))
        text.append(" ".join(f"[{t}]{tok}" for t, tok in enumerate(trace["tokens"])))
    else:
        text.append(f"input of shape {tuple(x.shape)} ({'T, B, D' if info.seq else 'B, C, ...'})")
        if info.seq and x.shape[2] == 1 and info.T <= 60:
            text.append("\nvalues: " + " ".join(f"{v:.3g}" for v in x[:, 0, 0]))
    return text


class Columns:
    """A plain fixed-width table: thousands of rows render in a blink, unlike a measured rich Table."""

    def __init__(self, title: str, headers: list[tuple[str, str]]):
        self.title = title
        self.headers = headers            # (name, "<" or ">")
        self.rows: list[list] = []         # str, or (str, Style) for a styled cell

    def add(self, *cells) -> None:
        self.rows.append(list(cells))

    def render(self) -> Group:
        def plain(c):
            return c[0] if isinstance(c, tuple) else c

        widths = [max([len(h)] + [len(plain(r[k])) for r in self.rows]) for k, (h, _) in enumerate(self.headers)]
        head = Text(self.title + "\n", Style(bold=True))
        head.append(" │ ".join(h.rjust(w) if a == ">" else h.ljust(w)
                               for (h, a), w in zip(self.headers, widths)), Style(bold=True, underline=True))
        lines = [head]
        for r in self.rows:
            line = Text()
            for k, (c, (_, a), w) in enumerate(zip(r, self.headers, widths)):
                if k:
                    line.append(" │ ", Style(dim=True))
                text, style = (c if isinstance(c, tuple) else (c, None))
                line.append(text.rjust(w) if a == ">" else text.ljust(w), style)
            lines.append(line)
        return Group(*lines)


def _step_table(trace, place, rng: range) -> Group:
    info = trace.info
    e = info.entries[place.entry]
    p = place.prefix
    gates = list(e.gates) if e.gates else ["pre-activation a"]
    headers = [("t", ">")] + ([("token", "<")] if "tokens" in trace else [])
    headers += [(GATE_LABEL.get(g, g), "<") for g in gates]
    sat_h = f"diag.{p}.sat.h" in trace
    if sat_h:
        headers.append(("h saturated", ">"))
    headers.append(("|h|", ">"))
    if e.type == "lstm":
        headers.append(("|c|", ">"))
    cols = Columns(f"Forward pass, {place.label(info)}: per step, mean [min, max] and share saturated", headers)
    arrays = {g: trace[f"{p}.gates.{g}" if e.gates else f"{p}.pre"] for g in gates}
    sats = {g: trace[f"diag.{p}.sat.{g}"] for g in e.gates}
    h = trace[f"{p}.h"]
    c = trace[f"{p}.c"] if e.type == "lstm" else None
    for s in rng:
        row = [str(s)]
        if "tokens" in trace:
            row.append(str(trace["tokens"][s]))
        for g in gates:
            v = arrays[g][s]
            cell = f"{v.mean():.3g} [{v.min():.2g}, {v.max():.2g}]"
            if g in sats:
                cell += f" {sats[g][s]:.0%}"
            row.append(cell)
        if sat_h:
            row.append(f"{trace[f'diag.{p}.sat.h'][s]:.0%}")
        row.append(fmt(float(np.linalg.norm(h[s])), 0))
        if c is not None:
            row.append(fmt(float(np.linalg.norm(c[s])), 0))
        cols.add(*row)
    return cols.render()


def _gradient_table(trace, place, rng: range) -> Group:
    info = trace.info
    p = place.prefix
    g = np.asarray(trace[f"diag.{p}.gradnorm"], dtype=float)
    pos = g[np.isfinite(g) & (g > 0)]
    lo, hi = (math.log10(pos.min()), math.log10(pos.max())) if pos.size else (0.0, 0.0)
    e = info.entries[place.entry]
    sfx = f"_l{place.layer}{'_reverse' if place.direction == 'bwd' else ''}"
    whh = trace[f"gradnorm.step.{e.index}.weight_hh{sfx}"]
    wih = trace[f"gradnorm.step.{e.index}.weight_ih{sfx}"]
    cols = Columns(f"Backward pass (BPTT), {place.label(info)}: ‖dL/dh_t‖ per step, log scale",
                   [("t", ">"), ("‖dL/dh_t‖", ">"), ("log scale", "<"), ("step's ‖dW_hh‖", ">"),
                    ("step's ‖dW_ih‖", ">")])
    order = list(rng)[::-1] if place.direction != "bwd" else list(rng)  # in the order BPTT visits them
    for s in order:
        if not np.isfinite(g[s]):
            bar = ("!" * 21, Style(color="magenta", bold=True))
        elif g[s] > 0:
            a = (math.log10(g[s]) - lo) / max(hi - lo, 1e-12) if hi > lo else 1.0
            bar = ("█" * (int(round(a * 20)) + 1), color_style(sequential(0.3 + 0.7 * a)))
        else:
            bar = ("·", None)
        cols.add(str(s), f"{g[s]:.3e}", bar, f"{whh[s]:.3e}", f"{wih[s]:.3e}")
    v = verdict(trace, place)
    colour = {"vanishing": "cyan", "exploding": "red", "healthy": "green"}.get(v.kind, "magenta")
    return Group(cols.render(), Text(v.sentence, Style(color=colour, bold=True)))


def param_table(trace, entry_filter: int | None) -> Table:
    t = Table(title="Parameter gradients", title_justify="left", header_style="bold")
    for col, just in (("parameter", "left"), ("shape", "left"), ("‖param‖", "right"), ("‖grad‖", "right")):
        t.add_column(col, justify=just)
    for e in trace.info.entries:
        if entry_filter is not None and e.index != entry_filter:
            continue
        for name in e.params:
            p, g = trace[f"param.{name}"], trace[f"grad.param.{name}"]
            t.add_row(name, str(tuple(p.shape)), f"{np.linalg.norm(p):.4g}", f"{np.linalg.norm(g):.4g}")
    return t


def build(trace, opts: ReportOptions) -> list:
    """Everything the report prints, in order."""
    info = trace.info
    if opts.entry is not None and not 0 <= opts.entry < len(info.entries):
        raise ExportError(f"--entry: found {opts.entry}; expected an entry index in 0..{len(info.entries) - 1}")
    out: list = [Panel(Text(" ".join(info.description.split()) or "(no description)"),
                       title=Text(info.name, Style(bold=True)), title_align="left")]
    out.append(model_table(trace))
    loss = Text("loss: ", Style(bold=True))
    loss.append(f"{info.loss} = {float(trace['loss']):.6g}   mode: {info.mode}   dtype: {info.dtype}   "
                f"T={info.T}, B={info.B}")
    out += [loss, _input_section(trace), Text("")]
    if not info.seq:
        x = trace["input"][0]
        out += [Text("Input image" + (" (channel 0)" if x.shape[0] > 1 else ""), Style(bold=True)),
                halfblock(x[0]), Text("")]
    for k, place in enumerate(places(info)):
        if opts.entry is not None and place.entry != opts.entry:
            continue
        if is_map(info, place):
            e = info.entries[place.entry]
            for phase in ("forward", "backward"):
                what = "Feature maps" if phase == "forward" else "Gradients dL/d(feature map)"
                out.append(Text(f"{what}, model.{e.index} {e.type} {tuple(e.out_shape)}", Style(bold=True)))
                out.append(overview(trace, Cursor(phase=phase, place_index=k), opts.width or 100, 40))
            out.append(Text(""))
            continue
        if place.layer is None:
            continue
        e = info.entries[place.entry]
        rng = opts.step_range(e.steps)
        eq = Text("\n".join(EQUATIONS[e.type]).replace("{act}", e.nonlinearity), Style(dim=True))
        out += [eq, _step_table(trace, place, rng), Text(""), _gradient_table(trace, place, rng), Text("")]
    out.append(param_table(trace, opts.entry))
    out.append(nonfinite_summary(trace))
    return out


def render_to(console: Console, trace, opts: ReportOptions) -> None:
    import warnings

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an overflowed run is reported, not warned about
        for item in build(trace, opts):
            console.print(item)


def print_report(trace, opts: ReportOptions) -> None:
    render_to(Console(), trace, opts)


def write_report(trace, path, kind: str, opts: ReportOptions) -> None:
    """Render to a recording console, then write the chosen format atomically."""
    from rnntui.atomic import atomic_write

    # a text file has no colour: the console says so, and heatmaps draw themselves in shade characters
    console = Console(record=True, width=opts.width or 100, file=io.StringIO(),
                      color_system=None if kind == "txt" else "truecolor", force_terminal=kind != "txt")
    render_to(console, trace, opts)
    if kind == "txt":
        data = console.export_text()
    elif kind == "html":
        data = console.export_html(inline_styles=True)
    else:
        data = console.export_svg(title=f"rnntui: {trace.info.name}")
    with atomic_write(path, "w") as f:
        f.write(data)
