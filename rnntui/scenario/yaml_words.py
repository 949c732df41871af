"""ruamel.yaml's syntax errors in words a user knows: what is wrong with the line and how to fix it.

The parser says what token it expected (`expected <block end>, but found '<block mapping start>'`); the
user wrote lines, keys, indentation and brackets. Each common error is recognised by its message and
told in those terms, naming the keys involved, with the position kept; anything else keeps the parser's
own words (with the place where the construct it was reading began).
"""
from __future__ import annotations

import difflib
import re

from rnntui.errors import Problem


def suggest(word, choices) -> str:
    """" (did you mean 'mse'?)" for a word close to one of *choices* (another case counts as close:
    `kind: MSE`), else ""."""
    if not isinstance(word, str):
        return ""
    by_lower: dict[str, str] = {}
    for c in map(str, choices):
        by_lower.setdefault(c.lower(), c)
    if word.lower() in by_lower and by_lower[word.lower()] != word:
        return f" (did you mean {by_lower[word.lower()]!r}?)"
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""

# what the parser calls the construct it was reading, as the user wrote it
_CONSTRUCTS = {
    "block collection": "list", "block sequence": "list", "block mapping": "map", "flow sequence": "[...] list",
    "flow mapping": "{...} map", "quoted scalar": "quoted text", "double-quoted scalar": "quoted text",
    "single-quoted scalar": "quoted text", "plain scalar": "value", "block scalar": "block of text",
    "simple key": "key", "block node": "value", "flow node": "value",
}
_CLOSE = {"[...] list": "]", "{...} map": "}"}


def _construct(context: str | None) -> str:
    text = (context or "").strip().replace("while parsing ", "").replace("while scanning ", "")
    text = text.removeprefix("a ").removeprefix("an ")
    return _CONSTRUCTS.get(text, text or "construct")


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _above(lines: list[str], n: int) -> int | None:
    """The index of the nearest line above line *n* (0-based) that holds something (not blank, not a comment)."""
    for k in range(min(n, len(lines)) - 1, -1, -1):
        body = lines[k].strip()
        if body and not body.startswith("#"):
            return k
    return None


def _key(line: str) -> tuple[str, int]:
    """(the key or item the line starts, its 1-based column), past any '- ' list markers."""
    m = re.match(r"^((?:\s*-\s+)*\s*)(.*)$", line)
    lead, rest = m.group(1), m.group(2)
    name = re.split(r":(\s|$)", rest, maxsplit=1)[0].strip() if ":" in rest else rest.strip()
    return (name[:30] + ("..." if len(name) > 30 else "")), len(lead) + 1


def _indentation(lines: list[str], n: int, col: int, found: str) -> str:
    """A line that starts at a column no map or list above it has: name it and the key it should line up with."""
    here, _ = _key(lines[n]) if n < len(lines) else ("", col)
    k = _above(lines, n)
    if k is None:
        return "this line is indented differently from the lines above it"
    above, above_col = _key(lines[k])
    item_above = lines[k].lstrip().startswith("- ") or lines[k].strip() == "-"
    dash_col = len(lines[k]) - len(lines[k].lstrip()) + 1
    if found == "-":
        return (f"this list item ('-', column {col}) sits among the keys of the map above (`{above}`, line {k + 1}, "
                f"column {above_col}); a list is a key's value: put its items below a key that has nothing after "
                "its ':', indented more than that key")
    what = f"`{here}`" if here else "this line"
    if item_above and col <= dash_col:
        return (f"{what} is a key, but the line above (line {k + 1}) is an item of a list at this level; a map "
                "and a list cannot share a level: make it an item ('- ...') or put the list under a key")
    return (f"this line is indented differently from the one above it: {what} starts at column {col}, "
            f"`{above}` (line {k + 1}) at column {above_col}; keys of one map start in the same column, and a "
            "value on lines of its own is indented more than its key")


