"""One BLAS thread for rnntui's work, through threadpoolctl.

rnntui's linear algebra is many small products: the engine's per-step products (B x H by H x 4H), the
views' one step's Jacobian norm on a key. OpenBLAS spreads each over every core and its threads keep
spinning afterwards, taking the core the next step (or the debugger's event loop) needs: on this 2-core
machine a BPTT step in the debugger took ~190 ms of wall time instead of ~90 (benchmarks/tui.py), and
`rnntui.run` of an LSTM (B1, H256, T1000, with its Jacobian norms) 6.7 s with two threads against 3.6 s
with one (B16 H256 T200: 16.1 s against 8.2 s; the machine shared with other work).

threadpoolctl finds whichever BLAS NumPy loaded (OpenBLAS from a pip wheel, MKL, BLIS, ...) on every
platform it supports; it can limit only libraries already loaded, so numpy is imported first.

- the `rnntui` command limits the whole process before any command's work (cli.py's callback), and
  gives the limit back when the command ends (for a caller that runs the CLI in-process);
- the Python API's heavy calls (`rnntui.run`, `check`, `what_if`, `from_torch`) and the debugger's
  lifetime use `one_thread()` as a context: the caller's own limits come back after.
"""
from __future__ import annotations

BLAS_THREADS = 1


def one_thread():
    """Limit every BLAS NumPy loaded to BLAS_THREADS threads from now; a threadpoolctl `threadpool_limits`:
    use it as a context manager, or call its `restore_original_limits()`, to give the old limits back."""
    import numpy  # noqa: F401  (loads the BLAS, so that threadpoolctl sees it)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=BLAS_THREADS, user_api="blas")
