"""Read YAML safely, keeping the line and column of every key and value.

The data is built here from ruamel.yaml's parser events, not by its constructors: nothing is ever
made from a tag (every explicit tag is refused, `!!int` and `!!omap` as much as `!!python/...`),
anchors and aliases are refused (so an alias bomb expands nothing), nesting is limited and counted
without recursion, and integers are limited in length. Plain scalars are typed by YAML 1.2's core
schema: null, booleans, integers, floats, and strings for everything else.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnntui.errors import Problem, ScenarioError, join_surrogates, lone_surrogate
from rnntui.scenario.yaml_words import syntax_problem

PathKey = tuple  # a tuple of str keys and int indices, e.g. ("model", 1, "hidden_size")

MAX_FILE_BYTES = 16 << 20   # a scenario is a page of YAML; arrays belong in .npy/.npz files
MAX_DEPTH = 100             # maps and lists inside each other
MAX_INT_DIGITS = 100        # no count, size or seed needs more; int() of 5,000 digits is refused by Python

# What YAML text may not hold (YAML 1.2, 5.1): C0 controls but tab, LF and CR; DEL; C1 controls but NEL.
_NOT_YAML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")
_ASCII_YAML = bytes(range(0x20, 0x7f)) + b"\t\n\r"   # the ASCII it may hold (a fast check of a big text)

@dataclass
class Positions:
    """Maps a key path to its 1-based (line, column); looks up the nearest ancestor."""

    file: str
    where: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    lists: dict = field(default_factory=dict)   # path -> fast_numbers.Found: a list read by NumPy, its items placed on demand

    def of(self, path: PathKey) -> tuple[int | None, int | None]:
        full = path = tuple(path)
        while path:
            found = self.lists.get(path) if len(path) < len(full) else None
            if found is not None:
                return found.position(full[len(path):])
            if path in self.where:
                return self.where[path]
            path = path[:-1]
        return self.where.get((), (None, None))

    def problem(self, path: PathKey, message: str) -> Problem:
        line, col = self.of(path)
        return Problem(self.file, line, col, format_path(path), message)


def format_path(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Refused(Exception):
    """Stops reading at the first construct that is not plain data (an anchor, a tag, too deep)."""

    def __init__(self, problem: Problem):
        self.problem = problem


def _scalar(event, resolver, at: tuple[int, int], path: PathKey, file: str) -> Any:
    """A scalar event as None, bool, int, float or str (YAML 1.2 core schema)."""
    from ruamel.yaml.nodes import ScalarNode

    text = event.value
    if event.style == ">":  # ruamel's round-trip scanner marks each fold with BEL; the text has none
        text = text.replace("\a", "")
    if not event.implicit[0]:  # quoted or block scalar: always a string
        return text
    tag = str(resolver.resolve(ScalarNode, text, event.implicit))
    kind = tag.rsplit(":", 1)[-1]
    if kind == "null":
        return None
    if kind == "bool":
        return text.lower() == "true"
    if kind == "int":
        digits = text.replace("_", "").lstrip("+-")
        if len(digits) > MAX_INT_DIGITS:
            raise _Refused(Problem(file, *at, format_path(path),
                                   f"found an integer of {len(digits):,} digits; expected at most {MAX_INT_DIGITS}"))
        sign = -1 if text.lstrip().startswith("-") else 1
        low = digits.lower()
        for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
            if low.startswith(prefix):
                return sign * int(low[2:], base)
        return sign * int(low, 10)
    if kind == "float":
        low = text.replace("_", "").lower()
        if low.lstrip("+-") == ".inf":
            return float("-inf") if low.startswith("-") else float("inf")
        if low == ".nan":
            return float("nan")
        return float(low)
    return text  # timestamps and anything else stay the text that was written


class _Builder:
    """Builds plain data from parser events with an explicit stack (depth costs no recursion)."""

    def __init__(self, file: str, pos: Positions, resolver, reduced=None, arrays: tuple = ()):
        self.file, self.pos, self.resolver = file, pos, resolver
        self.arrays = arrays     # path prefixes where a list read by NumPy is handed over as its array
        self.reduced = reduced   # fast_numbers.Reduced: the lists read by NumPy, by their placeholder's position
        self.used = 0
        self.stack: list[dict] = []   # frames: {"node", "path", "key", "keys", "drop"}
        self.root: Any = None
        self.done = False
        self.problems: list[Problem] = []

    def refuse(self, at, path, message):
        raise _Refused(Problem(self.file, *at, format_path(path), message))

    def child_path(self) -> PathKey:
        """Where the next node goes: the parent's path plus its pending key or next index."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top["node"], list):
            return top["path"] + (len(top["node"]),)
        return top["path"] + ((top["key"],) if top["key"] is not None else ())

    def feed(self, event) -> None:
        from ruamel.yaml import events as ev

        at = (event.start_mark.line + 1, event.start_mark.column + 1)
        found = None
        if self.reduced is not None:
            found = self.reduced.found.get(at)
            at = self.reduced.where(*at)
        if isinstance(event, (ev.StreamStartEvent, ev.StreamEndEvent, ev.DocumentEndEvent)):
            return
        if isinstance(event, ev.DocumentStartEvent):
            if self.done:
                self.refuse(at, (), "found a second YAML document (---); expected one scenario per file")
            return
        path = self.child_path()
        if isinstance(event, ev.AliasEvent):
            self.refuse(at, path, f"found the alias *{event.anchor}; anchors and aliases are not allowed in a "
                        "scenario (write the value out)")
        if getattr(event, "anchor", None) is not None:
            self.refuse(at, path, f"found the anchor &{event.anchor}; anchors and aliases are not allowed in a "
                        "scenario (write the value out)")
        tag = getattr(event, "tag", None)
        if tag is not None:
            self.refuse(at, path, f"found the YAML tag {str(tag)!r}; tags are not allowed")
        if isinstance(event, (ev.MappingStartEvent, ev.SequenceStartEvent)):
            if len(self.stack) >= MAX_DEPTH:
                self.refuse(at, path[:3], f"found maps and lists nested more than {MAX_DEPTH} deep; "
                            f"expected at most {MAX_DEPTH} levels")
            if self.stack and self.stack[-1]["key"] is None and isinstance(self.stack[-1]["node"], dict):
                self.refuse(at, path, "found a map or a list used as a key; expected a plain name")
            self.place_position(path, at)
            node: Any = {} if isinstance(event, ev.MappingStartEvent) else []
            self.stack.append({"node": node, "path": path, "key": None, "keys": {}})
            return
        if isinstance(event, (ev.MappingEndEvent, ev.SequenceEndEvent)):
            frame = self.stack.pop()
            self.attach(frame["node"])
            return
        if isinstance(event, ev.ScalarEvent) and found is not None:
            self.numbers(event, found, at, path)
            return
        if isinstance(event, ev.ScalarEvent):
            event.value = self.text(event.value, at, path)
            top = self.stack[-1] if self.stack else None
            if top is not None and isinstance(top["node"], dict) and top["key"] is None:
                key = event.value  # a key is the text written, whatever it looks like
                first = top["keys"].get(key)
                if first is not None:
                    self.refuse(at, top["path"] + (key,), f"duplicate key {key!r} (first at line {first[0]}, "
                                f"column {first[1]}); expected each key once")
                top["keys"][key] = at
                top["key"] = key
                self.pos.where[top["path"] + (key,)] = at
                return
            self.place_position(path, at)
            self.attach(_scalar(event, self.resolver, at, path, self.file))

    def numbers(self, event, found, at, path: PathKey) -> None:
        """The placeholder of a list read by NumPy: that list, where ruamel would have built it."""
        from rnntui.scenario.fast_numbers import MARK, Unsure

        top = self.stack[-1] if self.stack else None
        if event.style is not None or event.value != MARK or (top is not None and isinstance(top["node"], dict)
                                                              and top["key"] is None) \
                or len(self.stack) + found.depth > MAX_DEPTH:
            raise Unsure   # not read as the list it stands for (a key, a longer scalar), or nested too deep
        self.place_position(path, at)
        self.pos.lists[path] = found
        self.used += 1
        self.attach(found.array if any(path[:len(p)] == p for p in self.arrays) else found.value)

    def text(self, value: str, at, path: PathKey) -> str:
        """A scalar's text with surrogate pairs joined; a lone surrogate (only a \\u escape makes one) refused."""
        value = join_surrogates(value)
        k = lone_surrogate(value)
        if k is not None:
            self.refuse(at, path, f"found the escape \\u{ord(value[k]):04x} (character {k} of the text), half of a "
                        "UTF-16 surrogate pair without its other half: no character, so it can be neither printed nor "
                        "written; expected text (write the character itself, or \\U and eight hex digits)")
        return value

    def place_position(self, path: PathKey, at) -> None:
        # a map's keys have their own positions; list items and the root are placed where they start
        if not self.stack or isinstance(self.stack[-1]["node"], list):
            self.pos.where[path] = at

    def attach(self, value) -> None:
        if not self.stack:
            self.root, self.done = value, True
            return
        top = self.stack[-1]
        if isinstance(top["node"], list):
            top["node"].append(value)
        else:
            top["node"][top["key"]] = value
            top["key"] = None


