"""The model map: the model drawn in text, node by node in the order `[` and `]` move through them.

Each line is a node: its number and id, its kind, what it reads and the shape it returns, with the
cursor's node marked. A node that calls another's module again, or ties a parameter to another's, says
whose; a recurrence is a box holding its step graph (what each step reads, its states and what it
emits). A chain is drawn the same way, each entry reading the one before it.
"""
from __future__ import annotations

from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.ops.recurrence import step_layout

MARK = "▶ "
BOLD = Style(bold=True)
DIM = Style(dim=True)
CYAN = Style(color="cyan")


def shape_words(e) -> str:
    feat = "".join(f", {n}" for n in e.out_shape)
    return f"({'T, B' if e.seq_out else 'B'}{feat})"


def _name(entries, ref, prefix: str = "") -> str:
    """How a node reads another: its id (or model.{i}), an input's name, a cell's `id.c`."""
    if isinstance(ref, str):
        if prefix and ref.startswith(prefix):
            return ref[len(prefix):]
        return ref
    e = entries[ref]
    return e.id or keys.entry_prefix(ref)


def _reads(info, e, k: int) -> str:
    if e.reads:
        return ", ".join(_name(info.entries, r) for r in e.reads)
    return "input" if k == 0 else (info.entries[k - 1].id or keys.entry_prefix(k - 1))


def _shares(info, e) -> str:
    """Whose parameters this node uses: the module of another node, or single tied parameters."""
    if not e.aliases:
        return ""
    owners = {o.split(".", 1)[0] for o in e.aliases.values()}
    if not e.params and len(owners) == 1:
        i = int(owners.pop())
        return f"  = module of {info.entries[i].id or keys.entry_prefix(i)} (shared)"
    def owner(o: str) -> str:
        i, stem = o.split(".", 1)
        return f"{info.entries[int(i)].id or keys.entry_prefix(i)}.{stem}"
    return "  " + ", ".join(f"{n.split('.', 1)[1]} = {owner(o)} (tied)" for n, o in e.aliases.items())


def model_map(info, current: int | None = None, compact: bool = False) -> Text:
    """The whole model as text; *current*: the cursor's node, marked. *compact*: for a panel beside the
    views (the TUI's wide layout): each node by its number, shapes without spaces, a recurrence's step
    graph indented under a left rule (a line that wraps keeps the drawing whole)."""
    text = Text()
    if info.inputs:
        text.append("inputs: " + ", ".join(info.inputs) + "\n", DIM)
    width = max(len(e.id or "") for e in info.entries)
    number = max(len(str(e.index)) for e in info.entries)
    kind = max(len(e.type) for e in info.entries)
    for k, e in enumerate(info.entries):
        here = e.index == current
        text.append(MARK if here else "  ", BOLD)
        if compact:
            text.append(f"{e.index}".rjust(number), BOLD if here else Style())
            text.append(f" {(e.id or '').ljust(width)} " if width else " ", BOLD if here else Style())
            text.append(f"{e.type:<{kind}}", CYAN)
            text.append(f" {_reads(info, e, k)} → {shape_words(e).replace(' ', '')}")
        else:
            text.append(keys.entry_prefix(e.index).ljust(9), BOLD if here else Style())
            text.append(f" {(e.id or '').ljust(width)} ", BOLD if here else Style())
            text.append(f"{e.type:<11}", CYAN)
            text.append(f" {_reads(info, e, k)} → {shape_words(e)}")
        if e.reduce_final:
            text.append("  final state", DIM)
        text.append(_shares(info, e), Style(color="magenta"))
        text.append("\n")
        if e.type == "recurrence":
            _box(text, info, e, compact)
    return text


def _box(text: Text, info, e, compact: bool = False) -> None:
    """A recurrence's step graph, inside a box under its line (compact: under a rule on its left)."""
    conf = e.config
    prefix = f"{e.index}."
    step = step_layout(e)
    start = conf.get("start") or {}
    states = ", ".join(f"{n} ({size}" + (f", from {start[n]})" if n in start else ")")
                       for n, size in conf["states"].items())
    # an outer node only a state starts from is read once, before step 0: not at every step
    read = {r for s in step for r in s.reads if isinstance(r, str)}
    each = [o for o in conf["outer"] if o in read]
    outer = f"; outer {', '.join(each)}" if each else ""
    lines = [f"each step: x, {states}{outer}" if compact else f"once per step: reads x, states {states}{outer}"]
    w = max(len(str(s.index)[len(prefix):]) for s in step)
    kind = max(len(s.type) for s in step) if compact else 10
    for s in step:
        reads = ", ".join(_name(info.entries, r, prefix) for r in s.reads)
        shape = shape_words(s).replace(" ", "") if compact else shape_words(s)
        lines.append(f"{str(s.index)[len(prefix):].ljust(w)}  {s.type:<{kind}} {reads} → {shape}")
    nxt = ", ".join(f"{n} ← {r[len(prefix):]}" for n, r in conf["next"].items())
    fed = f"; x ← {conf['feed'][len(prefix):]} from step {conf.get('feed_after', 1)}" if conf.get("feed") else ""
    lines.append(f"next: {nxt}; emit {conf['emit'][len(prefix):]}{fed}")
    if compact:
        for line in lines:
            text.append("    │ ", DIM)
            text.append(line + "\n")
        return
    inner = max(len(line) for line in lines)
    pad = " " * 4
    text.append(pad + "┌" + "─" * (inner + 2) + "┐\n", DIM)
    for line in lines:
        text.append(pad + "│ ", DIM)
        text.append(line.ljust(inner))
        text.append(" │\n", DIM)
    text.append(pad + "└" + "─" * (inner + 2) + "┘\n", DIM)
