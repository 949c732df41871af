"""Terminal family: whatever a file holds in its keys, values or name, no control character reaches the
terminal and every problem stays on one line."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from rnntui.errors import Problem, printable

from tests.hostile.common import CONTROL, invoke, refused

controls = st.text(alphabet=st.sampled_from([chr(c) for c in (*range(0, 32), *range(127, 160))] + ["\u2028", "a", "["]),
                   min_size=1, max_size=8)


@given(st.text(max_size=40))
def test_printable_leaves_no_control_character_and_no_line_break(text):
    out = printable(text)
    assert not CONTROL.search(out) and len(out.splitlines()) <= 1 and "\n" not in out
    if not CONTROL.search(text) and "\t" not in text and "\n" not in text and "\r" not in text:
        assert out == text


@settings(max_examples=40, deadline=None)
@given(key=controls, value=controls, where=st.sampled_from(["entry", "top", "set", "type"]))
def test_control_characters_in_keys_and_values_are_escaped(tmp_path_factory, key, value, where):
    data = {"input": {"values": [[1], [2]]}, "model": [{"type": "rnn", "hidden_size": 2}]}
    if where == "entry":
        data["model"][0][key] = value
    elif where == "top":
        data[key] = value
    elif where == "set":
        data["weights"] = {"set": {key: value}}
    else:
        data["model"][0]["type"] = key + value
    path = tmp_path_factory.mktemp("term") / "s.yaml"
    path.write_text(json.dumps(data))  # JSON escapes: the YAML reader makes them control characters again
    lines = refused(invoke("validate", str(path)))
    problems = [ln for ln in lines if str(path) in ln]
    assert problems and all(ln.count(f"{path}:") == 1 for ln in problems), lines


def test_a_scenario_name_cannot_retitle_the_window(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text('name: "\\e]0;pwned\\a"\ninput: {values: [[1], [2]]}\nmodel: [{type: rnn, hidden_size: 2}]\n')
    result = invoke("validate", str(path))
    assert result.exit_code == 0 and "\x1b" not in result.output and "\\x1b]0;pwned\\x07" in result.output


def test_problem_lines_escape_everything():
    p = Problem("a\x1b.yaml", 1, 2, "k\nj", "found '\x9b31m'")
    assert str(p) == "a\\x1b.yaml:1:2: k\\nj: found '\\x9b31m'"


def test_library_warnings_do_not_print(tmp_path):
    import numpy as np

    np.save(tmp_path / "x.npy", np.array([1 + 2j, 3 + 0j]))
    path = tmp_path / "s.yaml"
    path.write_text("input: {file: x.npy}\nmodel: [{type: rnn, hidden_size: 2}]\n")
    lines = refused(invoke("validate", str(path)))   # validate: the problem, then what it left unchecked
    assert len(lines) == 3 and "complex numbers" in lines[1] and "not checked until" in lines[2]
    assert "Warning" not in "\n".join(lines)
    lines = refused(invoke("show", str(path)))
    assert len(lines) == 1 and "complex numbers" in lines[0] and "Warning" not in lines[0]
