"""rnntui: a terminal step-through debugger for recurrent and convolutional networks.

    import rnntui
    trace = rnntui.run("scenario.yaml")
    trace["model.0.l0.fwd.gates.f"]

Kept light: numpy and the engine are imported only when `run` is called. The heavy calls (`run`,
`check`, `what_if`, `from_torch`) do their linear algebra on one BLAS thread and give the caller's
thread limits back after (rnntui/blas.py).
"""
from __future__ import annotations

from rnntui.errors import RnntuiError, RnntuiWarning, ScenarioError

__version__ = "0.1.0"
__all__ = ["RnntuiError", "RnntuiWarning", "ScenarioError", "__version__", "check", "debug", "from_torch",
           "load_trace", "record", "run", "scan", "what_if"]


def run(path, max_memory: int | None = None, sample: int | None = None, jacobian: bool = False):
    """Load, validate and run a scenario (a path, or a bundled scenario's name); return its Trace. *sample*:
    with a data set input, the first sample the run reads (`rnntui run --sample k`). *jacobian*: the run will be
    read or saved with its step-Jacobian norms (`diag.*.jacnorm`, `trace.save(path, jacobian=True)`): a chain
    recorded whole computes them on a thread of its own during its backward pass (`rnntui export --jacobian`
    does), the same values a later read derives.

    What `rnntui run` opens, this opens: a saved trace (an existing .npz, from `Trace.save` or `rnntui
    export`) and a folder of iterations recorded by `rnntui.record` are opened as `load_trace` opens them.
    What loaded but deserves a word (weight-file keys skipped) is said as a `RnntuiWarning`."""
    from rnntui.engine.aside import norms_alongside

    with norms_alongside(jacobian):
        return _run(path, max_memory, sample, first_segment=False)


def _run(path, max_memory: int | None, sample: int | None, first_segment: bool):
    """`run`; *first_segment*: a run recorded in segments that the memory limit checkpoints comes back after its
    first segment, as an engine/run.py `SweepingRun` whose caller sweeps the rest (`rnntui run`: the debugger
    shows the first segment, then sweeps on in a worker)."""
    import os
    import warnings

    from rnntui.engine.recorded import is_recorded_run

    if (str(path).endswith(".npz") and os.path.lexists(path)) or is_recorded_run(path):
        return load_trace(path, max_memory=max_memory)
    from rnntui.blas import one_thread
    from rnntui.engine import run_scenario
    from rnntui.engine.run import SweepingRun, start_run
    from rnntui.scenario import load_scenario
    from rnntui.scenario.bundled import resolve

    _show_in_notebooks()
    sc = load_scenario(resolve(path), max_memory=max_memory, sample=sample)
    for line in sc.warnings:
        warnings.warn(line, RnntuiWarning, stacklevel=3)
    with one_thread():
        if not first_segment or getattr(sc, "train", None) is not None:
            return run_scenario(sc, max_memory=max_memory)
        started = start_run(sc, max_memory)
        if isinstance(started, SweepingRun):
            started.advance()
        return started


def _show_in_notebooks() -> None:
    """A trace shows a summary in Jupyter/IPython and rich (render/summary.py), imported only when one is
    shown: running a scenario stays free of rich and the UI."""
    from rnntui.engine.trace import REPRESENTERS

    def rich_summary(trace):
        from rnntui.render.summary import summary

        return summary(trace)

    def html_summary(trace):
        from rnntui.render.summary import summary_html

        return summary_html(trace)

    REPRESENTERS.setdefault("rich", rich_summary)
    REPRESENTERS.setdefault("html", html_summary)


def load_trace(path, max_memory: int | None = None):
    """Open a trace saved by `Trace.save` or `rnntui export`; arrays declaring more than *max_memory*
    bytes (default: half the available memory) are refused before they are read."""
    from rnntui.engine import load_trace as _load

    _show_in_notebooks()
    trace = _load(path, max_memory=max_memory)
    _check_debug(trace, path)
    return trace


def _check_debug(trace, path) -> None:
    """A saved trace's watches and breakpoints are expressions of this rnntui over its entries (as a
    scenario's `debug:` section is checked): one line naming the first that is not."""
    from rnntui.errors import Problem, ScenarioError
    from rnntui.expr.errors import ExprError
    from rnntui.expr.grammar import parse
    from rnntui.expr.static import validate

    info = trace.info
    for kind, items in (("watch", getattr(info, "watch", ())), ("breakpoints", getattr(info, "breakpoints", ()))):
        for k, text in enumerate(items):
            try:
                validate(parse(text), info.entries, condition=kind == "breakpoints")
            except ExprError as exc:
                raise ScenarioError([Problem(str(path), None, None, "", (
                    f"not a trace rnntui can open: meta.layout.{kind}[{k}]: {exc.message} "
                    f"(column {exc.column} of {text[:60]!r})"))]) from None


def check(scenario_or_trace, asserts, max_memory: int | None = None, iteration: int | None = None):
    """Evaluate assertions (expressions of docs/debugger.md) at every step of the places they name, as
    `rnntui check` does. *scenario_or_trace*: a Trace, a saved trace (.npz), a scenario file or a bundled
    name; *asserts*: one expression or a list; *iteration*: a training run's iteration to check (default:
    the last; `.iteration` of the result says which). Returns a CheckResult (`.ok`, `.exit_code`, `.assertions`,
    `.to_dict()`); raises rnntui.ExprError for an expression that cannot be used, ScenarioError for a
    scenario that cannot be run."""
    from rnntui.blas import one_thread
    from rnntui.expr.check import check_trace, parse_asserts

    parsed = parse_asserts(asserts)  # before running anything: a typo costs nothing
    trace = scenario_or_trace
    if not hasattr(trace, "info"):
        trace = run(trace, max_memory=max_memory)
    with one_thread():
        return check_trace(trace, parsed, iteration)


