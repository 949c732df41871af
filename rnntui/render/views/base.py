"""The view of one kind of place: what the cell, states, gradients and details panels show there,
and the report's section for it. One subclass per kind (recurrent, feature map, plain entry),
found through `views.view_for`, so no panel branches on the kind of entry itself."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.numfmt import fmt
from rnntui.engine.diagnostics import vector_norm

DIM = Style(dim=True)
BOLD = Style(bold=True)
STORY_STYLES = {"head": BOLD, "body": Style(), "note": DIM, "set": Style(color="yellow")}  # set: by a what-if


def story(lines: list[tuple[str, str]]) -> list[Text]:
    """A family's words ((kind, text) pairs) as styled lines."""
    return [Text(text, STORY_STYLES[kind]) for kind, text in lines]


class PlaceView:
    kind = ""
    step_noun = "step"            # what the cursor steps along here

    def through_time(self, info) -> bool:
        """Whether the backward pass runs back through time here (BPTT), or is plain backpropagation (an
        image's feature maps, or a run without steps)."""
        return bool(info.seq)

    def pass_name(self, info, phase: str) -> str:
        """The header's name of the pass."""
        if phase == "forward":
            return "forward pass"
        return "backward pass (BPTT)" if self.through_time(info) else "backward pass"

    def length(self, info, place) -> int:
        """How many steps the cursor can visit at this place."""
        return info.entries[place.entry].steps if info.seq else 1

    def where(self, info, place, t: int) -> str:
        """The header's words for step t (k of N)."""
        return f"t={t}"

    def cell(self, trace, c, width: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def states(self, trace, c, width: int, height: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def gradients(self, trace, c, width: int, defer: bool = False):  # pragma: no cover - abstract
        """*defer*: what waits for a costly diagnostic not yet computed (the vanishing/exploding verdict's
        one-term gradient) says so instead of computing it (the TUI computes it in a worker)."""
        raise NotImplementedError

    def details(self, trace, c) -> Text:  # pragma: no cover - abstract
        raise NotImplementedError

    def report(self, trace, place, index: int, opts) -> list:
        """The report's section for this place (nothing by default)."""
        return []


def param_norms(trace, entry) -> Group:
    """The norm of each of the entry's parameter gradients."""
    rows = [Text(f"‖grad {name}‖ = {fmt(float(vector_norm(trace[keys.grad_param(name)])), 0)}")
            for name in entry.params]
    # a graph node that shares a parameter (same_as, tie): the one parameter, its gradient summed over its uses
    rows += [Text(f"‖grad {owner}‖ = {fmt(float(vector_norm(trace[keys.grad_param(owner)])), 0)} (shared: summed "
                  "over its uses)") for owner in dict.fromkeys(entry.aliases.values())]
    return Group(*(rows or [Text("no parameters", DIM)]))
