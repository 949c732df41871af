"""The architecture's promises, read from the source: imports run one way (scenario -> engine ->
render -> tui/cli), the engine knows nothing of pydantic, the UI or the scenario layer, and nothing
outside a family's own module branches on which family an entry is."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "rnntui"

# layer -> what it must never import (its own modules and everything below it are fine)
FORBIDDEN = {
    "engine": ("rnntui.scenario", "rnntui.expr", "rnntui.render", "rnntui.tui", "rnntui.cli", "pydantic", "ruamel",
               "rich", "textual", "typer"),
    "expr": ("rnntui.scenario", "rnntui.render", "rnntui.tui", "rnntui.cli", "pydantic", "ruamel", "rich", "textual",
             "typer"),
    "scenario": ("rnntui.render", "rnntui.tui", "rnntui.cli", "rich", "textual", "typer"),
    "render": ("rnntui.tui", "rnntui.cli", "textual", "typer"),
    "tui": ("rnntui.cli", "typer"),
    "samples": ("rnntui.tui", "rnntui.cli", "textual", "typer"),
}


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (imports inside functions count too)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def files(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_run_one_way(layer):
    bad = [f"{p.relative_to(ROOT)}:{line}: {mod}" for p in files(layer) for line, mod in imports(p)
           if any(mod == f or mod.startswith(f + ".") for f in FORBIDDEN[layer])]
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_the_scan_sees_imports_inside_functions(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from rnntui.tui.app import RnntuiApp\n")
    assert imports(p) == [(2, "rnntui.tui.app")]


FAMILY_NAMES = re.compile(r"""["'](rnn|lstm|gru)["']""")


def test_family_names_appear_only_in_the_families():
    """A family is known in its own module: no `if type == "lstm"` anywhere else in the package."""
    families = ROOT / "engine" / "families"
    bad = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in sorted(ROOT.rglob("*.py")) if families not in p.parents
           for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if FAMILY_NAMES.search(line)]
    assert not bad, "\n".join(bad)
