"""What an input section becomes (`BuiltInput`), the problem an input reports (`InputProblem`) and the memory
check before an input's array is made (`fits`): shared by scenario/inputs.py and the modules it builds
token input (tokens.py, vocab.py) and data-set input (dataset.py) with, which sit below it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnntui.sizes import format_size


@dataclass(frozen=True)
class BuiltInput:
    x: np.ndarray              # (T, B, D) for sequences, (B, C, ...) for images
    seq: bool
    tokens: np.ndarray | None = None   # str, (T,) for one sequence, (T, B) for a batch; "" where padded
    vocab: tuple[str, ...] | None = None
    lengths: np.ndarray | None = None  # (B,) int: each sample's own length where they differ (packed)
    token_ids: np.ndarray | None = None  # int, shaped like tokens; -1 where padded
    target: np.ndarray | None = None   # a data set's target for these samples, batch first
    dataset: object = None             # scenario.dataset.Dataset: what the samples were read from
    sample: int = 0                    # the first of its samples the input holds
    ids: bool = False                  # x holds token ids (T, B, 1) for an entry that reads them, not vectors


class InputProblem(Exception):
    """*key* is below `input`: a dotted string or a tuple of keys and indices."""

    def __init__(self, key: str | tuple, message: str):
        self.key, self.message = key, message
        super().__init__(message)


def fits(numbers: int, limit: int | None, key, what: str) -> None:
    """Refuse, before allocating, an array of *numbers* float64 values that would pass *limit* bytes."""
    if limit is not None and numbers * 8 > limit:
        raise InputProblem(key, f"{what} would take {format_size(numbers * 8)} ({numbers:,} numbers), more than the "
                           f"memory limit of {format_size(limit)}; make it smaller or raise --max-memory")
