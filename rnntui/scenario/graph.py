"""A graph model's scenario (docs/scenario-format.md, "Graph models"): named inputs, nodes that say what
they read, shared modules and tied parameters, ops. Checked here and handed to the engine as
`engine.graph.Node`s; the layout (engine/graph.py) checks the shapes.

    inputs:
      premise: {tokens: [[3, 9, 4], [7, 1, 2]]}
      hypothesis: {tokens: [[5, 2, 6], [8, 8, 6]]}
    model:
      - {id: emb_p, type: embedding, num_embeddings: 10, embedding_dim: 4, from: premise}
      - {id: emb_h, same_as: emb_p, from: hypothesis}
      - {id: enc_p, type: lstm, hidden_size: 5, from: emb_p, take: final}
      - {id: enc_h, same_as: enc_p, from: emb_h}
      - {id: both, op: cat, from: [enc_p, enc_h]}
      - {type: dense, units: 3}                    # no `from`: reads the node above

A model is a graph when it has `inputs:`, or a node with any of the keys below; otherwise it is a chain
(scenario/loader.py) and keeps every meaning it had.
"""
from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError

from rnntui.engine.graph import Node
from rnntui.errors import Problem
from rnntui.scenario.yaml_source import Positions

GRAPH_KEYS = ("id", "from", "op", "same_as", "tie", "take")
RECURRENCE_KEYS = ("id", "type", "from", "state", "start", "step", "next", "emit", "feed", "feed_after")
NODE_KEYS = GRAPH_KEYS + ("type",)
TAKE = ("all", "final")


def is_graph_data(data: dict) -> bool:
    """Whether a scenario's model is a graph: `inputs:`, or a node naming itself, what it reads, an op,
    a module it shares or a parameter it ties."""
    if "inputs" in data:
        return True
    model = data.get("model")
    return isinstance(model, list) and any(isinstance(item, dict) and (any(k in item for k in GRAPH_KEYS)
                                                                       or item.get("type") == "recurrence")
                                           for item in model)


