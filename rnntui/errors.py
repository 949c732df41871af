"""The one error type for what a user got wrong, with positions into their file."""
from __future__ import annotations

import re
from dataclasses import dataclass

# C0 controls (tab and newline included: a message is one line), DEL, C1 controls and the Unicode line
# and paragraph separators. ESC among them is what lets a file retitle a terminal window or rewrite the
# screen, so none of them reaches it raw. Half a UTF-16 surrogate pair is no character at all: a terminal
# cannot be sent one (UnicodeEncodeError), so it is shown as its escape too.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match) -> str:
    ch = match.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")


_SURROGATE = re.compile("[\ud800-\udfff]")


def join_surrogates(text: str) -> str:
    """*text* with each UTF-16 surrogate pair (a double-quoted "\\ud83d\\ude00", as JSON writes what is beyond
    \\uffff) made the one character it stands for; a lone half stays as it is."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def lone_surrogate(text: str) -> int | None:
    """Where *text* holds half of a surrogate pair without the other (no character: it can be neither printed
    nor written as UTF-8), or None."""
    m = _SURROGATE.search(text)
    return None if m is None else m.start()


def printable(text: str) -> str:
    """*text* with every control character shown as an escape (`\\x1b`, `\\n`), safe for one terminal line."""
    return _CONTROL.sub(_escape, str(text))


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
        return printable(f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}")


class RnntuiWarning(UserWarning):
    """What loaded but deserves a word (weight-file keys skipped as buffers of layers the model does not
    have): `rnntui.run` warns with it, the CLI prints it on stderr as `rnntui: warning: ...`."""


class RnntuiError(Exception):
    """Base of every error that the CLI turns into a message and exit status 2."""

    title = "error"
    exit_code = 2


class ScenarioError(RnntuiError):
    """A scenario that cannot be run; carries every problem found, not just the first.

    *unchecked*: what could not be checked yet because it needs what the problems are about (the target's
    shape needs the model's layout, which needs valid entries), one sentence per file, said after them so
    that a clean second run is not a surprise."""

    title = "scenario error"

    def __init__(self, problems: list[Problem], unchecked: tuple[Problem, ...] | list[Problem] = ()):
        # in file order, so a user fixes them top to bottom
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.column or 0))
        self.unchecked = tuple(unchecked)
        super().__init__("\n".join(self.lines(unchecked=False)))

    def lines(self, unchecked: bool = True) -> list[str]:
        """Each problem on its line, in file order; after a file's last problem, what it left unchecked."""
        out: list[str] = []
        for k, p in enumerate(self.problems):
            out.append(str(p))
            if unchecked and (k + 1 == len(self.problems) or self.problems[k + 1].file != p.file):
                out += [str(u) for u in self.unchecked if u.file == p.file]
        return out


class ExportError(RnntuiError):
    """An output file that cannot be written (missing folder, a path through a file...)."""

    title = "export error"


class MemoryLimitError(RnntuiError):
    """What a command would hold is over the memory limit (--max-memory or its default): refused before it starts."""

    title = "memory limit"


class OptionError(RnntuiError):
    """A command-line option with a value that cannot be used (--max-memory 1e400)."""

    title = "option error"
