"""Big lists of plain numbers read with NumPy before ruamel.yaml sees the text.

ruamel's round-trip reader, which keeps every value's line and column, reads a few thousand numbers a
second: a scenario with its weights inline (9 MB of text) took 40 s. Before it parses, `reduce` finds
the flow sequences that hold nothing but plain numbers (`[0.1, -2.5e-05, ...]`, nested to any depth, a
rectangular array), parses each, and hands ruamel a text where each is one short plain scalar (`N`) on
one line: what followed the list's `]` follows the placeholder, the lines below move up by the list's line
breaks and a column after it moves left by what was taken out; `Reduced.where` moves them back. The builder
(yaml_source.py) attaches the parsed array where that scalar sits, and the positions of the numbers inside it
are computed from the original text when an error asks for one (`Found.position`).

Two scans find and parse the lists, with the same result: the compiled one (number_kernel.py, numba: one
pass over the text, each number converted where it stands, exactly) where numba is installed and the text
is at least COMPILED_MIN_BYTES, else the NumPy one here (the brackets' depths as a cumulative sum, each list's
skeleton and tokens checked with bytes methods, the numbers converted by NumPy's `float()`). A list the
compiled scan is not sure of (a token spelt otherwise than it reads) it hands to the NumPy scan.

The result is what ruamel would have read, value by value and type by type (a YAML int stays an int, a
float a float, each float the correctly rounded value `float()` gives). What this reader is
not sure of it leaves to ruamel: a token that is not a YAML 1.2 number ("1-2", ".5e5", .nan, a tab), an
empty or ragged list, a text with directives (`%YAML 1.1` types numbers otherwise). And when the reduced
text does not read back as the original would (a placeholder that ruamel did not read as one scalar where
the list began: the list was inside a quoted string, a comment, a block scalar, a key) the caller reads the
original text instead (`Unsure`).
"""
from __future__ import annotations

import re
import sys
from bisect import bisect_left
from dataclasses import dataclass, field

import numpy as np

from rnntui import oneshot

MIN_NUMBERS = 200   # smaller lists cost ruamel little; below this they are left to it

MARK = "N"
_AFTER = re.compile(rb"[ ]*(?:[,\]}\r\n]|$)|[ ]+#")   # what may follow a list replaced (a key's `:` may not)


class Unsure(Exception):
    """The reduced text cannot be trusted to read as the original: read the original."""


class NumberList(list):
    """A list read by the fast path: a plain list of its values, and (the outermost) `array`, NumPy's of the
    same numbers; a list inside it is a NumberList too, its `array` None.

    Its items are what ruamel would have built (int and float, nested lists); `array` spares the loader
    a walk over them (`scenario/arrays.numbers`). Read only: nothing changes the data the reader built.
    """

    array = None


class Parsed:
    """A list read by the fast path: its array, and the NumberList of its values, built when first asked for
    (a reader that takes only the array, as the loader does for `weights.set`, never builds its Python numbers)."""

    __slots__ = ("array", "_items", "_value")

    def __init__(self, array: np.ndarray, items: list | None = None):
        self.array, self._items, self._value = array, items, None   # items: flat, when ints stand beside floats

    @property
    def value(self) -> NumberList:
        if self._value is None:
            self._value, self._items = _nest(self.array, self._items), None
        return self._value


@dataclass
class Found:
    """One list read by NumPy: its value and where it was in the original text."""

    parsed: Parsed
    depth: int          # lists inside each other, 1 for a flat list
    start: int          # offset of its `[` in the original text
    line: int           # 1-based line and column of the `[`
    col: int
    text: str           # the original text
    end: int            # the offset after its `]`

    @property
    def value(self) -> NumberList:
        return self.parsed.value

    @property
    def array(self) -> np.ndarray:
        return self.parsed.array

    @property
    def source(self) -> str:
        """The list's own text, `[` to `]`."""
        return self.text[self.start:self.end]

    def position(self, sub: tuple) -> tuple[int, int]:
        """The 1-based (line, column) of the item at index path *sub* inside this list, as ruamel places it
        (a nested list at its `[`, a number at its first character); as deep as *sub* goes into the list."""
        source = self.source
        target, idx, best, best_len = tuple(sub), [], 0, 0
        for m in re.finditer(r"\[|\]|,|[^\s\[\],]+", source):
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
        return _line_col(source, best, self.line, self.col)


