"""The `rnntui` command: thin Typer commands over the scenario, engine, render and tui layers.

numpy, the engine and textual are imported inside the commands that need them, so
`rnntui --help` stays fast.
"""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnntui import __version__
from rnntui.errors import RnntuiError, printable

app = typer.Typer(
    name="rnntui",
    help="Step through recurrent and convolutional networks: forward pass, BPTT, gates, states, gradients.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

ScenarioArg = Annotated[str, typer.Argument(help="A scenario file, or a bundled scenario's name (see `rnntui scenarios`).")]
REPORT_WIDTHS = (40, 10_000)  # a report line wider than this is no longer read, and rich allocates per column


class Format(str, Enum):
    """What `export` writes: the trace (npz) or a report; --format, else the output's suffix."""

    npz = "npz"
    txt = "txt"
    html = "html"
    svg = "svg"


MaxMemory = Annotated[Optional[str], typer.Option(
    "--max-memory", help="The memory limit: a run whose whole recording would hold more at its peak is checkpointed "
    "(kept in segments, each recomputed when read), or refused where it cannot be: 2GB (10^9 bytes), 2GiB (2^30 "
    "bytes), 512MiB, 1000000 (bytes). Default: half the available memory.")]
Sample = Annotated[Optional[int], typer.Option("--sample", min=0, help="A data set input (input: {dataset: ...}): "
                                               "the first sample the run reads (default the input's sample, 0).")]


def fail(exc: RnntuiError, command: str | None = None, unchecked: bool = False, after: str = "") -> None:
    """One clear message on stderr, exit status 2, never a traceback; control characters escaped.

    *command*: the command that refused an option of its own (`show --iteration 3`): its name labels the
    message, rather than the name of another command that shares the check (export's). *unchecked*: say
    after a scenario's problems what they kept from being checked (`validate`, which promises every problem).
    *after*: lines shown below the message, indented (an expression with a caret under the column)."""
    from rnntui.errors import ExportError

    problems = getattr(exc, "problems", None)
    lines = exc.lines(unchecked) if problems else [printable(exc)]
    title = f"{command} error" if command is not None and isinstance(exc, ExportError) else exc.title
    prefix = f"rnntui: {title}"
    if len(lines) > 1:
        plural = len(problems or ()) > 1 and title.endswith("error")
        typer.echo(f"{prefix}s:" if plural else f"{prefix}:", err=True)
        for line in lines:
            typer.echo(f"  {printable(line)}", err=True)
    else:
        typer.echo(f"{prefix}: {printable(lines[0]) if lines else ''}", err=True)
    for line in after.splitlines():
        typer.echo(f"  {line}", err=True)
    raise typer.Exit(exc.exit_code)


def max_memory_bytes(text: str | None) -> int | None:
    """--max-memory in bytes (rnntui/sizes.py: 2GB is 10^9 bytes, 2GiB 2^30), None when not given."""
    from rnntui.errors import OptionError
    from rnntui.sizes import parse_size

    try:
        return None if text is None else parse_size(text)
    except ValueError as exc:
        raise OptionError(f"--max-memory: {exc}") from None


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"rnntui {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """rnntui: a terminal step-through debugger for RNNs, LSTMs, GRUs and small CNNs."""
    import warnings

    from rnntui import oneshot
    from rnntui.blas import one_thread

    oneshot.CLI = True   # one command and exit: numba is not imported only to read number lists (rnntui/oneshot.py)
    ctx.call_on_close(lambda: setattr(oneshot, "CLI", False))   # the command ends (a test's CliRunner goes on)

    # what a library warns about (a complex array, a torch pickle) is refused with one line of ours;
    # its warning would print first, raw, and with a source line
    warnings.simplefilter("ignore")
    # every command's work on one BLAS thread (rnntui/blas.py), given back when the command ends
    ctx.call_on_close(one_thread().restore_original_limits)


def _load_trace(source: str, max_memory: str | None, writes: Path | None = None, sample: int | None = None,
                first_segment: bool = False):
    """What `rnntui.run` makes of *source* (a scenario run, a saved trace or a recorded folder opened), its
    warnings printed on stderr (also when the run then fails). *writes*: the file the command will write,
    refused (before the run) when it is one of the files the run reads; *sample*: a data set's first sample;
    *first_segment*: a checkpointed run comes back after its first segment, its sweep for the caller to finish
    (engine/run.py `SweepingRun`)."""
    import warnings

    import rnntui

    limit = max_memory_bytes(max_memory)
    if writes is not None:
        _refuse_writing_an_input(source, writes, limit)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", rnntui.RnntuiWarning)
        try:
            return rnntui._run(source, limit, sample, first_segment)
        finally:
            _warn(str(w.message) for w in said if issubclass(w.category, rnntui.RnntuiWarning))


def _refuse_writing_an_input(source: str, writes: Path, limit: int | None) -> None:
    """Refuse *writes* when it is a file the run of *source* reads: the scenario and every file it names, a
    saved trace, a recorded folder's records (atomic.refuse_overwriting compares devices and inodes)."""
    from rnntui.atomic import refuse_overwriting
    from rnntui.engine.recorded import is_recorded_run

    if is_recorded_run(source):
        refuse_overwriting(writes, sorted(Path(source).iterdir()))
        return
    if source.endswith(".npz") and Path(source).is_file():
        refuse_overwriting(writes, [source])
        return
    from rnntui.scenario import load_scenario
    from rnntui.scenario.bundled import resolve

    refuse_overwriting(writes, load_scenario(resolve(source), max_memory=limit).sources)


def _warn(lines) -> None:
    """What loaded but deserves a word (weight-file keys skipped), on stderr: never an error."""
    for line in lines:
        typer.echo(f"rnntui: warning: {printable(line)}", err=True)


@app.command()
def run(scenario: ScenarioArg, max_memory: MaxMemory = None,
        compare: Annotated[Optional[str], typer.Option("--compare", help="Another scenario or trace to step "
                                                       "beside it in lockstep (A, B and their difference).")] = None,
        sample: Sample = None,
        dataset: Annotated[Optional[str], typer.Option("--dataset", help="Scan this data set (.npz) in place of the "
                                                       "scenario's input first, then open its samples: the ranking "
                                                       "as a pane, ( ) to move along it.")] = None,
        scan_first: Annotated[bool, typer.Option("--scan", help="Scan the scenario's own data set first, then "
                                                 "open its samples as --dataset does.")] = False,
        workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="With --dataset / --scan: "
                                             "processes to scan in.")] = 1,
        ) -> None:
    """Open the step-through debugger on a scenario (or a saved trace .npz)."""
    from rnntui.engine.run import SweepingRun

    axis, sweep = None, None
    try:
        if dataset is not None or scan_first:
            axis, sample = _scan_for_run(scenario, dataset, compare, sample, workers, max_memory)
            trace, other = axis.run(sample), None
        else:
            # a long run (checkpointed) opens after its first segment: the debugger sweeps the rest in a worker
            with _progress_on_stderr():
                trace = _load_trace(scenario, max_memory, sample=sample, first_segment=True)
                if isinstance(trace, SweepingRun):
                    sweep, trace = trace, trace.preview()
                other = _load_other(trace, scenario, compare, max_memory)
    except RnntuiError as exc:
        fail(exc)
    from rnntui.tui.app import RnntuiApp

    tui = RnntuiApp(trace, other=other, samples=axis, sample=sample or 0, sweep=sweep)
    try:
        tui.run()
    except RnntuiError as exc:  # no terminal to run in
        fail(exc)
    raise typer.Exit(tui.return_code or 0)  # 1 when the app crashed (Textual printed why), 128 + n after signal n


