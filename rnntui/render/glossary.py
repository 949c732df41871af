"""The terms the views use, in words (the `?` help): the verdict's rule, the step Jacobian, the per-step
weight-gradient terms, ⊙, and the timeline's event marks with the run's own thresholds."""
from __future__ import annotations

from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.engine.handlers import handler
from rnntui.render.analysis import RULE, thresholds
from rnntui.render.timeline import EVENT_MARKS

BOLD = Style(bold=True)


def _carried(info) -> list[tuple[str, tuple[str, ...], str]]:
    """Each place whose BPTT the views follow, as (its state symbol as analysis.state_symbol names it, the
    states it carries, who carries them: "" at a recurrent layer, else the recurrence node)."""
    from rnntui.render.analysis import state_symbol, steps_place

    out = []
    for p in info.places:
        if not steps_place(info, p):
            continue
        e = info.entries[p.entry]
        if p.layer is not None:
            out.append(("h", ("h",), ""))
        else:
            out.append((state_symbol(info, p), tuple(e.config["states"]),
                        f"{keys.entry_prefix(e.index)}{' ' + e.id if e.id else ''}"))
    return out


def gradient_norm_words(info, notes: bool = True) -> str:
    """The norm the timeline's vanishing and exploding marks measure, named as each place's BPTT carries it
    (`analysis.events`): ‖dL/dh_t‖ at a recurrent layer, at a recurrence node ‖dL/d<state>_t‖ of its one state
    or ‖dL/ds_t‖ over its states together; with *notes*, "(over the batch ...)" after it, saying whose states."""
    norms: list[str] = []
    said: list[str] = []
    for sym, states, who in _carried(info):
        norms.append(f"‖dL/d{sym}_t‖")
        if who and sym != "h":   # a recurrence's own state names: say whose they are
            said.append(f"at {who}: " + (f"s its states {', '.join(states)} together" if len(states) > 1
                                         else f"{sym} its state"))
    norms = list(dict.fromkeys(norms)) or ["‖dL/dh_t‖"]
    if not notes:
        return " or ".join(norms)
    return " or ".join(norms) + " (over the batch" + "".join("; " + n for n in dict.fromkeys(said)) + ")"


def term_states(info) -> list[tuple[str, str]]:
    """What the verdict's one-term gradient is taken with respect to, at each place it is measured: (the
    symbol, who carries it): `h` at a recurrent layer, a recurrence's one state by its name, or its states
    together written `(h,c)` (`s` is the loss term's step there)."""
    out = [("(" + ",".join(states) + ")" if sym == "s" else sym, who) for sym, states, who in _carried(info)]
    return list(dict.fromkeys(out)) or [("h", "")]


def _term_words(info) -> tuple[str, str, str]:
    """The verdict's norm (‖dL_s/dh_t‖, or as each place carries it), the term's name, and what it is taken with
    respect to, in words."""
    states = term_states(info)
    syms = list(dict.fromkeys(sym for sym, _ in states))
    norm = " or ".join(f"‖dL_s/d{sym}_t‖" for sym in syms)
    name = " or ".join(f"dL_s/d{sym}_t" for sym in syms)
    if syms == ["h"]:
        return norm, name, "h_t"
    said = []
    for sym, who in states:
        if not who:
            said.append(f"{sym}_t at a recurrent layer")
        elif sym.startswith("("):
            said.append(f"{sym}_t at {who}, its states {', '.join(sym[1:-1].split(','))} together")
        else:
            said.append(f"{sym}_t at {who}, its state")
    return norm, name, "; ".join(said)


