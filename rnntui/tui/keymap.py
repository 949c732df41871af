"""The debugger's keys, grouped by what owns them: the cursor's navigation, watches and breakpoints, what-ifs,
each outer axis (its own module's `BINDINGS`, tui/axes/), and the app's own. The help screen (`?`) lists them
under these headings; the footer shows those with `show=True`, in this order.
"""
from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class KeyGroup:
    title: str
    bindings: tuple[Binding, ...]


NAVIGATION = KeyGroup("Moving in the run", (
    # the footer shows them in this order (Back before Step, as the arrows sit on a keyboard)
    Binding("left,h", "step(-1)", "Back", tooltip="Previous step"),
    Binding("right,l", "step(1)", "Step", tooltip="Next step, in the order the current pass and direction run"),
    Binding("home", "jump(0)", "First", show=False, tooltip="First step of the current pass"),
    Binding("end", "jump(1)", "Last", show=False, tooltip="Last step of the current pass"),
    Binding("pagedown", "step(10)", "+10", show=False, tooltip="10 steps on"),
    Binding("pageup", "step(-10)", "-10", show=False, tooltip="10 steps back"),
    Binding("g", "goto", "Go to", show=False,
            tooltip="Go to a step t (`12`), a unit (`u 45`), a sample (`s 2`), or several (`s 2 t 5 u 45`)"),
    # one key, named as the place's view has it: BPTT where the backward pass runs through time
    Binding("b", "phase('bptt')", "Fwd/BPTT",
            tooltip="Switch between the forward pass and the backward pass (BPTT, from t=T-1 down to 0)"),
    Binding("b", "phase('backprop')", "Fwd/Backprop",
            tooltip="Switch between the forward pass and the backward pass (backpropagation; no steps in time here)"),
    Binding("right_square_bracket", "place(1)", "Next entry", show=False,
            tooltip="Next entry (each sub-layer and direction of a recurrent entry in turn)"),
    Binding("left_square_bracket", "place(-1)", "Prev entry", show=False, tooltip="Previous entry"),
    Binding("d", "direction", "Dir", tooltip="The other direction of a bidirectional entry"),
    Binding("down", "unit(1)", "Next unit", show=False, tooltip="Select the next unit"),
    Binding("up", "unit(-1)", "Prev unit", show=False, tooltip="Select the previous unit"),
    Binding("s", "sample(1)", "Sample", show=False, tooltip="Next sample of the batch"),
    Binding("S", "sample(-1)", "Prev sample", show=False, tooltip="Previous sample of the batch"),
    Binding("space", "play", "Play", tooltip="Play / pause: step on by itself"),
    Binding("n", "event(1)", "Event",
            tooltip="Next event (non-finite value, saturated gate, vanishing or exploding gradient, "
                    "thresholds in the scenario's events:), skipping the rest of a run of consecutive steps"),
    Binding("N", "event(-1)", "Prev event", show=False, tooltip="Previous event, where its run begins"),
))

DEBUGGING = KeyGroup("Watches, breakpoints and events", (
    Binding("w", "add_watch", "Watch", show=False,
            tooltip="Watch an expression (docs/debugger.md): its value at every step, beside the views"),
    Binding("a", "add_break", "Break", show=False,
            tooltip="Add a breakpoint: an expression; c stops where it holds (the timeline marks it ●)"),
    Binding("c", "continue(1)", "Continue", show=False,
            tooltip="Continue: to the next step (in this pass's order) where a breakpoint holds or an event begins"),
    Binding("C", "continue(-1)", "Reverse", show=False,
            tooltip="Reverse-continue: to the previous such step (in a training run, on into earlier iterations)"),
    Binding("m", "mute", "Mute events", show=False,
            tooltip="Mute or show kinds of built-in event (S saturated, v vanishing, ^ exploding, ! non-finite): "
                    "a muted kind is not marked, and n / N / c / C pass it by"),
    Binding("L", "debug_list", "Watches", show=False,
            tooltip="List the watches and breakpoints: turn breakpoints on or off, remove either"),
))

WHATIF = KeyGroup("What-if", (
    Binding("i", "whatif", "What-if", show=False,
            tooltip="What-if: set the selected unit of a state or gate at this step (or over steps) and see "
                    "the run recomputed beside the original"),
    Binding("p", "edit_weight", "Edit weight", show=False,
            tooltip="Edit a weight: set, scale or shift a parameter or some of its elements (W_hh = 1.5, "
                    "W_hh[0, 0] *= 3) and see the run recomputed beside the original"),
    Binding("u", "undo_whatif", "Undo", show=False, tooltip="Undo the last what-if or weight edit"),
    Binding("W", "write_whatif", "Write what-if", show=False,
            tooltip="Write the scenario with the what-ifs as its interventions: and the edited weights under "
                    "weights.set (a new file)"),
    Binding("o", "seed", "Backprop of", show=False,
            tooltip="Choose what BPTT traces back: one step's loss term (loss 5), or one output of this sample "
                    "(logp 3, p 3, out 3: a class's log-probability, probability or score), instead of the loss"),
    Binding("O", "seed_loss", "Backprop loss", show=False, tooltip="BPTT traces back the whole loss again"),
))

APP = KeyGroup("The debugger", (
    Binding("e", "export", "Export", show=False, tooltip="Export the current view as an SVG file"),
    Binding("M", "model_map", "Model map", show=False, tooltip="The model drawn node by node, the cursor's marked"),
    Binding("escape", "cancel_work", "Cancel", show=False,
            tooltip="Cancel what is being computed off the keys' way (a watch's Jacobian norms, an iteration "
                    "not in the cache, a continue through iterations): the header says what and how far"),
    Binding("question_mark", "help", "Help", tooltip="This help, with the current cell's equations"),
    Binding("q", "quit", "Quit", tooltip="Quit"),
))

# Tab brings the next panel into view (its first line at the top), so every panel, and the line it leads
# with (the verdict leads the gradients), is reached without a mouse on a small terminal. On the
# debugger's own screen only: a dialog's Tab still moves between its fields.
PANELS = KeyGroup("Panels", (
    Binding("tab", "app.panel(1)", "Panel", tooltip="Bring the next panel into view (cell, states, watches, "
            "gradients and verdict, details; on a small terminal the timeline, training and compare panes too)"),
    Binding("shift+tab", "app.panel(-1)", "Prev panel", show=False, tooltip="Bring the previous panel into view"),
))


def groups(axes) -> list[KeyGroup]:
    """The app's key groups, in the footer's order: navigation, debugging, what-if, each axis class of *axes*
    (tui/axes/ `AXES`), the app's own."""
    return [NAVIGATION, DEBUGGING, WHATIF, *(KeyGroup(a.title, tuple(a.BINDINGS)) for a in axes), APP]


def bindings(axes) -> list[Binding]:
    """Every key of the app's groups, in order (what `RnntuiApp.BINDINGS` is)."""
    return [b for g in groups(axes) for b in g.bindings]


__all__ = ["APP", "DEBUGGING", "NAVIGATION", "PANELS", "WHATIF", "KeyGroup", "bindings", "groups"]
