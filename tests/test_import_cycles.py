"""No import cycle among rnntui's modules. What is counted: each module's imports at module level (statements
at the top of the file, in `if`/`try` blocks too, never inside a function or a class body's methods, and not
under `if TYPE_CHECKING:`), each as an edge to the module it names and to that module's parent packages,
whose `__init__` Python runs first, but not to the importing module's own parent packages (already running).
An import inside a function is not counted: it is a cost deferred, not a way to hide a circle (the circles
issue 20 named, entries<->layout, network<->generate<->seq2seq, run<->trace<->train, loader<->decoder and
inputs<->tokens<->vocab, are checked with those too, below)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "rnntui"


def _name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module, inside_functions: bool) -> list[tuple[int, str, str | None]]:
    """(line, module, name imported from it) of a file's imports of rnntui."""
    out = []

    def visit(body, top: bool):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import) and (top or inside_functions):
                out.extend((node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] == "rnntui")
            elif isinstance(node, ast.ImportFrom) and (top or inside_functions) and node.level == 0 \
                    and (node.module or "").split(".")[0] == "rnntui":
                out.extend((node.lineno, node.module, a.name) for a in node.names)
            for field in ("body", "orelse", "finalbody", "handlers"):
                sub = getattr(node, field, None)
                if isinstance(sub, list) and sub and isinstance(sub[0], ast.AST):
                    visit(sub, top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))

    visit(tree.body, True)
    return out


def graph(root: Path = ROOT, inside_functions: bool = False) -> dict[str, dict[str, int]]:
    """module -> {module it imports: the line}, by the rule in this file's docstring."""
    files = {_name(p, root): p for p in sorted(root.rglob("*.py"))}
    out: dict[str, dict[str, int]] = {}
    for mod, path in files.items():
        own = {".".join(mod.split(".")[:k]) for k in range(1, mod.count(".") + 2)}
        edges: dict[str, int] = {}
        for line, target, name in _imports(ast.parse(path.read_text(encoding="utf-8")), inside_functions):
            named = f"{target}.{name}" if name and f"{target}.{name}" in files else target
            parts = named.split(".")
            for k in range(1, len(parts) + 1):
                dep = ".".join(parts[:k])
                if dep in files and dep not in own and dep != mod:
                    edges.setdefault(dep, line)
        out[mod] = edges
    return out


def cycles(g: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def _shown(g, comp) -> str:
    return "\n".join(f"  {m} imports {d} (line {g[m][d]})" for m in comp for d in sorted(g[m]) if d in comp)


def test_no_import_cycle_among_rnntui_modules():
    g = graph()
    found = cycles(g)
    assert not found, "import cycles (module-level imports):\n" + "\n\n".join(_shown(g, c) for c in found)


@pytest.mark.parametrize("circle", [
    ("rnntui.engine.entries", "rnntui.engine.layout"),
    ("rnntui.engine.network", "rnntui.engine.generate", "rnntui.engine.seq2seq"),
    ("rnntui.engine.run", "rnntui.engine.trace", "rnntui.engine.train"),
    ("rnntui.scenario.loader", "rnntui.scenario.decoder"),
    ("rnntui.scenario.inputs", "rnntui.scenario.tokens", "rnntui.scenario.vocab"),
])
def test_the_circles_issue_20_named_are_gone_with_imports_inside_functions_counted(circle):
    """Counting imports inside functions too: no two of the modules of a circle the issue named are in one cycle."""
    g = graph(inside_functions=True)
    together = [c for c in cycles(g) if sum(m in c for m in circle) > 1]
    assert not together, "\n\n".join(_shown(g, c) for c in together)


def test_the_scan_finds_a_cycle_and_ignores_imports_inside_functions(tmp_path):
    pkg = tmp_path / "rnntui"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from rnntui.sub import a\n")
    (pkg / "sub" / "a.py").write_text("from rnntui.b import thing\n")
    (pkg / "b.py").write_text("import os\n\ndef f():\n    from rnntui.sub.a import x\n")
    assert cycles(graph(pkg)) == []
    # a package's __init__ runs before its submodule: b -> rnntui.sub.a is an edge to rnntui.sub too
    assert cycles(graph(pkg, inside_functions=True)) == [["rnntui.b", "rnntui.sub", "rnntui.sub.a"]]
    (pkg / "b.py").write_text("from rnntui.sub.a import x\n")
    assert cycles(graph(pkg)) == [["rnntui.b", "rnntui.sub", "rnntui.sub.a"]]
    # a module importing a sibling through its own package is no cycle: the package is already running
    (pkg / "b.py").write_text("import os\n")
    (pkg / "sub" / "a.py").write_text("from rnntui.sub import c\n")
    (pkg / "sub" / "c.py").write_text("")
    assert cycles(graph(pkg)) == []


def test_no_module_asks_an_entry_for_its_handler():
    """EntryInfo (engine/layout.py) has no `handler`: finding it there closed the circle entries<->layout. A node's
    handler is `handlers.handler(e.type)`; an `x.handler` attribute anywhere in the package fails here."""
    bad = [f"{p.relative_to(ROOT)}:{n.lineno}" for p in sorted(ROOT.rglob("*.py"))
           for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
           if isinstance(n, ast.Attribute) and n.attr == "handler"
           and not (isinstance(n.value, ast.Name) and n.value.id in ("self", "engine"))]
    assert not bad, "write handler(x.type) (rnntui/engine/handlers.py):\n" + "\n".join(bad)