def _line_col(text: str, at: int, line: int, col: int) -> tuple[int, int]:
    before = text.count("\n", 0, at)
    if before == 0:
        return line, col + at
    return line + before, at - text.rfind("\n", 0, at)


@dataclass
class Reduced:
    """The text ruamel reads, the lists read by NumPy by their placeholder's (line, column) in it, and what maps
    a position in it back to the original text: a list of several lines is one placeholder on one line (what
    followed its `]` follows the placeholder), so the later lines move up by its line breaks, and on a line
    with placeholders what follows each moves left by what it took out."""

    text: str
    found: dict[tuple[int, int], Found] = field(default_factory=dict)
    # reduced line -> [(from reduced column, original line, add to the column)], in the order of the columns
    moves: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)
    up_lines: list[int] = field(default_factory=list)    # reduced lines after which the lines below moved up,
    up_total: list[int] = field(default_factory=list)    # and by how many lines in all
    clean: bool = False   # the compiled scan read every character and found none that YAML text may not hold

    def where(self, line: int, col: int) -> tuple[int, int]:
        """A 1-based position in the reduced text, in the original."""
        k = bisect_left(self.up_lines, line)
        out_line, add = line + (self.up_total[k - 1] if k else 0), 0
        for start, orig_line, delta in self.moves.get(line, ()):
            if col >= start:
                out_line, add = orig_line, delta
        return out_line, col + add


def reduce(text: str, raw: bytes | None = None) -> Reduced | None:
    """The reduced text, or None when no list is worth reading with NumPy (the original is read as it is).
    *raw*: the text's UTF-8 bytes if the caller has them (used when the text is ASCII: as long as the text)."""
    if "[" not in text or (not text.isascii() and ("\x85" in text or "\u2028" in text or "\u2029" in text)):
        return None   # line breaks other than LF and CRLF: ruamel counts lines otherwise than this module
    if raw is None or len(raw) != len(text):   # (UTF-8 as long as its text: ASCII, one byte a character)
        raw = text.encode("ascii", "replace")   # one byte a character: offsets are the text's; `?` is no number
    found, clean, plain = _lists(raw)
    if plain is None:   # (the compiled scan looks for these as it reads)
        plain = not ("%" in text and (text.startswith("%") or "\n%" in text)) \
            and not ("\r" in text and text.count("\r") != text.count("\r\n"))
    if not plain or not found:   # a directive (%YAML 1.1 types numbers otherwise), a CR alone (another line break)
        return None
    out = Reduced("", clean=clean and text.isascii())
    pieces = []
    last = 0
    rline, up = 1, 0        # the reduced line at `last`; the lines taken out before it
    line_start = 0          # the original offset of the line `last` is on
    add = 0                 # on the reduced line, original column - reduced column (past the last placeholder)
    for start, end, value, depth, breaks, last_break in found:
        gap = text.count("\n", last, start)
        if gap:
            rline += gap
            line_start = text.rfind("\n", last, start) + 1
            add = 0
        col = start - line_start + 1
        reduced_col = col - add
        out.found[(rline, reduced_col)] = Found(value, depth, start, rline + up, col, text, end)
        pieces.append(text[last:start])
        pieces.append(MARK)
        if breaks < 0:
            breaks = text.count("\n", start, end)
            last_break = text.rfind("\n", start, end)
        if breaks:   # the list's lines become one: what followed its `]` follows the placeholder
            up += breaks
            out.up_lines.append(rline)
            out.up_total.append(up)
            line_start = last_break + 1
        add = (end - line_start + 1) - (reduced_col + len(MARK))
        out.moves.setdefault(rline, []).append((reduced_col + len(MARK), rline + up, add))
        last = end
    pieces.append(text[last:])
    out.text = "".join(pieces)
    return out


_SKELETON = b"0123456789.eE+-naif \r\n"             # deleted: the brackets and commas are left
_BRACKETS_OUT = bytes.maketrans(b"[]", b"  ")
MAX_DEPTH = 32                                       # deeper lists are left to ruamel (which refuses past 100)
WORK = 2   # the scans read at most this many times the text (a list that fails is read again, one level down)
_STEP = np.zeros(256, np.int8)
_STEP[ord("[")], _STEP[ord("]")] = 1, -1


