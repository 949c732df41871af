"""The BLAS NumPy itself loaded, callable from numba kernels: one step's recurrent product inside a fused loop.

A kernel calls `gemm` (an external function by symbol name, so numba can cache the compiled kernel on disk)
for `out = M @ v.T` with the same arguments NumPy's matmul passes for it (row-major, M as is, v transposed),
so a fused loop's products are the NumPy loop's products (families/base.py `StepProduct`). The symbol is the
library's CBLAS `?gemm` (OpenBLAS as NumPy's wheels bundle it: `scipy_cblas_dgemm64_`, 64-bit integers), found
through threadpoolctl's description of the loaded BLAS; the thread limit rnntui sets (rnntui/blas.py) is that
library's, so it holds here too. Where no such symbol is found, `bind()` returns False and the fused path is off.
"""
from __future__ import annotations

import ctypes

# the CBLAS symbols tried: 64-bit integers (ILP64: OpenBLAS suffixes them with 64_), as NumPy 2's wheels
# bundle them on every platform; a 32-bit-integer BLAS is not bound (the kernels, cached on disk, are compiled
# for one integer width)
_NAMES = ["scipy_cblas_{}gemm64_", "cblas_{}gemm64_"]
SYMBOLS = {"d": "rnntui_fused_dgemm", "s": "rnntui_fused_sgemm"}
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

_bound: dict | None = None   # {"d": address, "s": address} once looked up


def _find() -> dict | None:
    """{"d": address, "s": address} of the loaded BLAS's CBLAS dgemm and sgemm, or None."""
    import numpy  # noqa: F401  (loads the BLAS)
    from threadpoolctl import threadpool_info

    for lib in threadpool_info():
        if lib.get("user_api") != "blas" or not lib.get("filepath"):
            continue
        try:
            handle = ctypes.CDLL(lib["filepath"])
        except OSError:
            continue
        for pattern in _NAMES:
            try:
                found = {k: ctypes.cast(getattr(handle, pattern.format(k)), ctypes.c_void_p).value for k in "ds"}
            except AttributeError:
                continue
            return found
    return None


def bind() -> bool:
    """Make the gemm symbols known to numba's linker (once); False where the loaded BLAS has none."""
    global _bound
    if _bound is None:
        import llvmlite.binding as ll

        _bound = _find() or {}
        for k, address in _bound.items():
            ll.add_symbol(SYMBOLS[k], address)
    return bool(_bound)
