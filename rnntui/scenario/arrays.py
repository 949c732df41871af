"""Numbers from a scenario and arrays from .npy/.npz files, checked before they become float64.

Lists from YAML must hold numbers only: `true`, `'3'`, `'nan'` and `null` are refused rather than
turned into 1, 3, NaN. Array files are read by rnntui/npyfiles.py (without pickle, member by member,
after their headers), which the engine shares for saved traces.
"""
from __future__ import annotations

import numpy as np

from rnntui.npyfiles import (REAL_KINDS, ArrayFileError, check_dtype, npz_names, read_npy,  # noqa: F401 - shared
                             read_npz, regular_size)


class NotNumbers(Exception):
    """*sub* is the path below the checked key (indices into nested lists)."""

    def __init__(self, sub: tuple, message: str):
        self.sub, self.message = sub, message
        super().__init__(message)


def _describe(value) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{text[:40]}... ({type(value).__name__})" if len(text) > 40 else f"{text} ({type(value).__name__})"


def numbers(data, what: str = "numbers") -> np.ndarray:
    """A float64 array of nested lists of int and float; NotNumbers naming the first other value.

    A list the YAML reader read with NumPy (`fast_numbers.NumberList`) holds numbers only and carries its
    array, or is that array itself (`load_yaml(arrays=...)`): it is not walked again."""
    from rnntui.scenario.fast_numbers import NumberList, as_arrays

    stack = [((), data)]
    fast = False
    while stack:  # depth is bounded by the YAML reader; no recursion anyway
        sub, node = stack.pop()
        if isinstance(node, (NumberList, np.ndarray)):
            fast = True
            continue
        if isinstance(node, list):
            stack.extend((sub + (i,), v) for i, v in reversed(list(enumerate(node))))
        elif isinstance(node, bool) or not isinstance(node, (int, float)):
            raise NotNumbers(sub, f"found {_describe(node)}; expected {what} (write .nan or .inf for non-finite values)"
                             if isinstance(node, str) else f"found {_describe(node)}; expected {what}")
    try:
        arr = np.array(as_arrays(data) if fast else data, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        raise NotNumbers((), "found a ragged list; expected a rectangular array of numbers") from None
    return arr