def load_yaml(text: str, file: str, fast: bool = True, arrays: tuple[PathKey, ...] = (),
              raw: bytes | None = None) -> tuple[Any, Positions]:
    """Parse *text*; return plain Python data and the positions of its keys. *fast*: big lists of plain
    numbers read with NumPy (scenario/fast_numbers.py), the same data; False: ruamel reads every number.
    *arrays*: key paths (prefixes) under which such a list is handed over as its NumPy array (int64 or
    float64) rather than as lists of Python numbers, for a caller that reads only the array there. *raw*: the
    text's UTF-8 bytes, where the caller has them (spares encoding an ASCII text again)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from rnntui.scenario.fast_numbers import Unsure, reduce

    pos = Positions(file)
    pos.where[()] = (1, 1)
    reduced = reduce(text, raw) if fast else None
    if reduced is None or not reduced.clean:   # (the compiled scan of number lists reads every character)
        bad = None if text.isascii() and not text.encode("ascii").translate(None, _ASCII_YAML) else \
            _NOT_YAML.search(text)
        if bad:
            line = text.count("\n", 0, bad.start()) + 1
            col = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
            raise ScenarioError([Problem(file, line, col, "", f"found the control character {bad.group()!r}; "
                                         "expected YAML text, which holds none but tab and line breaks")])
    if reduced is not None:   # the big lists of numbers read with NumPy; the rest by ruamel
        fast = Positions(file)
        fast.where[()] = (1, 1)
        try:
            builder = _Builder(file, fast, YAML(typ="rt", pure=True).resolver, reduced, tuple(map(tuple, arrays)))
            for event in YAML(typ="rt", pure=True).parse(reduced.text):
                builder.feed(event)
            if builder.used == len(reduced.found):
                return builder.root, fast
        except _Refused as exc:   # an anchor, a tag, a duplicate key: outside the lists, where the original has it
            raise ScenarioError([exc.problem]) from None
        except (Unsure, YAMLError, RecursionError, ValueError):
            pass   # a syntax error, or a list not read as one: the original's reading (and its message) is given
    yaml = YAML(typ="rt", pure=True)
    builder = _Builder(file, pos, yaml.resolver)
    try:
        for event in yaml.parse(text):
            builder.feed(event)
    except _Refused as exc:
        raise ScenarioError([exc.problem]) from None
    except MarkedYAMLError as exc:
        raise ScenarioError([syntax_problem(exc, file, text)]) from None
    except (YAMLError, RecursionError, ValueError) as exc:
        raise ScenarioError([Problem(file, None, None, "", f"YAML: {str(exc).splitlines()[0] if str(exc) else exc!r}")]) from None
    return builder.root, pos


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_regular(path: Path, what: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most *limit* bytes; OSError with a message otherwise.

    Devices, pipes and sockets are refused before they are opened (reading /dev/zero never ends, and
    opening a FIFO waits for a writer); O_NONBLOCK covers a file swapped for a FIFO in between.
    """
    from rnntui.scenario.reads import note

    note(path)
    st = os.stat(path)  # follows symlinks: a .yaml link to /dev/urandom is a device
    if not stat.S_ISREG(st.st_mode):
        via = f" (through the link to {os.path.realpath(path)})" if os.path.islink(path) else ""
        raise _NotRegular(f"is {_kind(st.st_mode)}{via}; expected {what}")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _NotRegular(f"is {_kind(st.st_mode)}; expected {what}")
        data = f.read(min(st.st_size, limit) + 1)   # the size it has (a read of limit + 1 bytes costs their buffer)
        if len(data) > st.st_size and len(data) <= limit:   # it grew since: the rest, up to the limit
            data += f.read(limit + 1 - len(data))
    if len(data) > limit:
        raise _NotRegular(f"is larger than {limit >> 20} MiB; expected {what} of at most {limit >> 20} MiB")
    return data


class _NotRegular(OSError):
    pass


def read_text(path: Path, with_bytes: bool = False) -> str | tuple[str, bytes]:
    """A scenario file's text (*with_bytes*: and its bytes), or a ScenarioError saying why it cannot be read."""
    def refuse(message: str):
        return ScenarioError([Problem(str(path), None, None, "", message)])

    try:
        data = read_regular(path, "a scenario file (YAML text)")
    except _NotRegular as exc:
        raise refuse(str(exc)) from None
    except FileNotFoundError:
        raise refuse("no such file") from None
    except OSError as exc:
        raise refuse(exc.strerror or str(exc)) from None
    try:
        text = data.decode("utf-8")
        return (text, data) if with_bytes else text
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ScenarioError([Problem(str(path), line, col, "", f"found the byte {data[exc.start]:#04x}; "
                                     "expected UTF-8 text")]) from None
