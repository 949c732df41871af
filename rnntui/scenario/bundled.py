"""The scenarios that ship with rnntui, found by name wherever a path is taken."""
from __future__ import annotations

import difflib
from pathlib import Path

from rnntui.errors import Problem, ScenarioError

# the scenarios live in the package (rnntui/bundled/, installed as package data), so every install,
# editable or not, finds them; the scripts that trained their weights stay in the repo's tools/
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "bundled"


def bundled() -> dict[str, Path]:
    if not SCENARIO_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.yaml"))}


def resolve(arg) -> Path:
    """A path that exists, else a bundled scenario's name (with or without .yaml)."""
    path = Path(arg)
    try:
        if path.exists():
            return path
    except OSError as exc:  # a name too long for the file system, for one
        raise ScenarioError([Problem(str(arg), None, None, "", f"cannot be opened: {exc.strerror}")]) from None
    names = bundled()
    stem = path.name[:-5] if path.name.endswith(".yaml") else path.name
    if str(arg) == path.name and stem in names:
        return names[stem]
    close = difflib.get_close_matches(stem, list(names), n=1, cutoff=0.5)
    hint = f" (did you mean the bundled scenario {close[0]!r}?)" if close else " (see `rnntui scenarios`)"
    raise ScenarioError([Problem(str(arg), None, None, "", f"no such file, and no bundled scenario of that name{hint}")])


def summary(path: Path) -> str:
    """A scenario's one-line title (its `name`), read without running it."""
    from rnntui.scenario.yaml_source import load_yaml

    try:
        data, _ = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except ScenarioError:
        return "(cannot be read)"
    name = data.get("name") if isinstance(data, dict) else None
    return " ".join(str(name).split()) if name else path.stem
