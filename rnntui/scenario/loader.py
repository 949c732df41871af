"""YAML text -> a validated, fully resolved `Scenario`, or a ScenarioError listing every problem."""
from __future__ import annotations

import dataclasses

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from rnntui.errors import Problem, ScenarioError
from rnntui.scenario import schema
from rnntui.engine import keys
from rnntui.engine.entries import handler
from rnntui.engine.entries.embedding import MAX_EXACT_ID
from rnntui.scenario.decoder import build_decoder
from rnntui.scenario.interventions import build_interventions
from rnntui.scenario.initial_state import StateProblem, build_initial_states, split_initial_states
from rnntui.scenario.entry_models import ENTRY_TYPES, model_for, to_config
from rnntui.scenario.arrays import NotNumbers, numbers
from rnntui.scenario.yaml_source import Positions, load_yaml, read_text
from rnntui.scenario.yaml_words import suggest


@dataclass(frozen=True)
class Scenario:
    """Everything the engine needs; arrays are float64 until the engine casts them."""

    file: str
    text: str
    name: str
    description: str
    seed: int
    dtype: str
    mode: str
    layout: tuple
    x: np.ndarray
    seq: bool
    tokens: np.ndarray | None          # str: (T,) for one sequence, (T, B) for a batch ("" where padded)
    vocab: tuple[str, ...] | None
    params: dict[str, np.ndarray]
    loss: str
    target: np.ndarray | None
    class_names: tuple[str, ...] | None = None
    events: tuple[tuple[str, float], ...] = ()
    lengths: np.ndarray | None = None   # (B,) int: each sample's own length (None: all T)
    initial_states: dict = dataclasses.field(default_factory=dict)  # entry index -> {"h": (L*D, B, H), "c": ...}
    compare: str | None = None              # a run to open beside this one (`rnntui run`)
    decoder_x: np.ndarray | None = None     # encoder-decoder: what the decoder reads, (T_dec, B, D)
    decoder_tokens: tuple | None = None
    decoder_token_ids: np.ndarray | None = None
    decoder_vocab: tuple | None = None
    token_ids: np.ndarray | None = None  # int, like tokens (-1 where padded)
    feed: str = "zeros"                  # one-to-many: "output" feeds each step's output back as the next input
    watch: tuple[str, ...] = ()          # debug.watch: expressions the debugger opens with (docs/debugger.md)
    breakpoints: tuple[str, ...] = ()    # debug.break
    interventions: tuple = ()            # what-if: engine.interventions.Intervention, applied in the loops
    train: Any = None                    # engine.optim.TrainConfig: `train:` (see engine/train.py), or None
    dropout_masks: dict | None = None    # set by engine/train.py for one iteration: dropout masks by trace key
    buffers: dict = dataclasses.field(default_factory=dict)  # state that is no parameter: batchnorm's running_*
    training: bool = False               # set by engine/train.py: an iteration's forward (batch statistics)
    warnings: tuple[str, ...] = ()       # what loaded but deserves a word (weight-file keys skipped), for the CLI
    inputs: dict | None = None           # a graph model: every input by name (x is the first); None for a chain
    input_lengths: dict = dataclasses.field(default_factory=dict)  # a graph's inputs of different lengths, by name
    output_steps: int = 0                # a graph model: the steps of its output (1 without steps)
    input_seq: dict = dataclasses.field(default_factory=dict)  # a graph's inputs: whether each has steps (T, B, ...)
    dataset: Any = None                  # input.dataset: the data set (scenario/dataset.py) the batch was read from
    sample: int = 0                      # and the first of its samples the batch holds
    sample_ids: tuple | None = None      # which samples of the data the batch holds (data set, minibatch)
    samples_total: int | None = None     # and how many the data has
    sources: tuple[str, ...] = ()        # every file the load read: the scenario, weights, input, vocabulary...

    @property
    def T(self) -> int:
        """Steps of the model's output (a conv1d over a sequence may shorten the input's)."""
        if self.inputs is not None:
            return max([self.output_steps] + [lay.steps for lay in self.layout if lay.seq_out])
        return [lay.steps for lay in self.layout if lay.seq_in][-1] if self.seq else 1

    @property
    def B(self) -> int:
        return self.x.shape[1] if self.seq else self.x.shape[0]


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})" if value is not None else "nothing"


