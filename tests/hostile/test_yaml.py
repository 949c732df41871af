"""YAML family: whatever the nesting, anchors, tags, integers or bytes, the reader answers at once with
plain data or one ScenarioError with a line; it never recurses, expands an alias or builds a tagged object."""
from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from rnntui.errors import ScenarioError
from rnntui.scenario.yaml_source import MAX_DEPTH, load_yaml

from tests.hostile.common import refused, invoke


def _load(text: str):
    try:
        return load_yaml(text, "f.yaml")[0], None
    except ScenarioError as exc:
        assert len(exc.problems) == 1 and exc.problems[0].line is not None, str(exc)
        assert "\n" not in str(exc)
        return None, exc


@settings(max_examples=20, deadline=None)
@given(depth=st.integers(1, 3_000), flow=st.booleans())
def test_any_nesting_depth_is_answered_without_recursion(depth, flow):
    if flow:
        text = "a: " + "[" * depth + "1" + "]" * depth + "\n"
    else:
        text = "".join("  " * i + "- \n" for i in range(min(depth, 3000))).rstrip() + " 1\n"
    data, exc = _load(text)
    if depth > MAX_DEPTH + 1:
        assert exc is not None and "nested more than" in str(exc)


@settings(max_examples=40, deadline=None)
@given(width=st.integers(1, 50), levels=st.integers(1, 12), anchor=st.from_regex(r"[a-z]{1,5}", fullmatch=True))
def test_alias_bombs_are_refused_at_the_first_anchor(width, levels, anchor):
    lines = [f"l0: &{anchor}0 [" + ", ".join(["x"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &{anchor}{i} [" + ", ".join([f"*{anchor}{i - 1}"] * width) + "]")
    start = time.perf_counter()
    data, exc = _load("\n".join(lines) + "\n")
    assert exc is not None and "anchors and aliases are not allowed" in str(exc)
    assert exc.problems[0].line == 1
    assert time.perf_counter() - start < 1.0


@settings(max_examples=60, deadline=None)
@given(tag=st.one_of(st.sampled_from(["!!int", "!!str", "!!omap", "!!set", "!!binary", "!!float", "!!python/name:os.system",
                                      "!0", "!", "!custom", "!<tag:yaml.org,2002:int>"]),
                     st.from_regex(r"![a-z0-9]{1,8}", fullmatch=True)),
       where=st.sampled_from(["root", "value", "item", "key"]))
def test_every_explicit_tag_is_refused(tag, where):
    text = {"root": f"{tag} 1\n", "value": f"a: {tag} '2'\n", "item": f"a: [1, {tag} 2]\n",
            "key": f"{tag} k: 1\n"}[where]
    data, exc = _load(text)
    assert exc is not None and "tags are not allowed" in str(exc), (text, data)


@settings(max_examples=40, deadline=None)
@given(digits=st.integers(1, 6_000), sign=st.sampled_from(["", "-", "+"]))
def test_integers_of_any_length_are_read_or_refused(digits, sign):
    data, exc = _load(f"seed: {sign}{'9' * digits}\n")
    if digits <= 100:
        assert data == {"seed": int(sign + "9" * digits)}
    else:
        assert exc is not None and f"{digits:,} digits" in str(exc)


@settings(max_examples=60, deadline=None)
@given(code=st.sampled_from([c for c in range(0x00, 0xa0) if c not in (0x09, 0x0a, 0x0d, 0x85) and (c < 0x20 or c >= 0x7f)]),
       line=st.integers(1, 5))
def test_control_bytes_are_refused_with_their_line(code, line):
    text = "a: 1\n" * (line - 1) + f"b: x{chr(code)}y\n"
    data, exc = _load(text)
    assert exc is not None and exc.problems[0].line == line and "control character" in str(exc)
    assert exc.problems[0].column == 5


def test_nul_byte_through_the_cli(tmp_path):
    path = tmp_path / "nul.yaml"
    path.write_bytes(b"input: {values: [[1], [2]]}\nmodel: [{type: rnn,\x00 hidden_size: 2}]\n")
    lines = refused(invoke("validate", str(path)))
    assert f"{path}:2:20: found the control character '\\x00'" in lines[0]


def test_unclosed_bracket_names_both_places():
    _, exc = _load("a: 1\nb: [1, 2\nc: 3\n")
    p = exc.problems[0]
    assert (p.line, p.column) == (3, 2) and "opened with '[' at line 2, column 4" in p.message
    _, exc = _load("a: 1\nb: [1, 2\n")  # the file ends inside it: shown where it opened
    p = exc.problems[0]
    assert p.line == 2 and "never closed" in p.message and "end of the file, line 3" in p.message
