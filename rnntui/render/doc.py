"""The structure of a report that its text leaves implicit, for the writers that can show it.

`report.build` (and `compare.compare_report`) decide what a report says, as a list of items: rich
renderables (Text, tables, `report_table.ColumnsView`, drawings) and the markers here. The text/SVG
writer prints the list with rich, where a `Heading` prints nothing, a `Figure` prints its text drawing
and `Facts` print as one line; the HTML writer (render/html_report.py) makes headings, definition lists
and charts of them, from the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rich.measure import Measurement
from rich.style import Style
from rich.text import Text


@dataclass(frozen=True)
class Heading:
    """A section's title: an HTML heading; nothing in a text report, whose tables carry their own titles."""

    text: str
    level: int = 2

    def __rich_console__(self, console, options):
        return iter(())

    def __rich_measure__(self, console, options):
        return Measurement(0, 0)


@dataclass(frozen=True)
class Facts:
    """Named values ("optimizer": "sgd, lr 0.5"): one line of text, an HTML definition list."""

    title: str
    pairs: tuple[tuple[str, str], ...]

    def text(self) -> Text:
        out = Text(f"{self.title}: ", Style(bold=True))
        out.append(" · ".join(f"{k} {v}" for k, v in self.pairs))
        return out

    def __rich_console__(self, console, options):
        yield self.text()

    def __rich_measure__(self, console, options):
        return Measurement.get(console, options, self.text())


@dataclass(frozen=True)
class Figure:
    """A drawing in characters (*text*) and the data a chart of it is drawn from (*kind*, *data*; the
    HTML writer knows the kinds). *table*: the text is a table worth keeping under the chart."""

    text: object
    kind: str
    data: dict = field(default_factory=dict)
    table: bool = False

    def __rich_console__(self, console, options):
        yield self.text

    def __rich_measure__(self, console, options):
        return Measurement.get(console, options, self.text)
