"""YAML text -> a validated, fully resolved `Scenario`, or a ScenarioError listing every problem.

A load is a row of stages (`STAGES`), each a function with its name, what it needs and what it provides
(attributes of the `Load` it fills in; `run_stages` checks each stage's needs are there before it runs). A
stage that finds a problem its successors depend on stops the load with everything found so far and what is
left unchecked (`LATER`). What depends on the kind of run is a mode's (`MODES`): a mode owns its keys and adds
its part at the stages' named points (`keys`, `blocking`, `input`, `layout`, `weights`, `scenario`), in the
registry's order; a graph model (`graph:` nodes) is a mode that loads the whole model itself
(scenario/graph_load.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from rnntui.engine import keys
from rnntui.engine.entries.embedding import MAX_EXACT_ID
from rnntui.engine.handlers import handler
from rnntui.engine.infer import infer_layout
from rnntui.engine.layout import LayoutProblem
from rnntui.engine.memory import available_memory
from rnntui.engine.run import checkpointed_need, record_bytes, too_big, too_big_checkpointed
from rnntui.engine.train import untrainable_dropout
from rnntui.errors import Problem, ScenarioError
from rnntui.scenario import schema
from rnntui.scenario.built_input import InputProblem, fits
from rnntui.scenario.debug import load_debug
from rnntui.scenario.decoder import build_decoder
from rnntui.scenario.graph import is_graph_data
from rnntui.scenario.graph_load import load_graph
from rnntui.scenario.initial_state import StateProblem, build_initial_states, split_initial_states
from rnntui.scenario.inputs import build_input
from rnntui.scenario.interventions import build_interventions
from rnntui.scenario.loaded import LATER, Scenario
from rnntui.scenario.reads import recording
from rnntui.scenario.targets import check_real_targets, sample_lengths, shown_lengths, target_of
from rnntui.scenario.training import optimizer_problems_alone, train_config
from rnntui.scenario.validate import describe, translate, validate_entries
from rnntui.scenario.weights import TooManyParameters, check_param_count, make_weights, skipped_warning
from rnntui.scenario.yaml_source import Positions, load_yaml, read_text

__all__ = ["LATER", "MODES", "STAGES", "Load", "Mode", "Scenario", "Stage", "load_scenario"]


def load_scenario(source: str | Path, text: str | None = None, max_memory: int | None = None,
                  sample: int | None = None) -> Scenario:
    """Load and check a scenario file; raise ScenarioError naming every problem.

    Inputs and parameters are counted before they are made: what would take more than *max_memory*
    bytes (default: half the available memory) is refused with the estimate. `sources` lists the
    files read (scenario/reads.py). *sample*: with a data set input, the first sample the run reads
    (default the input's own `sample`).
    """
    with recording() as read:
        sc = _load(source, text, max_memory, sample)
    return replace(sc, sources=tuple(dict.fromkeys(read)))


# --- what the stages share ------------------------------------------------------------------------------

@dataclass
class Load:
    """One load: the file and its data, then what each stage provides (None until then)."""

    source: str | Path
    text: str | None
    max_memory: int | None
    sample: int | None
    path: Path = None
    file: str = ""
    data: Any = None
    pos: Positions = None
    top: schema.Top | None = None
    problems: list[Problem] = field(default_factory=list)
    # entries
    types: list | None = None
    configs: list | None = None
    raw_states: dict | None = None
    # keys
    train: Any = None
    # input
    base_dir: Path | None = None
    limit: int | None = None
    built: Any = None
    x: np.ndarray | None = None
    lengths: np.ndarray | None = None
    feat: tuple | None = None
    # layout
    layout: list | None = None
    decoder: Any = None
    # weights
    made: Any = None
    warnings: tuple = ()
    T: int | None = None
    B: int | None = None
    # the rest
    initial_states: dict | None = None
    target: np.ndarray | None = None
    watch: tuple | None = None
    breakpoints: tuple | None = None
    interventions: tuple | None = None

    def stop(self, found: Problem | list[Problem] | None, waiting: str):
        """Refuse with every problem found so far; say what could not be checked yet, and why."""
        found = [] if found is None else [found] if isinstance(found, Problem) else list(found)
        raise ScenarioError(self.problems + found, (Problem(self.file, None, None, "", LATER[waiting]),))

    def each_mode(self, point: str) -> list:
        """Each mode's part at *point* (a stage's named point), in the registry's order, and what it returns: every
        mode's `keys` and `blocking` (a mode names its keys in a scenario of another mode), the other points of
        the modes that apply to this load."""
        every = point in ("keys", "blocking")
        return [getattr(m, point)(self) for m in MODES
                if getattr(m, point) is not None and (every or m.applies(self))]


@dataclass(frozen=True)
class Stage:
    """One step of a load: *run* fills in *provides* from *needs* (attributes of `Load`)."""

    name: str
    needs: tuple[str, ...]
    provides: tuple[str, ...]
    run: Callable[[Load], None]


@dataclass(frozen=True)
class Mode:
    """A kind of run with keys and steps of its own. *applies*: whether this load is one (its keys are checked
    either way: a key of a mode the scenario is not in is a problem the mode names). Each point is None or a
    function of the Load: `keys` adds problems that do not stop the load, `blocking` returns problems that
    stop it before the input, `input`/`layout`/`weights` act at the end of those stages, `scenario` returns
    the Scenario's fields the mode fills in. *load*: a mode that loads the whole model itself (a graph)."""

    name: str
    applies: Callable[[Load], bool]
    keys: Callable | None = None
    blocking: Callable | None = None
    input: Callable | None = None
    layout: Callable | None = None
    weights: Callable | None = None
    scenario: Callable | None = None
    load: Callable | None = None