def _suggest(word, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _cycle(refs: dict[int, list[int]], start: int, target: int) -> list[int] | None:
    """A path of references from *target* back to *start* (a cycle through both), or None."""
    stack, seen = [(target, [target])], set()
    while stack:
        node, path = stack.pop()
        if node == start:
            return path
        if node in seen:
            continue
        seen.add(node)
        for nxt in refs.get(node, []):
            stack.append((nxt, path + [nxt]))
    return None


def parse_nodes(raw: list, input_names: list[str], pos: Positions, validate_config,
                base: tuple = ("model",), in_step: bool = False) -> tuple[list[Node], list[Problem]]:
    """The nodes, their references resolved, or the problems found. *validate_config*(path, kind, key,
    item) -> (Config or None, problems): an entry's or an op's own keys, checked by their validators.
    *base*: where the list is (a recurrence's step graph: `model[i].step`, whose inputs are x, the
    states and the outer nodes above the recurrence, and whose layers include the cells)."""
    from rnntui.engine.entries import HANDLERS
    from rnntui.engine.handlers import handler
    from rnntui.engine.ops import GRAPH_LAYERS, OPS, STEP_LAYERS

    layers = {**HANDLERS, **(STEP_LAYERS if in_step else GRAPH_LAYERS)}

    problems: list[Problem] = []
    ids: dict[str, int] = {}
    for i, item in enumerate(raw):
        if isinstance(item, dict) and "id" in item:
            nid = item["id"]
            path = base + (i, "id")
            if not isinstance(nid, str) or not nid or not nid.replace("_", "a").isalnum() or nid[0].isdigit():
                problems.append(pos.problem(path, f"found {nid!r}; expected a name of letters, digits and _ that "
                                            "does not start with a digit"))
            elif nid in ids:
                problems.append(pos.problem(path, f"found {nid!r} again; node ids are unique (node {ids[nid]} has it)"))
            elif nid in input_names:
                problems.append(pos.problem(path, f"found {nid!r}, which names an input; give the node another id"))
            else:
                ids[nid] = i
    # every reference, to find the forward ones and the cycles they close
    wanted: dict[int, list] = {}
    forward: dict[int, list[int]] = {}   # node -> the nodes it names
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        refs = item.get("from", None)
        refs = [refs] if isinstance(refs, (str, int)) and not isinstance(refs, bool) else refs
        wanted[i] = refs if isinstance(refs, list) else []
        # every node it names: a reference below it closes a cycle if that node reaches back here
        forward[i] = [ids[r] if isinstance(r, str) else r for r in wanted[i]
                      if (isinstance(r, str) and r in ids) or (isinstance(r, int) and not isinstance(r, bool))]

    def resolve(i: int, ref, path: tuple):
        """A reference as a node index or an input name, or a Problem."""
        if isinstance(ref, bool) or not isinstance(ref, (str, int)):
            return pos.problem(path, f"found {ref!r}; expected a node's id, a node's number or an input's name")
        if isinstance(ref, int):
            if not 0 <= ref < i:
                return pos.problem(path, f"found node {ref}; a node reads only nodes above it (0..{i - 1})")
            return ref
        if ref in input_names:
            return ref
        if ref not in ids and "." in ref and ref.split(".", 1)[0] in ids:   # a cell's second value: `cell.c`
            name, extra = ref.split(".", 1)
            j = resolve(i, name, path)
            if isinstance(j, Problem):
                return j
            kind = raw[j].get("type")
            extras = handler(kind).extras if kind in layers and handler(kind).is_op else ()
            if extra not in extras:
                return pos.problem(path, f"found {ref!r}; node {name!r} gives " + (
                    f"{', '.join(name + '.' + e for e in extras)} besides its output" if extras else "only its output"))
            return (j, extra)
        if ref in ids:
            j = ids[ref]
            if j == i:
                return pos.problem(path, f"found {ref!r}, this node itself: a node cannot read its own output "
                                   "(a loop over steps is a recurrent node)")
            if j > i:
                loop = _cycle(forward, i, j)
                if loop is not None:
                    names = " -> ".join(str(raw[k].get("id", k)) for k in [i] + loop)
                    return pos.problem(path, f"found {ref!r}, which reads this node in turn: a cycle ({names}); a "
                                       "model is a graph without cycles")
                return pos.problem(path, f"found {ref!r}, node {j}, below this one; a node reads only nodes above it: "
                                   "move it up")
            return j
        known = list(ids) + list(input_names)
        return pos.problem(path, f"found {ref!r}{_suggest(ref, known)}; no node or input has that name (nodes: "
                           f"{', '.join(ids) or 'none named'}; inputs: {', '.join(input_names)})")

    nodes: list[Node] = []
    for i, item in enumerate(raw):
        path = base + (i,)
        if not isinstance(item, dict):
            problems.append(pos.problem(path, f"found {item!r}; expected a map with `type`, `op` or `same_as`"))
            continue
        given = [k for k in ("type", "op", "same_as") if k in item]
        if len(given) != 1:
            problems.append(pos.problem(path, ("found " + " and ".join(given) if given else "found none of them")
                                        + "; expected exactly one of `type` (a layer), `op` (an operation) or "
                                        "`same_as` (another node's module called again)"))
            continue
        # what it reads
        if "from" in item:
            raw_refs = item["from"]
            many = isinstance(raw_refs, list)
            refs = raw_refs if many else [raw_refs]
            if many and not refs:
                problems.append(pos.problem(path + ("from",), "found an empty list; expected what the node reads"))
                continue
            reads = []
            for k, ref in enumerate(refs):
                r = resolve(i, ref, path + ("from",) + ((k,) if many else ()))
                if isinstance(r, Problem):
                    problems.append(r)
                else:
                    reads.append(r)
            if len(reads) != len(refs):
                continue
        else:
            reads = [i - 1] if i > 0 else [input_names[0]]
        take = item.get("take", "all")
        if take not in TAKE:
            problems.append(pos.problem(path + ("take",), f"found {take!r}{_suggest(take, TAKE)}; expected all (every "
                                        "step) or final (the final state, PyTorch's h_n)"))
            continue
        same_as = None
        if "same_as" in item:
            ref = resolve(i, item["same_as"], path + ("same_as",))
            if isinstance(ref, Problem):
                problems.append(ref)
                continue
            if isinstance(ref, str):
                problems.append(pos.problem(path + ("same_as",), f"found input {ref!r}; same_as names a node above"))
                continue
            other = next((n for n in nodes if n.index == ref), None)
            if other is None:
                continue  # its own problem is said
            from rnntui.engine.handlers import handler

            if handler(other.type).is_op:
                problems.append(pos.problem(path + ("same_as",), f"found {item['same_as']!r}, an op; same_as calls a "
                                            "layer's module again (an op has no parameters to share)"))
                continue
            extra = [k for k in item if k not in ("id", "from", "same_as", "take", "tie")]
            if extra:
                problems.append(pos.problem(path + (extra[0],), f"found {extra[0]!r} beside same_as; the module is "
                                            f"{other.id or other.index}'s, with its keys (this node takes id, from, take)"))
                continue
            kind, cfg = other.type, other.cfg
            same_as = other.index
        elif "op" in item:
            kind = item["op"]
            if not isinstance(kind, str) or kind not in OPS:
                problems.append(pos.problem(path + ("op",), f"found {kind!r}{_suggest(kind, OPS)}; expected one of "
                                            f"{', '.join(OPS)}"))
                continue
            for k in ("take", "tie"):
                if k in item:
                    problems.append(pos.problem(path + (k,), f"is for a layer; op {kind} has no {k}"))
            own = {k: v for k, v in item.items() if k not in GRAPH_KEYS}
            cfg, found = validate_config(path, kind, "op", own)
            problems.extend(found)
            if cfg is None:
                continue
        elif item["type"] == "recurrence" and not in_step:
            spec, more, outer = parse_recurrence(i, item, ids, pos, validate_config, path)
            problems.extend(more)
            if spec is None:
                continue
            nodes.append(Node(i, item.get("id", "") if isinstance(item.get("id", ""), str) else "", "recurrence", spec,
                              tuple(reads) + tuple(outer)))
            continue
        else:
            kind = item["type"]
            if not isinstance(kind, str) or kind not in layers:
                problems.append(pos.problem(path + ("type",), f"found {kind!r}{_suggest(kind, layers)}; expected one "
                                            f"of {', '.join(layers)} (or `op:` for an operation)"))
                continue
            own = {k: v for k, v in item.items() if k not in GRAPH_KEYS}
            cfg, found = validate_config(path, kind, "type", own)
            problems.extend(found)
            if cfg is None:
                continue
        tie = []
        if "tie" in item:
            raw_tie = item["tie"]
            if not isinstance(raw_tie, dict) or not raw_tie:
                problems.append(pos.problem(path + ("tie",), "expected a map of this node's parameter to another's, "
                                            "e.g. {weight: emb.weight}"))
                continue
            for stem, target in raw_tie.items():
                where = path + ("tie", stem)
                if not isinstance(target, str) or "." not in target:
                    problems.append(pos.problem(where, f"found {target!r}; expected NODE.PARAMETER, e.g. emb.weight"))
                    continue
                ref, owner_stem = target.split(".", 1)
                ref = int(ref) if ref.isdigit() else ref
                r = resolve(i, ref, where)
                if isinstance(r, Problem):
                    problems.append(r)
                elif isinstance(r, str):
                    problems.append(pos.problem(where, f"found input {r!r}; an input has no parameters"))
                else:
                    tie.append((str(stem), r, owner_stem))
        nodes.append(Node(i, item.get("id", "") if isinstance(item.get("id", ""), str) else "", kind, cfg,
                          tuple(reads), take == "final", same_as, tuple(tie)))
    return nodes, problems


def parse_recurrence(i: int, item: dict, ids: dict[str, int], pos: Positions, validate_config, path: tuple):
    """A recurrence node's spec (engine/ops/recurrence.py), the outer nodes its step graph reads, and
    the problems found."""
    from rnntui.engine.ops.recurrence import RecurrenceSpec

    problems = []
    extra = [k for k in item if k not in RECURRENCE_KEYS]
    if extra:
        return None, [pos.problem(path + (extra[0],), f"unknown key {extra[0]!r}{_suggest(extra[0], RECURRENCE_KEYS)}; "
                                  f"a recurrence takes {', '.join(RECURRENCE_KEYS)}")], ()
    for key in ("state", "step", "next", "emit"):
        if key not in item:
            problems.append(pos.problem(path, f"a recurrence needs `{key}`"))
    if problems:
        return None, problems, ()
    state, step, nxt, emit = item["state"], item["step"], item["next"], item["emit"]
    if not isinstance(state, dict) or not state:
        return None, [pos.problem(path + ("state",), "expected a map of state names to their sizes, e.g. {h: 8}")], ()
    for name, n in state.items():
        if not isinstance(name, str) or not name.isidentifier() or name == "x" or name in ids:
            problems.append(pos.problem(path + ("state", name), f"found {name!r}; a state is a name (not x, not a "
                                        "node's id)"))
        elif isinstance(n, bool) or not isinstance(n, int) or n < 1:
            problems.append(pos.problem(path + ("state", name), f"found {n!r}; expected its size, a whole number >= 1"))
    if not isinstance(step, list) or not step:
        problems.append(pos.problem(path + ("step",), "expected a list of nodes: the graph of one step"))
    if problems:
        return None, problems, ()
    above = {name: j for name, j in ids.items() if j < i}
    inputs = ["x", *state, *above]
    nodes, found = parse_nodes(step, inputs, pos, validate_config, base=path + ("step",), in_step=True)
    problems.extend(found)
    step_ids = {n.id: n.index for n in nodes if n.id}
    # a step node with a problem of its own is not in `nodes`: naming it is no second problem
    broken = {it["id"] for it in step if isinstance(it, dict) and isinstance(it.get("id"), str)} - set(step_ids)

    def ref(value, where):
        if isinstance(value, str) and value in step_ids:
            return step_ids[value]
        if isinstance(value, str) and value.split(".", 1)[0] in broken:
            return None
        if isinstance(value, str) and "." in value and value.split(".", 1)[0] in step_ids:
            name, extra = value.split(".", 1)
            node = next(n for n in nodes if n.index == step_ids[name])
            from rnntui.engine.handlers import handler

            if extra in handler(node.type).extras:
                return (node.index, extra)
        problems.append(pos.problem(where, f"found {value!r}; expected a step node's id"
                                    f"{_suggest(value, list(step_ids))} (or a cell's `id.c`)"))
        return None

    if not isinstance(nxt, dict):
        problems.append(pos.problem(path + ("next",), "expected a map of each state to the step node giving its next "
                                    "value, e.g. {h: cell}"))
        return None, problems, ()
    missing = [name for name in state if name not in nxt]
    if missing:
        problems.append(pos.problem(path + ("next",), f"found no next value for {', '.join(missing)}; every state needs one"))
    for name in nxt:
        if name not in state:
            problems.append(pos.problem(path + ("next", name), f"found {name!r}, which is no state ({', '.join(state)})"))
    nexts = tuple((name, ref(nxt[name], path + ("next", name))) for name in state if name in nxt)
    emitted = ref(emit, path + ("emit",))
    fed = None if item.get("feed") is None else ref(item["feed"], path + ("feed",))
    feed_after = item.get("feed_after", 1)
    if isinstance(feed_after, bool) or not isinstance(feed_after, int) or feed_after < 1:
        problems.append(pos.problem(path + ("feed_after",), f"found {feed_after!r}; expected the first step that "
                                    "reads the fed value, a whole number >= 1"))
    elif "feed_after" in item and "feed" not in item:
        problems.append(pos.problem(path + ("feed_after",), "is for a recurrence with `feed`"))
    if problems or len(nodes) != len(step):
        return None, problems, ()
    start = item.get("start", {})
    if not isinstance(start, dict):
        problems.append(pos.problem(path + ("start",), "expected a map of states to the nodes they start from, "
                                    "e.g. {h: enc_last}"))
        return None, problems, ()
    for name, src in start.items():
        if name not in state:
            problems.append(pos.problem(path + ("start", name), f"found {name!r}, which is no state ({', '.join(state)})"))
        elif src not in above:
            problems.append(pos.problem(path + ("start", name), f"found {src!r}{_suggest(src, list(above))}; a state "
                                        "starts from a node above the recurrence (its id)"))
    if problems:
        return None, problems, ()
    used = [name for name in above if any(name in n.reads for n in nodes) or name in start.values()]
    spec = RecurrenceSpec(tuple(state.items()), tuple(nodes), nexts, emitted, tuple(used), tuple(start.items()),
                          fed, feed_after)
    return spec, problems, tuple(above[name] for name in used)


def node_config(path: tuple, kind: str, key: str, item: dict[str, Any], pos: Positions, translate):
    """An entry's or an op's keys through its validator: (Config, []) or (None, problems)."""
    from rnntui.scenario.entry_models import model_for, to_config

    model = model_for(kind, key)
    try:
        validated = model.model_validate({key: kind, **item})
    except ValidationError as exc:
        return None, translate(exc, model, path, pos, {key: kind, **item})
    return to_config(kind, validated, key), []
