"""The `rnntui` command: thin Typer commands over the scenario, engine, render and tui layers.

numpy, the engine and textual are imported inside the commands that need them, so
`rnntui --help` stays fast.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnntui import __version__
from rnntui.errors import RnntuiError

app = typer.Typer(
    name="rnntui",
    help="Step through recurrent and convolutional networks: forward pass, BPTT, gates, states, gradients.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

ScenarioArg = Annotated[str, typer.Argument(help="A scenario file, or a bundled scenario's name (see `rnntui scenarios`).")]
MaxMemory = Annotated[Optional[str], typer.Option(
    "--max-memory", help="Refuse runs whose trace would exceed this (e.g. 2GB, 512MiB). Default: half the available memory.")]


def fail(exc: RnntuiError) -> None:
    """One clear message on stderr, exit status 2, never a traceback."""
    text = str(exc)
    prefix = f"rnntui: {exc.title}"
    if "\n" in text:
        typer.echo(f"{prefix}s:" if exc.title.endswith("error") else f"{prefix}:", err=True)
        for line in text.splitlines():
            typer.echo(f"  {line}", err=True)
    else:
        typer.echo(f"{prefix}: {text}", err=True)
    raise typer.Exit(exc.exit_code)


def parse_size(text: str | None) -> int | None:
    if text is None:
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?i?b?)?\s*", text.lower())
    if not m:
        raise typer.BadParameter(f"found {text!r}; expected a size such as 2GB, 512MiB or 1000000", param_hint="--max-memory")
    unit = (m.group(2) or "").rstrip("b").rstrip("i")
    return int(float(m.group(1)) * 1024 ** " kmgt".index(unit or " "))


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"rnntui {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """rnntui: a terminal step-through debugger for RNNs, LSTMs, GRUs and small CNNs."""


def _load_trace(source: str, max_memory: str | None):
    import rnntui

    if source.endswith(".npz") and Path(source).exists():
        return rnntui.load_trace(source)
    return rnntui.run(source, max_memory=parse_size(max_memory))


@app.command()
def run(scenario: ScenarioArg, max_memory: MaxMemory = None) -> None:
    """Open the step-through debugger on a scenario (or a saved trace .npz)."""
    try:
        trace = _load_trace(scenario, max_memory)
    except RnntuiError as exc:
        fail(exc)
    from rnntui.tui.app import RnntuiApp

    tui = RnntuiApp(trace)
    tui.run()
    raise typer.Exit(tui.return_code or 0)  # 1 when the app crashed (Textual printed why)


@app.command()
def validate(files: Annotated[list[str], typer.Argument(help="Scenario files or bundled names.")]) -> None:
    """Check scenarios without running them; list every problem of every file."""
    from rnntui.errors import ScenarioError
    from rnntui.scenario import load_scenario
    from rnntui.scenario.bundled import resolve

    problems = []
    for f in files:
        try:
            sc = load_scenario(resolve(f))
            typer.echo(f"{f}: ok ({sc.name}; {len(sc.layout)} entries, T={sc.T}, B={sc.B})")
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        fail(ScenarioError(problems))


@app.command()
def export(
    scenario: ScenarioArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write: .npz (the trace), .txt, .html or .svg (a report).")],
    fmt: Annotated[Optional[str], typer.Option("--format", help="npz, txt, html or svg; default from the suffix.")] = None,
    steps: Annotated[Optional[str], typer.Option("--steps", help="Report only these steps, e.g. 3:10.")] = None,
    step: Annotated[Optional[int], typer.Option("--step", help="Report only this step.")] = None,
    entry: Annotated[Optional[int], typer.Option("--entry", help="Report only this model entry.")] = None,
    width: Annotated[int, typer.Option("--width", help="Report width in columns.")] = 100,
    max_memory: MaxMemory = None,
    jacobian: Annotated[Optional[bool], typer.Option(
        "--jacobian/--no-jacobian", help="Whether a .npz holds diag.*.jacnorm (step Jacobian norms). Default: only when "
        "they cost under about a second; otherwise the file lists them in meta.not_computed and rnntui computes "
        "them when they are first read.")] = None,
) -> None:
    """Write the recorded run: the whole trace as .npz, or a report as text, HTML or SVG."""
    from rnntui.errors import ExportError

    kind = (fmt or output.suffix.lstrip(".") or "").lower()
    kinds = ("npz", "txt", "text", "html", "svg")
    try:
        if kind not in kinds:
            raise ExportError(f"{output}: found format {kind or 'none'!r}; expected one of npz, txt, html, svg "
                              "(from the suffix or --format)")
        from rnntui.atomic import check_target

        check_target(output)
        skipped = []
        with _progress_on_stderr():
            trace = _load_trace(scenario, max_memory)
            if kind == "npz":
                skipped = trace.save(output, jacobian="auto" if jacobian is None else jacobian)
            else:
                from rnntui.render.report import ReportOptions, write_report

                write_report(trace, output, "txt" if kind == "text" else kind,
                             ReportOptions.parse(steps=steps, step=step, entry=entry, width=width))
    except RnntuiError as exc:
        fail(exc)
    typer.echo(f"wrote {output}")
    if skipped:
        typer.echo(f"left out {len(skipped)} diag.*.jacnorm key(s), listed in meta.not_computed (they would take "
                   "a while): rnntui computes them when first read; --jacobian writes them", err=True)


def _progress_on_stderr():
    """A progress bar on stderr for work that outlasts a second, when stderr is a terminal."""
    from rnntui.progress_bar import stderr_progress

    return stderr_progress(enabled=sys.stderr.isatty())


@app.command()
def show(
    scenario: ScenarioArg,
    steps: Annotated[Optional[str], typer.Option("--steps", help="Only these steps, e.g. 3:10.")] = None,
    step: Annotated[Optional[int], typer.Option("--step", help="Only this step.")] = None,
    entry: Annotated[Optional[int], typer.Option("--entry", help="Only this model entry.")] = None,
    max_memory: MaxMemory = None,
) -> None:
    """Print the report of a run to the terminal, without opening the TUI."""
    try:
        trace = _load_trace(scenario, max_memory)
        from rnntui.render.report import ReportOptions, print_report

        print_report(trace, ReportOptions.parse(steps=steps, step=step, entry=entry, width=None))
    except RnntuiError as exc:
        fail(exc)


@app.command()
def scenarios() -> None:
    """List the bundled scenarios with what each shows."""
    from rnntui.scenario.bundled import bundled, summary

    rows = [(name, summary(path)) for name, path in bundled().items()]
    width = max((len(n) for n, _ in rows), default=0)
    for name, text in rows:
        typer.echo(f"{name.ljust(width)}  {text}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
