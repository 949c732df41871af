"""Read YAML safely, keeping the line and column of every key and value.

ruamel.yaml's round-trip loader records positions; it never builds Python objects
from tags, and any explicit tag is refused here so a scenario stays plain data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnntui.errors import Problem, ScenarioError

PathKey = tuple  # a tuple of str keys and int indices, e.g. ("model", 1, "hidden_size")


@dataclass
class Positions:
    """Maps a key path to its 1-based (line, column); looks up the nearest ancestor."""

    file: str
    where: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: PathKey) -> tuple[int | None, int | None]:
        path = tuple(path)
        while path:
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


def _plain(node: Any, path: PathKey, pos: Positions, problems: list[Problem]) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

    tag = getattr(node, "tag", None)
    tag_value = getattr(tag, "value", None) if tag is not None else None
    if isinstance(node, TaggedScalar) or (tag_value and (tag_value.startswith("!") or "python/" in tag_value)):
        problems.append(pos.problem(path, f"found the YAML tag {tag_value!r}; tags are not allowed"))
        return None
    if isinstance(node, CommentedMap):
        out = {}
        for key, value in node.items():
            child = path + (str(key),)
            try:
                kl, kc = node.lc.key(key)
                pos.where[child] = (kl + 1, kc + 1)
            except Exception:  # noqa: BLE001 - positions are best effort for merged keys
                pass
            out[str(key)] = _plain(value, child, pos, problems)
        return out
    if isinstance(node, CommentedSeq):
        out = []
        for i, value in enumerate(node):
            child = path + (i,)
            try:
                il, ic = node.lc.item(i)
                pos.where[child] = (il + 1, ic + 1)
            except Exception:  # noqa: BLE001
                pass
            out.append(_plain(value, child, pos, problems))
        return out
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    problems.append(pos.problem(path, f"found a value of YAML type {type(node).__name__}; expected plain data"))
    return None


def load_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse *text*; return plain Python data and the positions of its keys."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    pos = Positions(file)
    pos.where[()] = (1, 1)
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        node = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        if exc.context_mark is not None and "stream end" in (exc.problem or ""):
            # the file ended inside a bracket: point at where that bracket opened
            mark = exc.context_mark
            what = f"{exc.context} that is never closed ({exc.problem})"
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        if "duplicate key" in str(exc):
            what = "duplicate key " + str(exc).split("duplicate key", 1)[1].split("\n")[0].strip()
        raise ScenarioError([Problem(file, line, col, "", f"YAML syntax: {what}")]) from None
    except YAMLError as exc:
        raise ScenarioError([Problem(file, None, None, "", f"YAML: {exc}")]) from None
    problems: list[Problem] = []
    if hasattr(node, "lc"):
        pos.where[()] = (node.lc.line + 1, node.lc.col + 1)
    data = _plain(node, (), pos, problems)
    if problems:
        raise ScenarioError(problems)
    return data, pos


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem(str(path), None, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError([Problem(str(path), None, None, "", "is a folder, expected a scenario file")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem(str(path), None, None, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(str(path), None, None, "", exc.strerror or str(exc))]) from None
