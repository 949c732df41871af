"""The one error type for what a user got wrong, with positions into their file."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where it is and what was expected."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class RnntuiError(Exception):
    """Base of every error that the CLI turns into a message and exit status 2."""

    title = "error"
    exit_code = 2


class ScenarioError(RnntuiError):
    """A scenario that cannot be run; carries every problem found, not just the first."""

    title = "scenario error"

    def __init__(self, problems: list[Problem]):
        # in file order, so a user fixes them top to bottom
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.column or 0))
        super().__init__("\n".join(str(p) for p in self.problems))


class ExportError(RnntuiError):
    """An output file that cannot be written (missing folder, a path through a file...)."""

    title = "export error"
