"""`m`: mute kinds of built-in event. A trained char-LSTM saturates at nearly every step: its `S` marks
cover the timeline's event row and hide the breakpoints' `●`, and `n` / `c` stop at each run of them. A
muted kind is neither marked, nor jumped to (`n` / `N`), nor stopped at (`c` / `C`) until it is unmuted."""
from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static

from rnntui.render.timeline import EVENT_MARKS
from rnntui.tui.screens import Dialog

KINDS = ("non-finite", "saturated", "vanishing", "exploding")  # every kind analysis.events finds
WORDS = {"non-finite": "a value is inf or NaN", "saturated": "a gate or state saturated in a share of units",
         "vanishing": "{norm} below the vanishing threshold", "exploding": "{norm} above the exploding threshold"}


def option(kind: str, count: int | None, muted: bool, norm: str = "‖dL/dh_t‖") -> Text:
    """*norm*: the gradient norm the run's marks measure (`glossary.gradient_norm_words`); *count* None: a long
    run still sweeping, whose events are not found yet."""
    mark, colour = EVENT_MARKS[kind]
    text = Text("muted  " if muted else "shown  ", Style(dim=muted, bold=not muted))
    text.append(mark, Style(color=colour, bold=True, dim=muted))
    text.append(f" {kind}: {WORDS[kind].format(norm=norm)}", Style(dim=muted))
    said = "found once the sweep is done" if count is None else f"{count} step{'s' if count != 1 else ''} in this run"
    text.append(f"  ({said})", Style(dim=True))
    return text


class MuteScreen(Dialog["frozenset[str] | None"]):
    """The kinds of built-in event, each shown or muted: Space or Enter turns the selected one over, `m` or
    Escape closes; returns the muted kinds."""

    BINDINGS = [Binding("escape,m", "close", "Close"), Binding("space", "toggle", "Mute/show")]

    def __init__(self, kinds: dict[str, int] | None, muted: frozenset[str], norm: str = "‖dL/dh_t‖"):
        """*kinds*: how many steps of each kind the run has; None while a long run's sweep has not found them
        (a kind muted then is left out once they are found)."""
        super().__init__()
        self.kinds = None if kinds is None else dict(kinds)
        self.muted = set(muted)
        self.norm = norm

    def _options(self) -> list[Text]:
        return [option(k, None if self.kinds is None else self.kinds.get(k, 0), k in self.muted, self.norm)
                for k in KINDS]

    def compose(self) -> ComposeResult:
        with Vertical(id="mute"):
            yield Static("Built-in events: Space or Enter mutes or shows the selected kind, m or Escape closes. "
                         "A muted kind is not marked on the timeline, and n / N / c / C pass it by.")
            yield OptionList(*self._options(), id="mute-options")

    def action_toggle(self) -> None:
        options = self.query_one("#mute-options", OptionList)
        k = options.highlighted
        if k is None:
            return
        self.muted ^= {KINDS[k]}
        options.clear_options()
        options.add_options(self._options())
        options.highlighted = k

    def on_option_list_option_selected(self, event) -> None:
        self.action_toggle()

    def action_close(self) -> None:
        self.dismiss(frozenset(self.muted))
