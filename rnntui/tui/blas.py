"""One BLAS thread while the debugger is open.

On a keypress the views do small linear algebra (in BPTT, one step's Jacobian norm: an H x H
product and its eigenvalues). OpenBLAS spreads that over every core and its threads keep spinning
afterwards; on a 2-core machine they take the core the event loop needs, and a BPTT step took
~190 ms of wall time instead of ~90 (benchmarks/tui.py). The engine has finished by the time the
app opens, so the app asks OpenBLAS for one thread and gives the old count back when it closes.

OpenBLAS is found through ctypes in the library NumPy's wheel ships; with another BLAS (or none
found) nothing changes.
"""
from __future__ import annotations

import ctypes
import glob
import os
from functools import lru_cache

_NAMES = [("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
          ("openblas_get_num_threads", "openblas_set_num_threads")]


@lru_cache(maxsize=1)
def _openblas():
    import numpy as np

    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, put in _NAMES:
            if hasattr(lib, get) and hasattr(lib, put):
                getter, setter = getattr(lib, get), getattr(lib, put)
                getter.restype, getter.argtypes = ctypes.c_int, []
                setter.restype, setter.argtypes = None, [ctypes.c_int]
                return getter, setter
    return None


def threads() -> int | None:
    """OpenBLAS's thread count, or None where OpenBLAS was not found."""
    found = _openblas()
    return None if found is None else int(found[0]())


def set_threads(n: int) -> int | None:
    """Ask OpenBLAS for *n* threads; returns the count it had (None: no OpenBLAS, nothing done)."""
    found = _openblas()
    if found is None:
        return None
    before = int(found[0]())
    found[1](int(n))
    return before
