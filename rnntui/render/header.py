"""The header: the run's name and loss, the pass, the place and where the cursor is in it."""
from __future__ import annotations

from rich.style import Style
from rich.text import Text

from rnntui.numfmt import fmt
from rnntui.render.cursor import Cursor, place_sign, step_index
from rnntui.render.views import view_for


def header(trace, c: Cursor) -> Text:
    info = trace.info
    place = c.place(info)
    view = view_for(info, place)
    phase = "forward pass" if c.phase == "forward" else view.backward_name
    arrow = "→" if place_sign(info, c.phase, place) > 0 else "←"
    text = Text()
    text.append(info.name, Style(bold=True))
    text.append(f"   loss {fmt(float(trace['loss']), 0)} ({info.loss})\n", Style(dim=True))
    text.append(f"{phase} {arrow}", Style(color="cyan" if c.phase == "forward" else "magenta", bold=True))
    n = view.length(info, place)
    where = view.where(info, place, c.t)
    if n > 1:
        where = f"{view.step_noun} {step_index(c, info) + 1} of {n} ({where})"
    text.append(f"  {place.label(info)}  {where}  sample {c.sample} of {info.B}")
    return text
