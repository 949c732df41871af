"""Big lists of numbers read with NumPy before ruamel (scenario/fast_numbers.py): the same data, value by value
and type by type, the same positions and the same messages as ruamel's own reading of every number."""
from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from rnntui.errors import ScenarioError
from rnntui.scenario import fast_numbers
from rnntui.scenario.bundled import bundled
from rnntui.scenario.fast_numbers import NumberList
from rnntui.scenario.loader import load_scenario
from rnntui.scenario.yaml_source import load_yaml
from rnntui.torch_bridge.text import flow


def same(a, b, where="") -> None:
    """Equal data, types included, floats bit for bit (-0.0 is not 0.0; NaN is NaN)."""
    assert type(a) is type(b) or (isinstance(a, list) and isinstance(b, list)), (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for k, (u, v) in enumerate(zip(a, b)):
            same(u, v, f"{where}[{k}]")
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b)), (where, a, b)
    else:
        assert a == b, (where, a, b)


def both(text: str):
    slow, slow_pos = load_yaml(text, "t.yaml", fast=False)
    fast, fast_pos = load_yaml(text, "t.yaml")
    same(fast, slow)
    for path, at in slow_pos.where.items():   # every key and list item where ruamel placed it
        assert fast_pos.of(path) == at, path
    return fast, fast_pos


def errors(text: str) -> tuple[str, str]:
    out = []
    for fast in (False, True):
        with pytest.raises(ScenarioError) as exc:
            load_yaml(text, "t.yaml", fast=fast)
        out.append(str(exc.value))
    return tuple(out)


def _numba() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


SCANS = ["numpy", pytest.param("compiled", marks=pytest.mark.skipif(not _numba(), reason="numba not installed"))]


@pytest.fixture(params=SCANS)
def scan(request, monkeypatch):
    """The fast path's scan: NumPy's, or the compiled one (scenario/number_kernel.py) on every text."""
    monkeypatch.delenv("RNNTUI_FUSED", raising=False)
    monkeypatch.setattr(fast_numbers, "COMPILED_MIN_BYTES", 10**12 if request.param == "numpy" else 0)
    return request.param


@pytest.fixture
def every_list(monkeypatch, scan):
    """Every list of numbers read by the fast path, however short (by each scan)."""
    monkeypatch.setattr(fast_numbers, "MIN_NUMBERS", 1)
    return scan


def test_bundled_scenarios_read_the_same(every_list):
    used = 0
    for path in sorted(bundled().values()):
        text = path.read_text(encoding="utf-8")
        data, pos = both(text)
        used += len(pos.lists)
    assert used > 20   # the fast path did read lists of the bundled scenarios


