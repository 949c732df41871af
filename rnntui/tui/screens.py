"""Modal screens: help (every key, the current cell's equations) and go-to-step."""
from __future__ import annotations

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from rnntui.render.analysis import equations

KEY_NAMES = {"right_square_bracket": "]", "left_square_bracket": "[", "question_mark": "?", "pagedown": "PgDn",
             "pageup": "PgUp", "space": "Space"}


def key_label(keys: str) -> str:
    return " / ".join(KEY_NAMES.get(k, k.capitalize() if len(k) > 1 else k) for k in keys.split(","))


class HelpScreen(ModalScreen[None]):
    """Every binding with its description, and the equations of the cell under the cursor."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings, trace, cursor):
        super().__init__()
        self.bindings_table = bindings
        self.trace = trace
        self.cursor = cursor

    def compose(self) -> ComposeResult:
        keys = Table(title="Keys", show_header=False, box=None, padding=(0, 2))
        for b in self.bindings_table:
            keys.add_row(Text(key_label(b.key), Style(bold=True)), Text(b.description, Style(color="cyan")),
                         b.tooltip)
        info = self.trace.info
        place = self.cursor.place(info)
        entry = info.entries[place.entry]
        eq = Text(f"{place.label(info)}\n", Style(bold=True))
        for line in equations(entry):
            eq.append(line + "\n")
        with VerticalScroll(id="help"):
            yield Static(Text.assemble((info.name, Style(bold=True)), ("   Escape or ? closes this help", Style(dim=True))))
            yield Static(Text(" ".join(info.description.split()), Style(italic=True)))
            yield Static(eq, id="equations")
            yield Static(keys)


class GotoScreen(ModalScreen[int | None]):
    """Ask for a step t and return it, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, T: int):
        super().__init__()
        self.T = T

    def compose(self) -> ComposeResult:
        with Vertical(id="goto"):
            yield Static(f"Go to step t (0..{self.T - 1}):")
            # not type="integer": its pattern backtracks and froze the app after ~28 digits and a
            # letter; digits only, checked in full when submitted
            yield Input(placeholder="t", id="goto-input", restrict=r"[0-9]*")
            yield Static("", id="goto-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            t = int(event.value)
        except ValueError:
            t = -1
        if not 0 <= t < self.T:
            self.query_one("#goto-error", Static).update(f"expected a whole number from 0 to {self.T - 1}")
            return
        self.dismiss(t)

    def action_cancel(self) -> None:
        self.dismiss(None)
