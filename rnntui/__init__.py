"""rnntui: a terminal step-through debugger for recurrent and convolutional networks.

    import rnntui
    trace = rnntui.run("scenario.yaml")
    trace["model.0.l0.fwd.gates.f"]

Kept light: numpy and the engine are imported only when `run` is called.
"""
from __future__ import annotations

from rnntui.errors import RnntuiError, ScenarioError

__version__ = "0.1.0"
__all__ = ["RnntuiError", "ScenarioError", "__version__", "load_trace", "run", "what_if"]


def run(path, max_memory: int | None = None):
    """Load, validate and run a scenario (a path, or a bundled scenario's name); return its Trace."""
    from rnntui.engine import run_scenario
    from rnntui.scenario import load_scenario
    from rnntui.scenario.bundled import resolve

    return run_scenario(load_scenario(resolve(path), max_memory=max_memory), max_memory=max_memory)


def load_trace(path):
    """Open a trace saved by `Trace.save` or `rnntui export`."""
    from rnntui.engine import load_trace as _load

    return _load(path)


def what_if(trace, interventions, resume: bool = True):
    """*trace*'s run again with *interventions* (the whole list, scenario-form dicts or Intervention objects;
    [] undoes them all), recomputed from the first step they change; see rnntui/engine/whatif.py."""
    from rnntui.engine.whatif import what_if as _what_if

    return _what_if(trace, interventions, resume=resume)
