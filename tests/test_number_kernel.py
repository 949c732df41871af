"""The compiled scan of number lists (scenario/number_kernel.py): every number it converts is the float (bit for
bit) or int that Python's `float()` / `int()` makes of the token, and what it does not read it leaves to the
NumPy scan (which leaves to ruamel what it does not read)."""
from __future__ import annotations

import random
import struct
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("numba")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rnntui.scenario import fast_numbers  # noqa: E402
from rnntui.scenario import number_kernel as nk  # noqa: E402
from rnntui.scenario.yaml_source import load_yaml  # noqa: E402


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def scanned(tokens: list[str], min_numbers: int = 1):
    """The compiled scan of `v: [tokens]`: (records, bits, ints, kinds) as number_kernel.scan leaves them."""
    raw = ("v: [" + ", ".join(tokens) + "]\n").encode()
    data = np.frombuffer(raw, np.uint8)
    most = len(raw) // 2 + 2
    out_bits, ints, kinds = np.zeros(most, np.int64), np.zeros(most, np.int64), np.zeros(most, np.uint8)
    recs = np.zeros((len(raw) // 3 + 1, nk.R_FIELDS), np.int64)
    dims = np.zeros((len(raw) // 3 + 1, fast_numbers.MAX_DEPTH + 1), np.int64)
    count, _, _ = nk.scan(data, min_numbers, fast_numbers.MAX_DEPTH, out_bits, ints, kinds, recs, dims)
    return recs[:count], out_bits.view(np.float64), ints, kinds


def converted(tokens: list[str]) -> list:
    """The values the fast path (compiled scan forced) gives for a list of *tokens*."""
    keep = fast_numbers.COMPILED_MIN_BYTES, fast_numbers.MIN_NUMBERS
    fast_numbers.COMPILED_MIN_BYTES, fast_numbers.MIN_NUMBERS = 0, 1
    try:
        data, pos = load_yaml("v: [" + ", ".join(tokens) + "]\n", "t.yaml")
    finally:
        fast_numbers.COMPILED_MIN_BYTES, fast_numbers.MIN_NUMBERS = keep
    assert ("v",) in pos.lists   # read by the fast path, not by ruamel
    return data["v"]


def assert_floats(tokens: list[str]) -> None:
    """Each token through the compiled scan: the status OK, and the value float(token) bit for bit."""
    recs, vals, _, kinds = scanned(tokens)
    assert len(recs) == 1 and recs[0, nk.R_STATUS] == nk.OK, tokens
    got = converted(tokens)
    for tok, v in zip(tokens, got):
        assert type(v) is float and bits(v) == bits(float(tok)), (tok, v, float(tok))


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_the_repr_of_any_double(xs):
    assert_floats([f for x in xs for f in (repr(x), repr(-x), "%.17e" % x, "%.16e" % x)])


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_float32_values_as_written(xs):
    """Float32 weights as from_torch writes them (the double's repr, up to 17 digits) and as float32 reprs."""
    assert_floats([f for x in xs for f in (repr(x), repr(float(np.float32(x))), str(np.float32(x)))])


@given(st.lists(st.tuples(st.integers(1, 10**19 - 1), st.integers(-360, 330), st.booleans()), min_size=1,
                max_size=40))
@settings(max_examples=300, deadline=None)
def test_digits_and_exponents(cases):
    """Up to 19 significant digits at every power of ten a double can reach and past it (0 and inf)."""
    toks = []
    for w, q, neg in cases:
        sign = "-" if neg else ""
        s = str(w)
        toks += [f"{sign}{s}e{q:+d}", f"{sign}{s}.0e{q:+d}", f"{sign}0.{s}e{q:+d}", f"{sign}000{s}.000e{q:+d}"]
        if -20 < q < 0 and len(s) > -q:
            toks.append(f"{sign}{s[:q]}.{s[q:]}")
    assert_floats(toks)


@given(st.text("0123456789", min_size=20, max_size=40), st.integers(-330, 310))
@settings(max_examples=500, deadline=None)
def test_more_than_19_digits_go_through_float(digits, q):
    tok = f"{digits[0]}.{digits[1:]}e{q:+d}"
    recs, _, _, kinds = scanned([tok, "1.5"])
    assert recs[0, nk.R_STATUS] == nk.OK
    if digits.lstrip("0").__len__() > 19:
        assert recs[0, nk.R_FIX] == 1 and kinds[0] == nk.BY_FLOAT
    assert_floats([tok, "1.5"])


def halfway_cases() -> list[str]:
    """Decimals (at most 19 digits) exactly halfway between two doubles: round half to even."""
    rng = np.random.default_rng(7)
    out = []
    for e2 in range(-4, 12):
        for _ in range(40):
            m = int(rng.integers(2 ** 52, 2 ** 53))
            mid = Fraction(2 * m + 1) * Fraction(2) ** (e2 - 1)
            text = format(Decimal(mid.numerator) / Decimal(mid.denominator), "f") if mid.denominator > 1 \
                else str(mid.numerator)
            if len(text.replace(".", "").lstrip("0")) <= 19:
                out.append(text if "." in text else text + ".0")
    return out


def test_halfway_cases_round_to_even():
    cases = halfway_cases()
    assert len(cases) > 200
    assert_floats(cases)
    assert_floats(["9007199254740993.0", "9007199254740995.0", "18014398509481986.0", "4503599627370497.5"])


@pytest.mark.parametrize("tok", [
    "0.0", "-0.0", "0.000e+5", "-0e-5", "5e-324", "4.9406564584124654e-324", "2.4703282292062327e-324",
    "2.4703282292062328e-324", "-2.4703282292062328e-324", "2.2250738585072011e-308", "2.2250738585072014e-308",
    "1.7976931348623157e+308", "1.7976931348623158e+308", "1.7976931348623159e+308", "1e+309", "-1e+309",
    "1e-400", "123456789012345678.9e+99999", "1.0e+22", "1.0e+23", "9007199254740993.0", "0.1", "0.3",
    "1.00000000000000011102230246251565404236316680908203125", "7.2057594037927933e+16", "5.", "+1.5", "017.5",
    "0002305843009213693952.000e+0", "18446744073709551616.0", "0.00000000000000000000000000",   # 2^64: digits wrap to 0
])
def test_edge_tokens(tok):
    assert_floats([tok, "1.5"])


@given(st.lists(st.integers(-(10**18) + 1, 10**18 - 1), min_size=1, max_size=30))
@settings(max_examples=300, deadline=None)
def test_ints_stay_ints(values):
    toks = [str(v) for v in values]
    got = converted(toks)
    assert [type(v) for v in got] == [int] * len(values) and got == values
    assert got.array.dtype == np.int64 and got.array.tolist() == values
    mixed = converted(toks + ["2.5"])   # beside a float: ints in the data, their floats in the array
    assert mixed[:-1] == values and [type(v) for v in mixed[:-1]] == [int] * len(values)
    assert mixed.array.dtype == np.float64
    assert [bits(v) for v in mixed.array.tolist()] == [bits(float(v)) for v in values] + [bits(2.5)]


@pytest.mark.parametrize("tokens", [
    [".5", "1.5"], ["-.5", "1.5"], [".nan", "1.5"], ["-.inf", "1.5"], [".inf", "1.0"], ["1e5", "1.5"],
    ["1E5", "2.0"], ["1.5.2", "1.0"], ["1-2", "1.0"], ["nan", "1.0"], ["1.5nan", "2.0"], ["-", "1.0"],
    ["1234567890123456789", "1.0"], ["1.0", ""], ["1.0", "2.0 3.0"], ["1e+", "1.0"], ["+", "1.0"],
], ids=str)
def test_tokens_it_does_not_read_are_left_to_the_numpy_scan(tokens):
    """Not the spelling read here: the list deferred (the NumPy scan then reads it or leaves it to ruamel),
    and the data is what ruamel reads."""
    recs, _, _, _ = scanned(tokens)
    assert len(recs) == 1 and recs[0, nk.R_STATUS] == nk.DEFER
    text = "v: [" + ", ".join(tokens) + "]\n"
    keep = fast_numbers.COMPILED_MIN_BYTES, fast_numbers.MIN_NUMBERS
    fast_numbers.COMPILED_MIN_BYTES, fast_numbers.MIN_NUMBERS = 0, 1
    try:
        fast, _ = load_yaml(text, "t.yaml")
    finally:
        fast_numbers.COMPILED_MIN_BYTES, fast_numbers.MIN_NUMBERS = keep
    slow, _ = load_yaml(text, "t.yaml", fast=False)
    assert repr(fast) == repr(slow)


def test_shapes_and_what_is_no_array():
    recs, _, _, _ = scanned(["[1.0, 2.0]", "[3.0, 4.0]", "[5.0, 6.0]"])
    assert recs[0, nk.R_STATUS] == nk.OK and recs[0, nk.R_NDIMS] == 2 and recs[0, nk.R_DEPTH] == 2
    recs, _, _, _ = scanned(["[1.0, 2.0]", "[3.0]"])                 # ragged: the rows on their own
    assert [r[nk.R_STATUS] for r in recs] == [nk.OK, nk.OK] and len(recs) == 2
    recs, _, _, _ = scanned(["1.0", "[3.0]"])                         # numbers beside lists
    assert len(recs) == 1 and recs[0, nk.R_START] == len("v: [1.0, ")


def test_a_big_list_is_read_by_the_compiled_scan(monkeypatch):
    """Past COMPILED_MIN_BYTES the loader's fast path takes the compiled scan (RNNTUI_FUSED=off: NumPy's)."""
    rows = np.random.default_rng(3).standard_normal((200, 300)).astype(np.float32).astype(np.float64)
    text = "v: [" + ",\n  ".join("[" + ", ".join(map(repr, r)) + "]" for r in rows.tolist()) + "]\n"
    assert len(text) > fast_numbers.COMPILED_MIN_BYTES
    calls = []
    real = fast_numbers._lists_compiled
    monkeypatch.setattr(fast_numbers, "_lists_compiled", lambda raw, scan: calls.append(1) or real(raw, scan))
    data, _ = load_yaml(text, "t.yaml")
    assert calls and data["v"].array.tobytes() == rows.tobytes()
    count = len(calls)
    monkeypatch.setenv("RNNTUI_FUSED", "off")
    data, _ = load_yaml(text, "t.yaml")
    assert len(calls) == count and data["v"].array.tobytes() == rows.tobytes()


def test_minus_zero():
    """`-0.0` is the float -0.0; `-0` the int 0, whose float beside floats is 0.0 (as ruamel's data has it)."""
    got = converted(["-0.0", "-0", "0.0", "2.5"])
    assert [type(v) for v in got] == [float, int, float, float] and got[1] == 0
    assert [bits(v) for v in got.array.tolist()] == [bits(-0.0), bits(0.0), bits(0.0), bits(2.5)]


def test_a_numba_that_cannot_compile_leaves_the_numpy_scan(monkeypatch):
    """The compiled scan is tried once on a tiny text; if that fails (a numba that cannot compile here), every
    load takes the NumPy scan and reads the same data."""
    rows = np.arange(600, dtype=np.float64).reshape(2, 300) / 7
    text = "v: [" + ", ".join("[" + ", ".join(map(repr, r)) + "]" for r in rows.tolist()) + "]\n"

    def broken(*args):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(fast_numbers, "_KERNEL", [])
    monkeypatch.setattr(fast_numbers, "COMPILED_MIN_BYTES", 0)
    monkeypatch.setattr(nk, "scan", broken)
    assert fast_numbers._kernel(len(text)) is None
    data, pos = load_yaml(text, "t.yaml")
    assert ("v",) in pos.lists and data["v"].array.tobytes() == rows.tobytes()
    monkeypatch.setattr(fast_numbers, "_KERNEL", [])   # the real kernel again for the tests after


def test_a_hundred_thousand_random_tokens():
    """Random doubles' reprs, float32s' (as from_torch writes them) and 1-19 digit decimals at exponents past
    both ends, through the compiled scan in one text: every float the one `float()` gives, bit for bit."""
    rng = np.random.default_rng(5)
    doubles = rng.integers(0, 2**64, size=50_000, dtype=np.uint64).view(np.float64)
    singles = rng.integers(0, 2**32, size=30_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    tokens = [repr(x) for x in doubles[np.isfinite(doubles)].tolist()]
    tokens += [repr(x) for x in singles[np.isfinite(singles)].astype(np.float64).tolist()]
    draw = random.Random(5)
    for _ in range(20_000):
        d = draw.randint(1, 19)
        tokens.append(f"{draw.randint(10 ** (d - 1), 10 ** d - 1)}e{draw.randint(-345, 310):+d}")
    tokens = tokens[: len(tokens) // 100 * 100]
    rows = ["[" + ", ".join(tokens[k:k + 100]) + "]" for k in range(0, len(tokens), 100)]
    raw = ("v: [" + ",\n  ".join(rows) + "]\n").encode()
    found, clean, plain = fast_numbers._lists_compiled(raw, nk.scan)
    assert clean and plain and len(found) == 1 and found[0][2].array.shape == (len(rows), 100)
    want = np.array([float(t) for t in tokens])
    assert found[0][2].array.ravel().tobytes() == want.tobytes()


def test_a_one_off_cli_process_reads_big_lists_without_importing_numba(tmp_path):
    """`rnntui validate` on a scenario with 1.2 MB of inline weights: the command reads them with the NumPy scan
    and never imports numba (its import, 0.3-0.7 s, costs a one-off process more than the compiled scan saves);
    the API in the same kind of process takes the compiled scan."""
    import subprocess
    import sys

    rows = np.random.default_rng(5).standard_normal((200, 300)).tolist()   # weight_ih_l0 of an RNN(300, 200)
    weights = f"    0.weight_ih_l0: [{', '.join('[' + ', '.join(map(repr, r)) + ']' for r in rows)}]"
    path = tmp_path / "big.yaml"
    path.write_text("input: {generate: {kind: pulse, length: 3, at: 0, features: 300}}\n"
                    "model: [{type: rnn, hidden_size: 200}]\nloss: {kind: sum}\nweights:\n  set:\n" + weights + "\n")
    assert path.stat().st_size > fast_numbers.COMPILED_MIN_BYTES
    probe = ("import sys; from rnntui.cli import main; sys.argv = ['rnntui', 'validate', sys.argv[1]]\n"
             "try: main()\nexcept SystemExit as e: print('exit', e.code, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "exit 0 False", out.stdout + out.stderr
    api = ("import sys; from rnntui.scenario.loader import load_scenario; load_scenario(sys.argv[1]); "
           "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", api, str(path)], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stdout + out.stderr
