"""Pure NumPy engine: cells, network, losses, the trace. Imports nothing of the UI."""
from rnntui.engine.run import run_scenario
from rnntui.engine.trace import Trace, TraceInfo, load_trace

__all__ = ["Trace", "TraceInfo", "load_trace", "run_scenario"]
