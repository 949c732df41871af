"""Renderables to Textual strips without rich's general layout on every frame.

A view is redrawn on every key. Most of what it draws is already laid out (Cells) or is text that
fits its line; those become strips directly. Anything else (tables, text that wraps) goes through
rich as before, so what is drawn is the same either way.
"""
from __future__ import annotations

from rich.console import Group
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from rnntui.render.segments import Cells

_combined: dict[Style, dict] = {}


def _over(base: Style):
    """base + style, remembered: the same few styles come back on every frame."""
    cache = _combined.setdefault(base, {})
    if len(cache) > 4096:
        cache.clear()

    def combine(style):
        styled = cache.get(style)
        if styled is None:
            styled = cache[style] = base if style is None else base + style
        return styled

    return combine


def _text_strips(text: Text, width: int, combine, console) -> list[Strip] | None:
    """A Text whose lines all fit needs no wrapping: its lines as they are (what rich would draw).
    None when rich has to lay it out."""
    if text.justify not in (None, "default") or "\t" in text.plain:
        return None
    lines = text.split(allow_blank=True)
    if any(line.cell_len > width for line in lines):
        return None
    strips = []
    for line in lines:
        if line.spans:
            segments = [Segment(t, combine(st)) for t, st, _ in line.render(console, end="")]
        else:  # rich draws an unspanned line without its style (its join adds it back): add it here
            segments = [Segment(line.plain, combine(console.get_style(line.style)))] if line.plain else []
        strips.append(Strip(segments, line.cell_len))
    return strips


def to_strips(renderable, width: int, base: Style, app, combine=None) -> list[Strip]:
    """Lines of a renderable cut to *width*, drawn over the widget's own *base* style. Groups are
    taken apart, pre-laid-out Cells and Texts that fit become strips directly; only what must wrap
    or be measured goes through rich's layout."""
    combine = combine or _over(base)
    if isinstance(renderable, Group):
        return [s for part in renderable.renderables for s in to_strips(part, width, base, app, combine)]
    if isinstance(renderable, Cells):
        return [Strip(segments, used) for segments, used in renderable.lines(width, combine)]
    if isinstance(renderable, Text):
        strips = _text_strips(renderable, width, combine, app.console)
        if strips is not None:
            return strips
    options = app.console_options.update(width=width, height=None, highlight=False)
    return [Strip(line) for line in app.console.render_lines(renderable, options, style=base, pad=False)]