def run_stages(load: Load, stages) -> None:
    """Run *stages* in order, each once what it needs is there (a stage run before its prerequisites is a
    mistake in the row, not in the scenario: AssertionError)."""
    for stage in stages:
        missing = [n for n in stage.needs if getattr(load, n) is None]
        assert not missing, f"stage {stage.name} needs {', '.join(missing)}, which no stage before it provides"
        stage.run(load)
        unset = [n for n in stage.provides if getattr(load, n) is None and n not in OPTIONAL]
        assert not unset, f"stage {stage.name} did not provide {', '.join(unset)}"


# what a stage may leave None (absent from this scenario)
OPTIONAL = {"train", "lengths", "decoder", "target"}


# --- the stages ----------------------------------------------------------------------------------------

ARRAYS_ONLY = ("weights", "set")   # read only by arrays.numbers (weights.make_weights): a big list comes as its array


def _read(load: Load) -> None:
    """The file's text as YAML, its top-level keys validated."""
    load.path = Path(load.source)
    load.file = str(load.source)
    raw = None
    if load.text is None:
        load.text, raw = read_text(load.path, with_bytes=True)
    load.data, load.pos = load_yaml(load.text, load.file, arrays=(ARRAYS_ONLY,), raw=raw)
    if not isinstance(load.data, dict):
        raise ScenarioError([load.pos.problem((), f"found {describe(load.data)}; expected a map of scenario keys")])
    try:
        load.top = schema.Top.model_validate(load.data)
    except ValidationError as exc:
        load.problems.extend(translate(exc, schema.Top, (), load.pos, load.data))


def _entries(load: Load) -> None:
    """Each model entry's type and configuration (its handler's Config), the initial states set apart."""
    top, pos, data = load.top, load.pos, load.data
    if top is not None and top.input is None:
        load.problems.append(pos.problem(("input",), "is required but missing"))
    raw_model = data.get("model")
    entries, load.raw_states = split_initial_states(raw_model if isinstance(raw_model, list) else [])
    load.types, load.configs, entry_problems = validate_entries(entries, pos)
    load.problems.extend(entry_problems)
    if top is None:
        # the optimizer's keys need only its own map: said now, beside a bad `iterations` or `mode`
        load.problems.extend(optimizer_problems_alone(data, pos))
    if load.problems or top is None:
        load.stop(None, "the problems above fixed")