def _scan_for_run(scenario: str, dataset: str | None, compare: str | None, sample: int | None, workers: int,
                  max_memory: str | None):
    """`run --dataset / --scan`: the data set scanned (a progress bar on stderr; Ctrl-C keeps what is done), and
    the sample to open first: --sample, else the worst of the ranking."""
    from rnntui.engine.progress import report
    from rnntui.errors import OptionError
    from rnntui.samples.axis import open_axis

    if compare is not None:
        raise OptionError("--compare steps one run beside another; --dataset / --scan open a data set's samples: "
                          "use one of them")
    with _progress_on_stderr():
        axis = open_axis(_bundled_or_path(scenario), dataset=dataset, workers=workers,
                         max_memory=max_memory_bytes(max_memory), progress=lambda d, n: report("scan", d, n))
    if sample is None:
        if not len(axis):
            raise OptionError("the scan was interrupted before its first sample: nothing to open")
        return axis, axis.at_rank(0)
    if sample >= axis.N:
        raise OptionError(f"--sample: found {sample}; the data set has samples 0..{axis.N - 1}")
    return axis, sample


def _load_other(trace, scenario: str, compare: str | None, max_memory):
    """The run to compare with: --compare, else the scenario's own `compare:` (a bundled pair), else None."""
    if compare is None and trace.info.compare:
        from rnntui.scenario.bundled import resolve

        base = Path(str(resolve(scenario))).parent
        named = base / trace.info.compare
        compare = str(named) if named.exists() else trace.info.compare
    return None if compare is None else _load_trace(compare, max_memory)