def event_words(info) -> dict[str, str]:
    """What each event mark on the timeline means, with this run's thresholds and the norm it measures."""
    lim = thresholds(info)
    norm = gradient_norm_words(info)
    return {
        "vanishing": (f"BPTT: {norm} is below {lim['vanishing']:g} at this step (a norm of exactly 0 where a smaller "
                      "one underflowed to it; a step no loss reaches has no gradient and no mark)"),
        "exploding": f"BPTT: {norm} is above {lim['exploding']:g} at this step",
        "saturated": (f"forward: a gate (or a tanh state) is saturated in at least {lim['saturated']:.0%} of the "
                      f"units at this step, over the batch's samples still running (a sigmoid below 0.05 or above 0.95, "
                      f"a tanh beyond ±0.95)"),
        "non-finite": "an array first holds inf or NaN at this step",
        "break": "a breakpoint you added (a) holds at this step",
    }


def _readers(info, k: int) -> list:
    """The entries that read entry *k*'s output: a graph node's `reads`, a chain's next entry of its part."""
    entries = info.entries
    if any(e.reads for e in entries):
        return [e for e in entries if k in e.reads]
    nxt = [e for e in entries if e.index == k + 1 and e.part == entries[k].part]
    return nxt


def _mixes(e) -> bool:
    """Whether entry *e* makes one step's output from other steps: a recurrent entry, a recurrence, an op
    over the steps."""
    from rnntui.engine.graph_diag import carries

    hd = handler(e.type)
    if getattr(hd, "one_step", False):   # `last`, `index`: one step's gradient, where BPTT starts anyway
        return False
    return bool(e.recurrent or carries(e) or hd.mixes_steps(e, False))


def step_feeds(info) -> dict[int, list[str]]:
    """Entry index -> what adds to its recurrent layers' dL/dh_t at every step besides h_{t+1}: a recurrent
    sub-layer above it in the same entry, or a node that reads its every step (through nodes that keep the
    steps apart) and mixes them: another recurrent entry, a recurrence reading it as x (a layer above) or as
    an outer value (an attention over its steps). Only those an entry has are listed; a final state alone
    (many-to-one, `take: final`) hands on one step."""
    out: dict[int, list[str]] = {}
    layers: dict[int, set] = {}
    for p in info.places:
        if p.recurrent or (p.layer is None and _carries(info.entries[p.entry])):
            layers.setdefault(p.entry, set()).add(p.layer)
    for k, lays in layers.items():
        e = info.entries[k]
        why: list[str] = []
        if len(lays) > 1:
            why.append("from the recurrent layer above")
        if e.reduce_final or not e.seq_out:
            if why:
                out[k] = why
            continue
        seen, todo = {k}, [k]
        while todo:
            for r in _readers(info, todo.pop()):
                if r.index in seen:
                    continue
                seen.add(r.index)
                if _mixes(r):
                    name = keys.entry_prefix(r.index) + (f" {r.id}" if r.id else "")
                    first = (r.reads[0] if r.reads else r.index - 1) in seen
                    words = ("from the recurrent layer above" if (r.recurrent or _carries(r)) and first
                             else f"from {name}, which reads its steps")
                    if words not in why:
                        why.append(words)
                elif r.seq_out and r.seq_in:
                    todo.append(r.index)   # a step-wise node (dense, add, cat): its readers read these steps
        if why:
            out[k] = why
    return out


def _carries(e) -> bool:
    from rnntui.engine.graph_diag import carries

    return carries(e)


def _apart(info) -> list[str]:
    """The recurrent nodes whose steps are not the output's (`steps_apart`), by name."""
    from rnntui.render.analysis import steps_apart

    out = []
    for k in dict.fromkeys(p.entry for p in info.places if p.recurrent or _carries(info.entries[p.entry])):
        if steps_apart(info, k):
            out.append(keys.entry_prefix(k) + (f" {info.entries[k].id}" if info.entries[k].id else ""))
    return out


