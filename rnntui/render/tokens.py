"""The token at a step, as every view shows it: its text and, where the text is not the id, its id.

The trace's `tokens` is (T,) for one sequence and (T, B) for a batch (a sample's padded steps hold ""),
and `token_ids` has the same shape (-1 where padded); traces saved before `token_ids` existed have
only `tokens`.
"""
from __future__ import annotations

import numpy as np

from rnntui.engine import keys
from rnntui.errors import printable
from rnntui.render.pertrace import PerTrace


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


_fed_ids = PerTrace(16)


def fed_input(trace) -> tuple[int, int, np.ndarray] | None:
    """Where a graph's first input is, from some step on, not what its steps read: a recurrence whose x is that
    input feeds a value of the step before back as x (`feed:`: greedy decoding's argmax, a generator's own
    output), so from step `feed_after` on it reads the fed values, recorded as `model.{i}.x`, and the input's
    own values there (the padding from_torch writes) are never read. Only where that recurrence is the input's
    one reader: another node reads the input's own values at every step. (node index, feed_after, x as the
    steps read it (T, B, F)), or None."""
    def make():
        info = getattr(trace, "info", None)
        inputs = getattr(info, "inputs", None)
        if not inputs:
            return None
        readers = [e for e in info.entries if inputs[0] in e.reads]
        if len(readers) != 1:   # another node reads the input's own values at every step
            return None
        e = readers[0]
        conf = e.config or {}
        key = keys.node_value(e.index, "x")
        if conf.get("feed") and e.reads[0] == inputs[0] and key in trace:
            x = np.asarray(trace[key])
            if x.ndim == 3:
                return e.index, int(conf.get("feed_after", 1)), x
        return None

    return _fed_ids.get(trace, ("fed",), make)


def fed(trace) -> tuple[int, int, np.ndarray] | None:
    """`fed_input` of a token input: (node index, feed_after, the ids read (T, B)), or None."""
    f = fed_input(trace)
    if f is None or "token_ids" not in trace or f[2].shape[-1] != 1:
        return None
    return f[0], f[1], np.rint(f[2][..., 0]).astype(np.int64)


def fed_note(trace) -> str | None:
    """The words for `fed_input`: which steps show fed-back ids or values instead of the input's own."""
    f = fed_input(trace)
    if f is None:
        return None
    i, after, _ = f
    node = str(trace.info.entries[i].config["feed"]).split(".", 1)[-1]
    what = "ids" if fed(trace) is not None else "values"
    return (f"from step {after} on, the {what} shown are those {keys.entry_prefix(i)} fed back ({node} of the step "
            f"before), which it reads there instead of the {what} of input {trace.info.inputs[0]!r}")


def _fed_at(trace, t: int, b: int) -> int | None:
    """The id a feeding recurrence read at step t instead of the input's (see `fed`), else None."""
    f = fed(trace)
    if f is None or t < f[1] or t >= f[2].shape[0]:
        return None
    return int(f[2][t, min(b, f[2].shape[1] - 1)])


def token_text(trace, t: int, b: int) -> str:
    """The token sample b reads at step t ("" where it reads none)."""
    if "tokens" not in trace:
        return ""
    i = _fed_at(trace, t, b)
    if i is not None:   # a fed-back id: its word, where the input has a vocabulary
        vocab = trace[keys.META_VOCAB] if keys.META_VOCAB in trace else None
        return visible(vocab[i]) if vocab is not None and 0 <= i < len(vocab) else str(i)
    v = _at(trace["tokens"], t, b)
    return "" if v is None else visible(v)  # the scenario's words: never a raw control character


def token_id(trace, t: int, b: int) -> int | None:
    """Its id, or None where there is none (padding, no ids recorded)."""
    if "token_ids" not in trace:
        return None
    i = _fed_at(trace, t, b)
    if i is not None:
        return i
    v = _at(trace["token_ids"], t, b)
    return None if v is None or int(v) < 0 else int(v)


def token_label(trace, t: int, b: int) -> str:
    """`text #id` (just `#id` for `tokens` input without a vocabulary, whose text is the id)."""
    text, i = token_text(trace, t, b), token_id(trace, t, b)
    if i is None:
        return text
    return f"#{i}" if text == str(i) else f"{text} #{i}"


def token_inputs(trace) -> list[str]:
    """The names of a graph model's token inputs, first input first (`tokens`, then `tokens.{name}`); [] for a
    chain or a graph of one input, whose tokens need no name."""
    names = tuple(getattr(trace.info, "inputs", ()) or ())
    if len(names) < 2:
        return []
    return [n for i, n in enumerate(names) if (keys.input_tokens(n) if i else "tokens") in trace]


def input_sample_tokens(trace, name: str, b: int) -> list[tuple[str, int | None]]:
    """Sample b's tokens with their ids in a graph's named token input besides the first, up to its last."""
    tokens = np.asarray(trace[keys.input_tokens(name)])
    ids = np.asarray(trace[keys.input_token_ids(name)]) if keys.input_token_ids(name) in trace else None
    at = (lambda a, t: a[t, b]) if tokens.ndim == 2 else (lambda a, t: a[t])
    out = [(visible(str(at(tokens, t))), None if ids is None or int(at(ids, t)) < 0 else int(at(ids, t)))
           for t in range(tokens.shape[0])]
    while out and out[-1] == ("", None):
        out.pop()
    return out


def sample_tokens(trace, b: int, name: str | None = None) -> list[tuple[str, int | None]]:
    """Sample b's tokens with their ids, up to its last real token; *name*: a graph's token input besides
    its first (`token_inputs`)."""
    names = tuple(getattr(trace.info, "inputs", ()) or ())
    if name is not None and names and name != names[0]:
        return input_sample_tokens(trace, name, b)
    if "tokens" not in trace:
        return []
    T = trace["tokens"].shape[0]
    out = [(token_text(trace, t, b), token_id(trace, t, b)) for t in range(T)]
    while out and out[-1] == ("", None):
        out.pop()
    return out
