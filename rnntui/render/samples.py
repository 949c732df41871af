"""The samples axis in words: where a data-set sample stands (the header's line) and the ranking's columns
that fit a pane's width. Read from the scan's rows (samples/run.py), which are the samples' own runs'."""
from __future__ import annotations

import math

from rnntui.samples.table import SHOWN, cell

GAP = 2   # characters between two columns of the ranking


def verdict_words(row: dict) -> str:
    """The row's verdict as the verdict panel says it, with the per-step rate where it has one; a sample with a
    value that is not finite (an input's term of a weight's gradient norm is enough): the first step where
    one is not (what ranks it first)."""
    kind, rate = row.get("verdict", ""), row.get("rate", math.nan)
    if row.get("first_nonfinite_step", -1) >= 0:
        return f"first non-finite value at step {row['first_nonfinite_step']}"
    if kind in ("vanishing", "exploding", "healthy") and isinstance(rate, float) and math.isfinite(rate):
        return f"{kind} at {rate:.3g}x a step"
    return {"non-finite": "gradient not finite"}.get(kind, kind)


def sample_words(k: int, N: int, rank: int | None, row: dict | None) -> str:
    """"sample 4,812 of 100,000 (rank 3, vanishing at 0.253x a step)": *rank* counts from 0 (the worst)."""
    head = f"sample {k:,} of {N:,}"
    if rank is None or row is None:
        return head + " (not reached by the scan)"
    words = verdict_words(row)
    return head + f" (rank {rank + 1:,}" + (f", {words})" if words else ")")


def ranking_columns(rows: list[dict], width: int) -> list[str]:
    """The columns of `rnntui scan`'s terminal table (in its order) that fit *width*, each as wide as its
    widest cell among *rows* or its name; `sample` and `verdict` first, as they say what a row is."""
    have = [c for c in SHOWN if any(c in r for r in rows)] or ["sample"]
    first = [c for c in ("sample", "verdict", "rate") if c in have]
    order = first + [c for c in have if c not in first]
    out, used = [], 0
    for c in order:
        w = max([len(c)] + [len(cell(r.get(c, ""))) for r in rows]) + GAP
        if used + w > width and out:
            break
        out.append(c)
        used += w
    return out


__all__ = ["ranking_columns", "sample_words", "verdict_words"]
