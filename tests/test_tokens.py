"""Token inputs on the input side: vocabularies in each form, ids, one-hot encoding, batches of different
lengths (padding and `lengths`), `unknown`, and what the trace records (`tokens`, `token_ids`)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import rnntui
from rnntui.errors import ScenarioError
from rnntui.scenario.loader import load_scenario

VOCAB = ["<pad>", "<unk>", "the", "cat", "sat", "."]
EMB = "{type: embedding, num_embeddings: 6, embedding_dim: 2}"


def load(tmp_path, text: str, files: dict | None = None):
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


@pytest.mark.parametrize("vocab,files", [
    (json.dumps(VOCAB), {}),
    ("v.json", {"v.json": json.dumps(VOCAB)}),
    ("v.json", {"v.json": json.dumps({tok: i for i, tok in reversed(list(enumerate(VOCAB)))})}),  # a map, any order
    ("v.txt", {"v.txt": "\n".join(VOCAB) + "\n"}),
    ("v.txt", {"v.txt": "\r\n".join(VOCAB)}),  # Windows line ends, no final newline
], ids=["inline", "json-list", "json-map", "txt", "txt-crlf"])
def test_every_vocabulary_form_gives_the_same_ids(tmp_path, vocab, files):
    sc = load(tmp_path, f"input: {{text: 'the cat sat on the cat .', vocab: {vocab}, unknown: '<unk>'}}\n"
                        f"model: [{EMB}, {{type: rnn, hidden_size: 2}}]\n", files)
    assert sc.vocab == tuple(VOCAB)
    assert sc.token_ids.tolist() == [2, 3, 4, 1, 2, 3, 5]          # "on" is unknown: id 1
    assert list(sc.tokens) == ["the", "cat", "sat", "on", "the", "cat", "."]
    assert sc.x.shape == (7, 1, 1) and sc.x[:, 0, 0].tolist() == [2, 3, 4, 1, 2, 3, 5]  # ids, for the embedding
    assert sc.lengths is None


def test_without_an_embedding_ids_are_one_hot_over_the_vocabulary(tmp_path):
    sc = load(tmp_path, f"input: {{text: 'cat sat', vocab: {json.dumps(VOCAB)}}}\nmodel: [{{type: gru, hidden_size: 2}}]\n")
    assert sc.x.shape == (2, 1, 6)
    assert np.array_equal(sc.x[:, 0], np.eye(6)[[3, 4]])


def test_tokens_without_a_vocabulary_are_one_hot_over_max_id_plus_one(tmp_path):
    sc = load(tmp_path, "input: {tokens: [5, 2, 9]}\nmodel: [{type: rnn, hidden_size: 2}]\n")
    assert sc.x.shape == (3, 1, 10) and np.array_equal(sc.x[:, 0], np.eye(10)[[5, 2, 9]])
    assert list(sc.tokens) == ["5", "2", "9"] and sc.vocab is None


def test_a_ragged_batch_of_ids_is_padded_with_id_0_and_has_lengths(tmp_path):
    sc = load(tmp_path, f"input: {{tokens: [[5, 2, 4], [4], [1, 3]]}}\nmodel: [{EMB}, {{type: lstm, hidden_size: 2}}]\n")
    assert sc.x.shape == (3, 3, 1)
    assert sc.x[..., 0].T.tolist() == [[5, 2, 4], [4, 0, 0], [1, 3, 0]]
    assert sc.lengths.dtype == np.int64 and sc.lengths.tolist() == [3, 1, 2]
    assert sc.token_ids.T.tolist() == [[5, 2, 4], [4, -1, -1], [1, 3, -1]]   # -1: no token there
    assert sc.tokens.T.tolist() == [["5", "2", "4"], ["4", "", ""], ["1", "3", ""]]


def test_a_batch_of_texts_one_hot_has_zero_vectors_where_padded(tmp_path):
    sc = load(tmp_path, "input: {text: ['I like apple.', 'It is very healthy.']}\n"
                        "model: [{type: rnn, hidden_size: 2}]\n")
    assert sc.x.shape == (5, 2, len(sc.vocab)) and sc.lengths.tolist() == [4, 5]
    assert np.all(sc.x[4, 0] == 0) and sc.x[4, 1].sum() == 1 and np.all(sc.x[:4].sum(axis=2) == 1)
    assert sc.tokens[:, 0].tolist() == ["I", "like", "apple", ".", ""]
    assert sorted(sc.vocab) == list(sc.vocab)  # version 1: the texts' own sorted vocabulary


def test_equal_lengths_give_no_lengths_and_the_trace_records_tokens_per_sample(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(f"input: {{text: ['the cat', 'cat sat'], vocab: {json.dumps(VOCAB)}}}\n"
                    f"model: [{EMB}, {{type: gru, hidden_size: 2}}]\n")
    assert load_scenario(path).lengths is None
    trace = rnntui.run(path)
    assert trace["tokens"].shape == (2, 2) and trace["tokens"][:, 1].tolist() == ["cat", "sat"]
    assert trace["token_ids"].tolist() == [[2, 3], [3, 4]]
    assert list(trace["meta.vocab"]) == VOCAB
    assert trace["input"].shape == (2, 2, 1)


def test_the_report_lists_tokens_with_their_ids(tmp_path):
    from rnntui.render.report import ReportOptions, write_report

    path = tmp_path / "s.yaml"
    path.write_text(f"input: {{text: ['the cat', 'sat .'], vocab: {json.dumps(VOCAB)}}}\n"
                    f"model: [{EMB}, {{type: gru, hidden_size: 2}}]\n")
    write_report(rnntui.run(path), tmp_path / "r.txt", "txt", ReportOptions())
    text = (tmp_path / "r.txt").read_text()
    assert "tokens of sample 0: [0]the#2 [1]cat#3" in text
    assert "tokens of sample 1: [0]sat#4 [1].#5" in text


@pytest.mark.parametrize("files,message", [
    ({"v.txt": "a\n\nb\n"}, "line 2 is empty"),
    ({"v.txt": "a\nb\na\n"}, "is both line 1 of v.txt and line 3 of v.txt"),
    ({"v.json": '{"a": 0, "b": 2}'}, "no token has id 1"),
    ({"v.json": '{"a": 0, "b": 0}'}, "both have id 0"),
    ({"v.json": "[1, 2]"}, "expected a token as text"),
    ({"v.json": "{bad"}, "not JSON"),
])
def test_a_bad_vocabulary_file_is_refused_with_its_reason(tmp_path, files, message):
    name = next(iter(files))
    with pytest.raises(ScenarioError) as info:
        load(tmp_path, f"input: {{text: 'a b', vocab: {name}}}\nmodel: [{{type: rnn, hidden_size: 2}}]\n", files)
    assert message in str(info.value) and "s.yaml:1:" in str(info.value)