def _keys(load: Load) -> None:
    """Keys that go together: each mode's own (those the input and the layout depend on stop here, the others
    are listed with whatever the later stages find), and the token-id entries' place."""
    load.each_mode("keys")
    blocking = [p for found in load.each_mode("blocking") for p in found]
    blocking.extend(_ids_problems(load.types, load.configs, load.top, load.pos))
    if blocking:
        load.problems.extend(blocking)
        load.stop(None, "the problems above fixed")


def _input(load: Load) -> None:
    """The input section as arrays (counted against the memory limit first), each sample's length."""
    top, pos, types, configs = load.top, load.pos, load.types, load.configs
    load.base_dir = load.path.parent if load.path.parent != Path("") else Path(".")
    first = handler(types[0])
    try:
        load.limit = available_memory() // 2 if load.max_memory is None else load.max_memory
        load.built = build_input(top.input, load.base_dir, np.random.default_rng([top.seed, 1]), load.limit,
                                 id_count=first.id_count(configs[0]) if first.reads_ids else None, sample=load.sample)
    except InputProblem as exc:
        key = exc.key if isinstance(exc.key, tuple) else tuple(exc.key.split("."))
        load.stop(pos.problem(("input",) + key, exc.message), "the input")
    if first.reads_ids and not load.built.ids:
        load.stop(pos.problem(("model", 0, "type"), f"{types[0]} reads token ids; expected `input.tokens`, "
                              "or `input.text` with a `vocab` (found "
                              f"{'text without a vocab' if top.input.text is not None else 'no tokens'})"), "the input")
    load.x = load.built.x
    load.each_mode("input")
    lengths, problem = sample_lengths(top, load.built, load.x)
    if problem is not None:
        load.stop(pos.problem(*problem), "the input")
    load.lengths = lengths
    # non-finite input is allowed on purpose: the run records where it spreads
    load.feat = tuple(load.x.shape[2:] if load.built.seq else load.x.shape[1:])


def _layout(load: Load) -> None:
    """Each entry's shapes from the input's (engine/infer.py); what cannot take sequences of different lengths."""
    x, built, pos = load.x, load.built, load.pos
    try:
        load.layout = infer_layout(load.types, load.configs, load.feat, built.seq, load.top.mode,
                                   x.shape[0] if built.seq else 1)
    except LayoutProblem as exc:
        key = ("model", exc.index) + ((exc.key,) if exc.key else ())
        load.stop(pos.problem(key, exc.message), "the model's layout")
    if load.lengths is not None:
        for lay in load.layout:
            if lay.seq_in and not handler(lay.type).accepts_packed:
                load.stop(pos.problem(("model", lay.index, "type"), (
                    f"{lay.type} mixes neighbouring steps, so it cannot take sequences of different lengths "
                    f"(input lengths {shown_lengths(load.lengths)}); give them equal lengths or use recurrent, dense and "
                    "activation entries")), "the model's layout")
    load.each_mode("layout")


def _why_whole(layout, top, seq: bool, decoder) -> str | None:
    """Why a run over the memory limit cannot be recorded checkpointed (engine/checkpoint.py's words), or None
    when it may be (the engine decides again, with the whole scenario)."""
    from types import SimpleNamespace

    from rnntui.engine.checkpoint import why_whole

    return why_whole(SimpleNamespace(inputs=None, train=top.train, decoder_x=None if decoder is None else decoder.x,
                                     feed=top.feed, interventions=(), seq=seq, layout=list(layout)))


