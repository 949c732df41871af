"""`mode: encoder-decoder`: the decoder's input and entries, laid out after the encoder's.

The encoder is the scenario's `model`; it must end with a recurrent entry, whose final states
(h_n, and c_n for an LSTM, per layer; the two directions merged with its `merge`) are where the
decoder's first recurrent entry starts. Decoder entries continue the encoder's numbering, so weight
and trace keys keep their version-1 form. Everything that cannot be handed over is refused here, at
load time, naming both entries.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rnntui.engine import keys
from rnntui.engine.handlers import handler
from rnntui.engine.infer import infer_layout
from rnntui.engine.layout import LayoutProblem
from rnntui.errors import ScenarioError
from rnntui.scenario.inputs import InputProblem, build_input
from rnntui.scenario.validate import validate_entries


@dataclass(frozen=True)
class DecoderPart:
    layout: list            # EntryInfo of the decoder's entries (indices continue the encoder's)
    built: object           # the decoder input's BuiltInput
    x: np.ndarray           # (T_dec, B, D)


def handover_size(encoder_last) -> int:
    """The width of the state the encoder hands over: its hidden size, doubled for a concatenation."""
    e = encoder_last
    return e.hidden_size * (2 if len(e.directions) == 2 and e.merge == "concat" else 1)


def build_decoder(top, data: dict, enc_layout: list, B: int, base_dir: Path, limit, pos) -> DecoderPart:
    k = len(enc_layout)
    last = enc_layout[-1]
    if not last.recurrent:
        raise ScenarioError([pos.problem(("model", k - 1, "type"), (
            f"the encoder ends with a {last.type}; expected it to end with its last recurrent entry (rnn, lstm or "
            "gru), whose final states start the decoder"))])
    raw = data["decoder"]["model"]
    for i, item in enumerate(raw):
        if isinstance(item, dict) and "initial_state" in item:
            raise ScenarioError([pos.problem(("decoder", "model", i, "initial_state"), (
                "found an initial state in the decoder; its first recurrent entry starts from the encoder's final "
                "states and the others from zeros (initial_state is for the encoder's entries)"))])
    types, configs, problems = validate_entries(raw, pos, prefix=("decoder", "model"))
    if problems:
        raise ScenarioError(problems)
    for i, kind in enumerate(types):
        if handler(kind).reads_ids and i > 0:
            raise ScenarioError([pos.problem(("decoder", "model", i, "type"), (
                f"{kind} reads token ids, so it must be the decoder's first entry; here it is its entry {i}"))])
    first = handler(types[0])
    try:
        built = build_input(top.decoder.input, base_dir, np.random.default_rng([top.seed, 3]), limit,
                            id_count=first.id_count(configs[0]) if first.reads_ids else None)
    except InputProblem as exc:
        key = exc.key if isinstance(exc.key, tuple) else tuple(exc.key.split("."))
        raise ScenarioError([pos.problem(("decoder", "input") + key, exc.message)]) from None
    if first.reads_ids and not built.ids:
        raise ScenarioError([pos.problem(("decoder", "model", 0, "type"), (
            f"{types[0]} reads token ids; expected `decoder.input.tokens`, or `decoder.input.text` with a `vocab`"))])
    if not built.seq or built.lengths is not None:
        raise ScenarioError([pos.problem(("decoder", "input"), (
            "found " + ("an image" if not built.seq else "sequences of different lengths")
            + "; expected one sequence per sample, all of the same length"))])
    x = built.x
    if x.shape[1] != B:
        raise ScenarioError([pos.problem(("decoder", "input"), (
            f"found {x.shape[1]} sample{'s' if x.shape[1] != 1 else ''}; expected one per encoder sample ({B})"))])
    try:
        layout = infer_layout(types, configs, tuple(x.shape[2:]), True, "many-to-many", x.shape[0], first_index=k)
    except LayoutProblem as exc:
        key = ("decoder", "model", exc.index - k) + ((exc.key,) if exc.key else ())
        raise ScenarioError([pos.problem(key, exc.message)]) from None
    layout = [replace(lay, part="decoder") for lay in layout]
    _check_handover(last, layout, k, pos)
    return DecoderPart(layout, built, x)


def _check_handover(last, layout: list, k: int, pos) -> None:
    """The decoder's first recurrent entry must take the encoder's final states as they are."""
    rec = [lay for lay in layout if lay.recurrent]
    if not rec:
        raise ScenarioError([pos.problem(("decoder", "model"), "found no recurrent entry; expected one to start from "
                                         f"the encoder's final states ({keys.entry_prefix(last.index)})")])
    d = rec[0]
    where = ("decoder", "model", d.index - k)
    both = f"{keys.entry_prefix(last.index)} ({last.type}) hands over to {keys.entry_prefix(d.index)} ({d.type})"
    size = handover_size(last)
    if len(d.directions) != 1:
        raise ScenarioError([pos.problem(where + ("bidirectional",), f"{both}: a decoder reads its steps in order; "
                                         "expected bidirectional false")])
    if d.num_layers != last.num_layers:
        raise ScenarioError([pos.problem(where + ("num_layers",), (
            f"{both}: found {d.num_layers} layer{'s' if d.num_layers != 1 else ''} against the encoder's "
            f"{last.num_layers}; expected the same, each starting from the encoder layer's final state"))])
    if d.hidden_size != size:
        merged = f" ({last.hidden_size} per direction, {last.merge})" if len(last.directions) == 2 else ""
        raise ScenarioError([pos.problem(where + ("hidden_size",), (
            f"{both}: found hidden_size {d.hidden_size}; expected {size}, the size of the encoder's final state"
            f"{merged}"))])
    missing = set(d.family.states) - set(last.family.states)
    if missing:
        raise ScenarioError([pos.problem(where + ("type",), (
            f"{both}: the decoder needs a starting {' and '.join(sorted(missing))} that a {last.type} does not have; "
            f"expected a {last.type} or a family whose states it has"))])
