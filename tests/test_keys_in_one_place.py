"""Every trace key is spelled in one place, `rnntui/engine/keys.py`: read from the source, a string or an
f-string elsewhere in the package that spells a key (`"train.loss"`, `f"param.{name}"`, `f"... model.{i} ..."`)
fails here with its file and line. Keys are built with keys.py's names and builders instead."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "rnntui"
KEYS = ROOT / "engine" / "keys.py"

# the first word of every kind of trace key (docs/trace-format.md)
PREFIX = r"(grad|gradnorm|diag|model|param|buffer|loss|train|meta|handover|decoder|input)\."
HEAD = re.compile(PREFIX)                        # a literal that begins with a key: "train.loss", f"param.{n}"
INSIDE = re.compile(r"(?:^|[^\w.])" + PREFIX + "$")   # an f-string piece that ends where a key begins: "... model.{i}"

# literals that look like keys but are not trace keys, each with why
NOT_KEYS = {
    ("scenario/relocate.py", "decoder.input"): "a scenario file's path (its decoder's input: section), not a trace key",
    ("scenario/relocate.py", "decoder.model"): "a scenario file's path (its decoder's model: section), not a trace key",
}


def _docstrings(tree) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def key_literals(source: str) -> list[tuple[int, str]]:
    """(line, literal) of every key spelled in *source*: a string constant (docstrings aside) that begins with
    a key's first word, an f-string whose text begins with one, or whose text puts one just before a `{...}`."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    pieces = set()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            values = node.values
            pieces.update(id(v) for v in values)
            for k, v in enumerate(values):
                if not (isinstance(v, ast.Constant) and isinstance(v.value, str)):
                    continue
                if (k == 0 and HEAD.match(v.value)) or (
                        k + 1 < len(values) and isinstance(values[k + 1], ast.FormattedValue) and INSIDE.search(v.value)):
                    out.append((node.lineno, "f" + repr(v.value)))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                and id(node) not in pieces and HEAD.match(node.value)):
            out.append((node.lineno, node.value))
    return sorted(out)


def test_every_key_is_built_in_keys_py():
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        if path == KEYS:
            continue
        rel = path.relative_to(ROOT).as_posix()
        for line, literal in key_literals(path.read_text(encoding="utf-8")):
            if (rel, literal) not in NOT_KEYS:
                bad.append(f"rnntui/{rel}:{line}: {literal[:70]}")
    assert not bad, "trace keys spelled outside rnntui/engine/keys.py (build them with its names):\n" + "\n".join(bad)


def test_the_scan_finds_each_kind_of_key_literal():
    source = '''
def f(trace, n, i):
    """A docstring may name train.loss."""
    a = trace["train.loss"]
    b = trace[f"param.{n}"]
    c = f"the output of model.{i} is"
    d = trace["meta.layout"] if "x" else None
    return trace[keys.TRAIN_LOSS], f"{keys.entry_prefix(i)} runs", "a model. not a key", "loss"
'''
    found = key_literals(source)
    assert [line for line, _ in found] == [4, 5, 6, 7]
    assert [lit for _, lit in found] == ["train.loss", "f'param.'", "f'the output of model.'", "meta.layout"]


def test_a_key_reintroduced_in_the_package_fails(tmp_path, monkeypatch):
    """The scan over the package fails on one key literal put back where a builder was (render/views/plain.py)."""
    plain = ROOT / "render" / "views" / "plain.py"
    text = plain.read_text(encoding="utf-8")
    assert "keys.out(entry.index)" in text
    copy = tmp_path / "rnntui"
    (copy / "render" / "views").mkdir(parents=True)
    (copy / "engine").mkdir()
    (copy / "engine" / "keys.py").write_text(KEYS.read_text(encoding="utf-8"), encoding="utf-8")
    (copy / "render" / "views" / "plain.py").write_text(
        text.replace("keys.out(entry.index)", 'f"model.{entry.index}.out"', 1), encoding="utf-8")
    monkeypatch.setattr(__import__(__name__), "ROOT", copy, raising=False)
    monkeypatch.setitem(globals(), "ROOT", copy)
    monkeypatch.setitem(globals(), "KEYS", copy / "engine" / "keys.py")
    try:
        test_every_key_is_built_in_keys_py()
    except AssertionError as exc:
        message = str(exc)
    else:
        raise AssertionError("a reintroduced key literal passed the scan")
    line = text[:text.index("keys.out(entry.index)")].count("\n") + 1
    assert f"rnntui/render/views/plain.py:{line}: f'model.'" in message
