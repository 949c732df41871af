"""Non-finite values in words: where they began and which arrays they reached."""
from __future__ import annotations

from rich.style import Style
from rich.text import Text


def nonfinite_summary(trace) -> Text:
    keys = [str(k) for k in trace["diag.nonfinite.keys"]]
    if not keys:
        return Text("All values are finite.", Style(color="green"))
    first = int(trace["diag.nonfinite.first_step"])
    firsts = trace["diag.nonfinite.key_first_step"]
    text = Text(f"Non-finite values (inf or NaN) begin at step {first} and reach {len(keys)} arrays:\n",
                Style(color="magenta", bold=True))
    for key, t in zip(keys, firsts):
        text.append(f"  {key}" + (f" (from step {int(t)})" if t >= 0 else "") + "\n")
    return text