@app.command()
def validate(files: Annotated[list[str], typer.Argument(help="Scenario files or bundled names.")]) -> None:
    """Check scenarios without running them; list every problem of every file."""
    from rnntui.errors import ScenarioError
    from rnntui.scenario import load_scenario
    from rnntui.scenario.bundled import resolve

    problems, unchecked = [], []
    for f in files:
        try:
            sc = load_scenario(resolve(f))
            _warn(sc.warnings)
            # an encoder-decoder's T is its output's, the decoder's: the encoder's steps are said beside it
            steps = f"T={sc.T}" if sc.decoder_x is None else f"encoder T={sc.x.shape[0]}, decoder T={sc.T}"
            typer.echo(printable(f"{f}: ok ({sc.name}; {len(sc.layout)} entries, {steps}, B={sc.B})"))
        except ScenarioError as exc:
            problems.extend(exc.problems)
            unchecked.extend(exc.unchecked)
    if problems:
        fail(ScenarioError(problems, unchecked), unchecked=True)


@app.command()
def export(
    scenario: ScenarioArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write: .npz (the trace), .txt, .html or .svg (a report).")],
    fmt: Annotated[Optional[Format], typer.Option("--format", case_sensitive=False,
                                                  help="What to write; default from the suffix.")] = None,
    steps: Annotated[Optional[str], typer.Option("--steps", help="Report only these steps, e.g. 3:10.")] = None,
    step: Annotated[Optional[int], typer.Option("--step", min=0, help="Report only this step.")] = None,
    entry: Annotated[Optional[int], typer.Option("--entry", min=0, help="Report only this model entry.")] = None,
    iteration: Annotated[Optional[int], typer.Option("--iteration", min=0, help="A training run: the iteration to write. "
                                                     ".npz: its full record beside the run's train.* keys (reopened, it "
                                                     "says which iteration it is); a report: the step report after the "
                                                     "training section; with --compare, the iteration the two runs are "
                                                     "compared at. Default: the last (with --compare: the last at which "
                                                     "both are finite).")] = None,
    width: Annotated[Optional[int], typer.Option("--width", min=REPORT_WIDTHS[0], max=REPORT_WIDTHS[1],
                                                 help="Report width in columns (.txt, .svg). Default: 100 for text; "
                                                 "SVG as wide as its widest table (100 to 240); HTML reflows to the window.")] = None,
    max_memory: MaxMemory = None,
    compare: Annotated[Optional[str], typer.Option("--compare", help="Another scenario or trace: write a report "
                                                   "comparing the two (.txt, .html or .svg).")] = None,
    jacobian: Annotated[Optional[bool], typer.Option(
        "--jacobian/--no-jacobian", help="Whether a .npz holds diag.*.jacnorm (step Jacobian norms). Default: only when "
        "they cost under about a second; otherwise the file lists them in meta.not_computed and rnntui computes "
        "them when they are first read.")] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="A checkpointed run (one whose whole recording would pass the memory limit) as .npz: every array "
        "whole, each recomputed and written one at a time, after its size is estimated and checked against the "
        "free disk. Default: its checkpoints and per-step diagnostics, which rnntui reopens with the same "
        "recompute.")] = False,
) -> None:
    """Write the recorded run: the whole trace as .npz, or a report as text, HTML or SVG."""
    from rnntui.errors import ExportError

    try:
        suffix = output.suffix.lstrip(".").lower()
        try:
            kind = (fmt or Format(suffix)).value
        except ValueError:
            raise ExportError(f"{output}: found format {suffix or 'none'!r}; expected one of "
                              f"{', '.join(f.value for f in Format)} (from the suffix or --format)") from None
        if full and kind != "npz":   # an option that would do nothing: say so rather than ignore it
            raise ExportError(f"{output}: --full writes a checkpointed run's .npz with every array whole; found "
                              f".{kind} (a report reads the steps it prints, whole or checkpointed alike)")
        from rnntui.atomic import check_target

        check_target(output)
        skipped = []
        with _progress_on_stderr():
            from rnntui.engine.aside import norms_alongside

            with norms_alongside(kind == "npz" and jacobian is True):   # written with the norms: computed meanwhile
                trace = _load_trace(scenario, max_memory, writes=output)
            other = None if compare is None else _load_trace(compare, max_memory, writes=output)
            if kind == "npz" and other is not None:
                raise ExportError(f"{output}: --compare writes a report (.txt, .html or .svg); found .npz")
            if kind == "npz":
                record = _record_to_save(trace, iteration)
                how = {"jacobian": "auto" if jacobian is None else jacobian}
                if full and hasattr(record, "full_bytes"):   # a checkpointed trace, every array asked for
                    _check_room(output, record.full_bytes(how["jacobian"]))
                    how["full"] = True
                skipped = record.save(output, **how)
            else:
                from rnntui.render.report import ReportOptions, write_report

                write_report(trace, output, kind,
                             ReportOptions.parse(steps=steps, step=step, entry=entry, width=width,
                                                 iteration=iteration), other=other,
                             limit=max_memory_bytes(max_memory))
    except RnntuiError as exc:
        fail(exc)
    # not on stdout when stdout is where the file went (-o /dev/stdout)
    typer.echo(printable(f"wrote {output}"), err=not output.is_file())
    if skipped:
        why = "--no-jacobian" if jacobian is False else "they would take a while"
        typer.echo(f"left out {len(skipped)} diag.*.jacnorm key(s), listed in meta.not_computed ({why}): rnntui "
                   "computes them when first read; --jacobian writes them", err=True)


