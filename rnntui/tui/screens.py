"""Modal screens: help (every key, the current cell's equations) and go-to-step."""
from __future__ import annotations

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen, ScreenResultType
from textual.widgets import Input, Static

from rnntui.engine.handlers import handler
from rnntui.render.analysis import equations
from rnntui.render.glossary import glossary

KEY_NAMES = {"right_square_bracket": "]", "left_square_bracket": "[", "question_mark": "?", "pagedown": "PgDn",
             "pageup": "PgUp", "space": "Space", "full_stop": ".", "comma": ",", "greater_than_sign": ">",
             "less_than_sign": "<", "left_curly_bracket": "{", "right_curly_bracket": "}", "delete": "Delete",
             "left_parenthesis": "(", "right_parenthesis": ")"}


def key_label(keys: str) -> str:
    return " / ".join(KEY_NAMES.get(k, k.capitalize() if len(k) > 1 else k) for k in keys.split(","))


class Dialog(ModalScreen[ScreenResultType]):
    """A modal screen that is dismissed once: a key that arrives before it is gone (Enter then Escape,
    typed quickly) finds it closing and does nothing, instead of popping the screen below it."""

    _dismissed = False

    def dismiss(self, result: ScreenResultType | None = None) -> AwaitComplete:
        if self._dismissed or self.app.screen is not self:
            return AwaitComplete.nothing()
        self._dismissed = True
        return super().dismiss(result)