def _weights(load: Load) -> None:
    """The parameters, counted before they are made (a model too large for memory is refused in a moment, not
    after minutes of drawing; the parameters first: their message names the largest entry); what each entry
    cannot run with this batch."""
    top, pos, x, built, layout, limit = load.top, load.pos, load.x, load.built, load.layout, load.limit
    try:
        check_param_count(layout, limit, used=x.nbytes)
    except TooManyParameters as exc:
        load.stop(pos.problem(("model", exc.index), exc.message), "the weights")
    B = x.shape[1] if built.seq else x.shape[0]
    need = record_bytes(layout, top.dtype, x, built.seq, B, None if load.decoder is None else load.decoder.x)
    why = _why_whole(layout, top, built.seq, load.decoder) if need > limit else None
    if need > limit and why is None:   # checkpointed: the parameters, their gradients and a segment must still fit
        decoder_x = None if load.decoder is None else load.decoder.x
        least, why, S = checkpointed_need(layout, top.dtype, x, built.seq, B, decoder_x)
        if least is not None and least > limit:
            load.stop(pos.problem(("model",), too_big_checkpointed(least, limit, S)), "the weights")
    if why:
        load.stop(pos.problem(("model",), too_big(need, limit, x.shape[0] if built.seq else 1, B)
                              + f"; it cannot be checkpointed: {why}"), "the weights")
    try:
        load.made = make_weights(layout, top.weights, load.base_dir, np.random.default_rng([top.seed, 2]), limit,
                                 used=x.nbytes)
    except TooManyParameters as exc:
        load.stop(pos.problem(("model", exc.index), exc.message), "the weights")
    for wp in load.made.problems:
        load.problems.append(pos.problem(("weights",) + wp.key, wp.message))
    load.warnings = (str(pos.problem(("weights", "file"), skipped_warning(load.made.skipped))),) \
        if load.made.skipped else ()
    load.T = [lay.steps for lay in layout if lay.seq_in][-1] if built.seq else 1
    load.B = B
    load.each_mode("weights")
    for lay in layout:   # what an entry cannot run with this batch (batchnorm's batch statistics)
        refused = handler(lay.type).check_run(lay, B, lay.steps if lay.seq_in else 1,
                                              load.lengths if lay.part != "decoder" else None,
                                              top.train is not None, top.feed == "output")
        if refused is not None:
            load.problems.append(pos.problem(("model", lay.index, refused[0]), refused[1]))


def _initial_states(load: Load) -> None:
    """The model's `initial_state:` keys as arrays (a packed batch runs from zero states only)."""
    raw_states, pos = load.raw_states, load.pos
    load.initial_states = {}
    if raw_states and load.lengths is not None:
        i = min(raw_states)
        load.problems.append(pos.problem(("model", i, "initial_state"), (
            "found an initial state beside sequences of different lengths; rnntui runs packed batches from zero "
            "states only (give the samples equal lengths)")))
    elif raw_states:
        try:
            load.initial_states = build_initial_states(raw_states, load.layout, load.B, load.base_dir, load.limit)
        except StateProblem as exc:
            load.problems.append(pos.problem(("model", exc.index, "initial_state") + exc.key, exc.message))


def _target(load: Load) -> None:
    """The loss target laid out like the output (scenario/targets.py)."""
    top, built, layout, B, pos = load.top, load.built, load.layout, load.B, load.pos
    try:
        out_lengths = load.lengths if load.decoder is None else None  # a decoder's steps are not the packed input's
        ragged = out_lengths is not None and top.input.lengths is None
        # {file: target.npy}, or a data set's target: laid out as a padded batch
        given = built.target if top.loss.target is None and top.loss.kind != "sum" else None
        from_file = isinstance(top.loss.target, dict) or given is not None
        load.target = target_of(top, layout[-1].out_shape, layout[-1].seq_out, load.T, B, given=given,
                                single=top.input.batch is None and B == 1 and out_lengths is None and not from_file,
                                pos=pos, lengths=out_lengths if ragged and not from_file else None,
                                padded=out_lengths is not None and (not ragged or from_file), base_dir=load.base_dir,
                                limit=load.limit)
        if load.target is not None and out_lengths is not None and layout[-1].seq_out:
            check_real_targets(top, load.target, out_lengths, layout[-1].out_shape, pos)
    except ScenarioError as exc:
        load.problems.extend(exc.problems)
        load.target = None