def _lists(raw: bytes) -> tuple[list[tuple[int, int, Parsed, int, int, int]], bool, bool | None]:
    """(start, end, value, depth, line feeds inside, offset of the last; -1, -1: not counted) of each list worth
    reading with NumPy, in the order of the text: by the compiled scan (number_kernel.py) where it runs, else by
    the NumPy scan; whether the compiled scan ran and found no character YAML text may not hold; and whether it
    found no directive and no CR alone (None: the NumPy scan does not look)."""
    kernel = _kernel(len(raw))
    if kernel is None:
        spans = ((run.start(), run.end()) for run in _run_finder().finditer(raw))
        return [f + (-1, -1) for f in _lists_numpy(raw, spans)], False, None
    return _lists_compiled(raw, kernel)


COMPILED_MIN_BYTES = 1 << 20   # smaller texts: the NumPy scan (the compiled one's first call imports numba, ~0.3 s)
_KERNEL: list = []


def _kernel(size: int):
    """number_kernel.scan where numba is importable, the text is big enough and RNNTUI_FUSED is not off; in a
    one-off CLI process (rnntui/oneshot.py) only where numba is loaded already."""
    if size < COMPILED_MIN_BYTES:
        return None
    from rnntui.engine.families.fused import switched_off

    if switched_off():
        return None
    if not _KERNEL:
        if oneshot.CLI and "numba" not in sys.modules:   # numba's import would cost more than it saves once
            return None
        try:
            from rnntui.scenario.number_kernel import scan

            _lists_compiled(b"[1.5, 2]", scan)   # compiled (or loaded from numba's cache) now, on a tiny text
        except Exception:   # noqa: BLE001 - no numba, or one that cannot load or compile here: the NumPy scan
            scan = None
        _KERNEL.append(scan)
    return _KERNEL[0]


def _lists_compiled(raw: bytes, scan) -> tuple[list[tuple[int, int, Parsed, int, int, int]], bool, bool]:
    """The lists found and converted by the compiled scan; those it defers read by the NumPy scan."""
    from rnntui.scenario import number_kernel as nk

    data = np.frombuffer(raw, np.uint8)
    most = len(raw) // 2 + 2                      # numbers: at most one in two characters
    vals = np.empty(most, np.float64)
    ints, kinds = np.empty(most, np.int64), np.zeros(most, np.uint8)
    rows = len(raw) // max(3, 2 * MIN_NUMBERS - 1) + 1   # the lists kept are disjoint, each that long
    recs, dims = np.empty((rows, nk.R_FIELDS), np.int64), np.empty((rows, MAX_DEPTH + 1), np.int64)
    count, clean, plain = scan(data, MIN_NUMBERS, MAX_DEPTH, vals.view(np.int64), ints, kinds, recs, dims)
    out, deferred = [], []
    for rec, shape in zip(recs[:count].tolist(), dims[:count].tolist()):
        start, end, v0, v1 = rec[nk.R_START], rec[nk.R_END], rec[nk.R_V0], rec[nk.R_V1]
        if rec[nk.R_STATUS] != nk.OK:
            deferred.append((start, end))
            continue
        shape = tuple(shape[:rec[nk.R_NDIMS]])
        if rec[nk.R_FIX]:   # more digits than 19, or a product that does not decide: float() of the token
            for v in (np.flatnonzero(kinds[v0:v1] == nk.BY_FLOAT) + v0).tolist():
                token = _TOKEN.match(raw, int(ints[v])).group()
                vals[v] = float(token)
        items = None
        if not rec[nk.R_FLOATS]:   # every token an int
            arr = ints[v0:v1]
        else:
            arr = vals[v0:v1]
            if rec[nk.R_INTS]:     # ints beside floats: the ints stay ints in the data, floats in the array
                items = arr.tolist()
                for v in np.flatnonzero(kinds[v0:v1] == nk.INT).tolist():
                    items[v] = int(ints[v0 + v])
        out.append((start, end, Parsed(arr.reshape(shape), items), rec[nk.R_DEPTH], rec[nk.R_BREAKS],
                    rec[nk.R_LAST_BREAK]))
    if deferred:
        out.extend(f + (-1, -1) for f in _lists_numpy(raw, deferred))
        out.sort(key=lambda f: f[0])
    return out, clean, plain


_TOKEN = re.compile(rb"[-+0-9.eE]+")


