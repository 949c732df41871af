"""Whether this process runs one CLI command and exits (cli.main_callback sets it), rather than the API in a
process that may load many scenarios (a notebook, a script, a benchmark).

A one-off process does not import numba just to read a scenario's number lists: numba's import (0.3-0.7 s)
costs more than the compiled scan saves on any scenario the size limit allows (a 4.9 MB list of weights:
0.56 s of CPU for the whole process with the NumPy scan, 0.87 s with the compiled one; benchmarks/README.md).
Where numba is already loaded (a training replay's fused loops), the compiled scan is used all the same.
This module stays import-light: the CLI imports it before anything else."""
from __future__ import annotations

CLI = False