def __getattr__(name):
    if name == "ExprError":  # the expression language's error, without importing the language up front
        from rnntui.expr.errors import ExprError

        return ExprError
    raise AttributeError(f"module 'rnntui' has no attribute {name!r}")


def what_if(trace, interventions, resume: bool = True):
    """*trace*'s run again with *interventions* (the whole list, scenario-form dicts or Intervention objects;
    [] undoes them all), recomputed from the first step they change; see rnntui/engine/whatif.py."""
    from rnntui.blas import one_thread
    from rnntui.engine.whatif import what_if as _what_if

    with one_thread():
        return _what_if(trace, interventions, resume=resume)


def from_torch(module, x, *args, target=None, loss: str = "sum", lengths=None, kwargs: dict | None = None,
               output: int = 0, vocab=None, class_names=None, train: dict | None = None):
    """Run a PyTorch module in rnntui: its structure read with torch.fx, written as a scenario with its
    weights and inputs inline (`trace.scenario_yaml()`), run by the engine and checked against the module's
    own output (a mismatch is an error). *x*, *args* and *kwargs* are the forward's own arguments, as in
    `module(x, *args, **kwargs)`: a hidden state passed in becomes the recurrent module's initial state,
    a number (`future=3`) a constant. *output*: which element of a returned tuple the loss reads (0, as
    in `(log_probs, hidden)`). *loss*: "sum", "mse", "cross_entropy" or "nll" (log-probabilities, after a
    log_softmax), with *target* laid out like the module's output; *lengths*: each sample's length, for a
    forward(x, lengths) that packs its batch (passed as the forward's second argument); *vocab* (a list
    or {token: id}) and *class_names* name token ids and classes on screen; *train*: a `train:` section as
    a dict (iterations, optimizer, clip, batch_size, shuffle, schedule), written into the scenario so its
    training is replayed from the module's parameters. `trace.torch_names` maps the module's parameter
    names to the trace's. Needs torch; see docs/debug-your-pytorch-model.md."""
    from rnntui.blas import one_thread
    from rnntui.torch_bridge.bridge import from_torch as _from_torch

    _show_in_notebooks()
    with one_thread():
        return _from_torch(module, x, *args, target=target, loss=loss, lengths=lengths, kwargs=kwargs,
                           output=output, vocab=vocab, class_names=class_names, train=train)


def record(module, x, *args, target=None, loss: str = "sum", lengths=None, step: int, to, every: int = 1,
           optimizer=None, kwargs: dict | None = None, output: int = 0):
    """Record iteration *step* of your own training loop into the folder *to*: the batch's full forward and
    BPTT record with the parameters before the update, and the update your optimizer makes. Use it as
    `with rnntui.record(model, x, target=y, loss=..., step=k, to="runs/exp1"): ...loss.backward(); opt.step()`,
    or pass `optimizer=` to read the update after its next step(). *args*, *kwargs* and *output* are
    from_torch's: the forward's own arguments (`record(lm, ids, hidden, ...)`). `rnntui run runs/exp1` steps
    through the recorded iterations (torch_bridge/record.py; docs/debug-your-pytorch-model.md)."""
    from rnntui.torch_bridge.record import record as _record

    _show_in_notebooks()
    return _record(module, x, *args, target=target, loss=loss, lengths=lengths, step=step, to=to, every=every,
                   optimizer=optimizer, kwargs=kwargs, output=output)


def scan(scenario, loader=None, *, dataset=None, workers: int = 1, max_memory: int | None = None):
    """Every sample of a data set run alone and measured, as `rnntui scan` does (docs/scan.md): the scenario's
    own data set, or *dataset* (.npz), or *loader*: any iterable of (x, target[, lengths]) batches (a torch
    DataLoader included), the scenario giving the model and the loss. Returns a Scan (`.rows`, `.ranked()`)."""
    from rnntui.samples.run import scan as _scan, scan_batches
    from rnntui.scenario.bundled import resolve

    path = str(resolve(scenario))
    if loader is not None:
        return scan_batches(path, loader, max_memory=max_memory)
    return _scan(path, dataset=dataset, workers=workers, max_memory=max_memory)


def debug(module, x, *args, target=None, loss: str = "sum", lengths=None, kwargs: dict | None = None,
          output: int = 0, vocab=None, class_names=None, train: dict | None = None):
    """`from_torch` (the same arguments), then the step-through debugger on its trace (in this terminal);
    returns the trace. Where there is no terminal (standard input or standard error is a pipe, a file or a
    notebook's kernel) it raises an RnntuiError saying so; `from_torch` returns the same trace without the
    debugger."""
    trace = from_torch(module, x, *args, target=target, loss=loss, lengths=lengths, kwargs=kwargs, output=output,
                       vocab=vocab, class_names=class_names, train=train)
    from rnntui.tui.app import RnntuiApp

    RnntuiApp(trace).run()
    return trace
