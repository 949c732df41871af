"""Pure NumPy engine: cells, network, losses, the trace. Imports nothing of the UI."""
from rnntui.engine.load import load_trace
from rnntui.engine.scenario_run import run_scenario
from rnntui.engine.trace import Trace, TraceInfo

__all__ = ["Trace", "TraceInfo", "load_trace", "run_scenario"]
