"""The step's equation in the cell panel (a family's forward story), read off the rendered panel and checked
against numbers the test gets elsewhere: the state the first step reads is the one the run started from
(an `initial_state`, a decoder's hand-over from the encoder's final states, a generator's start), in each
direction; where a what-if overwrote a value, the terms shown add up to the value they give, the value set
is named as set, and what follows reads the value set."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import rnntui
from rnntui.numfmt import fmt
from rnntui.render.cursor import Cursor
from rnntui.render.parts import for_place
from rnntui.render.views import view_for
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text

DATA = Path(__file__).parent.parent / "data"
NUM = r"(-?[0-9.]+(?:e[-+][0-9]+)?)"
TWO_TERMS = re.compile(rf"^\s+= {NUM}×{NUM} \+ {NUM}×{NUM} = {NUM}$")      # GRU's h, LSTM's c
ONE_TERM = re.compile(rf"^\s+= {NUM}×{NUM} = {NUM}$")                          # LSTM's h
ACT = re.compile(rf"^h_t = (\w+)\(a_t\) = \w+\({NUM}\) = {NUM}\s")             # RNN's h
SET = re.compile(rf"^\s+[ch]_t set to {NUM} by the what-if: what follows reads it$")  # under an equation
ROUNDING = 2e-4  # the shown numbers have 4 decimals


def cell_text(trace, place, t: int, unit: int = 0, sample: int = 0) -> list[str]:
    info = trace.info
    k = info.places.index(place)
    out = io.StringIO()
    c = Cursor(place_index=k, t=t, unit=unit, sample=sample)
    Console(file=out, width=400, color_system=None).print(
        view_for(info, place).cell(for_place(trace, place), c, 120))
    return out.getvalue().splitlines()


def equations(lines: list[str]) -> list[tuple[str, tuple]]:
    """Each equation of the story: (which, its numbers, then the value set under it by a what-if or None)."""
    out = []
    for k, line in enumerate(lines):
        following = SET.match(lines[k + 1]) if k + 1 < len(lines) else None
        set_to = (float(following.group(1)) if following else None,)
        for name, rx in (("two", TWO_TERMS), ("one", ONE_TERM)):
            m = rx.match(line)
            if m:
                out.append((name, tuple(float(g) for g in m.groups()) + set_to))
        m = ACT.match(line)
        if m:
            out.append(("act", (m.group(1), float(m.group(2)), float(m.group(3))) + set_to))
    return out


def check_sums(eqs) -> None:
    """Every equation's terms add up to the first value after them (independent of the code that wrote it)."""
    for kind, nums in eqs:
        if kind == "two":
            a, b, c, d, e, _ = nums
            assert abs(a * b + c * d - e) < ROUNDING * (1 + abs(b) + abs(d)), (kind, nums)
        elif kind == "one":
            a, b, e, _ = nums
            assert abs(a * b - e) < ROUNDING * (1 + abs(b)), (kind, nums)
        else:
            act, a, e, _ = nums
            assert abs({"tanh": np.tanh, "relu": lambda x: max(x, 0.0), "identity": lambda x: x}[act](a) - e) < ROUNDING


def prev_shown(kind_eqs) -> float:
    """The previous state in the first equation: z×h_prev (GRU) or f×c_prev (LSTM), the second factor."""
    kind, nums = kind_eqs[0]
    assert kind == "two"
    return nums[3] if len(kind_eqs) == 1 else nums[1]


def place(trace, entry: int, layer: int, direction: str):
    return next(p for p in trace.info.places if (p.entry, p.layer, p.direction) == (entry, layer, direction))


def run_doc(tmp_path, doc):
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(doc))
    return rnntui.run(path)


def initial_state_doc(kind: str, T: int = 3, B: int = 2, H: int = 3, layers: int = 2) -> tuple[dict, dict]:
    rng = np.random.default_rng(5)
    state = {"h": rng.uniform(-0.9, 0.9, size=(layers * 2, B, H)).round(3).tolist()}
    if kind == "lstm":
        state["c"] = rng.uniform(-2, 2, size=(layers * 2, B, H)).round(3).tolist()
    doc = {"version": 1, "seed": 3, "input": {"batch": rng.normal(size=(B, T, 2)).round(3).tolist()},
           "model": [{"type": kind, "hidden_size": H, "num_layers": layers, "bidirectional": True,
                      "initial_state": state}, {"type": "dense", "units": 1}],
           "loss": {"kind": "sum"}}
    return doc, state


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_the_first_step_of_each_direction_reads_the_given_initial_state(tmp_path, kind):
    doc, state = initial_state_doc(kind)
    trace = run_doc(tmp_path, doc)
    given = np.asarray(state["c" if kind == "lstm" else "h"])  # the state the story's first equation reads
    T = 3
    for layer in range(2):
        for k, direction in enumerate(("fwd", "bwd")):
            first = 0 if direction == "fwd" else T - 1
            for b in range(2):
                for u in range(3):
                    eqs = equations(cell_text(trace, place(trace, 0, layer, direction), first, u, b))
                    assert prev_shown(eqs) == float(fmt(given[layer * 2 + k, b, u], 0)), (layer, direction, b, u)
                    check_sums(eqs)
            # a later step reads the step before it in its own order
            second = 1 if direction == "fwd" else T - 2
            before = trace[f"model.0.l{layer}.{direction}.{'c' if kind == 'lstm' else 'h'}"][first, 0, 0]
            eqs = equations(cell_text(trace, place(trace, 0, layer, direction), second))
            assert prev_shown(eqs) == float(fmt(float(before), 0))
            check_sums(eqs)


