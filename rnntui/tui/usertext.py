"""What the TUI draws of text that came from a user's files: cut to a length a screen can show.

A scenario's name, description, tokens and a trace's keys can be any size (a 5 MB name took
3.5 s to draw and ~1 s a key). The TUI shows at most a screenful of any of them; the trace keeps
the whole text (reports and `export` write it out).

Lengths are terminal cells, as rich measures them (`rich.cells`): a CJK character or an emoji takes two,
a combining accent none, and a cut never splits a character from its accents.
"""
from __future__ import annotations

from rich.cells import cell_len, chop_cells

NAME_CHARS = 120          # one line of a wide terminal
DESCRIPTION_CHARS = 2000  # the help screen shows it whole: a few screens at most
TOKEN_CHARS = 16          # the timeline shows at most 9 characters of a token
KEY_CHARS = 200           # a trace key named in an event's message

ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    """*text* if it takes at most *limit* cells, else as much of its start as fits in limit - 1 cells and
    an ellipsis. Only its first 4 * limit characters are measured, so a huge text costs no more than a
    short one (a text longer than that is cut even if zero-width characters would have let it fit)."""
    text = str(text)
    head = text[: 4 * limit + 4]
    if len(head) == len(text) and cell_len(text) <= limit:
        return text
    room = max(limit - 1, 0)
    return (next(iter(chop_cells(head, room)), "") if room else "") + ELLIPSIS


def one_line(text: str, limit: int) -> str:
    """*text* cut to *limit* cells and its whitespace (newlines, tabs) made single spaces."""
    # cut first (with room for the spaces that will collapse) so a huge text is never split whole
    return cut(" ".join(cut(text, 2 * limit + 1).split()), limit)