def syntax_problem(exc, file: str, text: str) -> Problem:
    """One Problem for a ruamel MarkedYAMLError: the line and column of the mistake and what to do."""
    mark = exc.problem_mark or exc.context_mark
    ctx = exc.context_mark
    what = (exc.problem or exc.context or "invalid YAML").strip()
    construct = _construct(exc.context)
    lines = _lines(text)
    words = None
    m = re.match(r"expected <block end>, but found '?(.*?)'?$", what)
    if m and mark is not None:
        found = m.group(1)
        if found in ("]", "}"):
            words = f"found a closing '{found}' with no opening '{'[' if found == ']' else '{'}' before it"
        else:
            words = _indentation(lines, mark.line, mark.column + 1, found)
    elif what == "mapping values are not allowed here" and mark is not None:
        line = lines[mark.line] if mark.line < len(lines) else ""
        before = line[:mark.column]
        if re.search(r":(\s|$)", before):
            words = ("found a second ': ' on one line; a key takes one value: put a value that holds ': ' in "
                     "quotes ('a: b'), or start the inner key on a line of its own, indented")
        else:
            k = _above(lines, mark.line)
            above = f"`{_key(lines[k])[0]}` (line {k + 1})" if k is not None else "the line above"
            words = (f"this line is indented more than {above}, which already has its value; indent it like "
                     f"{above.split(' (')[0]} to make it a key beside it")
    elif what == "could not find expected ':'" and ctx is not None:
        mark = ctx
        name = _key(lines[ctx.line])[0] if ctx.line < len(lines) else ""
        words = (f"found `{name}` with no ':' after it; expected `key: value`, or `- value` for a list item "
                 "(a value that goes on from the line above is indented more than its key)")
    elif what.startswith("found character '\\t'"):
        words = "found a tab; YAML indents with spaces only"
    elif (m := re.match(r"found character '(.+)' that cannot start any token", what)):
        words = f"'{m.group(1)}' cannot begin a value in YAML; put the value in quotes"
    elif ("end of stream" in what or "stream end" in what) and ctx is not None:
        # noticed only at the end of the file: the useful place is where the unclosed construct began
        end = mark.line + 1 if mark is not None else len(lines)
        mark = ctx
        closing = _CLOSE.get(construct) or (text[ctx.index] if construct == "quoted text" and ctx.index < len(text) else "")
        words = (f"the {construct} that begins here is never closed" + (f" (no closing {closing} before the end of "
                 f"the file, line {end})" if closing else f" (the file ends at line {end})"))
    elif (m := re.match(r"expected ',' or '([\]}])', but got '?(.*?)'?$", what)) and ctx is not None:
        opening = "[" if m.group(1) == "]" else "{"
        got = {"<scalar>": "a value", "<block end>": "the end of the block"}.get(m.group(2), f"'{m.group(2)}'")
        words = (f"the {construct} opened with '{opening}' at line {ctx.line + 1}, column {ctx.column + 1} goes on "
                 f"here without a ',' or a closing '{m.group(1)}' (found {got}); separate its items with ',' "
                 f"and close it with '{m.group(1)}'")
    elif what in ("sequence entries are not allowed here", "block sequence entries are not allowed here"):
        words = ("a list item ('- ') cannot start on the line of its key; put each item on a line of its own "
                 "below the key, indented, or write the list as [a, b]")
    elif (m := re.match(r"found unknown escape character '(.+)'", what)):
        words = (f"'\\{m.group(1)}' is no escape in double-quoted text; use single quotes for text with "
                 "backslashes, or write '\\\\' for one")
    elif (m := re.match(r"expected the node content, but found '(.+)'", what)):
        words = f"found '{m.group(1)}' where a value was expected"
    if words is None:  # the parser's own words, with where the construct began
        words = what
        if exc.context and ctx is not None and mark is not None and (ctx.line, ctx.column) != (mark.line, mark.column):
            words += f" (in the {construct} that began at line {ctx.line + 1}, column {ctx.column + 1})"
        elif exc.context and exc.context.strip() not in what:
            words += f" ({exc.context.strip()})"
    line = mark.line + 1 if mark else None
    col = mark.column + 1 if mark else None
    return Problem(file, line, col, "", f"YAML syntax: {words}")