def _check_room(output: Path, size: int) -> None:
    """Say how much `export --full` writes, and refuse (before writing) when the disk has less room."""
    import shutil

    from rnntui.errors import ExportError
    from rnntui.sizes import format_size

    free = shutil.disk_usage(output.parent if str(output.parent) else Path(".")).free
    if size > free:
        raise ExportError(f"{output}: --full would write about {format_size(size)}, more than the "
                          f"{format_size(free)} free there; leave out --full to write the checkpoints")
    typer.echo(f"writing every array whole: about {format_size(size)}", err=True)


def _record_to_save(trace, iteration: int | None):
    """What `export --iteration k -o run.npz` writes: iteration k's full record with the run's train.* keys
    and train.record_iteration = k (docs/trace-format.md); refused (exit 2) when there is no such iteration."""
    from rnntui.engine.train import with_record_of
    from rnntui.render.report import chosen_iteration

    k, _ = chosen_iteration(trace, iteration)
    return trace if k is None or k == trace.record_iteration else with_record_of(trace, k)


def _progress_on_stderr():
    """A progress bar on stderr for work that outlasts a second, when stderr is a terminal."""
    from rnntui.progress_bar import stderr_progress

    return stderr_progress(enabled=sys.stderr.isatty())


@app.command()
def show(
    scenario: ScenarioArg,
    steps: Annotated[Optional[str], typer.Option("--steps", help="Only these steps, e.g. 3:10.")] = None,
    step: Annotated[Optional[int], typer.Option("--step", min=0, help="Only this step.")] = None,
    entry: Annotated[Optional[int], typer.Option("--entry", min=0, help="Only this model entry.")] = None,
    iteration: Annotated[Optional[int], typer.Option("--iteration", min=0, help="A training run: the iteration whose "
                                                     "step report follows (default: the last).")] = None,
    max_memory: MaxMemory = None,
    sample: Sample = None,
) -> None:
    """Print the report of a run to the terminal, without opening the TUI."""
    try:
        with _progress_on_stderr():
            trace = _load_trace(scenario, max_memory, sample=sample)
        from rnntui.render.report import ReportOptions, print_report

        print_report(trace, ReportOptions.parse(steps=steps, step=step, entry=entry, width=None, iteration=iteration),
                     limit=max_memory_bytes(max_memory))
    except RnntuiError as exc:
        fail(exc, command="show")