def _debug(load: Load) -> None:
    """The `debug:` expressions checked against the model's places; the class names against its output."""
    top, pos = load.top, load.pos
    load.watch, load.breakpoints, debug_problems = load_debug(load.data.get("debug"), load.layout, pos, load.text)
    load.problems.extend(debug_problems)
    out_feat = load.layout[-1].out_shape
    if top.class_names is not None and (top.loss.kind not in ("cross_entropy", "nll")
                                        or tuple(out_feat) != (len(top.class_names),)):
        load.problems.append(pos.problem(("class_names",), f"found {len(top.class_names)} names; expected one per class "
                                         f"of a cross_entropy model, whose output here is {tuple(out_feat)}"))


def _interventions(load: Load) -> None:
    """The what-if interventions (`what_if:`), checked against the model's places and steps."""
    load.interventions, found = build_interventions(load.top, load.layout, load.T, load.pos)
    load.problems.extend(found)


STAGES = (
    Stage("read", needs=("source",), provides=("path", "file", "data", "pos"), run=_read),
    Stage("entries", needs=("data", "pos"), provides=("types", "configs", "raw_states", "top"), run=_entries),
    Stage("keys", needs=("top", "types", "configs"), provides=("train",), run=_keys),
    Stage("input", needs=("top", "types", "configs"), provides=("base_dir", "limit", "built", "x", "lengths", "feat"),
          run=_input),
    Stage("layout", needs=("x", "feat", "built"), provides=("layout", "decoder"), run=_layout),
    Stage("weights", needs=("layout", "limit"), provides=("made", "T", "B"), run=_weights),
    Stage("initial states", needs=("layout", "B", "raw_states"), provides=("initial_states",), run=_initial_states),
    Stage("target", needs=("layout", "T", "B", "built"), provides=("target",), run=_target),
    Stage("debug", needs=("layout",), provides=("watch", "breakpoints"), run=_debug),
    Stage("interventions", needs=("layout", "T"), provides=("interventions",), run=_interventions),
)


def _scenario(load: Load) -> Scenario:
    top, built, B = load.top, load.built, load.B
    fields = dict(
        file=load.file, text=load.text, name=top.name or load.path.stem, description=top.description.strip(),
        seed=top.seed, dtype=top.dtype, mode=top.mode, layout=tuple(load.layout), x=load.x,
        seq=built.seq, tokens=built.tokens, vocab=built.vocab, params=load.made.params, buffers=load.made.buffers,
        warnings=load.warnings, loss=top.loss.kind, token_ids=built.token_ids,
        target=load.target, class_names=tuple(top.class_names) if top.class_names else None,
        events=tuple((k, float(v)) for k, v in top.events.model_dump().items()), lengths=load.lengths,
        initial_states=load.initial_states, feed=top.feed, compare=top.compare, watch=load.watch,
        breakpoints=load.breakpoints, interventions=load.interventions,
    )
    for part in load.each_mode("scenario"):
        fields.update(part)
    return Scenario(**fields)


def _load(source: str | Path, text: str | None, max_memory: int | None, sample: int | None = None) -> Scenario:
    load = Load(source, text, max_memory, sample)
    run_stages(load, STAGES[:1])
    whole = next((m for m in MODES if m.load is not None and m.applies(load)), None)
    if whole is not None:   # a mode that loads the whole model itself (a graph's nodes)
        return whole.load(load)
    run_stages(load, STAGES[1:])
    if load.problems:
        raise ScenarioError(load.problems)
    return _scenario(load)


