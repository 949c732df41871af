"""The terms the views use, in words (the `?` help): the verdict's rule, the step Jacobian, the per-step
weight-gradient terms, ⊙, and the timeline's event marks with the run's own thresholds."""
from __future__ import annotations

from rich.style import Style
from rich.text import Text

from rnntui.render.analysis import RULE, thresholds
from rnntui.render.timeline import EVENT_MARKS

BOLD = Style(bold=True)


def event_words(info) -> dict[str, str]:
    """What each event mark on the timeline means, with this run's thresholds."""
    lim = thresholds(info)
    return {
        "vanishing": f"BPTT: ‖dL/dh_t‖ (over the batch) is below {lim['vanishing']:g} at this step",
        "exploding": f"BPTT: ‖dL/dh_t‖ (over the batch) is above {lim['exploding']:g} at this step",
        "saturated": (f"forward: a gate (or a tanh state) is saturated in at least {lim['saturated']:.0%} of the "
                      f"units at this step (a sigmoid below 0.05 or above 0.95, a tanh beyond ±0.95)"),
        "non-finite": "an array first holds inf or NaN at this step",
        "break": "a breakpoint you added (a) holds at this step",
    }


def glossary(info) -> Text:
    """The terms of the views and the verdict, one per line."""
    text = Text("Terms\n", BOLD)
    rows = [
        ("verdict", "vanishing / exploding / healthy, measured on one loss term's gradient ‖dL_s/dh_t‖ as BPTT "
                    "carries it back from step s, where it entered, to the far end; each sample's own, from where "
                    "its BPTT starts (its own last real step, step 0 for a backward direction); the rate per step "
                    "is the end-to-end ratio's geometric mean"),
        ("", RULE + " (else healthy); end to end: its size at the far end over its size where it entered; "
             "a step: the geometric mean of the change per step"),
        ("dL_s/dh_t", "the gradient of the loss term at step s alone with respect to h_t (the total dL/dh_t "
                      "also holds every other step's own loss)"),
        ("median step Jacobian norm", "the middle value, over the sample's steps, of ‖dh_t/dh_{t-1}‖, the "
                                      "largest factor by which one step back can multiply the gradient; below 1 at "
                                      "every step, the gradient must shrink"),
        ("‖step t's term of dW_hh‖", "the size of step t's share of the gradient of W_hh (dW_hh is the sum of "
                                     "these over the steps and the batch): which steps W_hh's update comes from; "
                                     "the same for dW_ih"),
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
