from __future__ import annotations

from rich.console import Group
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive

from rnntui.render.compare import compare_header
from rnntui.render.header import header, seed_words
from rnntui.tui.usertext import one_line
from rnntui.tui.widgets.base import TraceView


class HeaderBar(TraceView):
    """Scenario name (cut to one line), phase, place, step and sample; the description below, cut to one line
    (after the open data-set sample's words, when the run moves along a data set's samples), or, while the app
    computes something in a worker, what and how far (Esc cancels)."""

    redraws_with_sweep = True   # its loss says how far the sweep is

    busy: reactive[str] = reactive("", repaint=False)
    """What the app's workers are computing, with their progress; set by the app ("" for nothing)."""

    def __init__(self, axis_words: str = "", **kwargs):
        super().__init__(**kwargs)
        self.axis_words = axis_words   # what the outer axes say of their positions (taken from the state)

    def watch_busy(self) -> None:
        self.watch_run()

    def take(self, old, state) -> None:
        # another position of an axis is another run: the words are drawn with it
        self.axis_words = "  ".join(w for w in (a.words(state.at(n)) for n, a in state.axes.items()) if w)

    def render_view(self, cursor, width: int):
        if self.busy:
            return Group(header(self.trace, cursor, width),
                         Text(one_line(self.busy, width - 1), Style(color="yellow", bold=True)))
        # header() cuts its two lines, never wraps them: a long name would push the phase and step
        # (what the header is for) out of its three lines
        seeded = seed_words(self.trace)
        if self.run.other is not None:  # --compare: both names and losses where the description was
            line = compare_header(self.trace, self.run.other, self.run.labels)
            if seeded:
                line = Text.assemble(seeded, "   ", line, no_wrap=True, overflow="ellipsis")
            return Group(header(self.trace, cursor, width), line)
        if seeded:  # the gradients are not the loss's: said where the description was
            return Group(header(self.trace, cursor, width), seeded)
        desc = one_line(self.trace.info.description, max(width - 1 - len(self.axis_words) - 2, 0))
        if self.axis_words:
            line = Text.assemble((self.axis_words, Style(bold=True)), ("  " + desc, Style(dim=True, italic=True)))
            line.truncate(width - 1, overflow="ellipsis")
            return Group(header(self.trace, cursor, width), line)
        return Group(header(self.trace, cursor, width), Text(desc, Style(dim=True, italic=True)))