def _lists_numpy(raw: bytes, spans) -> list[tuple[int, int, NumberList, int]]:
    """(start, end, value, depth) of each list worth reading with NumPy inside each (start, end) of *spans*.

    Linear in the text: each run of a number list's characters is cut into its top-level balanced lists in
    one NumPy pass (the bracket depth as a cumulative sum, floored at zero so that a stray `]` closes
    nothing); a list that is not a rectangular array of plain numbers, or one left open, has its inside
    scanned again, one level deeper, at most MAX_DEPTH levels down."""
    out = []
    budget = [WORK * len(raw) + 1_000_000]   # bytes the scans may read in all: past it, ruamel reads the rest
    for lo, hi in spans:   # each run of a number list's characters long enough to hold one
        i = raw.find(b"[", lo, hi)
        work = [(i, hi, 0)] if i >= 0 else []
        while work and budget[0] > 0:
            lo, hi, level = work.pop()
            if level <= MAX_DEPTH:
                _scan(raw, lo, hi, level, work, out, budget)
    out.sort(key=lambda f: f[0])
    return out


_RUNS: dict[int, re.Pattern] = {}


def _run_finder() -> re.Pattern:
    """Runs of at least 2 * MIN_NUMBERS - 1 characters of a number list (the fewest that hold MIN_NUMBERS
    numbers), each found from its first character (the lookbehind: linear in the text, whatever it holds)."""
    n = max(1, 2 * MIN_NUMBERS - 1)
    if n not in _RUNS:
        chars = rb"[\[\]0-9.eE+\-naif, \r\n]"   # naif: .nan, .inf
        _RUNS[n] = re.compile(rb"(?<!" + chars + rb")" + chars + rb"{" + str(n).encode() + rb",}")
    return _RUNS[n]


def _scan(raw: bytes, lo: int, hi: int, level: int, work: list, out: list, budget: list) -> None:
    """The top-level lists of raw[lo:hi], each read or (when it is no array of numbers) its inside queued,
    *level* levels down from the run's own; what it reads is taken from *budget*."""
    if raw.find(b"]", lo, hi) < 0 or raw.find(b"[", lo, hi) < 0:
        return
    budget[0] -= hi - lo
    step = _STEP[np.frombuffer(raw, np.uint8, count=hi - lo, offset=lo)]   # +1 at `[`, -1 at `]`, one array
    idx = np.flatnonzero(step)
    steps = step[idx].astype(np.int64)
    raw_depth = np.cumsum(steps)
    floor = np.minimum.accumulate(np.minimum(raw_depth, 0))
    depth = raw_depth - floor                    # floored at zero: a stray `]` closes nothing
    opens = steps > 0
    stray = ~opens & (raw_depth == floor) & (np.concatenate(([0], floor[:-1])) > floor)
    starts = np.flatnonzero(opens & (depth == 1))
    closes = np.flatnonzero(~opens & ~stray & (depth == 0))
    if len(starts) > len(closes):   # the last list is left open: the lists inside it, one level down
        work.append((lo + int(idx[starts[len(closes)]]) + 1, hi, level + 1))
    for a, b in zip(starts[:len(closes)].tolist(), closes.tolist()):
        s, e = lo + int(idx[a]), lo + int(idx[b]) + 1
        if e - s < 2 * MIN_NUMBERS - 1:
            continue   # fewer numbers than MIN_NUMBERS can be written in so few characters
        d = depth[a:b + 1]
        deepest = int(d.max())
        if deepest > MAX_DEPTH:
            continue
        if budget[0] <= 0:
            return
        budget[0] -= e - s
        value = _array(raw[s:e], d, opens[a:b + 1], deepest)
        if value is None:
            work.append((s + 1, e - 1, level + 1))   # its inner lists, each on its own
        elif _AFTER.match(raw, e):
            out.append((s, e, value, deepest))
        else:   # `[...]: value` (a key), `[...] text`: left to ruamel, its inner lists tried
            work.append((s + 1, e - 1, level + 1))


