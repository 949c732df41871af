"""`interventions:` of a scenario, checked against the laid-out model (places, names, steps, units)."""
from __future__ import annotations

from rnntui.engine.interventions import Intervention, InterventionProblem, from_dict
from rnntui.errors import Problem


def build_interventions(top, layout, T: int, pos) -> tuple[tuple[Intervention, ...], list[Problem]]:
    """The scenario's interventions, or the problems found (each at its own key)."""
    if not top.interventions:
        return (), []
    if top.mode == "encoder-decoder" or top.feed == "output":
        what = "an encoder-decoder" if top.mode == "encoder-decoder" else "a generator (feed: output)"
        return (), [pos.problem(("interventions",), f"found interventions in {what}; rnntui runs interventions "
                                "on whole-sequence models only")]
    out, problems = [], []
    for i, item in enumerate(top.interventions):
        try:
            out.append(from_dict(i, item.model_dump(), layout, T))
        except InterventionProblem as exc:
            problems.append(pos.problem(("interventions", i, exc.key), exc.message))
    return tuple(out), problems