CASES = {
    "nested": "a: [[1.5, -2.0e-05], [3.25, 4.0]]\nb: 1\n",
    "three deep, multi-line": "x:\n  batch: [\n    [\n      [0.1, 0.2],\n      [0.3, 0.4]],\n    [\n      [0.5, 0.6],\n      [0.7, 0.8]]]\ny: [1, 2]\n",
    "ints": "tokens: [1, 2, 3, -0, +5, 017, 089]\n",
    "mixed ints and floats": "v: [1, 2.5, 3, 1e5, 1E-3, 1.e5, .5, -.5, 00.5, 5.]\n",
    "unsigned exponent after a dot": "v: [.5e5, 1.5]\n",       # a string to YAML 1.2
    "not numbers": "v: [1.5, 1-2, 3]\nw: [1.5, abc]\n",
    "nan and inf": "v: [.nan, .inf, -.inf, +.inf, 1.5]\nw: [.nan, 1, 2.5]\n",
    "nan and inf spelt otherwise": "v: [nan, 1.5]\nw: [-.nan, 1.5]\nx: [inf, 1.5]\ny: [.NaN, 1.5]\nz: [1.5nan, 2.0]\n"
                                   "u: [5.nan, 1.0]\nt: [.n5an, 1.0]\n",
    "strings": "v: ['1.5', \"2\"]\n",
    "two on a line": "v: [[1.5, 2.5], [3.5, 4.5]]   # comment [1.0, 2.0]\nw: {a: [1.0, 2.0], b: [3, 4]}\n",
    "in a quoted string": 'name: "[1.0, 2.0]"\nv: [1.0, 2.0]\n',
    "in a block scalar": "d: |\n  [1.0, 2.0]\n  [3.0]\nv: [1.0]\n",
    "in a comment": "# [1.0, 2.0]\nv: [1.0] # [3.0, 4.0]\n",
    "inside a plain scalar": "v: abc [1.0, 2.0]\n",
    "continuation of a plain scalar": "v: abc\n  [1.0, 2.0]\n",
    "ragged": "v: [[1.0, 2.0], [3.0]]\n",
    "ragged deeper": "v: [[[1.0], [2.0], [3.0]], [[4.0]]]\n",
    "mixed depth": "v: [[1.0, 2.0], [[3.0, 4.0]]]\n",
    "numbers beside lists": "v: [1.0, [2.0, 3.0]]\n",
    "empty": "v: [[], [1.0]]\nw: []\n",
    "trailing comma": "v: [1.0, 2.0, ]\n",
    "crlf": "a: [\r\n  [1.5, 2.5],\r\n  [3.5, 4.5]]\r\nb: [1, 2]\r\n",
    "a key after on the last line": "m: {a: [1.0,\n  2.0], b: 3}\n",
    "list items": "- [1.0, 2.0]\n- [3, 4]\n- x\n",
    "a placeholder look-alike": "v: N\nw: [1.0, 2.0]\n",
    "huge int": "v: [1, 123456789012345678901234567890]\n",
    "long floats": "v: [0.1000000000000000055511151231257827, 1e400, -1e-400, 4.9e-324]\n",
    "tabs": "v: [1.0,\t2.0]\n",
    "spaces in a number": "v: [1. 5, 2.0]\n",
    "a directive": "%YAML 1.1\n---\nv: [1.0, 017]\n",
    "a directive after a comment": "# x\n%YAML 1.1\n---\nv: [1.0, 019]\n",   # 019: a string to YAML 1.1
    "a CR alone": "a: [1.5, 2.5]\rb: [3, 4]\r\nc: [5.5,\r 6.5]\nd: 1\n",
    "a CR alone in a list": "c: [5.5,\r6.5]\nd: [1,\r\n 2]\ne: 1\n",
    "many small rows": "v: [" + ", ".join(["[1.5, 2]"] * 300) + "]\nw: [" + ", ".join(["[1, 2]"] * 300) + "]\n",
    "a stray bracket": "v: [a, [" + ", ".join(["0.5"] * 300) + "]]\nw: x]\n",
}


@pytest.mark.parametrize("name", list(CASES))
def test_texts_read_the_same(every_list, name):
    both(CASES[name])


@pytest.mark.parametrize("text", [
    "[1.0, 2.0]: x\n",                                  # a list as a key
    "v: [1.0,\n  2.0]: x\n",                            # a multi-line list as a key: a syntax error
    "v: [1.0, 2.0] extra\n",
    "v: [1.0, 2.0]\nv: [3.0]\n",                        # duplicate key after a list
    "v: [1.0, 2.0\nw: 1\n",                             # unclosed
    "a: &x [1.0, 2.0]\n",                               # an anchor on a list
    "v: [[" + ", ".join(["0.5"] * 300) + "], [1.0\n",  # an unclosed list around a closed one
    "v: !!python/object [1.0, 2.0]\n",
    "v: [1.0, 2.0]\n---\nw: [3.0]\n",
])
def test_errors_are_the_same(every_list, text):
    slow, fast = errors(text)
    assert fast == slow


def test_depth_limit_counts_the_lists_read_by_numpy(every_list):
    deep = "v: " + "[" * 101 + "1.0" + "]" * 101 + "\n"
    slow, fast = errors(deep)
    assert fast == slow and "nested more than 100" in fast
    ok = "v: " + "[" * 99 + "1.0" + "]" * 99 + "\n"
    both(ok)


