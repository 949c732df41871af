"""What the TUI draws of text that came from a user's files: cut to a length a screen can show.

A scenario's name, description, tokens and a trace's keys can be any size (a 5 MB name took
3.5 s to draw and ~1 s a key). The TUI shows at most a screenful of any of them; the trace keeps
the whole text (reports and `export` write it out).
"""
from __future__ import annotations

NAME_CHARS = 120          # one line of a wide terminal
DESCRIPTION_CHARS = 2000  # the help screen shows it whole: a few screens at most
TOKEN_CHARS = 16          # the timeline shows at most 9 characters of a token
KEY_CHARS = 200           # a trace key named in an event's message

ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    """*text* if it has at most *limit* characters, else its first limit - 1 and an ellipsis."""
    text = str(text)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def one_line(text: str, limit: int) -> str:
    """*text* cut to *limit* characters and its whitespace (newlines, tabs) made single spaces."""
    # cut first (with room for the spaces that will collapse) so a huge text is never split whole
    return cut(" ".join(cut(text, 2 * limit + 1).split()), limit)
