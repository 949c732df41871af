"""An expression that cannot be used: where (1-based column into its text) and what was expected."""
from __future__ import annotations

from rnntui.errors import RnntuiError, printable


class ExprError(RnntuiError):
    """A syntax error, an unknown name or function, shapes that do not combine, a place that does not exist.

    `column` is 1-based into `text` (len(text) + 1 for "the expression ends too early"); `message` says
    what was found and what was expected, without the position (callers place it: a CLI option, a
    line and column in a scenario file, an input box in the TUI)."""

    title = "expression error"

    def __init__(self, text: str, column: int, message: str, where: str = ""):
        self.text, self.column, self.message, self.where = text, column, message, where
        super().__init__(f"{where + ', ' if where else ''}column {column}: {message}")

    def at(self, where: str) -> "ExprError":
        """The same error, saying which expression it is (`--assert 2`, a watch, a file's line)."""
        return ExprError(self.text, self.column, self.message, where)

    def pointer(self) -> str:
        """Two lines: the expression and a caret under the column (control characters escaped)."""
        shown = printable(self.text)
        before = printable(self.text[: self.column - 1])
        return f"{shown}\n{' ' * len(before)}^"

    def to_json(self) -> str:
        """`rnntui check --json`'s object for an expression that cannot be used (exit status 2)."""
        import json

        return json.dumps({"version": 1, "ok": False, "error": {"where": self.where, "expression": self.text,
                                                                "column": self.column, "message": self.message}})
