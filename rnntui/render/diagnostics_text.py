"""Non-finite values in words: where they began and which arrays they reached."""
from __future__ import annotations

from rich.style import Style
from rich.text import Text

from rnntui.engine import keys


def nonfinite_summary(trace) -> Text:
    bad = [str(k) for k in trace[keys.NONFINITE_KEYS]]
    if not bad:
        return Text("All values are finite.", Style(color="green"))
    first = int(trace[keys.NONFINITE_FIRST_STEP])
    firsts = trace[keys.NONFINITE_KEY_FIRST_STEP]
    text = Text(f"Non-finite values (inf or NaN) begin at step {first} and reach {len(bad)} arrays:\n",
                Style(color="magenta", bold=True))
    for key, t in zip(bad, firsts):
        text.append(f"  {key}" + (f" (from step {int(t)})" if t >= 0 else "") + "\n")
    return text