def _jacobian_words(info) -> str:
    """The step Jacobian in words. It bounds only the path back through this sub-layer's own h: a family
    with states besides h (the LSTM's c) is measured with them held fixed, and a recurrent sub-layer stacked
    above another, or a node that reads every step of it (an attention), adds to its gradient at every step
    (`step_feeds`). Only where neither is the case does a norm below 1 at every step mean that the gradient
    must shrink."""
    words = ("the middle value, over the sample's steps, of ‖dh_t/dh_{t-1}‖, the largest factor by which one "
             "step back through h can multiply the gradient")
    together = [e for e in info.entries if _carries(e) and len(e.config["states"]) > 1]
    if together:   # a recurrence node's Jacobian is over every state it carries: none is held fixed
        words += "".join(f" (at {keys.entry_prefix(e.index)}{' ' + e.id if e.id else ''}: ‖ds_t/ds_{{t-1}}‖, s its "
                         f"states {', '.join(e.config['states'])} together)" for e in together)
    carried = sorted({s for e in info.entries for s in getattr(getattr(e, "family", None), "states", ("h",))
                      if s != "h"})
    feeds = step_feeds(info)
    if not carried and not feeds:
        return words + "; below 1 at every step, the gradient must shrink"
    also = [f"back through {' and '.join(carried)}"] if carried else []
    many = len([p for p in info.places if p.recurrent or (p.layer is None and _carries(info.entries[p.entry]))]) > 1
    for k, why in feeds.items():
        into = f"into {keys.entry_prefix(k)}" + (f" {info.entries[k].id}" if info.entries[k].id else "") + " "
        also.append((into if many and not (why == ["from the recurrent layer above"]) else "") + " and ".join(why))
    held = "".join(f", with {s}_{{t-1}} held fixed" for s in carried)
    return (words + held + ": the gradient also flows " + " and ".join(dict.fromkeys(also))
            + ", so it can keep its size while this is below 1 at every step")


def glossary(info) -> Text:
    """The terms of the views and the verdict, one per line."""
    text = Text("Terms\n", BOLD)
    norm, name, wrt = _term_words(info)
    rows = [
        ("verdict", f"vanishing / exploding / healthy, measured on one loss term's gradient {norm} as BPTT "
                    "carries it back from step s, where it entered, to the far end; each sample's own, from where "
                    "its BPTT starts (its own last real step, step 0 for a backward direction); the rate per step "
                    "is the end-to-end ratio's geometric mean"),
        *([("", "at " + ", ".join(apart) + ": s is a step of the output, which steps through another input; "
                "the term reaches those nodes through what reads them, and the end-to-end ratio is measured from "
                "their last step (their first, for a backward direction)")] if (apart := _apart(info)) else []),
        ("", RULE + " (else healthy); end to end: its size at the far end over its size where it entered; "
             "a step: the geometric mean of the change per step"),
        (name, f"the gradient of the loss term at step s alone with respect to {wrt} (the total "
               f"{name.replace('dL_s/', 'dL/')} also holds every other step's own loss)"),
        ("median step Jacobian norm", _jacobian_words(info)),
    ]
    if any(p.recurrent for p in info.places):   # a recurrent layer's view draws them (a recurrence's does not)
        rows.append(("‖step t's term of dW_hh‖", "the size of step t's share of the gradient of W_hh (dW_hh is the "
                                                 "sum of these over the steps and the batch): which steps W_hh's "
                                                 "update comes from; the same for dW_ih"))
    rows += [
        ("bars: all-step scale", "in BPTT the cell's bars share one scale, full at the sample's largest value over "
                                 "every step (a gradient of 1e-9 beside one of 1 draws an empty bar)"),
        ("⊙", "element by element product (Hadamard)"),
    ]
    for name, words in rows:
        text.append(f"  {name}" + (": " if name else "    "), BOLD)
        text.append(words + "\n")
    text.append("Timeline marks\n", BOLD)
    for kind, words in event_words(info).items():
        mark, colour = EVENT_MARKS[kind]
        text.append(f"  {mark} ", Style(color=colour, bold=True))
        text.append(f"{kind}: {words}\n")
    return text
