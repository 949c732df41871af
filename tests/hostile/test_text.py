"""Text family: what a vocabulary file, a scenario's strings or a saved trace hold that no terminal or
UTF-8 file can take (half a UTF-16 surrogate pair), and numbers Python refuses to read (an id of 5,000
digits). Each is refused at load with one line naming the file and the entry, for every command that
prints it; a surrogate pair that stands for one character is that character."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.hostile.common import PROBLEM, invoke, refused

SCENARIO = """\
version: 1
name: vocabulary
seed: 5
mode: many-to-many
input:
  tokens: [0, 1, 2]
  vocab: {vocab}
model:
  - {{type: embedding, num_embeddings: 3, embedding_dim: 2}}
  - {{type: gru, hidden_size: 2}}
"""
COMMANDS = [("show",), ("export", "-o", "{tmp}/r.txt"), ("export", "-o", "{tmp}/r.html"), ("export", "-o", "{tmp}/r.svg"),
            ("export", "-o", "{tmp}/t.npz")]


def _refused_everywhere(tmp_path, scenario, *said: str) -> None:
    for command in COMMANDS:
        args = [a.format(tmp=tmp_path) for a in command]
        lines = refused(invoke(args[0], str(scenario), *args[1:]))
        assert len(lines) == 1, lines
        assert all(s in lines[0] for s in said), lines[0]
        assert not [p for p in tmp_path.iterdir() if p.suffix in (".txt", ".html", ".svg", ".npz", ".tmp")]


def _with_vocab(tmp_path, text: str, name: str = "v.json"):
    (tmp_path / name).write_text(text, encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(vocab=name))
    return path


@pytest.mark.parametrize("text,said", [
    ('{"a": 0, "b": 1, "c": ' + "9" * 5000 + "}", "v.json: the id of 'c' is a number of 5,000 digits; expected a whole"),
    ('["a", "b", ' + "9" * 5000 + "]", "entry 2 of v.json is a number of 5,000 digits (int); expected a token as text"),
    ('["a", "b", [' + "9" * 5000 + "]]", "entry 2 of v.json is [a number of 5,000 digits]"),
], ids=["map", "list", "nested"])
def test_a_vocabulary_id_of_5000_digits(tmp_path, text, said):
    _refused_everywhere(tmp_path, _with_vocab(tmp_path, text), "s.yaml:7:3: input.vocab: ", said)


@pytest.mark.parametrize("text,said", [
    ('["a", "\\ud800", "c"]', "entry 1 of v.json holds \\ud800 at character 0, half of a UTF-16 surrogate pair"),
    ('["a", "x\\udc00", "c"]', "entry 1 of v.json holds \\udc00 at character 1"),
    ('{"a": 0, "\\ud800": 1, "c": 2}', "v.json: the token '\\ud800' holds \\ud800 at character 0"),
], ids=["list", "list-low-half", "map"])
def test_a_vocabulary_token_with_a_lone_surrogate(tmp_path, text, said):
    _refused_everywhere(tmp_path, _with_vocab(tmp_path, text), "s.yaml:7:3: input.vocab: ", said)


def test_a_surrogate_pair_in_a_vocabulary_is_its_character(tmp_path):
    path = _with_vocab(tmp_path, '["a", "\\ud83d\\ude00", "c"]')
    result = invoke("show", str(path))
    assert result.exit_code == 0, result.output
    assert "\U0001F600" in result.output


@pytest.mark.parametrize("old,new,where", [
    ("name: vocabulary", 'name: "bad \\ud800 name"', "2:7: name:"),
    ("seed: 5", 'seed: 5\ndescription: "\\udfff"', "4:14: description:"),
    ("seed: 5", 'seed: 5\n"\\ud800": 1', "4:1:"),
], ids=["name", "description", "key"])
def test_a_lone_surrogate_in_a_scenario_string(tmp_path, old, new, where):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(vocab="[a, b, c]").replace(old, new))
    lines = refused(invoke("show", str(path)))
    assert len(lines) == 1 and PROBLEM.match(lines[0])
    assert f"s.yaml:{where} found the escape \\u" in lines[0] and "half of a UTF-16 surrogate pair" in lines[0]


def test_a_lone_surrogate_in_a_text_input_and_an_inline_vocabulary(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(vocab='["a", "\\ud800", "c"]'))
    lines = refused(invoke("export", str(path), "-o", str(tmp_path / "r.txt")))
    assert "s.yaml:7:16: input.vocab[1]: found the escape \\ud800" in lines[0]


def test_a_surrogate_pair_in_a_scenario_string_is_its_character(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(vocab="[a, b, c]").replace("name: vocabulary", 'name: "smile \\ud83d\\ude00"'))
    result = invoke("show", str(path))
    assert result.exit_code == 0, result.output
    assert "smile \U0001F600" in result.output


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("trace") / "t.npz"
    assert invoke("export", "char-embedding", "-o", str(out)).exit_code == 0
    return dict(np.load(out))


def _bad_tokens(d):
    t = d["tokens"].copy()
    t[1] = "\ud800"
    return {**d, "tokens": t}


def _bad_name(d):
    layout = json.loads(str(d["meta.layout"]))
    layout["name"] = "bad \ud800"
    return {**d, "meta.layout": np.asarray(json.dumps(layout))}


@pytest.mark.parametrize("spoil,said", [(_bad_tokens, "tokens[1]: holds \\ud800 at character 0"),
                                        (_bad_name, "meta.layout.name: holds \\ud800 at character 4")])
def test_a_saved_trace_with_a_lone_surrogate(tmp_path, saved, spoil, said):
    path = tmp_path / "bad.npz"
    np.savez(path, **spoil(saved))
    for command in COMMANDS[:4]:
        args = [a.format(tmp=tmp_path) for a in command]
        lines = refused(invoke(args[0], str(path), *args[1:]))
        assert len(lines) == 1 and "bad.npz: not a trace rnntui can open: " + said in lines[0], lines


def test_printable_escapes_a_lone_surrogate():
    from rnntui.errors import printable

    assert printable("a\ud800b") == "a\\ud800b"
