"""The token at a step, as every view shows it: its text and, where the text is not the id, its id.

The trace's `tokens` is (T,) for one sequence and (T, B) for a batch (a sample's padded steps hold ""),
and `token_ids` has the same shape (-1 where padded); traces saved before `token_ids` existed have
only `tokens`.
"""
from __future__ import annotations

import numpy as np

from rnntui.errors import printable


SPACE = "␣"  # a token of spaces (a character model's " ") drawn where it would be invisible


def visible(text) -> str:
    """A token or label as the screen shows it: control characters escaped, and a token made only of spaces
    drawn as ␣ (one per space), so a character model's space is seen, not a gap."""
    text = printable(str(text))
    return SPACE * len(text) if text and not text.strip(" ") else text


def _at(arr: np.ndarray, t: int, b: int):
    if t >= arr.shape[0]:  # one-to-many: the model runs longer than its one-token input
        return None
    return arr[t] if arr.ndim == 1 else arr[t, min(b, arr.shape[1] - 1)]


def token_text(trace, t: int, b: int) -> str:
    """The token sample b reads at step t ("" where it reads none)."""
    if "tokens" not in trace:
        return ""
    v = _at(trace["tokens"], t, b)
    return "" if v is None else visible(v)  # the scenario's words: never a raw control character


def token_id(trace, t: int, b: int) -> int | None:
    """Its id, or None where there is none (padding, no ids recorded)."""
    if "token_ids" not in trace:
        return None
    v = _at(trace["token_ids"], t, b)
    return None if v is None or int(v) < 0 else int(v)


def token_label(trace, t: int, b: int) -> str:
    """`text #id` (just `#id` for `tokens` input without a vocabulary, whose text is the id)."""
    text, i = token_text(trace, t, b), token_id(trace, t, b)
    if i is None:
        return text
    return f"#{i}" if text == str(i) else f"{text} #{i}"


def sample_tokens(trace, b: int) -> list[tuple[str, int | None]]:
    """Sample b's tokens with their ids, up to its last real token."""
    if "tokens" not in trace:
        return []
    T = trace["tokens"].shape[0]
    out = [(token_text(trace, t, b), token_id(trace, t, b)) for t in range(T)]
    while out and out[-1] == ("", None):
        out.pop()
    return out
