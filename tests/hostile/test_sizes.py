"""Sizes family: any size, however large, is refused before anything of that size is allocated, with
the estimate and the limit; what fits loads. Loading alone (no run) keeps these fast."""
from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnntui.errors import ScenarioError
from rnntui.scenario import load_scenario

LIMIT = 1 << 24  # 16 MiB: anything above is refused, so nothing here can allocate much

TEMPLATES = {
    "hidden_size": "input: {{values: [[1], [2]]}}\nmodel: [{{type: lstm, hidden_size: {n}}}]\n",
    "num_layers": "input: {{values: [[1], [2]]}}\nmodel: [{{type: gru, hidden_size: 3, num_layers: {n}}}]\n",
    "units": "input: {{values: [[1], [2]]}}\nmodel: [{{type: rnn, hidden_size: 3}}, {{type: dense, units: {n}}}]\n",
    "out_channels": "input: {{generate: {{kind: digit}}}}\nmodel: [{{type: conv2d, out_channels: {n}, kernel_size: 3}}]\n",
    "length": "input: {{generate: {{kind: sine, length: {n}}}}}\nmodel: [{{type: rnn, hidden_size: 2}}]\n",
    "batch": "input: {{generate: {{kind: noise, batch: {n}}}}}\nmodel: [{{type: rnn, hidden_size: 2}}]\n",
    "features": "input: {{generate: {{kind: constant, features: {n}}}}}\nmodel: [{{type: rnn, hidden_size: 2}}]\n",
    "digits": "input: {{generate: {{kind: digit, batch: {n}}}}}\nmodel: [{{type: flatten}}]\n",
    "one-to-many": "mode: one-to-many\nlength: {n}\ninput: {{values: [[1, 2]]}}\nmodel: [{{type: rnn, hidden_size: 2}}]\n",
}


@settings(max_examples=80, deadline=None)
@given(key=st.sampled_from(sorted(TEMPLATES)), exponent=st.integers(0, 40), mantissa=st.integers(1, 9))
def test_any_size_is_loaded_or_refused_at_once(tmp_path_factory, key, exponent, mantissa):
    n = mantissa * 10 ** exponent
    path = tmp_path_factory.mktemp("size") / "s.yaml"
    path.write_text(TEMPLATES[key].format(n=n))
    start = time.perf_counter()
    try:
        sc = load_scenario(path, max_memory=LIMIT)
    except ScenarioError as exc:
        assert len(exc.problems) == 1 and exc.problems[0].line is not None, str(exc)
        msg = exc.problems[0].message
        assert ("memory limit of 16.0 MiB" in msg) or ("less than or equal to" in msg), msg
    else:
        held = sc.x.nbytes + sum(p.nbytes for p in sc.params.values())
        assert held <= LIMIT
    assert time.perf_counter() - start < 3


def test_text_one_hot_is_estimated_before_it_is_made(tmp_path):
    symbols = "".join(chr(0x4E00 + i) for i in range(20_900))  # 20,900 distinct characters
    text = (symbols * 5)[:100_000]
    path = tmp_path / "s.yaml"
    path.write_text(f"input: {{text: '{text}', tokenize: chars}}\nmodel: [{{type: rnn, hidden_size: 2}}]\n",
                    encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, max_memory=1 << 30)
    assert "input.text: the one-hot input of 100,000 tokens over 20,900 symbols would take 15.6 GiB" in str(info.value)


def test_a_text_that_fits_is_one_hot(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("input: {text: 'abcab', tokenize: chars}\nmodel: [{type: rnn, hidden_size: 2}]\n")
    sc = load_scenario(path)
    assert sc.x[:, 0, :].tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]]


def test_num_layers_huge_is_refused_instantly(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("input: {values: [[1]]}\nmodel: [{type: gru, hidden_size: 2, num_layers: 1000000000000000000000}]\n")
    start = time.perf_counter()
    with pytest.raises(ScenarioError, match="num_layers"):
        load_scenario(path)
    assert time.perf_counter() - start < 1


def test_the_input_and_the_parameters_count_against_one_limit(tmp_path):
    """Each fits alone (16.0 MB of input, 1.6 MB of weights) but not both (found by hypothesis)."""
    path = tmp_path / "s.yaml"
    path.write_text(TEMPLATES["features"].format(n=100_000))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path, max_memory=LIMIT)
    assert "beside the input's 15.3 MiB, more than the memory limit of 16.0 MiB" in str(exc.value)