def _model_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed at *loc* inside *model*, for 'did you mean'."""
    cur: Any = model
    for part in loc:
        if isinstance(part, int) or cur is None:
            continue
        f = getattr(cur, "model_fields", {}).get(part)
        if f is None:
            return []
        ann = f.annotation
        cur = None
        for cand in getattr(ann, "__args__", ()) + (ann,):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                cur = cand
    return list(getattr(cur, "model_fields", {}))


def _real_loc(loc: tuple, data: Any) -> tuple:
    """The keys and indices of *loc* that are in the user's data (or the missing key at its end).

    pydantic adds the branches of unions ('constrained-int', 'tuple[...]') to a location; walking
    the data tells them apart from real keys, even keys that hold '[' or look like a branch name.
    """
    out, cur = [], data
    for n, part in enumerate(loc):
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif n == len(loc) - 1 and isinstance(cur, dict) and isinstance(part, str):
            out.append(part)  # a required key that is missing
    return tuple(out)


def _translate(exc: ValidationError, model: type[BaseModel], prefix: tuple, pos: Positions, data: Any) -> list[Problem]:
    problems, seen = [], set()
    for err in exc.errors():
        loc = _real_loc(tuple(err["loc"]), data)
        path = prefix + loc
        if path in seen:  # a union reports each branch it tried; the first says enough
            continue
        seen.add(path)
        typ, value = err["type"], err.get("input")
        if typ == "extra_forbidden":
            key = loc[-1] if loc else ""
            allowed = _model_fields(model, loc[:-1])
            msg = f"unknown key {key!r}{suggest(key, allowed)}; expected one of {', '.join(allowed)}"
        elif typ == "missing":
            msg = "is required but missing"
        elif typ == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",")]
            msg = f"found {_describe(value)}{suggest(value, choices)}; expected {expected}"
        elif typ == "value_error":
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
        else:
            want = err["msg"]
            want = want[0].lower() + want[1:] if want else want
            want = want.replace("input should be", "expected").replace("Input should be", "expected")
            msg = f"found {_describe(value)}; {want}"
        problems.append(pos.problem(path, msg))
    return problems


def _validate_entries(raw: list, pos: Positions, prefix: tuple = ("model",)) -> tuple[list, list, list[Problem]]:
    """Each entry's type and its handler's configuration, or the problems found."""
    types, configs, problems = [], [], []
    for i, item in enumerate(raw):
        path = prefix + (i,)
        if not isinstance(item, dict):
            problems.append(pos.problem(path, f"found {_describe(item)}; expected a map with a `type` key"))
            continue
        kind = item.get("type")
        if kind is None:
            problems.append(pos.problem(path, f"has no `type`; expected one of {', '.join(ENTRY_TYPES)}"))
            continue
        if not isinstance(kind, str) or kind not in ENTRY_TYPES:
            problems.append(pos.problem(path + ("type",), f"found {_describe(kind)}{suggest(kind, ENTRY_TYPES)}; "
                                        f"expected one of {', '.join(ENTRY_TYPES)}"))
            continue
        model = model_for(kind)
        try:
            validated = model.model_validate(item)
        except ValidationError as exc:
            problems.extend(_translate(exc, model, path, pos, item))
            continue
        types.append(kind)
        configs.append(to_config(kind, validated))
    return types, configs, problems


def _target(top: schema.Top, out_feat: tuple, out_seq: bool, T: int, B: int, single: bool, pos: Positions,
            lengths: np.ndarray | None = None, padded: bool = False, base_dir: Path | None = None,
            limit: int | None = None, given: np.ndarray | None = None):
    """Return the target laid out like the output: (T, B, F) / (T, B) or (B, F) / (B,). With *lengths*
    (a ragged input), a per-step target is ragged too: one list per sample, as long as the sample.
    `target: {file: t.npy}` (or an .npz with `key:`) reads the same layout from a file, batch first."""
    kind, raw = top.loss.kind, (top.loss.target if given is None else given)
    where = ("loss", "target") if given is None else ("input", "dataset")
    if isinstance(raw, dict) and kind != "sum":
        raw = _target_file(raw, base_dir or Path("."), pos, where, limit)
    if kind == "sum":
        if raw is not None:
            raise ScenarioError([pos.problem(where, "found a target; loss kind sum takes none (use mse or cross_entropy)")])
        return None
    if raw is None:
        raise ScenarioError([pos.problem(("loss",), f"loss kind {kind} needs a `target`")])
    if lengths is not None and out_seq:
        raw = _padded_target(raw, lengths, pos, where)
    try:
        arr = raw if isinstance(raw, np.ndarray) else numbers(raw, "numbers" if kind == "mse" else
                                                              "class indices (whole numbers)")
    except NotNumbers as exc:
        raise ScenarioError([pos.problem(where + exc.sub, exc.message)]) from None
    F = out_feat[0] if len(out_feat) == 1 else None
    if kind in ("cross_entropy", "nll"):
        if F is None:
            raise ScenarioError([pos.problem(where, f"{kind} needs a vector of logits; the model returns {out_feat}")])
        if out_seq:
            shapes = {1: (T,), 2: (B, T)} if single else {2: (B, T)}
            lay = "(T)" + (" or (B, T)" if single else "") if single else "(B, T)"
        else:
            shapes = {0: (), 1: (B,)} if single else {1: (B,)}
            lay = "one index or (B)" if single else "(B)"
        if arr.ndim not in shapes or arr.shape != shapes[arr.ndim]:
            raise ScenarioError([pos.problem(where, f"found shape {arr.shape}; expected class indices laid out as {lay}, "
                                             f"here {shapes[max(shapes)]}")])
        # a padded target's entries past a sample's length are ignored: only real steps must be classes
        # (checked where the lengths are known)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | (arr != np.round(arr))
            if not (padded and out_seq):
                bad |= (arr < 0) | (arr >= F)
        if bad.any():
            # the first wrong value where the user wrote it (target[sample][step]), and how many more there are
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            v = float(arr[at])
            shown = int(v) if np.isfinite(v) and v == int(v) else v
            more = int(bad.sum()) - 1
            raise ScenarioError([pos.problem(where, f"found {shown} at target{''.join(f'[{i}]' for i in at)}"
                                             + (f" (and {more} more)" if more else "")
                                             + f"; expected whole class indices in 0..{F - 1} (the model's output has "
                                               f"{F} classes)")])
        arr = arr.astype(np.int64)
        if out_seq:
            return arr.reshape(T, 1) if arr.ndim == 1 else arr.T.copy()
        return arr.reshape(B)
    # mse
    full = ((T, B) if out_seq else (B,)) + tuple(out_feat)
    if out_seq:
        if arr.ndim == 1 + len(out_feat) and B == 1 and arr.shape == (T,) + tuple(out_feat):
            return arr.reshape(full)
        if arr.shape == (B, T) + tuple(out_feat):
            return np.ascontiguousarray(np.moveaxis(arr, 0, 1))
        lay = (f"{(T,) + tuple(out_feat)} or " if B == 1 else "") + f"{(B, T) + tuple(out_feat)}"
    else:
        if B == 1 and arr.shape == tuple(out_feat):
            return arr.reshape(full)
        if arr.shape == full:
            return arr
        lay = (f"{tuple(out_feat)} or " if B == 1 else "") + f"{full}"
    raise ScenarioError([pos.problem(where, f"found shape {arr.shape}; expected {lay} to match the model's output")])


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


def _checkpointable(layout, top, seq: bool, decoder) -> bool:
    """Whether a run over the memory limit may still be recorded, checkpointed (engine/checkpoint.py decides
    again, with the whole scenario, and says why not)."""
    from rnntui.engine.checkpoint import why_whole_layout

    return (seq and decoder is None and top.train is None and top.feed != "output"
            and why_whole_layout(list(layout)) is None)


def load_scenario(source: str | Path, text: str | None = None, max_memory: int | None = None,
                  sample: int | None = None) -> Scenario:
    """Load and check a scenario file; raise ScenarioError naming every problem.

    Inputs and parameters are counted before they are made: what would take more than *max_memory*
    bytes (default: half the available memory) is refused with the estimate. `sources` lists the
    files read (scenario/reads.py). *sample*: with a data set input, the first sample the run reads
    (default the input's own `sample`).
    """
    from rnntui.scenario.reads import recording

    with recording() as read:
        sc = _load(source, text, max_memory, sample)
    return replace(sc, sources=tuple(dict.fromkeys(read)))


def _load(source: str | Path, text: str | None, max_memory: int | None, sample: int | None = None) -> Scenario:
    from rnntui.engine.layout import LayoutProblem, infer_layout
    from rnntui.engine.run import available_memory, record_bytes, too_big
    from rnntui.scenario.inputs import InputProblem, build_input, fits
    from rnntui.scenario.weights import TooManyParameters, check_param_count, make_weights, skipped_warning

    path = Path(source)
    file = str(source)
    if text is None:
        text = read_text(path)
    data, pos = load_yaml(text, file)
    if not isinstance(data, dict):
        raise ScenarioError([pos.problem((), f"found {_describe(data)}; expected a map of scenario keys")])
    problems: list[Problem] = []
    top = None
    try:
        top = schema.Top.model_validate(data)
    except ValidationError as exc:
        problems.extend(_translate(exc, schema.Top, (), pos, data))
    from rnntui.scenario.graph import is_graph_data

    if is_graph_data(data):
        from rnntui.scenario.graph_load import load_graph

        return load_graph(data, pos, top, problems, file, text, path, max_memory)
    if top is not None and top.input is None:
        problems.append(pos.problem(("input",), "is required but missing"))
    raw_model = data.get("model")
    entries, raw_states = split_initial_states(raw_model if isinstance(raw_model, list) else [])
    types, configs, entry_problems = _validate_entries(entries, pos)
    problems.extend(entry_problems)
    if top is None:
        # the optimizer's keys need only its own map: said now, beside a bad `iterations` or `mode`
        from rnntui.scenario.training import optimizer_problems_alone

        problems.extend(optimizer_problems_alone(data, pos))

    def stop(found: Problem | list[Problem] | None, waiting: str):
        """Refuse with every problem found so far; say what could not be checked yet, and why."""
        found = [] if found is None else [found] if isinstance(found, Problem) else list(found)
        raise ScenarioError(problems + found, (Problem(file, None, None, "", LATER[waiting]),))

    if problems or top is None:
        stop(None, "the problems above fixed")

    # checks of keys that go together; those the input and the model's layout depend on stop before them,
    # the others (a train: section, a key the mode ignores) are listed with whatever the later checks find
    if top.length is not None and top.mode != "one-to-many":
        problems.append(pos.problem(("length",), f"is only for mode one-to-many; found mode {top.mode}"))
    if "feed" in data and top.mode != "one-to-many":
        problems.append(pos.problem(("feed",), f"is only for mode one-to-many (what the steps after the first read); "
                                    f"found mode {top.mode}"))
    train = None
    if top.train is not None:
        from rnntui.scenario.training import train_config

        train, train_problems = train_config(top.train, data, pos)
        problems.extend(train_problems)
        if top.train.batch_size is not None and (top.mode == "encoder-decoder" or top.feed == "output"):
            problems.append(pos.problem(("train", "batch_size"), (
                "minibatches are for the many-to-many, many-to-one and one-to-many (feed: zeros) modes; "
                f"this scenario is {'an encoder-decoder' if top.mode == 'encoder-decoder' else 'a generator'}: "
                "remove batch_size (every iteration then reads the whole batch)")))
    blocking = []
    if top.mode == "one-to-many" and top.length is None:
        blocking.append(pos.problem(("mode",), "one-to-many needs `length`: how many steps to unroll"))
    if top.mode == "encoder-decoder" and top.decoder is None:
        blocking.append(pos.problem(("mode",), "encoder-decoder needs a `decoder:` section (its input and model)"))
    if top.decoder is not None and top.mode != "encoder-decoder":
        blocking.append(pos.problem(("decoder",), f"is only for mode encoder-decoder; found mode {top.mode}"))
    blocking.extend(_ids_problems(types, configs, top, pos))
    if blocking:
        problems.extend(blocking)
        stop(None, "the problems above fixed")

    base_dir = path.parent if path.parent != Path("") else Path(".")
    first = handler(types[0])
    try:
        limit = available_memory() // 2 if max_memory is None else max_memory
        built = build_input(top.input, base_dir, np.random.default_rng([top.seed, 1]), limit,
                            id_count=first.id_count(configs[0]) if first.reads_ids else None, sample=sample)
    except InputProblem as exc:
        key = exc.key if isinstance(exc.key, tuple) else tuple(exc.key.split("."))
        stop(pos.problem(("input",) + key, exc.message), "the input")
    if first.reads_ids and not built.ids:
        stop(pos.problem(("model", 0, "type"), f"{types[0]} reads token ids; expected `input.tokens`, "
                         "or `input.text` with a `vocab` (found "
                         f"{'text without a vocab' if top.input.text is not None else 'no tokens'})"), "the input")
    x = built.x
    if top.mode == "one-to-many":
        if not built.seq or x.shape[0] != 1:
            stop(pos.problem(("input",), f"one-to-many takes a single step; found {x.shape[0]} steps"), "the input")
        try:
            fits(top.length * x[0].size, limit, "length", f"{top.length:,} steps of {x.shape[1:]}")
        except InputProblem as exc:
            stop(pos.problem(("length",), exc.message), "the input")
        pad = np.zeros((top.length,) + x.shape[1:])
        pad[0] = x[0]
        x = pad
    lengths, problem = _lengths(top, built, x)
    if problem is not None:
        stop(pos.problem(*problem), "the input")
    # non-finite input is allowed on purpose: the run records where it spreads
    feat = x.shape[2:] if built.seq else x.shape[1:]
    try:
        layout = infer_layout(types, configs, tuple(feat), built.seq, top.mode, x.shape[0] if built.seq else 1)
    except LayoutProblem as exc:
        key = ("model", exc.index) + ((exc.key,) if exc.key else ())
        stop(pos.problem(key, exc.message), "the model's layout")
    decoder = None
    if lengths is not None:
        for lay in layout:
            if lay.seq_in and not lay.handler.takes_lengths:
                stop(pos.problem(("model", lay.index, "type"), (
                    f"{lay.type} mixes neighbouring steps, so it cannot take sequences of different lengths "
                    f"(input lengths {_shown(lengths)}); give them equal lengths or use recurrent, dense and "
                    "activation entries")), "the model's layout")
    if top.decoder is not None:
        # source sentences of different lengths are packed in the encoder; each hands over its own
        # last state, and the decoder's steps are all real
        layout = [replace(lay, part="encoder") for lay in layout]
        try:
            decoder = build_decoder(top, data, layout, B=x.shape[1], base_dir=base_dir, limit=limit, pos=pos)
        except ScenarioError as exc:
            stop(exc.problems, "the model's layout")
        layout = layout + decoder.layout
    if top.feed == "output" and top.mode == "one-to-many":
        problem = _feed_problem(layout, configs, feat)
        if problem is not None:
            stop(pos.problem(*problem), "the model's layout")

    # count before anything is made: a model too large for memory is refused in a moment, not after minutes
    # of drawing its parameters (the parameters first: their message names the largest entry)
    try:
        check_param_count(layout, limit, used=x.nbytes)
    except TooManyParameters as exc:
        stop(pos.problem(("model", exc.index), exc.message), "the weights")
    B = x.shape[1] if built.seq else x.shape[0]
    need = record_bytes(layout, top.dtype, x, built.seq, B, None if decoder is None else decoder.x)
    if need > limit and not _checkpointable(layout, top, built.seq, decoder):
        stop(pos.problem(("model",), too_big(need, limit, x.shape[0] if built.seq else 1, B)), "the weights")
    try:
        made = make_weights(layout, top.weights, base_dir, np.random.default_rng([top.seed, 2]), limit, used=x.nbytes)
    except TooManyParameters as exc:
        stop(pos.problem(("model", exc.index), exc.message), "the weights")
    params = made.params
    for wp in made.problems:
        problems.append(pos.problem(("weights",) + wp.key, wp.message))
    warnings = (str(pos.problem(("weights", "file"), skipped_warning(made.skipped))),) if made.skipped else ()
    T = [lay.steps for lay in layout if lay.seq_in][-1] if built.seq else 1
    B = x.shape[1] if built.seq else x.shape[0]
    if top.train is not None:
        from rnntui.engine.train import untrainable_dropout

        refused = untrainable_dropout(layout, top.feed == "output" and top.mode == "one-to-many", decoder is not None)
        if refused is not None:
            problems.append(pos.problem(("model", refused[0], refused[1]), refused[2]))
    for lay in layout:   # what an entry cannot run with this batch (batchnorm's batch statistics)
        refused = lay.handler.check_run(lay, B, lay.steps if lay.seq_in else 1, lengths if lay.part != "decoder" else None,
                                        top.train is not None, top.feed == "output")
        if refused is not None:
            problems.append(pos.problem(("model", lay.index, refused[0]), refused[1]))
    initial_states = {}
    if raw_states and lengths is not None:
        i = min(raw_states)
        problems.append(pos.problem(("model", i, "initial_state"), (
            "found an initial state beside sequences of different lengths; rnntui runs packed batches from zero "
            "states only (give the samples equal lengths)")))
    elif raw_states:
        try:
            initial_states = build_initial_states(raw_states, layout, B, base_dir, limit)
        except StateProblem as exc:
            problems.append(pos.problem(("model", exc.index, "initial_state") + exc.key, exc.message))
    try:
        out_lengths = lengths if decoder is None else None  # a decoder's steps are not the packed input's
        ragged = out_lengths is not None and top.input.lengths is None
        # {file: target.npy}, or a data set's target: laid out as a padded batch
        given = built.target if top.loss.target is None and top.loss.kind != "sum" else None
        from_file = isinstance(top.loss.target, dict) or given is not None
        target = _target(top, layout[-1].out_shape, layout[-1].seq_out, T, B, given=given,
                         single=top.input.batch is None and B == 1 and out_lengths is None and not from_file,
                         pos=pos, lengths=out_lengths if ragged and not from_file else None,
                         padded=out_lengths is not None and (not ragged or from_file), base_dir=base_dir, limit=limit)
        if target is not None and out_lengths is not None and layout[-1].seq_out:
            _check_real_targets(top, target, out_lengths, layout[-1].out_shape, pos)
    except ScenarioError as exc:
        problems.extend(exc.problems)
        target = None
    from rnntui.scenario.debug import load_debug

    watch, breakpoints, debug_problems = load_debug(data.get("debug"), layout, pos, text)
    problems.extend(debug_problems)
    out_feat = layout[-1].out_shape
    if top.class_names is not None and (top.loss.kind not in ("cross_entropy", "nll") or tuple(out_feat) != (len(top.class_names),)):
        problems.append(pos.problem(("class_names",), f"found {len(top.class_names)} names; expected one per class of a "
                                    f"cross_entropy model, whose output here is {tuple(out_feat)}"))
    interventions, intervention_problems = build_interventions(top, layout, T, pos)
    problems.extend(intervention_problems)
    if problems:
        raise ScenarioError(problems)

    return Scenario(
        file=file, text=text, name=top.name or path.stem, description=top.description.strip(), seed=top.seed,
        dtype=top.dtype, mode=top.mode, layout=tuple(layout), x=x,
        seq=built.seq, tokens=built.tokens, vocab=built.vocab, params=params, buffers=made.buffers,
        warnings=warnings, loss=top.loss.kind, dataset=built.dataset, sample=built.sample,
        sample_ids=None if built.dataset is None else tuple(range(built.sample, built.sample + B)),
        samples_total=None if built.dataset is None else built.dataset.N,
        token_ids=built.token_ids,
        target=target, class_names=tuple(top.class_names) if top.class_names else None,
        events=tuple((k, float(v)) for k, v in top.events.model_dump().items()), lengths=lengths,
        initial_states=initial_states, feed=top.feed, compare=top.compare, watch=watch, breakpoints=breakpoints,
        interventions=interventions,
        train=train,
        decoder_x=None if decoder is None else decoder.x,
        decoder_tokens=None if decoder is None else decoder.built.tokens,
        decoder_token_ids=None if decoder is None else decoder.built.token_ids,
        decoder_vocab=None if decoder is None else decoder.built.vocab,
    )


# what each stop leaves unchecked (ScenarioError.unchecked), by what it waits for
_AFTER_LAYOUT = "the weights, the loss target, initial states, interventions and debug expressions"
LATER = {
    "the problems above fixed": "not checked until the problems above are fixed, as they need a valid model and "
                                f"input: the input itself, the sizes from entry to entry, {_AFTER_LAYOUT}",
    "the input": f"not checked until the input loads, as they need its shape: the sizes from entry to entry, {_AFTER_LAYOUT}",
    "the model's layout": f"not checked until the model's sizes fit together, as they need them: {_AFTER_LAYOUT}",
    "the weights": "not checked until the parameters fit in memory: the loss target, initial states, interventions "
                   "and debug expressions",
}


def _feed_problem(layout, configs, in_feat) -> tuple | None:
    """`feed: output` needs a causal model that runs one step at a time and an output the first entry can
    read back: the same features, or (an embedding first) one score per id, whose arg-max is the next id."""
    for lay in layout:
        if lay.recurrent and len(lay.directions) == 2:
            return (("model", lay.index, "bidirectional"), (
                f"{keys.entry_prefix(lay.index)} ({lay.type}) is bidirectional, but a generator with feed: output is causal: "
                "step t's input is step t-1's output, so no step can read later ones; use bidirectional: false"))
        if lay.seq_in and not lay.handler.takes_lengths:
            return (("model", lay.index, "type"), (
                f"{keys.entry_prefix(lay.index)} ({lay.type}) mixes neighbouring steps, so it cannot run one step at a time "
                "as a generator with feed: output does; use recurrent, dense and activation entries"))
    last = layout[-1]
    out = tuple(last.out_shape)
    if layout[0].handler.reads_ids:
        V = layout[0].handler.id_count(configs[0])
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


def _target_file(raw: dict, base_dir: Path, pos: Positions, where: tuple, limit: int | None) -> np.ndarray:
    """`target: {file: ..., key: ...}`: the array, read without pickle, or the problem at its key."""
    from rnntui.scenario.inputs import InputProblem, load_array_file

    unknown = [k for k in raw if k not in ("file", "key")]
    if unknown or not isinstance(raw.get("file"), str) or not isinstance(raw.get("key", ""), str):
        bad = unknown[0] if unknown else "file"
        raise ScenarioError([pos.problem(where + ((bad,) if bad in raw else ()), (
            f"found {_describe(raw.get(bad)) if bad in raw else 'no file'}; expected a target file as "
            "{file: target.npy} or {file: data.npz, key: name} (class indices or numbers, batch first)"))])
    try:
        return load_array_file(base_dir / raw["file"], raw.get("key"), "file", raw["file"], limit)
    except InputProblem as exc:
        raise ScenarioError([pos.problem(where + (exc.key if isinstance(exc.key, tuple) else (exc.key,)),
                                         exc.message)]) from None


def _padded_target(raw, lengths, pos: Positions, where: tuple) -> list:
    """A ragged per-step target (one list per sample, as long as the sample) padded to (B, T, ...) lists."""
    if not isinstance(raw, list) or len(raw) != len(lengths):
        found = f"{len(raw)} entries" if isinstance(raw, list) else _describe(raw)
        raise ScenarioError([pos.problem(where, f"found {found}; expected one list per sample ({len(lengths)}), "
                                         "each as long as its sequence, as the input is laid out")])
    T = int(max(lengths))
    out = []
    for b, (sample, n) in enumerate(zip(raw, lengths)):
        if not isinstance(sample, list) or len(sample) != n:
            found = f"{len(sample)} steps" if isinstance(sample, list) else _describe(sample)
            raise ScenarioError([pos.problem(where + (b,), f"found {found}; expected {int(n)}, the length of sample {b}")])
        fill = sample[0] if sample else 0
        out.append(sample + [_zero_like(fill)] * (T - int(n)))
    return out


def _zero_like(v):
    return [_zero_like(u) for u in v] if isinstance(v, list) else 0


def _shown(lengths) -> str:
    shown = [int(v) for v in lengths[:8]]
    return str(shown)[:-1] + (", ...]" if len(lengths) > 8 else "]")


def _lengths(top, built, x):
    """Each sample's own length (None when all are T), or a problem (key path, message)."""
    given = top.input.lengths
    lengths = built.lengths
    if given is not None and top.input.batch is None and top.input.file is None:
        return None, (("input", "lengths"), "found lengths beside another input form; expected them only beside a "
                      "padded batch or file")
    if given is not None and lengths is not None:
        return None, (("input", "lengths"), "found lengths beside sequences of different lengths; expected them only "
                      "beside a padded batch (a ragged batch gives its own)")
    if given is not None:
        B, T = x.shape[1], x.shape[0]
        if len(given) != B:
            return None, (("input", "lengths"), f"found {len(given)} lengths; expected one per sample of the batch ({B})")
        too_long = [k for k, n in enumerate(given) if n > T]
        if too_long:
            k = too_long[0]
            return None, (("input", "lengths", k), f"found {given[k]}; expected at most the padded length {T}")
        lengths = np.asarray(given, dtype=np.int64)
    if lengths is None:
        return None, None
    if top.mode == "one-to-many":
        return None, (("input",), "one-to-many unrolls one step for every sample; found sequences of different lengths")
    if (lengths == x.shape[0]).all():
        return None, None
    return lengths, None


def _check_real_targets(top, target, lengths, out_feat, pos) -> None:
    """A padded target's entries past a sample's length are ignored; its real entries must be classes."""
    if top.loss.kind not in ("cross_entropy", "nll"):
        return
    real = np.arange(target.shape[0])[:, None] < lengths[None, :]
    F = out_feat[0]
    bad = real & ((target < 0) | (target >= F))
    if bad.any():
        t, b = (int(v) for v in np.argwhere(bad)[0])
        raise ScenarioError([pos.problem(("loss", "target"), (
            f"found {int(target[t, b])} at sample {b}, step {t}; expected whole class indices in 0..{F - 1} "
            "at every real step"))])