def _array(block: bytes, depth: np.ndarray, opens: np.ndarray, deepest: int) -> Parsed | None:
    """The values of a balanced block `[...]` (*depth*: after each of its brackets; *opens*: which are `[`),
    or None when it is not a rectangular array of plain numbers (too small counts as one: its inner lists are
    smaller still, and None would have them tried; the caller skips those by size first)."""
    counts = np.bincount(depth[opens], minlength=deepest + 1)   # lists opened at each depth
    shape = []
    for k in range(2, deepest + 1):
        if counts[k] % counts[k - 1]:
            return None
        shape.append(int(counts[k] // counts[k - 1]))
    skeleton = block.translate(None, _SKELETON)   # `[[,,],[,,]]`
    close = skeleton.find(b"]")
    n = close - skeleton.rfind(b"[", 0, close)     # the first innermost list's items: its commas + 1
    shape.append(n)
    level = b"[" + b"," * (n - 1) + b"]"
    for size in reversed(shape[:-1]):
        level = b"[" + b",".join([level] * size) + b"]"
    if skeleton != level:
        return None                                # ragged, empty, a trailing comma, lists beside numbers
    total = 1
    for size in shape:
        total *= size
    if total < MIN_NUMBERS:
        return None
    tokens = block.translate(_BRACKETS_OUT).split(b",")
    signs = block.translate(None, b"0123456789 \r\n[]")   # ".,e-.,." : a tenth of the text, counted fast
    try:
        return _read(tokens, signs, tuple(shape))
    except _NotNumbers:
        return None


class _NotNumbers(Exception):
    pass


def _read(tokens: list[bytes], signs: bytes, shape: tuple[int, ...]) -> Parsed:
    """The values of *tokens* (the numbers' texts, in order), shaped *shape*; *signs*: their text without
    digits, spaces and line breaks (a token's `e` followed by its sign stays `e-`: a comma stays between them)."""
    dots = signs.count(b".")
    exps = signs.count(b"e") + signs.count(b"E")
    if exps != sum(signs.count(p) for p in (b"e-", b"e+", b"E-", b"E+")):
        raise _NotNumbers               # `.5e5` is a string to YAML 1.2 and a number to float(): left to ruamel
    texts = tokens
    if any(signs.count(c) for c in (b"n", b"a", b"i", b"f")):   # .nan, .inf, -.inf: YAML's non-finite floats
        nans, infs = signs.count(b".nan"), signs.count(b".inf")
        if signs.count(b"n") != 2 * nans + infs or signs.count(b"a") != nans or signs.count(b"i") != infs or \
                signs.count(b"f") != infs or signs.count(b"-.nan") or signs.count(b"+.nan"):
            raise _NotNumbers           # `nan`, `-.nan`, `inf`: strings to YAML 1.2, numbers to float()
        texts = [t.replace(b".nan", b"nan").replace(b".inf", b"inf") for t in tokens]   # as float() spells them
    try:
        if dots == len(tokens):         # a dot in each (float() refuses two in one): every token a float
            arr = np.array(texts, dtype=np.float64)
            items = None                # the array's own values
        elif dots == 0 and exps == 0:   # every token an int
            arr = np.array([int(t) for t in tokens], dtype=np.int64)
            items = None
        else:
            items = [float(u) if (b"." in t or b"e" in t or b"E" in t) else int(t) for t, u in zip(tokens, texts)]
            arr = np.array(items, dtype=np.float64)
    except (ValueError, OverflowError):
        raise _NotNumbers from None
    return Parsed(arr.reshape(shape), items)


def _nest(arr: np.ndarray, items: list | None = None) -> NumberList:
    """Nested NumberLists of the values of *arr* (or of *items*, flat, in order: ints beside floats), the
    outermost carrying *arr*."""
    n = arr.shape[-1]
    if items is not None:
        rows = list(map(NumberList, (items[k:k + n] for k in range(0, len(items), n))))
    else:   # each innermost row made by NumPy, and only it: fewer lists alive at once, fewer collections
        rows = list(map(NumberList, map(np.ndarray.tolist, arr.reshape(-1, n))))
    level = rows
    for size in reversed(arr.shape[:-1]):   # group the lists of each level into their parents
        level = list(map(NumberList, (level[k:k + size] for k in range(0, len(level), size))))
    top = level[0]
    top.array = arr
    return top


def as_arrays(data):
    """*data* with each NumberList in it replaced by its array (for np.array: rows copied, not items)."""
    if isinstance(data, NumberList):
        return data if data.array is None else data.array
    if isinstance(data, list):
        return [as_arrays(v) for v in data]
    return data
