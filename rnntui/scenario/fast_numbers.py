"""Big lists of plain numbers read with NumPy before ruamel.yaml sees the text.

ruamel's round-trip reader, which keeps every value's line and column, reads a few thousand numbers a
second: a scenario with its weights inline (9 MB of text) took 40 s. Before it parses, `reduce` finds
the flow sequences that hold nothing but plain numbers (`[0.1, -2.5e-05, ...]`, nested to any depth, a
rectangular array), parses each with NumPy, and hands ruamel a text where each is one short plain scalar
(`N`), with every line break kept, so every line of the text keeps its number; a column after a
replaced sequence on its last line moves left by what was taken out, and `Reduced.where` moves it back.
The builder (yaml_source.py) attaches the parsed array where that scalar sits, and the positions of the
numbers inside it are computed from the original text when an error asks for one (`Found.position`).

The result is what ruamel would have read, value by value and type by type (a YAML int stays an int, a
float a float, each float parsed by the same correctly rounded routine as `float()`). What this reader is
not sure of it leaves to ruamel: a token that is not a YAML 1.2 number ("1-2", ".5e5", .nan, a tab), an
empty or ragged list, a text with directives (`%YAML 1.1` types numbers otherwise). And when the reduced
text does not read back as the original would (a placeholder that ruamel did not read as one scalar where
the list began: the list was inside a quoted string, a comment, a block scalar, a key) the caller reads the
original text instead (`Unsure`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

MIN_NUMBERS = 200   # smaller lists cost ruamel little; below this they are left to it

_ALPHABET = b"0123456789.eE+-, \r\n"   # what a list of plain numbers holds between its brackets
_SIGNS = b"0123456789 \r\n"   # deleted: what is left tells dots, exponents and their signs apart
MARK = "N"
_AFTER = re.compile(rb"[ ]*(?:[,\]}\r\n]|$)|[ ]+#")   # what may follow a list replaced (a key's `:` may not)


class Unsure(Exception):
    """The reduced text cannot be trusted to read as the original: read the original."""


class NumberList(list):
    """A list read by the fast path: a plain list of its values, and `array` (NumPy) of the same numbers.

    Its items are what ruamel would have built (int and float, nested lists); `array` spares the loader
    a walk over them (`scenario/arrays.numbers`). Read only: nothing changes the data the reader built.
    """

    __slots__ = ("array",)


@dataclass
class Found:
    """One list read by NumPy: its value and where it was in the original text."""

    value: NumberList
    depth: int          # lists inside each other, 1 for a flat list
    start: int          # offset of its `[` in the original text
    line: int           # 1-based line and column of the `[`
    col: int
    source: str         # the list's own text, `[` to `]`

    def position(self, sub: tuple) -> tuple[int, int]:
        """The 1-based (line, column) of the item at index path *sub* inside this list, as ruamel places it
        (a nested list at its `[`, a number at its first character); as deep as *sub* goes into the list."""
        target, idx, best, best_len = tuple(sub), [], 0, 0
        for m in re.finditer(r"\[|\]|,|[^\s\[\],]+", self.source):
            tok = m.group()
            if tok == ",":
                idx[-1] += 1
                continue
            if tok == "]":
                idx.pop()
                if not idx:
                    break
                continue
            path = tuple(idx)   # a list or a number starts here
            if path == target[:len(path)] and len(path) >= best_len:
                best, best_len = m.start(), len(path)
                if path == target:
                    break
            if tok == "[":
                idx.append(0)
        return _line_col(self.source, best, self.line, self.col)


def _line_col(text: str, at: int, line: int, col: int) -> tuple[int, int]:
    before = text.count("\n", 0, at)
    if before == 0:
        return line, col + at
    return line + before, at - text.rfind("\n", 0, at)


@dataclass
class Reduced:
    """The text ruamel reads, the lists read by NumPy by their placeholder's (line, column) in it, and the
    column shifts that map a position in it back to the original text."""

    text: str
    found: dict[tuple[int, int], Found] = field(default_factory=dict)
    shifts: dict[int, list[tuple[int, int]]] = field(default_factory=dict)   # line -> [(from column, add)]

    def where(self, line: int, col: int) -> tuple[int, int]:
        """A 1-based position in the reduced text, in the original."""
        moves = self.shifts.get(line)
        if moves:
            add = 0
            for start, delta in moves:
                if col >= start:
                    add = delta
            col += add
        return line, col


def reduce(text: str) -> Reduced | None:
    """The reduced text, or None when no list is worth reading with NumPy (the original is read as it is)."""
    if text.startswith("%") or "\n%" in text:   # a directive (%YAML 1.1 types numbers otherwise)
        return None
    if "[" not in text or "\x85" in text or "\u2028" in text or "\u2029" in text \
            or ("\r" in text and text.count("\r") != text.count("\r\n")):
        return None   # line breaks other than LF and CRLF: ruamel counts lines otherwise than this module
    raw = text.encode("ascii", "replace")   # one byte a character: offsets are the text's; `?` is no number
    found: list[tuple[int, int, Found]] = []
    i = raw.find(b"[")
    while i >= 0:
        got = _candidate(raw, i)
        if got is None:
            i = raw.find(b"[", i + 1)
            continue
        end, value, depth = got
        if value is not None and not _AFTER.match(raw, end):
            i = raw.find(b"[", i + 1)   # `[...]: value` (a key), `[...] text`: left to ruamel, its inner lists tried
            continue
        if value is not None:
            found.append((i, end, value, depth))
        i = raw.find(b"[", end)
    if not found:
        return None
    pieces, out = [], Reduced("")
    last = 0
    line, line_start = 1, 0            # line of the reduced text at `last`, offset of that line's start in the original
    for start, end, value, depth in found:
        line += text.count("\n", last, start)
        nl = text.rfind("\n", last, start)
        if nl >= 0:
            line_start = nl + 1
        col = start - line_start + 1
        src = text[start:end]
        pieces.append(text[last:start])
        # the reduced column where the placeholder starts: earlier shifts on this line already moved it
        moves = out.shifts.get(line, [])
        shift_before = moves[-1][1] if moves else 0
        reduced_col = col - shift_before
        out.found[(line, reduced_col)] = Found(value, depth, start, line, col, src)
        n_breaks = src.count("\n")
        if n_breaks:
            # the line breaks kept: every later line keeps its number
            tail = len(src) - src.rfind("\n") - 1
            breaks = "\n" * n_breaks if "\r" not in src else \
                "".join("\r\n" if part.endswith("\r") else "\n" for part in src.split("\n")[:-1])
            pieces.append(MARK + breaks)
            line, line_start = line + n_breaks, start + src.rfind("\n") + 1
            out.shifts.setdefault(line, []).append((1, tail))   # on its last line, what followed it is at column 1
        else:
            pieces.append(MARK)
            delta = shift_before + (end - start) - len(MARK)
            out.shifts.setdefault(line, []).append((reduced_col + len(MARK), delta))
        last = end
    pieces.append(text[last:])
    out.text = "".join(pieces)
    return out


def _candidate(raw: bytes, i: int):
    """From the `[` at *i*: (end, value, depth) of a rectangular block of lists of plain numbers, value None
    when it is too small to be worth it (inner lists are smaller still); None when no such block starts at
    *i* (characters other than a number list's, numbers beside a list, an empty, ragged or bad list: the
    lists inside it are then tried on their own)."""
    depth, j, max_depth = 0, i, 0
    inner: list[bytes] = []           # each innermost list's text between its brackets
    children: list[int] = []          # items so far of each open list
    counts: dict[int, set] = {}       # depth -> the numbers of lists that lists at that depth hold
    inner_depths: set[int] = set()
    prev = None
    while True:
        a = raw.find(b"[", j)
        b = raw.find(b"]", j)
        if b < 0:
            return None
        k = b if a < 0 or b < a else a
        seg = raw[j:k]
        if seg.translate(None, _ALPHABET):
            return None
        if raw[k] == 91:   # [
            if prev == "]":
                if seg.strip(b" \r\n") != b",":
                    return None
            elif seg.strip(b" \r\n"):
                return None               # numbers beside a nested list: no array
            if children:
                children[-1] += 1
            depth += 1
            max_depth = max(max_depth, depth)
            children.append(0)
            prev = "["
        else:              # ]
            if prev == "[":
                if not seg.strip(b" \r\n,"):
                    return None           # an empty list: left to ruamel
                inner.append(seg)
                inner_depths.add(depth)
            else:
                if seg.strip(b" \r\n"):
                    return None
                counts.setdefault(depth, set()).add(children[-1])
            depth -= 1
            children.pop()
            prev = "]"
            if depth == 0:
                end = k + 1
                break
        j = k + 1
    signs = b";".join(inner).translate(None, _SIGNS)   # ".,e-.,.;..." : a tenth of the text, counted fast
    lens = {row.count(b",") + 1 for row in signs.split(b";")}
    if len(lens) != 1 or len(inner_depths) != 1 or any(len(c) != 1 for c in counts.values()):
        return None                       # ragged: ruamel builds it, the loader says so
    n = lens.pop()
    if max_depth > 32:
        return None                       # NumPy's arrays have at most 64 axes; the reader refuses past 100
    if n * len(inner) < MIN_NUMBERS:
        return end, None, max_depth
    shape = tuple(next(iter(counts[d])) for d in range(1, max_depth)) + (n,)
    try:
        value = _read(inner, signs.replace(b";", b","), shape)
    except _NotNumbers:
        return None
    return end, value, max_depth


class _NotNumbers(Exception):
    pass


def _read(inner: list[bytes], signs: bytes, shape: tuple[int, ...]) -> NumberList:
    """The NumberList of the innermost lists' texts *inner*, shaped *shape*; *signs*: their text without digits,
    spaces and line breaks (a token's `e` followed by its sign stays `e-`: a comma stays between tokens)."""
    tokens = b",".join(inner).split(b",")
    dots = signs.count(b".")
    exps = signs.count(b"e") + signs.count(b"E")
    if exps != sum(signs.count(p) for p in (b"e-", b"e+", b"E-", b"E+")):
        raise _NotNumbers               # `.5e5` is a string to YAML 1.2 and a number to float(): left to ruamel
    try:
        if dots == len(tokens):         # a dot in each (float() refuses two in one): every token a float
            arr = np.array(tokens, dtype=np.float64)
            items = arr.tolist()
        elif dots == 0 and exps == 0:   # every token an int
            items = [int(t) for t in tokens]
            arr = np.array(items, dtype=np.int64)
        else:
            items = [float(t) if (b"." in t or b"e" in t or b"E" in t) else int(t) for t in tokens]
            arr = np.array(items, dtype=np.float64)
    except (ValueError, OverflowError):
        raise _NotNumbers from None
    return _nest(arr.reshape(shape), items, shape)


def _nest(arr: np.ndarray, items: list, shape: tuple[int, ...]) -> NumberList:
    if len(shape) == 1:
        out = NumberList(items)
        out.array = arr
        return out
    step = arr[0].size
    out = NumberList(_nest(arr[k], items[k * step:(k + 1) * step], shape[1:]) for k in range(shape[0]))
    out.array = arr
    return out


def as_arrays(data):
    """*data* with each NumberList in it replaced by its array (for np.array: rows copied, not items)."""
    if isinstance(data, NumberList):
        return data.array
    if isinstance(data, list):
        return [as_arrays(v) for v in data]
    return data
