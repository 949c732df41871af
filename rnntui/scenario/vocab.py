"""Read a `vocab`: an inline list, a `.json` list or `{token: id}` map, or a `.txt` file of one token a line.

Every form gives the same thing, the tokens in id order (id = position), so the three files of one
vocabulary give the same ids. A vocabulary is refused when an id would be ambiguous: a token twice,
a map whose ids are not 0..V-1 each once, an empty line in the middle of a `.txt`.
"""
from __future__ import annotations

import json
from pathlib import Path

from rnntui.errors import lone_surrogate
from rnntui.scenario.built_input import InputProblem
from rnntui.scenario.yaml_source import MAX_INT_DIGITS


class _Huge:
    """A JSON integer longer than any id (Python refuses int() of more than 4,300 digits): said, not converted."""

    def __init__(self, digits: int):
        self.digits = digits

    def __repr__(self) -> str:
        return f"a number of {self.digits:,} digits"


def _int(text: str):
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_INT_DIGITS else _Huge(digits)


def _describe(value) -> str:
    text = repr(value)
    return (text[:40] + "...") if len(text) > 40 else text


def _kind(value) -> str:
    return "int" if isinstance(value, _Huge) else type(value).__name__


def _printable(tok: str, where: str, key) -> None:
    """A token is text a terminal and a UTF-8 file can hold: JSON's escapes may make a lone surrogate."""
    at = lone_surrogate(tok)
    if at is not None:
        raise InputProblem(key, f"{where} holds \\u{ord(tok[at]):04x} at character {at}, half of a UTF-16 surrogate "
                           "pair without its other half: no character, so it can be neither printed nor written; "
                           "expected text (write the character itself, or both halves of the pair)")


def _no_duplicates(tokens: list[str], key, where) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    for k, tok in enumerate(tokens):
        _printable(tok, where(k), key)
        if tok in seen:
            raise InputProblem(key, f"the token {_describe(tok)} is both {where(seen[tok])} and {where(k)}; "
                               "expected each token once (its id would be ambiguous)")
        seen[tok] = k
    if not tokens:
        raise InputProblem(key, "found an empty vocabulary; expected at least one token")
    return tuple(tokens)


def _from_list(items: list, key, where) -> tuple[str, ...]:
    for k, tok in enumerate(items):
        if not isinstance(tok, str):
            raise InputProblem(key if isinstance(key, str) else key + (k,),
                               f"{where(k)} is {_describe(tok)} ({_kind(tok)}); expected a token as text "
                               "(quote it)")
    return _no_duplicates(items, key, where)


def _from_map(items: dict, shown: str) -> tuple[str, ...]:
    by_id: dict[int, str] = {}
    for tok, i in items.items():
        _printable(tok, f"{shown}: the token {_describe(tok)}", "vocab")
        if isinstance(i, bool) or not isinstance(i, int) or i < 0:
            raise InputProblem("vocab", f"{shown}: the id of {_describe(tok)} is {_describe(i)}; expected a whole "
                               "number from 0")
        if i in by_id:
            raise InputProblem("vocab", f"{shown}: the tokens {_describe(by_id[i])} and {_describe(tok)} both have "
                               f"id {i}; expected each id once")
        by_id[i] = tok
    missing = next((i for i in range(len(by_id)) if i not in by_id), None)
    if missing is not None:
        raise InputProblem("vocab", f"{shown}: no token has id {missing} (the ids go up to {max(by_id)}); expected "
                           f"ids 0..{len(by_id) - 1}, each once")
    if not by_id:
        raise InputProblem("vocab", f"{shown}: found an empty map; expected at least one token")
    return tuple(by_id[i] for i in range(len(by_id)))


def _read(path: Path, shown: str) -> str:
    from rnntui.scenario.yaml_source import read_regular

    if not path.exists():
        raise InputProblem("vocab", f"found {shown!r}, which does not exist in {path.parent}; expected a .json or "
                           ".txt vocabulary")
    try:
        data = read_regular(path, "a vocabulary file (.json or .txt)")
    except OSError as exc:
        raise InputProblem("vocab", f"{shown}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputProblem("vocab", f"{shown}: found the byte {data[exc.start]:#04x} at byte {exc.start}; "
                           "expected UTF-8 text") from None


def read_vocab(spec, base_dir: Path) -> tuple[str, ...]:
    """The vocabulary's tokens in id order, or InputProblem naming what is wrong and where."""
    if isinstance(spec, list):
        return _from_list(spec, ("vocab",), lambda k: f"entry {k}")
    suffix = Path(spec).suffix.lower()
    if suffix not in (".json", ".txt"):
        raise InputProblem("vocab", f"found {spec!r}; expected a list of tokens, or a .json or .txt file")
    text = _read(base_dir / spec, spec)
    if suffix == ".txt":
        lines = text.split("\n")  # not splitlines(): a token may be any other character, \x0c and \u2028 too
        if lines and lines[-1] == "":
            lines.pop()  # the file's last newline ends a line; it starts no token
        lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
        empty = next((n for n, ln in enumerate(lines) if ln == ""), None)
        if empty is not None:
            raise InputProblem("vocab", f"{spec}: line {empty + 1} is empty; expected one token a line")
        return _no_duplicates(lines, "vocab", lambda k: f"line {k + 1} of {spec}")
    try:
        data = json.loads(text, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise InputProblem("vocab", f"{spec}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise InputProblem("vocab", f"{spec}: nested too deeply; expected a list or a map") from None
    if isinstance(data, list):
        return _from_list(data, "vocab", lambda k: f"entry {k} of {spec}")
    if isinstance(data, dict):
        return _from_map(data, spec)
    raise InputProblem("vocab", f"{spec} holds {type(data).__name__}; expected a list of tokens or a map {{token: id}}")