@app.command()
def serve(
    scenario: ScenarioArg,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="The port to listen on.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="The address to listen on: localhost (this machine only) "
                                      "by default; 0.0.0.0 opens it to the network.")] = "localhost",
    max_sessions: Annotated[int, typer.Option("--max-sessions", min=1, max=1000, help="Browser sessions at once (each "
                                              "runs its own `rnntui run`, about 70 MB).")] = 4,
) -> None:
    """Serve the debugger on a scenario in a web browser (textual-serve): open the URL it prints, with its
    token; each browser session runs its own `rnntui run` process; Ctrl+C stops the server and every session."""
    try:
        _load_trace(scenario, None)  # a scenario that cannot run is refused here, not in every session
        if host not in ("localhost", "127.0.0.1", "::1"):
            typer.echo(printable(f"warning: serving on {host}: anyone who can reach this machine on port {port} "
                                 "and has the URL with its token can run the debugger here (and read the "
                                 "scenario's files)"), err=True)
        from rnntui.tui.serve import RnntuiServer

        server = RnntuiServer([sys.executable, "-m", "rnntui", "run", scenario], host=host, port=port,
                              title=f"rnntui: {scenario}", max_sessions=max_sessions)

        def announce(url: str) -> None:
            typer.echo(printable(f"rnntui: serving {scenario} at {url}"))
            typer.echo("open that URL (its token is needed); Ctrl+C stops the server and every session")

        server.serve(announce)
    except RnntuiError as exc:
        fail(exc)


@app.command()
def scaffold(
    weights: Annotated[Path, typer.Argument(help="A state_dict: .pt/.pth (read with weights_only=True), "
                                            ".safetensors or .npz.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The scenario to write (.yaml).")],
) -> None:
    """Write a scenario from a state_dict's parameter names and shapes, ready to run and to edit."""
    import os

    from rnntui.atomic import atomic_write, check_target, refuse_overwriting
    from rnntui.errors import ScenarioError
    from rnntui.scenario import load_scenario
    from rnntui.scenario.scaffold import ScaffoldError, scaffold as write_scenario
    from rnntui.scenario.weights import WeightProblem, read_weight_file

    try:
        check_target(output)
        refuse_overwriting(output, [weights])
        try:
            state = read_weight_file(weights)
        except WeightProblem as exc:
            raise ScaffoldError(f"{weights}: {exc.message}") from None
        # the scenario names the weights relative to its own folder, as every path inside a scenario
        name = os.path.relpath(weights.resolve(), output.resolve().parent)
        try:
            text = write_scenario(state, name, ordered=weights.suffix.lower() != ".safetensors")
        except ScaffoldError as exc:
            raise ScaffoldError(f"{weights}: {exc}") from None
        try:
            load_scenario(output, text=text)  # what is written must load and match the file
        except ScenarioError as exc:
            raise ScaffoldError(f"{weights}: the scenario made from it does not load: {exc.problems[0].message}") from None
        with atomic_write(output, "w") as f:
            f.write(text)
    except RnntuiError as exc:
        fail(exc, command="scaffold")
    key = getattr(state, "key", None)
    said = "" if key is None else (f" from the state_dict under {key!r} of the checkpoint {weights.name}"
                                   + (f" (left out: {', '.join(state.left_out)})" if state.left_out else ""))
    typer.echo(printable(f"wrote {output}{said}"))


@app.command()
def check(
    scenario: ScenarioArg,
    asserts: Annotated[list[str], typer.Option("--assert", help="An expression that must hold at every step, e.g. "
                                               "'norm(dh) > 1e-6' or 'max(abs(h)) < 0.99 @model.0.l0.fwd' (repeatable; "
                                               "the language is in docs/debugger.md).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
    iteration: Annotated[Optional[int], typer.Option("--iteration", min=0, help="A training run: the iteration to check "
                                                     "(default: the last; the output says which).")] = None,
    max_memory: MaxMemory = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Check every sample of this data set "
                                                   "(.npz), each run alone; the samples where one fails are listed.")] = None,
    all_samples: Annotated[bool, typer.Option("--all-samples", help="Check every sample of the scenario's own "
                                              "data set (input: {dataset: ...}).")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="With --dataset / --all-samples: "
                                         "processes to run samples in.")] = 1,
) -> None:
    """Check assertions at every step of a run: exit 0 when all hold, 1 when one fails, 2 when unusable.
    A training run is checked at one iteration: the last, or --iteration k. With --dataset or --all-samples,
    at every sample of a data set."""
    from rnntui.expr.errors import ExprError

    try:
        from rnntui.expr.check import check_trace, parse_asserts

        parsed = parse_asserts(asserts)
        if dataset is not None or all_samples:
            from rnntui.engine.progress import report
            from rnntui.samples.check import check_dataset

            with _progress_on_stderr():
                result = check_dataset(_bundled_or_path(scenario), asserts, dataset, workers, max_memory_bytes(max_memory),
                                       progress=lambda d, n: report("check", d, n))
        else:
            with _progress_on_stderr():   # a checkpointed run is checked segment by segment
                result = check_trace(_load_trace(scenario, max_memory), parsed, iteration)
    except ExprError as exc:
        if json_out:
            typer.echo(exc.to_json())
        fail(exc, after=exc.pointer())  # the message first, then the expression and a caret under the column
    except RnntuiError as exc:
        fail(exc)
    typer.echo(result.to_json() if json_out else "\n".join(printable(line) for line in result.lines()))
    raise typer.Exit(result.exit_code)