def test_every_float_reads_back_bit_for_bit(scan):
    """The shortest repr of float64 values of every kind (subnormal, huge, float32 widened, negative zero)
    through the fast path and through float()."""
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**64, size=40_000, dtype=np.uint64).view(np.float64)
    values = np.concatenate([
        bits[np.isfinite(bits)],
        rng.standard_normal(20_000), rng.standard_normal(20_000).astype(np.float32).astype(np.float64),
        rng.standard_normal(5_000) * 1e-310, np.array([0.0, -0.0, 5e-324, 1.7976931348623157e308, 1e22, 1e23]),
    ])
    rows = values[: len(values) // 100 * 100].reshape(-1, 100)
    text = "v: " + flow(rows) + "\n"
    data, pos = load_yaml(text, "t.yaml")
    assert "v" in [p[0] for p in pos.lists]                 # read by NumPy, in one piece
    assert isinstance(data["v"], NumberList) and data["v"].array.shape == rows.shape
    assert data["v"].array.tobytes() == rows.tobytes()
    if scan == "numpy":   # ruamel's reading of 80,000 numbers takes seconds: once is enough
        slow, _ = load_yaml(text, "t.yaml", fast=False)
        same(data, slow)
    else:                 # the lists as ruamel builds them: Python floats, the same bits
        same(data["v"], rows.tolist())


def test_a_bad_number_in_a_big_list_is_placed_where_it_is(tmp_path, scan):
    """A scenario whose weights are inline, one number of them bad: the loader's message names its line and
    column; the other rows are still read by NumPy."""
    rows = np.round(np.random.default_rng(1).standard_normal((40, 300)), 6)
    lines = [flow(r) for r in rows]
    lines[17] = lines[17].replace(", ", ", true, ", 1).replace(", ", ", ", 0)
    lines[17] = lines[17][:-1] + "]"
    text = ("version: 1\ninput: {values: [[0.5], [0.25]]}\nmodel:\n  - {type: dense, units: 300}\n"
            "weights:\n  init: none\n  set:\n    0.weight: [\n" + ",\n".join("      " + l for l in lines) + "]\n"
            "    0.bias: [" + ", ".join(["0.0"] * 300) + "]\nloss: {kind: sum}\n")
    text = text.replace("0.weight: [", "0.weight: [", 1)
    f = tmp_path / "w.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    msg = str(exc.value)
    line_no = 9 + 17
    col = text.splitlines()[line_no - 1].index("true") + 1
    assert f"w.yaml:{line_no}:{col}" in msg and "weights.set.0.weight[17][1]" in msg and "True" in msg, msg
    _, pos = load_yaml(text, str(f))
    assert len(pos.lists) == 40 - 1 + 1   # every row but the bad one, and the bias, read by NumPy


def test_a_shape_error_points_into_the_list(tmp_path, scan):
    """A list of the wrong shape read by NumPy: the message is the one ruamel's reading gives, at the list."""
    bias = ", ".join(repr(v) for v in np.linspace(0, 1, 299))
    text = ("version: 1\ninput: {values: [[0.5], [0.25]]}\nmodel:\n  - {type: dense, units: 300}\n"
            "weights:\n  init: constant\n  set:\n    0.bias: [" + bias + "]\nloss: {kind: sum}\n")
    f = tmp_path / "s.yaml"
    f.write_text(text)
    msgs = []
    for fast in (False, True):
        from rnntui.scenario import yaml_source

        orig = yaml_source.load_yaml
        try:
            yaml_source_load = (lambda t, fl, fast=fast, **kw: orig(t, fl, fast=fast, **kw))
            import rnntui.scenario.loader as loader

            loader.load_yaml = yaml_source_load
            with pytest.raises(ScenarioError) as exc:
                load_scenario(f)
        finally:
            loader.load_yaml = orig
        msgs.append(str(exc.value))
    assert msgs[0] == msgs[1] and "s.yaml:8:" in msgs[1]


def test_inline_weights_load_as_from_a_file(tmp_path, scan):
    """The same weights inline and in a .safetensors file: the same parameters, bit for bit."""
    import torch
    import rnntui
    from rnntui.torch_bridge import text as text_mod

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(4, 80, batch_first=True)   # 27,520 numbers: past INLINE_PARAMS
    x = torch.randn(2, 3, 4)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = lstm

        def forward(self, x):
            return self.rnn(x)[0]

    rnntui.from_torch(M(), x).save_scenario(tmp_path / "file.yaml")
    keep, text_mod.INLINE_PARAMS = text_mod.INLINE_PARAMS, 10**9
    try:
        rnntui.from_torch(M(), x).save_scenario(tmp_path / "inline.yaml")
    finally:
        text_mod.INLINE_PARAMS = keep
    a, b = load_scenario(tmp_path / "file.yaml"), load_scenario(tmp_path / "inline.yaml")
    assert not (tmp_path / "inline.safetensors").exists()
    for k in a.params:
        assert a.params[k].tobytes() == b.params[k].tobytes(), k
    _, pos = load_yaml((tmp_path / "inline.yaml").read_text(), "inline.yaml")
    assert len(pos.lists) >= 4   # each weight read by NumPy


@pytest.mark.parametrize("text", [
    "v: " + "[" * 1_000_000,                            # nested past any limit, never closed
    "v: " + "[a" * 500_000 + "]",                       # a million brackets, one `]` at the end
    ("1" * 398 + "x") * 2_500,                          # runs one character short of a list worth reading
    "v: " + "[1111111111" * 100_000,
    "v: " + "[1]]" * 200_000,                           # a stray `]` after every list
    "v: " + "[[1, 2]" * 100_000,                        # lists inside lists left open, level after level
], ids=["open-brackets", "one-far-close", "short-runs", "digit-runs", "strays", "open-levels"])
def test_hostile_texts_are_scanned_in_linear_time(text, scan):
    """What the scan costs stays a pass over the text (it once walked from every `[` to the far `]`)."""
    import time

    t0 = time.perf_counter()
    fast_numbers.reduce(text)
    assert time.perf_counter() - t0 < 5.0


@pytest.mark.parametrize("text", [
    "v: [1.0, 2.0]\nw: \x07\n", "v: [1.0,\x0c 2.0]\n", "v: [1.0, 2.0]\x7f\n", "v:\t[1.0, 2.0]\x00\n",
    "v: [1.0, 2.0]\nw: caf\u00e9\x1b\n",
])
def test_control_characters_are_refused_where_they_are(every_list, text):
    """The compiled scan checks the characters as it reads (load_yaml then skips its own pass): the same message."""
    slow, fast = errors(text)
    assert fast == slow and "control character" in fast


def test_arrays_are_handed_over_where_the_caller_reads_only_arrays(every_list):
    """`load_yaml(arrays=...)`: under those keys a list read by the fast path is its array (no Python numbers
    built: the loader does this for `weights.set`); elsewhere, and by default, the lists ruamel would build."""
    text = ("input: {values: [[0.5, 1.5], [2.5, 3.5]]}\nweights:\n  set:\n    a: [[1.5, -2.0e-05], [3, 4.0]]\n"
            "    b: [1, 2, 3]\n    c: [[1.0, 2.0], [3.0]]\n")
    plain, _ = load_yaml(text, "t.yaml")
    data, pos = load_yaml(text, "t.yaml", arrays=(("weights", "set"),))
    same(data["input"], plain["input"])
    assert isinstance(data["input"]["values"], NumberList)
    a, b = data["weights"]["set"]["a"], data["weights"]["set"]["b"]
    assert isinstance(a, np.ndarray) and a.dtype == np.float64 and a.tobytes() == plain["weights"]["set"]["a"].array.tobytes()
    assert isinstance(b, np.ndarray) and b.dtype == np.int64 and b.tolist() == [1, 2, 3]
    assert pos.lists[("weights", "set", "a")].parsed._value is None   # its Python numbers never built
    rows = data["weights"]["set"]["c"]   # ragged: each row read on its own, each an array
    assert isinstance(rows, list) and [r.tolist() for r in rows] == [[1.0, 2.0], [3.0]]
    from rnntui.scenario.arrays import NotNumbers, numbers
    assert numbers(a).tobytes() == numbers(plain["weights"]["set"]["a"]).tobytes()
    with pytest.raises(NotNumbers, match="ragged"):
        numbers(rows)


@pytest.mark.parametrize("text", ["a: [1.5, 2.5]\nb: [3, 4]\n", "n: \"caf\u00e9 \u2013\"\na: [1.5, 2.5]\nb: [3, 4]\n"])
def test_the_bytes_the_loader_read_give_the_same(every_list, text):
    """load_yaml(raw=...) takes the file's bytes for an ASCII text (not encoded again), and encodes a text that is
    not ASCII itself (its UTF-8 bytes are not one a character): the same data and positions either way."""
    data, pos = both(text)
    again, again_pos = load_yaml(text, "t.yaml", raw=text.encode("utf-8"))
    same(again, data)
    assert again_pos.where == pos.where and set(again_pos.lists) == set(pos.lists) == {("a",), ("b",)}
    for path in [("a", 1), ("b", 0)]:
        assert again_pos.of(path) == pos.of(path)