def _ids_problems(types: list, configs: list, top: schema.Top, pos: Positions) -> list[Problem]:
    """An entry that reads token ids must be the first (nothing before it makes ids), and under float32
    (where the ids travel) its ids must be exact."""
    out = []
    for i, (kind, cfg) in enumerate(zip(types, configs)):
        h = handler(kind)
        if h.reads_ids and i > 0:
            out.append(pos.problem(("model", i, "type"), f"{kind} reads token ids, so it must be the first entry; "
                                   f"here it is entry {i}, after {types[i - 1]}"))
        elif h.reads_ids and top.dtype == "float32" and h.id_count(cfg) > MAX_EXACT_ID:
            out.append(pos.problem(("model", i), f"float32 holds ids exactly only below {MAX_EXACT_ID:,}; this "
                                   f"entry has {h.id_count(cfg):,}; use dtype float64"))
    return out


# --- the modes -----------------------------------------------------------------------------------------

def _graph(load: Load) -> Scenario:
    return load_graph(load.data, load.pos, load.top, load.problems, load.file, load.text, load.path,
                      load.max_memory)


def _generator_keys(load: Load) -> None:
    """`length` and `feed` belong to one-to-many."""
    top, pos = load.top, load.pos
    if top.length is not None and top.mode != "one-to-many":
        load.problems.append(pos.problem(("length",), f"is only for mode one-to-many; found mode {top.mode}"))
    if "feed" in load.data and top.mode != "one-to-many":
        load.problems.append(pos.problem(("feed",), f"is only for mode one-to-many (what the steps after the first "
                                         f"read); found mode {top.mode}"))


def _generator_blocking(load: Load) -> list:
    if load.top.mode == "one-to-many" and load.top.length is None:
        return [load.pos.problem(("mode",), "one-to-many needs `length`: how many steps to unroll")]
    return []


def _generator_input(load: Load) -> None:
    """One step, unrolled to `length` steps (the later ones zeros, or fed back: `feed: output`)."""
    top, pos, x = load.top, load.pos, load.x
    if not load.built.seq or x.shape[0] != 1:
        load.stop(pos.problem(("input",), f"one-to-many takes a single step; found {x.shape[0]} steps"), "the input")
    try:
        fits(top.length * x[0].size, load.limit, "length", f"{top.length:,} steps of {x.shape[1:]}")
    except InputProblem as exc:
        load.stop(pos.problem(("length",), exc.message), "the input")
    pad = np.zeros((top.length,) + x.shape[1:])
    pad[0] = x[0]
    load.x = pad


def _generator_layout(load: Load) -> None:
    if load.top.feed == "output":
        problem = _feed_problem(load.layout, load.configs, load.feat)
        if problem is not None:
            load.stop(load.pos.problem(*problem), "the model's layout")


def _feed_problem(layout, configs, in_feat) -> tuple | None:
    """`feed: output` needs a causal model that runs one step at a time and an output the first entry can
    read back: the same features, or (an embedding first) one score per id, whose arg-max is the next id."""
    for lay in layout:
        if lay.recurrent and len(lay.directions) == 2:
            return (("model", lay.index, "bidirectional"), (
                f"{keys.entry_prefix(lay.index)} ({lay.type}) is bidirectional, but a generator with feed: output is causal: "
                "step t's input is step t-1's output, so no step can read later ones; use bidirectional: false"))
        if lay.seq_in and not handler(lay.type).accepts_packed:
            return (("model", lay.index, "type"), (
                f"{keys.entry_prefix(lay.index)} ({lay.type}) mixes neighbouring steps, so it cannot run one step at a time "
                "as a generator with feed: output does; use recurrent, dense and activation entries"))
    last = layout[-1]
    out = tuple(last.out_shape)
    if handler(layout[0].type).reads_ids:
        V = handler(layout[0].type).id_count(configs[0])
        if last.type != "dense" or out != (V,):
            return (("feed",), (
                f"found feed: output with an embedding first: the next id is the arg-max of the output, so the last "
                f"entry must be a dense with units equal to num_embeddings ({V}); found {keys.entry_prefix(last.index)} "
                f"({last.type}) with output {out}"))
        return None
    if out != tuple(in_feat):
        return (("feed",), (
            f"found feed: output, but {keys.entry_prefix(last.index)} ({last.type}) outputs {out[0] if len(out) == 1 else out} "
            f"features and the input has {in_feat[0] if len(in_feat) == 1 else tuple(in_feat)}: each step's output "
            "is the next step's input, so they must have the same size"))
    return None


