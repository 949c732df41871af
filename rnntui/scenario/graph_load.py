"""Load a graph model's scenario (scenario/graph.py says what a graph is): its named inputs, its nodes,
their layout (engine/graph.py), weights, target and debug expressions, into a `Scenario` whose
`inputs` holds every input by name (`x` is the first)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rnntui.errors import Problem, ScenarioError
from rnntui.scenario.loaded import LATER, Scenario
from rnntui.scenario.targets import check_real_targets, sample_lengths, target_of
from rnntui.scenario.validate import translate

# what a graph model does not take (yet), each with its key
UNSUPPORTED = {
    "decoder": "an encoder-decoder is written as a graph of its own (nodes reading an encoder's nodes)",
    "length": "a graph model reads its inputs as they are (one-to-many is a chain's mode)",
    "feed": "a graph model reads its inputs as they are (generation is a chain's one-to-many)",
}


def load_graph(data: dict, pos, top, problems: list[Problem], file: str, text: str, path: Path,
               max_memory: int | None):
    from rnntui.engine.handlers import handler
    from rnntui.engine.entries.embedding import MAX_EXACT_ID
    from rnntui.engine.graph import infer_graph
    from rnntui.engine.layout import LayoutProblem
    from rnntui.engine.ops.base import Val
    from rnntui.engine.run import available_memory
    from rnntui.scenario.graph import node_config, parse_nodes
    from rnntui.scenario.inputs import InputProblem, build_input
    from rnntui.scenario.weights import TooManyParameters, make_weights, skipped_warning

    def stop(found, waiting: str):
        found = [] if found is None else [found] if isinstance(found, Problem) else list(found)
        raise ScenarioError(problems + found, (Problem(file, None, None, "", LATER[waiting]),))

    if top is not None:
        if top.input is not None and top.inputs is not None:
            problems.append(pos.problem(("inputs",), "found both input and inputs; expected one: `input` (one "
                                        "input, read by the first node) or `inputs` (named inputs)"))
        elif top.input is None and top.inputs is None:
            problems.append(pos.problem(("input",), "is required but missing (or `inputs:`, named inputs)"))
        if top.mode != "many-to-many":
            problems.append(pos.problem(("mode",), f"found {top.mode}; a graph model says what it returns with its "
                                        "nodes (take: final on a recurrent node, op last, ...): leave mode out"))
        for key, why in UNSUPPORTED.items():
            if key in data:
                problems.append(pos.problem((key,), f"is not for a graph model: {why}"))
    raw = data.get("model") if isinstance(data.get("model"), list) else []
    if top is None or problems:
        if top is None:
            from rnntui.scenario.training import optimizer_problems_alone

            problems.extend(optimizer_problems_alone(data, pos))
        stop(None, "the problems above fixed")

    specs = dict(top.inputs) if top.inputs is not None else {"input": top.input}
    in_key = (lambda name: ("inputs", name)) if top.inputs is not None else (lambda name: ("input",))
    for name, spec in specs.items():
        if getattr(spec, "dataset", None) is not None:
            problems.append(pos.problem(in_key(name) + ("dataset",), "data sets run on chains only, for now; give "
                                        "a graph's inputs as values, a batch, tokens, text or files"))
    if problems:
        stop(None, "the problems above fixed")
    names = list(specs)
    from rnntui.scenario.initial_state import StateProblem, build_initial_states, split_initial_states

    raw, raw_states = split_initial_states(raw)

    def validate(path, kind, key, item):
        return node_config(path, kind, key, item, pos, translate)

    nodes, found = parse_nodes(raw, names, pos, validate)
    problems.extend(found)
    train = None
    if top.train is not None:
        from rnntui.scenario.training import train_config

        train, train_problems = train_config(top.train, data, pos)
        problems.extend(train_problems)
    # an input read by an embedding holds token ids: how many the largest table has
    id_count: dict[str, int] = {}
    # (a recurrence whose step graph embeds x reads token ids too: its input, checked against the fewest rows)
    def ids_read(n):
        h = handler(n.type)
        if h.reads_ids:
            return h.id_count(n.cfg), [r for r in n.reads if isinstance(r, str)]
        count = h.step_id_count(n.cfg) if hasattr(h, "step_id_count") else None
        return (count, [r for r in n.reads[:1] if isinstance(r, str)]) if count is not None else (None, [])

    for n in nodes:
        count, read = ids_read(n)
        if count is not None:
            for r in read:
                id_count[r] = max(id_count.get(r, 0), count) if handler(n.type).reads_ids else \
                    min(id_count.get(r, count), count)
            if top.dtype == "float32" and count > MAX_EXACT_ID:
                problems.append(pos.problem(("model", n.index), f"float32 holds ids exactly only below "
                                            f"{MAX_EXACT_ID:,}; this entry has {count:,}; use dtype float64"))
    if problems:
        stop(None, "the problems above fixed")

    base_dir = path.parent if path.parent != Path("") else Path(".")
    limit = available_memory() // 2 if max_memory is None else max_memory
    built, lengths, used = {}, {}, 0
    for k, name in enumerate(names):
        rng = np.random.default_rng([top.seed, 1] if k == 0 else [top.seed, 1, k])
        try:
            b = build_input(specs[name], base_dir, rng, limit, id_count=id_count.get(name))
        except InputProblem as exc:
            key = exc.key if isinstance(exc.key, tuple) else tuple(exc.key.split("."))
            stop(pos.problem(in_key(name) + key, exc.message), "the input")
        if name in id_count and not b.ids:
            reader = next(n for n in nodes if name in ids_read(n)[1])
            stop(pos.problem(("model", reader.index, "from"), f"{reader.type} reads token ids; expected input {name!r} "
                             "to be `tokens`, or `text` with a `vocab`"), "the input")
        ln, problem = sample_lengths(SimpleNamespace(input=specs[name], mode="many-to-many"), b, b.x)
        if problem is not None:
            stop(pos.problem(in_key(name) + problem[0][1:], problem[1]), "the input")
        built[name] = b
        if ln is not None:
            lengths[name] = ln
        used += b.x.nbytes
    Bs = {name: (b.x.shape[1] if b.seq else b.x.shape[0]) for name, b in built.items()}
    if len(set(Bs.values())) > 1:
        stop(pos.problem(("inputs",), "found batches of different sizes: " + ", ".join(f"{n} {B}" for n, B in Bs.items())
                         + "; every input holds the same samples"), "the input")
    B = Bs[names[0]]
    vals = {name: Val(tuple(b.x.shape), 1 if b.seq else 0) for name, b in built.items()}
    try:
        layout = infer_graph(nodes, vals, frozenset(lengths))
    except LayoutProblem as exc:
        key = exc.key if isinstance(exc.key, tuple) else (exc.key,) if exc.key else ()   # a step node: ("step", k, ...)
        stop(pos.problem(("model", exc.index) + key, exc.message), "the model's layout")
    try:
        made = make_weights(layout, top.weights, base_dir, np.random.default_rng([top.seed, 2]), limit, used=used)
    except TooManyParameters as exc:
        stop(pos.problem(("model", exc.index), exc.message), "the weights")
    params = made.params
    for wp in made.problems:
        problems.append(pos.problem(("weights",) + wp.key, wp.message))
    warnings = (str(pos.problem(("weights", "file"), skipped_warning(made.skipped))),) if made.skipped else ()
    for lay in layout:
        refused = handler(lay.type).check_run(lay, B, lay.steps if lay.seq_in else 1,
                                        lengths.get(lay.lengths_of), top.train is not None, False)
        if refused is not None:
            problems.append(pos.problem(("model", lay.index, refused[0]), refused[1]))
    initial_states = {}
    for i in raw_states:
        if lengths.get(layout[i].lengths_of) is not None:
            problems.append(pos.problem(("model", i, "initial_state"), (
                "found an initial state on a node over sequences of different lengths; rnntui runs packed batches "
                "from zero states only (give the samples equal lengths)")))
    if raw_states and not problems:
        try:
            initial_states = build_initial_states(raw_states, layout, B, base_dir, limit)
        except StateProblem as exc:
            problems.append(pos.problem(("model", exc.index, "initial_state") + exc.key, exc.message))
    last = layout[-1]
    T = last.steps if last.seq_out else 1
    out_lengths = lengths.get(last.lengths_of) if last.seq_out else None
    first = built[names[0]]
    try:
        top_out = SimpleNamespace(loss=top.loss, input=specs[last.lengths_of] if out_lengths is not None else specs[names[0]])
        ragged = out_lengths is not None and top_out.input.lengths is None
        target = target_of(top_out, last.out_shape, last.seq_out, T, B,
                           single=top_out.input.batch is None and B == 1 and out_lengths is None, pos=pos,
                           lengths=out_lengths if ragged else None, padded=out_lengths is not None and not ragged,
                           base_dir=base_dir, limit=limit)
        if target is not None and out_lengths is not None:
            check_real_targets(top, target, out_lengths, last.out_shape, pos)
    except ScenarioError as exc:
        problems.extend(exc.problems)
        target = None
    from rnntui.scenario.debug import load_debug

    watch, breakpoints, debug_problems = load_debug(data.get("debug"), layout, pos, text)
    problems.extend(debug_problems)
    from rnntui.scenario.interventions import build_interventions

    interventions, intervention_problems = build_interventions(top, layout, T, pos)
    problems.extend(intervention_problems)
    if top.class_names is not None and (top.loss.kind not in ("cross_entropy", "nll")
                                        or tuple(last.out_shape) != (len(top.class_names),)):
        problems.append(pos.problem(("class_names",), f"found {len(top.class_names)} names; expected one per class of "
                                    f"the model's output, here {tuple(last.out_shape)}"))
    if problems:
        raise ScenarioError(problems)
    return Scenario(
        file=file, text=text, name=top.name or path.stem, description=top.description.strip(), seed=top.seed,
        dtype=top.dtype, mode=top.mode, layout=tuple(layout), x=first.x, seq=first.seq, tokens=first.tokens,
        vocab=first.vocab, params=params, buffers=made.buffers, warnings=warnings, loss=top.loss.kind,
        token_ids=first.token_ids, target=target,
        class_names=tuple(top.class_names) if top.class_names else None,
        events=tuple((k, float(v)) for k, v in top.events.model_dump().items()),
        lengths=lengths.get(names[0]), compare=top.compare, watch=watch, breakpoints=breakpoints, train=train,
        initial_states=initial_states, interventions=interventions,
        inputs={name: b.x for name, b in built.items()}, input_lengths=lengths, output_steps=T,
        input_seq={name: b.seq for name, b in built.items()},
        input_tokens={name: (b.tokens, b.token_ids) for name, b in list(built.items())[1:] if b.tokens is not None},
    )
