"""Renderables to Textual strips without rich's general layout on every frame.

A view is redrawn on every key. Most of what it draws is already laid out (Cells) or is text;
those become strips directly, text wrapped by rich's own Text.wrap. Anything else (tables,
justified text) goes through rich's full layout, so what is drawn is the same either way.
"""
from __future__ import annotations

from functools import lru_cache, partial

from rich.console import Group
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.strip import Strip

from rnntui.render.segments import Cells


@lru_cache(maxsize=4096)
def _combine(base: Style, style: Style | None) -> Style:
    return base if style is None else base + style


def _over(base: Style):
    """base + style, remembered: the same few styles come back on every frame."""
    return partial(_combine, base)


# strips of texts already drawn, by everything that decides how they look
_drawn: LRUCache[tuple, list[Strip]] = LRUCache(512)


def _text_strips(text: Text, width: int, base: Style, combine, console) -> list[Strip] | None:
    """A Text's lines, wrapped by rich's own rules (Text.wrap) and drawn as rich draws them, or None
    where only rich's full layout will do (justified text, tabs). Much of a view's text is the same
    from one step to the next (labels, the verdict): those strips are kept and used again."""
    if text.justify not in (None, "default") or "\t" in text.plain:
        return None
    key = (base, width, text.plain, text.style, tuple(text.spans), text.overflow, text.no_wrap)
    known = _drawn.get(key)
    if known is not None:
        return known
    lines = text.split(allow_blank=True)
    if any(line.cell_len > width for line in lines):
        lines = text.wrap(console, width, justify="default", overflow=text.overflow or "fold",
                          no_wrap=bool(text.no_wrap))
    strips = []
    for line in lines:
        if line.spans:
            segments = [Segment(t, combine(st)) for t, st, _ in line.render(console, end="")]
        else:  # rich draws an unspanned line without its style (its join adds it back): add it here
            segments = [Segment(line.plain, combine(console.get_style(line.style)))] if line.plain else []
        strips.append(Strip(segments, line.cell_len))
    _drawn.set(key, strips)
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
        strips = _text_strips(renderable, width, base, combine, app.console)
        if strips is not None:
            return strips
    options = app.console_options.update(width=width, height=None, highlight=False)
    return [Strip(line) for line in app.console.render_lines(renderable, options, style=base, pad=False)]
