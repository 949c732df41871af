"""Byte sizes: the one parser (`--max-memory 2GB`) and the one way a size is printed ("15.6 GiB").

Read: a plain number is bytes; kB (or KB), MB, GB, TB, PB and EB are powers of 1000 (2GB is
2,000,000,000 bytes), KiB, MiB, GiB, TiB, PiB and EiB powers of 1024 (2GiB is 2,147,483,648); a bare
prefix (2G) is the power of 1000, as pydantic's ByteSize and humanfriendly read it. Letters in any case,
spaces around the number and unit, a decimal point allowed; the arithmetic is exact (1.1GB is
1,100,000,000 bytes, not a float's neighbour), a fraction of a byte rounded down.

Printed: powers of 1024 (B, KiB, MiB, ...), one decimal, the unit chosen after rounding so that the number
is always below 1024 ("1.0 MiB", never "1024.0 KiB").
"""
from __future__ import annotations

import re
from fractions import Fraction

MAX_SIZE = 1 << 60   # 1 EiB: a size above any machine's memory, so a limit there already means "no limit"
_PREFIXES = "kmgtpe"
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?:([kmgtpe])(i)?)?(b)?\s*", re.IGNORECASE)
_MAX_DIGITS = 40
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def parse_size(text: str) -> int:
    """'2GB' -> 2000000000, '512MiB' -> 536870912, '1000000' -> 1000000. Raises ValueError with what was
    found and what is expected (a size of at most 1 EiB)."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(f"found {text[:40]!r}; expected a size such as 2GB (2,000,000,000 bytes), 2GiB "
                         "(2,147,483,648 bytes) or 1000000")
    number, prefix, binary, _ = m.groups()
    if len(number) > _MAX_DIGITS:
        raise ValueError(f"found a number of {len(number)} digits; expected at most 1 EiB")
    power = 0 if prefix is None else _PREFIXES.index(prefix.lower()) + 1
    size = int(Fraction(number) * (1024 if binary else 1000) ** power)
    if size > MAX_SIZE:
        raise ValueError(f"found {text.strip()!r}; expected at most 1 EiB")
    return size


def format_size(n: float) -> str:
    """*n* bytes in the largest power of 1024 that keeps the number, rounded to one decimal, below 1024."""
    if abs(n) < 1024:
        return f"{int(n)} B"
    for k, unit in enumerate(_UNITS[1:], 1):
        value = round(n / 1024 ** k, 1)
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")