def _training_keys(load: Load) -> None:
    """The `train:` section, and the minibatches the modes that take them."""
    top, pos = load.top, load.pos
    if top.train is None:
        return
    load.train, train_problems = train_config(top.train, load.data, pos)
    load.problems.extend(train_problems)
    if top.train.batch_size is not None and (top.mode == "encoder-decoder" or top.feed == "output"):
        load.problems.append(pos.problem(("train", "batch_size"), (
            "minibatches are for the many-to-many, many-to-one and one-to-many (feed: zeros) modes; "
            f"this scenario is {'an encoder-decoder' if top.mode == 'encoder-decoder' else 'a generator'}: "
            "remove batch_size (every iteration then reads the whole batch)")))


def _training_weights(load: Load) -> None:
    """Dropout that a training run cannot draw masks for here."""
    top = load.top
    refused = untrainable_dropout(load.layout, top.feed == "output" and top.mode == "one-to-many",
                                  load.decoder is not None)
    if refused is not None:
        load.problems.append(load.pos.problem(("model", refused[0], refused[1]), refused[2]))


def _seq2seq_blocking(load: Load) -> list:
    top, pos = load.top, load.pos
    out = []
    if top.mode == "encoder-decoder" and top.decoder is None:
        out.append(pos.problem(("mode",), "encoder-decoder needs a `decoder:` section (its input and model)"))
    if top.decoder is not None and top.mode != "encoder-decoder":
        out.append(pos.problem(("decoder",), f"is only for mode encoder-decoder; found mode {top.mode}"))
    return out


def _seq2seq_layout(load: Load) -> None:
    """The decoder's input and entries (scenario/decoder.py), numbered after the encoder's. Source sentences of
    different lengths are packed in the encoder; each hands over its own last state, and the decoder's steps
    are all real."""
    layout = [replace(lay, part="encoder") for lay in load.layout]
    try:
        load.decoder = build_decoder(load.top, load.data, layout, B=load.x.shape[1], base_dir=load.base_dir,
                                     limit=load.limit, pos=load.pos)
    except ScenarioError as exc:
        load.stop(exc.problems, "the model's layout")
    load.layout = layout + load.decoder.layout


def _seq2seq_scenario(load: Load) -> dict:
    d = load.decoder
    return dict(decoder_x=d.x, decoder_tokens=d.built.tokens, decoder_token_ids=d.built.token_ids,
                decoder_vocab=d.built.vocab)


def _dataset_scenario(load: Load) -> dict:
    """The samples of a data set (`input.dataset`, scenario/dataset.py) the batch holds."""
    built = load.built
    return dict(dataset=built.dataset, sample=built.sample,
                sample_ids=tuple(range(built.sample, built.sample + load.B)), samples_total=built.dataset.N)


MODES = (
    Mode("graph", lambda load: is_graph_data(load.data), load=_graph),   # first: the only one read before top
    Mode("generator", lambda load: load.top.mode == "one-to-many", keys=_generator_keys,
         blocking=_generator_blocking, input=_generator_input, layout=_generator_layout),
    Mode("training", lambda load: load.top.train is not None, keys=_training_keys, weights=_training_weights,
         scenario=lambda load: dict(train=load.train)),
    Mode("seq2seq", lambda load: load.top.decoder is not None, blocking=_seq2seq_blocking, layout=_seq2seq_layout,
         scenario=_seq2seq_scenario),
    Mode("dataset", lambda load: load.built is not None and load.built.dataset is not None,
         scenario=_dataset_scenario),
)