@app.command()
def scan(
    scenario: ScenarioArg,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="A data set (.npz: x, lengths, target) "
                                                   "in place of the scenario's input.")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Also write every row: .csv, .npz "
                                                   "(the same columns) or .html (a ranked, sortable report).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="Processes to run samples in.")] = 1,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="A Dask distributed scheduler's address "
                                                     "(tcp://host:8786): its workers run the samples "
                                                     "(pip install 'rnntui[dask]').")] = None,
    sort: Annotated[Optional[str], typer.Option("--sort", help="Rank by this column, largest first (default: "
                                                "not finite first, then the per-step rate furthest from 1).")] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="Rows shown in the terminal.")] = 20,
    max_memory: MaxMemory = None,
) -> None:
    """Run every sample of a data set forward and backward, one at a time, and rank them: which samples make
    the gradient vanish or explode, their loss, where their gradient is largest and smallest. Ctrl-C keeps
    the rows done so far."""
    from rnntui.atomic import atomic_write
    from rnntui.engine.progress import report
    from rnntui.errors import ExportError
    from rnntui.samples import scan as run_scan
    from rnntui.samples.measure import COLUMNS
    from rnntui.samples import table

    kinds = {".csv": "csv", ".npz": "npz", ".html": "html"}
    try:
        if output is not None and output.suffix.lower() not in kinds:
            raise ExportError(f"{output}: found the suffix {output.suffix or 'none'!r}; expected .csv, .npz or .html")
        if output is not None:
            from rnntui.atomic import check_target

            check_target(output)
        with _progress_on_stderr():
            result = run_scan(_bundled_or_path(scenario), dataset=dataset, workers=workers,
                              max_memory=max_memory_bytes(max_memory), progress=lambda d, n: report("scan", d, n),
                              scheduler=scheduler)
        if sort is not None and sort not in result.columns:
            raise ExportError(f"--sort: found {sort!r}; expected one of {', '.join(result.columns)}")
        from rich.console import Console

        console = Console(width=None if sys.stdout.isatty() else 160)
        for part in table.terminal(result, sort, top):
            console.print(part)
        if output is not None:
            kind = kinds[output.suffix.lower()]
            if kind == "npz":
                import numpy as np

                with atomic_write(output) as f:
                    np.savez(f, **table.to_arrays(result))
            else:
                text = table.to_csv(result) if kind == "csv" else table.to_html(result, sort)
                with atomic_write(output) as f:
                    f.write(text.encode("utf-8"))
            typer.echo(f"wrote {output} ({len(result.rows):,} rows)", err=True)
    except RnntuiError as exc:
        fail(exc)
    if not result.complete:
        raise typer.Exit(130)


def _bundled_or_path(scenario: str) -> str:
    from rnntui.scenario.bundled import resolve

    return str(resolve(scenario))


@app.command()
def scenarios() -> None:
    """List the bundled scenarios with what each shows."""
    from rnntui.scenario.bundled import bundled, summary

    rows = [(name, summary(path)) for name, path in bundled().items()]
    width = max((len(n) for n, _ in rows), default=0)
    for name, text in rows:
        typer.echo(f"{name.ljust(width)}  {text}")


def main() -> None:
    from rnntui import signals

    signals.install()  # SIGHUP, SIGINT, SIGQUIT, SIGTERM: exit 128 + n, temporary files removed
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except MemoryError as exc:   # the machine's memory ran out under rnntui's own estimates: one line, not a traceback
        said = printable(str(exc)).strip()
        typer.echo(f"rnntui: out of memory{': ' + said if said else ''}. rnntui plans its memory for --max-memory "
                   "(default: half the available memory); other programs may have taken the rest.", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
