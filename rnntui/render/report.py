"""The report of a run: what `rnntui show` prints and `rnntui export -o report.{txt,html,svg}` writes.

Built from the same analysis and strips as the TUI, so a report says what the TUI shows.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.panel import Panel
from rich.style import Style
from rich.table import Table
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.checkpoint import stepwise
from rnntui.engine.handlers import handler
from rnntui.engine.trace import IterationNotKept
from rnntui.errors import ExportError, printable
from rnntui.render.analysis import param_count
from rnntui.render.maps.draw import halfblock
from rnntui.render.parts import decoder_part, for_output, for_place
from rnntui.render.summary import run_shape
from rnntui.render.tokens import fed_input, fed_note, sample_tokens, token_inputs, token_label
from rnntui.render.timeline import feed_note
from rnntui.render.views import view_for
from rnntui.render.diagnostics_text import nonfinite_summary
from rnntui.render.doc import Heading
from rnntui.engine.diagnostics import vector_norm



@dataclass(frozen=True)
class ReportOptions:
    steps: tuple[int, int] | None = None   # [start, stop)
    entry: int | None = None
    width: int | None = None   # None: 100 columns for text, the content's own width for HTML/SVG
    iteration: int | None = None   # a training run: the iteration whose step report follows (None: the last)

    @classmethod
    def parse(cls, steps: str | None = None, step: int | None = None, entry: int | None = None,
              width: int | None = None, iteration: int | None = None) -> "ReportOptions":
        rng = None
        if step is not None and steps is not None:
            raise ExportError("--step and --steps: give one of them")
        if step is not None:
            rng = (step, step + 1)
        elif steps is not None:
            m = re.fullmatch(r"\s*([0-9]*)\s*:\s*([0-9]*)\s*", steps)
            if not m:
                raise ExportError(f"--steps: found {steps[:40]!r}; expected START:STOP such as 3:10")
            start, stop = m.group(1).lstrip("0") or "0", m.group(2).lstrip("0") or ("0" if m.group(2) else "")
            if len(start) > 18:  # no run has that many steps
                raise ExportError(f"--steps: found START {start[:20]}… ({len(start)} digits); expected a step of the run")
            # a STOP beyond any run is its end, as an open STOP is
            rng = (int(start), int(stop) if stop and len(stop) <= 18 else 1 << 62)
            if rng[1] <= rng[0]:
                raise ExportError(f"--steps: found {steps.strip()!r}; expected START below STOP, such as 3:10")
        return cls(rng, entry, width, iteration)

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
        conf = handler(e.type).describe(e)
        out = trace[keys.out(e.index)].shape
        t.add_row(keys.entry_prefix(e.index) + (f" ({e.part})" if e.part else ""), e.type, conf, str(tuple(out)),
                  f"{param_count(trace, e):,}")
    return t


def _input_section(trace, part: str = "") -> Text:
    """The input's tokens or shape; *part*: "encoder " or "decoder " for an encoder-decoder's two inputs."""
    info = trace.info
    x = trace["input"]
    text = Text()
    if "tokens" in trace:
        batch = trace["tokens"].ndim == 2  # (T, B): one line per sample
        # a graph of several inputs: each token input's own lines, by its name
        for n, name in enumerate(token_inputs(trace) or [None]):
            for b in range(info.B if batch else 1):
                text.append(("\n" if b or n else "") + part + (f"{name} " if name else "") + "tokens"
                            + (f" of sample {b}" if batch else "") + ": ", Style(bold=True))
                text.append(" ".join(f"[{t}]{tok}" + ("" if i is None or tok == str(i) else f"#{i}")
                                     for t, (tok, i) in enumerate(sample_tokens(trace, b, name))))
        if "token_ids" in trace:
            named = token_inputs(trace)   # the recorded vocabulary is the first input's alone
            size = len(trace[keys.META_VOCAB]) if keys.META_VOCAB in trace else None
            text.append("\n[t] is the step, #n the token's id" + (
                "" if size is None else f" in its input's vocabulary ({named[0]}'s has {size:,})" if named
                else f" in a vocabulary of {size:,}"), Style(dim=True))
        if fed_note(trace):
            text.append("\n" + fed_note(trace), Style(dim=True))
    else:
        text.append(f"{part}input of shape {tuple(x.shape)} ({'T, B, D' if info.seq else 'B, C, ...'})")
        if info.seq and x.shape[2] == 1 and info.T <= 60:
            f = fed_input(trace)   # a graph's recurrence feeding its output back: the values it read there
            read = np.where(np.arange(x.shape[0]) >= f[1], f[2][:x.shape[0], 0, 0], x[:, 0, 0]) if f is not None \
                and f[2].shape[-1] == 1 else x[:, 0, 0]
            text.append(f"\nvalues{' of sample 0' if info.B > 1 else ''}: " + " ".join(f"{v:.3g}" for v in read))
        if fed_note(trace):
            text.append("\n" + fed_note(trace), Style(dim=True))
    if info.feed == "output":
        text.append("\n" + feed_note(info), Style(dim=True))
    return text


def whatif_words(trace) -> Text | None:
    """What a run with interventions (a what-if) overwrote, said before its numbers; None for a plain run."""
    from rnntui.engine.interventions import recorded

    items = recorded(trace)
    if not items:
        return None
    n = len(items)
    text = Text(f"What-if: {n} intervention{'s' if n > 1 else ''} overwrite{'' if n > 1 else 's'} values inside the "
                "recurrent loop; every number below, forward and backward, follows from the new values, not from "
                "the model alone", Style(bold=True, color="yellow"))
    for it in items:
        units = "every unit" if it.units is None else \
            f"unit{'s' if len(it.units) > 1 else ''} {', '.join(str(u) for u in it.units)}"
        steps = f"t={it.start}" if it.stop == it.start + 1 else f"t={it.start}..{it.stop - 1}"
        text.append(f"\n  {printable(it.at)} {printable(it.set)}, {units}, set to {it.value:g} at {steps}")
    return text


def param_table(trace, entry_filter: int | None) -> Table:
    t = Table(title="Parameter gradients", title_justify="left", header_style="bold")
    for col, just in (("parameter", "left"), ("shape", "left"), ("‖param‖", "right"), ("‖grad‖", "right")):
        t.add_column(col, justify=just)
    for e in trace.info.entries:
        if entry_filter is not None and e.index != entry_filter:
            continue
        for name in e.params:
            p, g = trace[keys.param(name)], trace[keys.grad_param(name)]
            t.add_row(name, str(tuple(p.shape)), f"{vector_norm(p):.4g}", f"{vector_norm(g):.4g}")
    return t


def prediction_section(trace, opts: ReportOptions):
    """What the model predicts beside the target: per step, or per sample without a step axis."""
    from rnntui.engine.graph import source_input
    from rnntui.render.prediction import has_steps, predictions, saliency
    from rnntui.render.report_table import Columns

    info = trace.info
    steps = list(opts.step_range(trace["output"].shape[0])) if has_steps(trace) else [None]
    # a padded step of a shorter sample has no prediction and no target: it is left out
    packed = info.packs(info.entries[-1])  # the output runs over the packed input (not a decoder's)
    rows = [(t, b) for t in steps for b in range(info.B) if t is None or not packed or t < info.length_of(b)]
    title = "Output and prediction" + (" (probabilities of the top classes)" if info.loss in ("cross_entropy", "nll") else "")
    headers = ([("t", ">")] if steps != [None] else []) + ([("sample", ">")] if info.B > 1 else [])
    # a graph's output may run over another input than the first (whose tokens and saliency the trace holds)
    src = source_input(info.entries, info.entries[-1].index)
    aligned = src is None or (src == info.inputs[0] and trace["input"].shape[0] == trace["output"].shape[0])
    headers += ([("token", "<")] if "tokens" in trace and steps != [None] and aligned else []) + [("prediction", "<")]
    sal = {b: saliency(trace, b) for b in range(info.B)} if steps != [None] and aligned else {}
    if any(v is None for v in sal.values()):   # no dL/dx to show (ids read as ids): no column
        sal = {}
    fed_from = fed_input(trace)[1] if fed_input(trace) is not None else None
    if sal:
        headers.append(("‖dL/dx_t‖", ">"))
    cols = Columns(title, headers, keys=len(headers) - 1 - bool(sal))
    predicted = predictions(trace, [(t or 0, b) for t, b in rows])
    for (t, b), p in zip(rows, predicted):
        row = ([str(t)] if t is not None else []) + ([str(b)] if info.B > 1 else [])
        if "tokens" in trace and t is not None and aligned:
            row.append(token_label(trace, t, b))
        row.append((p.words(), Style(color="red")) if p.correct is False else p.words())
        if sal:   # a step that read a fed-back value, not the input: no dL/dx of its own
            row.append("-" if fed_from is not None and t >= fed_from else f"{sal[b][t]:.3e}")
        cols.add(*row)
    return cols.render()


def chosen_iteration(trace, iteration: int | None):
    """(k, iteration k's record) for `--iteration k` (None: the record the trace holds; k None for a run
    without train:). ExportError for an iteration that is not there or that a saved trace does not keep."""
    from rnntui.render.training import is_training

    if not is_training(trace):
        if iteration is not None:
            raise ExportError(f"--iteration: found {iteration}; this run has no train: section (one iteration)")
        return None, trace
    kept = trace.record_iteration   # whose record the trace's own keys are (a saved trace may keep another)
    if iteration is None or iteration == kept:
        return kept, trace
    if not 0 <= iteration < trace.iterations:
        raise ExportError(f"--iteration: found {iteration}; expected 0..{trace.iterations - 1}")
    try:
        return iteration, trace.iteration(iteration)
    except IterationNotKept as exc:
        raise ExportError(f"--iteration: {exc}") from None


def build(trace, opts: ReportOptions) -> list:
    """Everything the report prints, in order (a training run: its training section, then the step
    report of the chosen iteration)."""
    from rnntui.render.training import is_training, training_report

    training = trace if is_training(trace) else None
    k, trace = chosen_iteration(trace, opts.iteration)
    trace = stepwise(trace)   # a checkpointed run: its arrays read a segment at a time, never whole
    info = trace.info
    if opts.entry is not None and not 0 <= opts.entry < len(info.entries):
        raise ExportError(f"--entry: found {opts.entry}; expected an entry index in 0..{len(info.entries) - 1}")
    # what the scenario says is shown with its control characters escaped, never sent to the terminal
    out: list = [Panel(Text(printable(" ".join(info.description.split())) or "(no description)"),
                       title=Text(printable(info.name), Style(bold=True)), title_align="left")]
    out += [Heading("Model"), model_table(trace)]
    whatif = whatif_words(trace)
    if whatif is not None:
        out.append(whatif)
    loss = Text("loss: ", Style(bold=True))
    loss.append(f"{info.loss} = {float(trace['loss']):.6g}   {run_shape(trace)}")
    if training is not None:
        out += [Heading("Training")] + training_report(training, k) + [
            Text(""), Heading(f"Iteration {k}"), Text(f"Iteration {k} (the step report below; --iteration "
                                                          "chooses another)", Style(bold=True))]
        loss = Text(f"iteration {k}: ", Style(bold=True)) + loss
    recording = getattr(trace, "recording", None)
    if recording is not None and recording.mode == "checkpointed":   # whole or checkpointed, and why
        loss.append(f"\nrecording: {recording.words()}")
    out.append(Heading("Loss and input"))
    if info.mode == "encoder-decoder":  # the decoder reads its own input
        out += [loss, _input_section(trace, "encoder "), _input_section(decoder_part(trace), "decoder ")]
    else:
        out += [loss, _input_section(trace)]
    out += [Text(""), Heading("Output and prediction"), prediction_section(for_output(trace), opts), Text("")]
    if not info.seq:
        x = trace["input"][0]
        out += [Text("Input image" + (" (channel 0)" if x.shape[0] > 1 else ""), Style(bold=True)),
                halfblock(x[0]), Text("")]
    for k, place in enumerate(info.places):
        if opts.entry is not None and place.entry != opts.entry:
            continue
        section = view_for(info, place).report(for_place(trace, place), place, k, opts)
        out += ([Heading(place.label(info))] if section else []) + section
    out += [Heading("Parameters"), param_table(trace, opts.entry)]
    out += [Heading("Finite values"), nonfinite_summary(trace)]
    return out


TEXT_WIDTH = 100       # a text report reads in an editor or a diff: a fixed width
FIT_WIDTH = (100, 240)  # HTML/SVG: as wide as the widest table needs, within these bounds


def render_to(console: Console, trace, opts: ReportOptions, items: list | None = None) -> None:
    import warnings

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an overflowed run is reported, not warned about
        for item in build(trace, opts) if items is None else items:
            console.print(item)


def print_report(trace, opts: ReportOptions, stdout=None, limit: int | None = None) -> None:
    """On a terminal, as wide as the terminal; piped or redirected (`show ... > f`), the text report's own
    fixed width, not the 80 columns rich assumes when it cannot ask a terminal. Refused before anything is
    printed when it would hold more than *limit* (`memory_limit`)."""
    import sys

    check_report_memory(trace, "show", opts, memory_limit(trace, limit))

    out = stdout or sys.stdout
    width = None if out.isatty() else TEXT_WIDTH
    render_to(Console(file=out, width=width), trace, opts)


def content_width(items: list) -> int:
    """The width at which no table or step row of *items* wraps (a gate table's row wrapped at 100 in
    HTML). Paragraphs wrap gracefully at any width and panels fill it, so neither decides it."""
    from rich.measure import Measurement
    from rich.text import Text

    lo, hi = FIT_WIDTH
    probe = Console(width=hi + 1, file=io.StringIO(), color_system=None, force_jupyter=False)
    widest = lo
    for item in items:
        if isinstance(item, Text):
            continue
        m = Measurement.get(probe, probe.options, item)
        if m.maximum <= hi:  # a renderable that takes all it is given (a panel) measures as the probe
            widest = max(widest, m.maximum)
    return widest


def write_report(trace, path, kind: str, opts: ReportOptions, other=None, limit: int | None = None) -> None:
    """Render to a recording console, then write the chosen format atomically. With *other*, the
    comparison of the two runs (render/compare.py) instead of one run's report. A report of one run that
    would hold more than *limit* (`memory_limit`) is refused before anything is made or written."""
    import warnings

    from rnntui.atomic import atomic_write

    check_report_memory(trace, kind, opts, memory_limit(trace, limit), other)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if other is None:
            items = build(trace, opts)
        else:
            from rnntui.render.compare import compare_report

            items = compare_report(trace, other, None if opts.steps is None else range(*opts.steps), opts.iteration)
        if kind == "html":  # a document of the same items (render/html_report.py): no console, no measuring pass
            from rnntui.render.html_report import document

            data = document(items, printable(f"rnntui: {trace.info.name}" if other is None else
                                             f"rnntui: {trace.info.name} vs {other.info.name}"))
            with atomic_write(path, "w") as f:
                f.write(data)
            return
        width = opts.width or (TEXT_WIDTH if kind == "txt" else content_width(items))
    # a text file has no colour: the console says so, and heatmaps draw themselves in shade characters
    console = Console(record=True, width=width, file=io.StringIO(), force_jupyter=False,  # a file, not the notebook
                      color_system=None if kind == "txt" else "truecolor", force_terminal=kind != "txt")
    render_to(console, trace, opts, items)
    if kind == "txt":
        data = console.export_text()
    else:
        data = console.export_svg(title=printable(f"rnntui: {trace.info.name}"))
    with atomic_write(path, "w") as f:
        f.write(data)


# What a report holds while it is made, per character of its text at 100 columns (the text report's own
# characters, which grow with the steps it prints: rows of the prediction table and of each place's section).
# Measured with tracemalloc (the peak of the report alone, after a warm-up, its estimate included) on LSTM runs
# of B=1 (300-3,000 steps, H 6-16, 1-2 layers), B=3 (H=32), B=40 (100 steps) and B=400 (4 steps): txt 19-26.5
# bytes a character (rich's segments of every line, then the whole text), HTML 16-32 (the document's fragments;
# the most for many samples), `show` 10-27.5 (printed item by item, each item whole), SVG 135-152 (a <text>
# element and its style per span). The figures below are the largest with a margin of a fifth: RSS is higher
# than what tracemalloc sees (the allocator keeps freed blocks).
REPORT_BYTES_PER_CHAR = {"txt": 32, "html": 38, "show": 33, "svg": 185}
PROBE_STEPS = 32    # the estimate renders the text of a window of this many steps, then of twice as many


def report_memory(trace, kind: str, opts: ReportOptions, other=None) -> tuple[int, int, int] | None:
    """(bytes the report of *opts*' steps would hold at its peak, bytes of its fixed part, bytes per step), or
    None for a report of at most 2 * PROBE_STEPS rows of steps and samples (steps x B: held by its fixed part,
    its tables and maps). The per-step cost is measured on this run: the text of its first PROBE_STEPS printed
    steps and of twice as many (fewer for a short report of a large batch), rendered as the report renders them
    (a checkpointed run reads their segments only); the difference is what a step adds. With *other*: the report
    comparing the two runs (render/compare.py), probed the same way."""
    import dataclasses

    _, chosen = chosen_iteration(trace, opts.iteration)
    steps = _printed_steps(chosen.info, opts)
    if steps is None:
        return None
    n = len(steps)
    if n * max(chosen.info.B, 1) <= 2 * PROBE_STEPS:
        return None
    a = steps.start

    def chars(k: int) -> int:
        probe = dataclasses.replace(opts, steps=(a, a + k), width=None)
        console = Console(record=True, width=opts.width or TEXT_WIDTH, file=io.StringIO(), force_jupyter=False,
                          color_system=None)
        if other is None:
            render_to(console, trace, probe)
        else:
            from rnntui.render.compare import compare_report

            render_to(console, trace, probe, compare_report(trace, other, range(*probe.steps), opts.iteration))
        return len(console.export_text())

    per_char = REPORT_BYTES_PER_CHAR[kind]
    p = min(PROBE_STEPS, n // 2)
    if p == 0:   # one step of a large batch: its whole report, measured (all of it counted as the step's)
        one = chars(1) * per_char
        return one, 0, one
    one, two = chars(p), chars(2 * p)
    step = max(two - one, 0) * per_char // p
    fixed = max(one * per_char - step * p, 0)
    return fixed + step * n, fixed, step


def _printed_steps(info, opts: ReportOptions) -> range | None:
    """The steps a report prints at most: *opts*' window of the longest of the run's step axes (an encoder-decoder's
    decoder may run longer than its encoder); None where the window is not a range of them (the report says why)."""
    T = max([info.T] + [e.steps for e in info.entries])
    try:
        return opts.step_range(T)
    except ExportError:
        return None


def memory_limit(trace, given: int | None) -> int:
    """The memory limit a report is held to: *given* (--max-memory), else the one the run was recorded under,
    else the default (half the memory the system can give, as for a run)."""
    if given is not None:
        return given
    recording = getattr(trace, "recording", None)
    if recording is not None and recording.limit and not recording.reopened:
        return recording.limit
    from rnntui.engine.memory import available_memory

    return available_memory() // 2


def check_report_memory(trace, kind: str, opts: ReportOptions, limit: int, other=None) -> None:
    """Refuse (MemoryLimitError, exit 2, before anything is made or written) a report that would hold more than
    *limit*, saying what it would take and what fits: a window of steps, or the trace as .npz."""
    from rnntui.errors import MemoryLimitError
    from rnntui.sizes import format_size

    need = report_memory(trace, kind, opts, other)
    if need is None or need[0] <= limit:
        return
    total, fixed, step = need
    _, chosen = chosen_iteration(trace, opts.iteration)
    steps = _printed_steps(chosen.info, opts)
    fit = (limit - fixed) // step if step else 0
    import shlex

    what = "rnntui show" if kind == "show" else f"a .{kind} report" + ("" if other is None else " comparing the two runs")
    source = str(trace.path) if getattr(trace, "path", None) is not None else chosen.info.file or "RUN"
    window = (f"--steps {steps.start}:{steps.start + fit} (at most {fit:,} steps fit), or " if fit >= 1 else "")
    raise MemoryLimitError(
        f"{what} of {len(steps):,} steps would hold about {format_size(total)} while it is made (about "
        f"{format_size(step)} a step), more than the memory limit of {format_size(limit)} (--max-memory); "
        f"report fewer steps with {window}write the run with `rnntui export {printable(shlex.quote(source))} -o run.npz` "
        "and read it in Python (trace.steps(key, a, b))")