def test_a_decoder_starts_from_the_encoders_final_states():
    trace = rnntui.run(DATA / "seq2seq-small.yaml")  # BiLSTM encoder (concat) -> LSTM decoder, 2 layers
    T = trace["input"].shape[0]
    for layer in range(2):
        for b in range(2):
            # independent of the hand-over record: the encoder's own final cell states, concatenated
            want = np.concatenate([trace[f"model.1.l{layer}.fwd.c"][T - 1, b], trace[f"model.1.l{layer}.bwd.c"][0, b]])
            for u in (0, 4):
                eqs = equations(cell_text(trace, place(trace, 3, layer, "fwd"), 0, u, b))
                assert prev_shown(eqs) == float(fmt(float(want[u]), 0))
                check_sums(eqs)


def test_a_generator_starts_from_its_initial_state(tmp_path):
    doc = {"version": 1, "seed": 1, "mode": "one-to-many", "length": 4, "feed": "output",
           "input": {"values": [[0.3, -0.2]]},
           "model": [{"type": "gru", "hidden_size": 2, "initial_state": {"h": [[[0.8, -0.6]]]}},
                     {"type": "dense", "units": 2}],
           "loss": {"kind": "sum"}}
    trace = run_doc(tmp_path, doc)
    p = place(trace, 0, 0, "fwd")
    for u, h0 in enumerate((0.8, -0.6)):
        eqs = equations(cell_text(trace, p, 0, u))
        assert prev_shown(eqs) == h0
        check_sums(eqs)
    eqs = equations(cell_text(trace, p, 1, 1))
    assert prev_shown(eqs) == float(fmt(float(trace["model.0.l0.fwd.h"][0, 0, 1]), 0))


async def test_the_screen_shows_the_initial_state_in_the_first_step(tmp_path):
    doc = {"version": 1, "name": "init state", "input": {"values": [[1.0], [0.5], [0.0]]},
           "model": [{"type": "gru", "hidden_size": 2, "initial_state": {"h": [[[0.9, -0.7]]]}}],
           "loss": {"kind": "sum"}}
    trace = run_doc(tmp_path, doc)
    z = float(trace["model.0.l0.fwd.gates.z"][0, 0, 0])
    app = RnntuiApp(trace)
    async with app.run_test(size=(120, 40)):
        text = screen_text(app)
    assert f"{fmt(z, 0)}×0.9000 = {fmt(float(trace['model.0.l0.fwd.h'][0, 0, 0]), 0)}" in text
    assert f"kept {fmt(z * 0.9, 0)}" in text


# --- what-if ---------------------------------------------------------------------------------------------

SETTABLE = [("lstm-delayed-recall", name) for name in ("c", "h", "gates.i", "gates.f", "gates.g", "gates.o")] + \
    [("gru-delayed-recall", name) for name in ("h", "gates.r", "gates.z", "gates.n")] + \
    [("rnn-sine", name) for name in ("h", "pre")]


@pytest.mark.parametrize("scenario,name", SETTABLE)
def test_an_overwritten_value_shows_what_its_terms_give_and_what_was_set(traces, scenario, name):
    t, value = 2, 0.75
    original = traces[scenario]
    trace = rnntui.what_if(original, [{"at": "model.0.l0.fwd", "t": t, "set": name, "units": [0], "value": value}])
    p = place(trace, 0, 0, "fwd")
    lines = cell_text(trace, p, t, 0)
    eqs = equations(lines)
    check_sums(eqs)
    family = trace.info.entries[0].family
    states = [s for s in ("c", "h") if s in family.states]  # the story's equations, in order
    sets = {s: nums[-1] for s, (kind, nums) in zip(states, eqs)}
    for s in states:
        assert sets[s] == (value if s == name else None), (s, lines)
    if name not in states:  # a gate or pre: named as set, and its value is the one in the terms
        assert f"    {name.removeprefix('gates.')} set to {fmt(value, 0)} by the what-if: the terms use it" in lines
    # a unit the what-if left alone reads as before
    assert all(nums[-1] is None for _, nums in equations(cell_text(trace, p, t, 1)))
    assert "set by the what-if" not in "\n".join(cell_text(trace, p, t, 1))
    if name in ("h", "c") and family.name != "rnn":
        # the next step reads the value set: GRU's h_prev, LSTM's c_prev
        nxt = equations(cell_text(trace, p, t + 1, 0))
        if name == ("c" if family.name == "lstm" else "h"):
            assert prev_shown(nxt) == value
        check_sums(nxt)
    if name == "c":  # h_t at the same step reads the c set: o×tanh(0.75)
        kind, (o, tc, h, _) = eqs[1]
        assert tc == float(fmt(float(np.tanh(value)), 0))


async def test_the_screen_marks_a_cell_state_set_by_a_what_if(traces):
    app = RnntuiApp(traces["lstm-delayed-recall"])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*["right"] * 5, "i", *"c[*] = 5", "enter")
        text = screen_text(app)
    trace = app.run_state.trace.whole
    f, i, g = (float(trace[f"model.0.l0.fwd.gates.{k}"][5, 0, 0]) for k in "fig")
    c_prev = float(trace["model.0.l0.fwd.c"][4, 0, 0])
    lines = text.splitlines()
    k = next(k for k, line in enumerate(lines) if line.startswith(" c_t = f⊙c_prev + i⊙g"))
    assert lines[k + 1].startswith(f"     = {fmt(f, 0)}×{fmt(c_prev, 0)} + {fmt(i, 0)}×{fmt(g, 0)} = "
                                   f"{fmt(f * c_prev + i * g, 0)}  ")
    assert lines[k + 2].startswith("     c_t set to 5.0000 by the what-if: what follows reads it  ")
