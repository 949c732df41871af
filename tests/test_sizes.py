"""The one byte-size parser and printer (rnntui/sizes.py): SI units are powers of 1000, IEC units powers
of 1024, the arithmetic exact; a printed size reads back within its rounding."""
from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnntui.sizes import MAX_SIZE, format_size, parse_size

SI = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15, "e": 10**18}
IEC = {"ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40, "pi": 2**50, "ei": 2**60}
UNITS = {**SI, **IEC}


def spelled(unit: str, draw) -> str:
    """*unit* as a user may write it: any case, with or without the trailing B, spaces around it."""
    text = unit + draw(st.sampled_from(["", "b", "B"])) if unit else draw(st.sampled_from(["", "b", "B"]))
    text = "".join(c.upper() if draw(st.booleans()) else c for c in text)
    return draw(st.sampled_from(["", " ", "  "])) + text + draw(st.sampled_from(["", " "]))


@given(st.data())
def test_a_whole_number_of_any_unit_is_exact(data):
    unit = data.draw(st.sampled_from(sorted(UNITS)))
    n = data.draw(st.integers(0, MAX_SIZE // UNITS[unit]))
    assert parse_size(f"{n}{spelled(unit, data.draw)}") == n * UNITS[unit]


@given(st.data())
def test_a_decimal_is_exact_and_rounded_down_to_a_byte(data):
    unit = data.draw(st.sampled_from(sorted(UNITS)))
    whole = data.draw(st.integers(0, 999))
    digits = data.draw(st.text("0123456789", min_size=1, max_size=12))
    exact_numerator = (whole * 10 ** len(digits) + int(digits)) * UNITS[unit]
    expected = exact_numerator // 10 ** len(digits)
    text = f"{whole}.{digits}{spelled(unit, data.draw)}"
    if expected > MAX_SIZE:
        with pytest.raises(ValueError, match="expected at most 1 EiB"):
            parse_size(text)
    else:
        assert parse_size(text) == expected


def test_gb_is_a_power_of_1000_and_gib_a_power_of_1024():
    assert parse_size("1GB") == 1_000_000_000 and parse_size("1GiB") == 1_073_741_824
    assert parse_size("2 gb") == parse_size("2G") == 2 * 10**9
    assert parse_size("1kB") == parse_size("1KB") == 1000 and parse_size("1KiB") == parse_size("1Ki") == 1024
    assert parse_size("1.1GB") == 1_100_000_000   # exact, not float(1.1) * 1e9
    assert parse_size("1.5GiB") == 1_610_612_736 and parse_size(".5k") == 500 and parse_size("1.") == 1
    assert parse_size("1EiB") == MAX_SIZE


@pytest.mark.parametrize("text", ["", "GB", "2 GB junk", "2iB", "-1", "1e9", "2,000", "1.5.2GB", "2XB", "0x10",
                                  "1" * 41, "1EiB1", "2 G B"])
def test_what_is_no_size_is_refused_saying_what_was_expected(text):
    with pytest.raises(ValueError, match=r"^found .*; expected"):
        parse_size(text)


@given(st.text(max_size=12))
def test_any_text_is_a_size_within_the_limit_or_a_value_error(text):
    try:
        size = parse_size(text)
    except ValueError as exc:
        assert str(exc).startswith("found ")
    else:
        assert isinstance(size, int) and 0 <= size <= MAX_SIZE


SHOWN = re.compile(r"(-?[0-9]+(?:\.[0-9])?) (B|KiB|MiB|GiB|TiB|PiB|EiB)")


@given(st.integers(-MAX_SIZE, MAX_SIZE))
def test_a_printed_size_reads_back_within_its_rounding(n):
    text = format_size(n)
    m = SHOWN.fullmatch(text)
    assert m, text
    number, unit = m.groups()
    step = 1024 ** ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"].index(unit)
    if unit == "B":
        assert text == f"{n} B" and abs(n) < 1024
    else:
        assert 1 <= abs(float(number)) < 1024, text   # never "1024.0 KiB": that is "1.0 MiB"
        assert "." in number
        assert abs(parse_size(text.lstrip("-")) - abs(n)) <= 0.05 * step + 1, (n, text)


def test_known_sizes_print_as_before():
    assert [format_size(n) for n in (0, 1023, 1024, 10240, 10_000, 2**20 - 1, 15.6 * 2**30, 2**60)] == \
        ["0 B", "1023 B", "1.0 KiB", "10.0 KiB", "9.8 KiB", "1.0 MiB", "15.6 GiB", "1.0 EiB"]
