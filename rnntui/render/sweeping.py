"""What a view says while a long run's sweep has not computed what it needs (engine/checkpoint.py `NotReady`:
the debugger shows a checkpointed run from its first segment on, while the rest is swept in a worker)."""
from __future__ import annotations

from rich.style import Style
from rich.text import Text

WAITING = Style(color="yellow", bold=True)


def computing_words(wait, info=None, cursor=None) -> Text:
    """"computing: 37%" (the fraction of the sweep done) and what is waited for: the backward pass (every
    gradient, the loss unless a kind's own pass made it already, and what is measured from them come when the sweep
    is done) or the forward pass of steps the sweep has not reached."""
    if getattr(wait, "failed", ""):
        return Text.assemble((f"not computed: the sweep stopped at {wait.fraction:.0%}", WAITING),
                             (f" ({wait.failed})", Style(dim=True)))
    text = Text(f"computing: {wait.fraction:.0%}", WAITING)
    if wait.what == "the forward pass" and wait.steps is not None:
        a, b = wait.steps
        ready = f"steps {a:,}..{b - 1:,} are ready" if b > a else "no step is ready yet"
        more = f" (the forward sweep has not reached every step shown; {ready})"
        if getattr(wait, "bidir", False):   # the backward direction's states come from the end, after the forward's
            more = (" (a step's forward pass needs the backward direction's states, which the sweep finds from the "
                    f"last step down once the forward direction's are done; {ready})")
    elif wait.what == "the backward pass" and getattr(wait, "loss_known", False):   # a kind's own pass made it
        more = " (of the sweep: the backward pass, its gradients and what is measured from them, shows when it is done)"
    elif wait.what == "the backward pass":
        more = " (of the sweep: the backward pass, its gradients, the loss and what is measured from them, shows " \
               "when it is done)"
    else:
        more = f" ({wait.what})"
    text.append(more, Style(dim=True))
    return text


def progress_bar(fraction: float, width: int = 20) -> str:
    """*fraction* as a bar of *width* characters (eighths of a cell) on a light track, e.g. "█████▍░░░░░░"."""
    eighths = int(round(min(max(fraction, 0.0), 1.0) * width * 8))
    full, part = divmod(eighths, 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")).ljust(width, "░")