class ParsedDialog(Dialog[ScreenResultType]):
    """A dialog around one input line: `parse` turns the text into the result or a problem's words, which
    show under the input (`#{ERROR_ID}`) as the user types; Enter closes it only with a result."""

    ERROR_ID = ""

    def parse(self, text: str):  # pragma: no cover - each dialog defines it
        raise NotImplementedError

    def is_problem(self, got) -> bool:
        return isinstance(got, str)

    def _say(self, words: str) -> None:
        self.query_one(f"#{self.ERROR_ID}", Static).update(Text(words, Style(color="red")))

    def on_input_changed(self, event: Input.Changed) -> None:
        got = self.parse(event.value) if event.value.strip() else None
        self._say(got if got is not None and self.is_problem(got) else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        got = self.parse(event.value)
        if self.is_problem(got):
            self._say(got)
            return
        self.dismiss(got)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(Dialog[None]):
    """Every binding with its description, and the equations of the cell under the cursor."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings, trace, cursor):
        """*bindings*: the keys, as (owner's name, bindings) groups (tui/keymap.py) or one list."""
        super().__init__()
        grouped = bool(bindings) and isinstance(bindings[0], tuple)
        self.groups = list(bindings) if grouped else [("", list(bindings))]
        self.bindings_table = [b for _, bs in self.groups for b in bs]   # every key listed, in order
        self.trace = trace
        self.cursor = cursor

    def compose(self) -> ComposeResult:
        keys = Table(title="Keys", show_header=False, box=None, padding=(0, 2))
        for title, bindings in self.groups:   # each owner's keys under its name
            if title:
                keys.add_row("", Text(title, Style(bold=True, underline=True)), "")
            for b in bindings:
                keys.add_row(Text(key_label(b.key), Style(bold=True)), Text(b.description, Style(color="cyan")),
                             b.tooltip)
        info = self.trace.info
        place = self.cursor.place(info)
        entry = info.entries[place.entry]
        eq = Text(f"{place.label(info)}\n", Style(bold=True))
        for line in equations(entry, place.direction):
            eq.append(line + "\n")
        with VerticalScroll(id="help"):
            # how to leave first: a long scenario name wraps after it, never through it
            yield Static(Text.assemble(("Escape or ? closes this help   ", Style(dim=True)), (info.name, Style(bold=True))))
            yield Static(Text(" ".join(info.description.split()), Style(italic=True)))
            recording = getattr(self.trace, "recording", None)
            if recording is not None:   # whole or checkpointed, and why (--max-memory)
                yield Static(Text.assemble(("Recording: ", Style(bold=True)), recording.words()), id="recording")
            yield Static(eq, id="equations")
            yield Static(glossary(info), id="glossary")
            yield Static(keys)


class ModelMapScreen(Dialog[None]):
    """The model drawn in text (render/model_map.py), the cursor's node marked."""

    BINDINGS = [Binding("escape,q,M", "dismiss", "Close")]

    def __init__(self, info, entry: int):
        super().__init__()
        self.info, self.entry = info, entry

    def compose(self) -> ComposeResult:
        from rnntui.render.model_map import model_map

        with VerticalScroll(id="model-map"):
            yield Static(Text.assemble(("Model map", Style(bold=True)), (f"   {self.info.name}", Style(italic=True)),
                                       ("   [ and ] move through the nodes in this order; Escape or M closes this",
                                        Style(dim=True))))
            yield Static(model_map(self.info, self.entry))


class GotoScreen(Dialog["dict | None"]):
    """Ask where to go: a step (`12` or `t 12`), a unit (`u 45`), a sample (`s 2`), or several at once
    (`s 2 t 5 u 45`); return {"t": .., "u": .., "s": ..} with what was given, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, steps, units: int = 1, samples: int = 1, sample: int = 0):
        """*steps*: the number of steps at the place, or a list of them per sample (a packed batch);
        *sample*: the cursor's (a step is checked against its steps unless `s` names another)."""
        super().__init__()
        self.steps = list(steps) if not isinstance(steps, int) else [steps] * max(samples, 1)
        self.units, self.samples, self.sample = units, samples, sample

    @property
    def T(self) -> int:
        return max(self.steps)

    def compose(self) -> ComposeResult:
        ranges = [f"step t (0..{self.T - 1})"]
        if self.units > 1:
            ranges.append(f"u N: unit (0..{self.units - 1})")
        if self.samples > 1:
            ranges.append(f"s N: sample (0..{self.samples - 1})")
        with Vertical(id="goto"):
            yield Static("Go to " + ", ".join(ranges) + ":")
            # not type="integer": its pattern backtracks and froze the app after ~28 digits and a
            # letter; digits, t u s = and spaces only, checked in full when submitted
            yield Input(placeholder="t  or  u 45  or  s 2 t 5", id="goto-input", restrict=r"[0-9tus= ]*",
                        max_length=60)
            yield Static("", id="goto-error")

    def parse(self, text: str, sample: int = 0) -> "dict | str":
        """Where *text* goes (*sample*: the cursor's, for the step's range), or why it cannot."""
        import re

        parts = re.findall(r"([tus]?)\s*=?\s*([0-9]+)|(\S)", text)
        if not parts:
            return "type a step, or u N for a unit, s N for a sample"
        got: dict = {}
        for name, digits, stray in parts:
            if stray:
                return f"found {stray!r}; expected a number, or t, u or s before one"
            key = name or "t"
            if key in got:
                return f"{key} is given twice"
            got[key] = int(digits) if len(digits) < 12 else 1 << 40
        limits = {"u": ("unit", self.units), "s": ("sample", self.samples)}
        for key, (noun, n) in limits.items():
            if key in got and not 0 <= got[key] < n:
                return f"expected a {noun} from 0 to {n - 1}" if n > 1 else f"this place has one {noun} (0)"
        if "t" in got:
            n = self.steps[got.get("s", sample)]
            if not 0 <= got["t"] < n:
                return f"expected a step from 0 to {n - 1}" + (f" (sample {got.get('s', sample)}'s steps)"
                                                                 if n < self.T else "")
        return got

    def on_input_submitted(self, event: Input.Submitted) -> None:
        got = self.parse(event.value, self.sample)
        if isinstance(got, str):
            self.query_one("#goto-error", Static).update(got)
            return
        self.dismiss(got)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ExpressionScreen(Dialog[str | None]):
    """Ask for a watch or breakpoint expression, checked as it is typed (docs/debugger.md); returns it
    pinned to the cursor's place, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, trace, place, breakpoint: bool, text: str = ""):
        super().__init__()
        self.trace, self.place, self.breakpoint, self.text = trace, place, breakpoint, text

    def compose(self) -> ComposeResult:
        what = "Breakpoint: stop where this holds" if self.breakpoint else "Watch: show this value at every step"
        with Vertical(id="expression"):
            yield Static(f"{what} (at {self.place.prefix} unless it says @place):")
            yield Input(self.text, placeholder="norm(dh) < 1e-6" if self.breakpoint else "mean(gates.f)",
                        id="expression-input", max_length=400)
            yield Static("", id="expression-error")

    def _problem(self, text: str) -> str:
        """Why *text* cannot be used here, or ""."""
        from rnntui.engine.checkpoint import NotReady
        from rnntui.expr import ExprError, require_condition

        if not text.strip():
            return "type an expression: names h c x out gates.* dh dc jacnorm loss_t t T; mean max norm any ..."
        try:
            from rnntui.expr import bind

            # what the user typed, bound at the cursor's place: the `@place` that pins it when it is kept is
            # not theirs, so no column or "found" may point into it
            b = bind(text, self.trace, self.place)
            if self.breakpoint:
                require_condition(b)
        except ExprError as exc:
            return f"{exc.pointer()}\ncolumn {exc.column}: {exc.message}"
        except NotReady as wait:   # a long run still sweeping: the names an expression reads are not all known
            return f"computing: {wait.fraction:.0%}; an expression is checked against the run once its sweep is done"
        return ""

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#expression-error", Static).update(Text(self._problem(event.value), Style(color="red")))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from rnntui.render.watches import with_place

        problem = self._problem(event.value)
        if problem:
            self.query_one("#expression-error", Static).update(Text(problem, Style(color="red")))
            return
        self.dismiss(with_place(event.value.strip(), self.place))

    def action_cancel(self) -> None:
        self.dismiss(None)


class DebugListScreen(Dialog["DebugState | None"]):
    """Every watch and breakpoint: Space turns a breakpoint on or off, Enter edits the selected one,
    Delete (or x) removes it; returns the new list (the built-in events are listed too: always on)."""

    BINDINGS = [Binding("escape,L", "close", "Close"), Binding("space", "toggle", "On/off"),
                Binding("delete,x", "remove", "Remove")]

    def __init__(self, state, events: int, trace=None, place=None):
        super().__init__()
        self.state, self.events, self.trace, self.place = state, events, trace, place

    def compose(self) -> ComposeResult:
        from textual.widgets import OptionList

        with Vertical(id="debug-list"):
            yield Static("Watches and breakpoints: Enter edits, Space on/off, Delete or x removes, Escape closes")
            yield OptionList(*self._options(), id="debug-options")
            count = "found once the sweep is done" if self.events is None else self.events   # None: still sweeping
            yield Static(Text(f"built-in events (n / N jump to them, m mutes kinds of them): {count}", Style(dim=True)))

    def _options(self) -> list:
        # Text, not markup: an expression's brackets (h[0], or whatever a saved trace holds) are shown as typed
        return ([Text(f"watch  {w}") for w in self.state.watches]
                + [Text(f"break {'●' if b.enabled else '○'} {b.text}") for b in self.state.breakpoints])

    def _refresh(self, keep: int | None) -> None:
        from textual.widgets import OptionList

        options = self.query_one("#debug-options", OptionList)
        options.clear_options()
        options.add_options(self._options())
        if keep is not None and self._options():
            options.highlighted = min(keep, len(self._options()) - 1)

    def _selected(self) -> int | None:
        from textual.widgets import OptionList

        return self.query_one("#debug-options", OptionList).highlighted

    def action_toggle(self) -> None:
        from dataclasses import replace

        k = self._selected()
        n = len(self.state.watches)
        if k is None or k < n:
            return
        bps = list(self.state.breakpoints)
        bps[k - n] = replace(bps[k - n], enabled=not bps[k - n].enabled)
        self.state = replace(self.state, breakpoints=tuple(bps))
        self._refresh(k)

    def action_remove(self) -> None:
        from dataclasses import replace

        k = self._selected()
        if k is None:
            return
        n = len(self.state.watches)
        if k < n:
            self.state = replace(self.state, watches=self.state.watches[:k] + self.state.watches[k + 1:])
        else:
            j = k - n
            self.state = replace(self.state, breakpoints=self.state.breakpoints[:j] + self.state.breakpoints[j + 1:])
        self._refresh(k)

    def on_option_list_option_selected(self, event) -> None:
        """Enter: edit the selected watch or breakpoint in the expression dialog, checked as it is typed."""
        from dataclasses import replace

        k, n = event.option_index, len(self.state.watches)
        if self.trace is None:
            return
        text = self.state.watches[k] if k < n else self.state.breakpoints[k - n].text

        def done(new: str | None) -> None:
            if new is None:
                return
            if k < n:
                self.state = replace(self.state, watches=self.state.watches[:k] + (new,) + self.state.watches[k + 1:])
            else:
                bps = list(self.state.breakpoints)
                bps[k - n] = replace(bps[k - n], text=new)
                self.state = replace(self.state, breakpoints=tuple(bps))
            self._refresh(k)

        self.app.push_screen(ExpressionScreen(self.trace, self.place, breakpoint=k >= n, text=text), done)

    def action_close(self) -> None:
        self.dismiss(self.state)


class WhatIfScreen(ParsedDialog["dict | None"]):
    """What-if on the selected unit and step: `NAME = VALUE` sets that unit of a state or gate at this
    step; `NAME[START:STOP] = VALUE` over steps START..STOP-1; `NAME[*] = VALUE` every unit at this step.
    Returns the intervention in scenario form (docs/debugger.md), or None when cancelled."""

    ERROR_ID = "whatif-error"

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, entry, place, t: int, unit: int):
        super().__init__()
        self.entry, self.place, self.t, self.unit = entry, place, t, unit
        hd = handler(entry.type)
        if hasattr(hd, "settable_values"):   # a graph's recurrence: its states and step graph's values
            self.names = hd.settable_values(entry)
            self.sizes = {n: hd.value_size(entry, n) for n in self.names}
        else:
            self.names = entry.family.settable(entry)
            self.sizes = {n: entry.hidden_size for n in self.names}

    def examples(self) -> list[str]:
        """Three inputs this place takes (its family's names, or a recurrence's values; steps within the run):
        one unit at this step, one unit over steps, every unit at this step."""
        names = self.names
        gate = next((n for n in names if n.startswith("gates.")), names[-1])
        last = self.entry.family.states[-1] if self.entry.recurrent else names[-1]
        stop = min(self.t + 5, self.entry.steps)
        return [f"{names[0]} = 0", f"{gate}[{self.t}:{stop}] = 1", f"{last}[*] = 0"]

    def compose(self) -> ComposeResult:
        with Vertical(id="whatif"):
            yield Static(f"What-if at {self.place.prefix}, t={self.t}, unit {self.unit}: set "
                         f"{' '.join(self.names)}, e.g. {', '.join(f'`{e}`' for e in self.examples())}")
            yield Static(Text("a range of steps and units at once: NAME[STEPS, UNITS] = VALUE, each a number, "
                              "START:STOP (STOP excluded) or * for all, e.g. h[0:10, 3:8] = 0, h[*, *] = 0",
                              Style(dim=True)))
            yield Input(placeholder="h = 0", id="whatif-input", max_length=200)
            yield Static("", id="whatif-error")

    def parse(self, text: str) -> dict | str:
        """The intervention, or why *text* is not one. `NAME[STEPS, UNITS] = VALUE` sets a range of steps
        and units at once (each a number, START:STOP or `*`: all)."""
        import math
        import re

        m = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(?:\[([^\]]{0,60})\])?\s*=\s*(\S+)\s*", text)
        if not m:
            return "expected NAME = VALUE, NAME[START:STOP] = VALUE, NAME[*] = VALUE or NAME[STEPS, UNITS] = VALUE"
        name, index, value = m.groups()
        if name not in self.names:
            return f"found {name!r}; expected one of {', '.join(self.names)}"
        try:
            v = float(value)
        except ValueError:
            return f"found {value!r}; expected a number"
        if not math.isfinite(v):
            return f"found {value}; expected a finite number"
        d: dict = {"at": self.place.prefix, "set": name, "value": v}
        parts = [p.strip() for p in index.split(",")] if index is not None else []
        if len(parts) > 2:
            return f"found {len(parts)} indices; expected [STEPS] or [STEPS, UNITS]"
        if len(parts) == 1:  # the one-index forms: [START:STOP] steps of this unit, [*] every unit at this step
            steps, units = (None, "*") if parts[0] == "*" else (parts[0], None)
        elif len(parts) == 2:
            steps, units = parts
        else:
            steps, units = None, None
        T, H = self.entry.steps, self.sizes[name]
        got = self._range(steps, T, "step") if steps is not None else (self.t, self.t + 1)
        if isinstance(got, str):
            return got
        if got[1] - got[0] == 1:
            d["t"] = got[0]
        else:
            d["steps"] = f"{got[0]}:{got[1]}"
        if units is None:
            d["units"] = [min(self.unit, H - 1)]
        elif units not in ("*", ":"):
            span = self._range(units, H, "unit")
            if isinstance(span, str):
                return span
            d["units"] = list(range(*span))
        return d

    @staticmethod
    def _range(text: str, n: int, noun: str) -> "tuple[int, int] | str":
        """[start, stop) of `k`, `START:STOP` (either may be left out) or `*` over 0..n-1, or why not."""
        import re

        if text in ("*", ":"):
            return 0, n
        m = re.fullmatch(r"([0-9]{0,9})\s*(:?)\s*([0-9]{0,9})", text)
        if not m or (not m.group(2) and not m.group(1)):
            return f"found {text!r}; expected a {noun}, START:STOP or *"
        start = int(m.group(1) or 0)
        stop = (int(m.group(3)) if m.group(3) else n) if m.group(2) else start + 1
        if not 0 <= start < stop <= n:
            return f"found {text}; expected {noun}s within 0..{n - 1} (STOP excluded, above START)"
        return start, stop

