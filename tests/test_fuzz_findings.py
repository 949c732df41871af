"""Regressions found by the fuzz campaign (benchmarks/fuzz.py); each names the case that found it."""
from __future__ import annotations

import re

import pytest

from rnntui.scenario import load_scenario
from rnntui.scenario.bundled import bundled
from rnntui.scenario.yaml_source import load_yaml

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_folded_scalar_reads_as_the_yaml_spec_folds_it():
    # ruamel's round-trip scanner marks each fold with '\a' (BEL); it reached descriptions raw
    data, _ = load_yaml("d: >\n  one\n  two\n\n  three\n", "f.yaml")
    assert data["d"] == "one two\nthree\n"


@pytest.mark.parametrize("name", sorted(bundled()))
def test_bundled_descriptions_hold_no_control_character(name):
    sc = load_scenario(bundled()[name])
    assert not CONTROL.search(sc.description), repr(sc.description)


def test_step_norms_of_huge_weights_are_computed_not_a_crash():
    # fuzz case 18350: recurrent_gain 6e306 made JᵀJ overflow in Lanczos; eigvalsh raised LinAlgError
    import numpy as np

    from rnntui.engine.spectral import step_spectral_norms

    rng = np.random.default_rng(0)
    H = 6
    small = rng.uniform(-1, 1, (1, H, H))
    D = rng.uniform(0.1, 1, (4, 2, H))
    big = 2.0 ** 1000  # exact scaling: the reference is the small problem's norm times big
    got = step_spectral_norms(None, D, small * big)
    want = np.array([[np.linalg.norm(np.diag(D[s, b]) @ small[0], 2) for b in range(2)] for s in range(4)]) * big
    np.testing.assert_allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize("where", ["weights: {init: normal, std: -0.0}",
                                   "input: {generate: {kind: noise, std: -0.0}}"])
def test_a_std_of_minus_zero_is_a_std_of_zero(tmp_path, where):
    # fuzz case 15692: std -0.0 passes ge=0, and numpy's normal() refused it with ValueError
    import rnntui

    text = "input: {generate: {kind: sine, length: 3}}\nmodel: [{type: rnn, hidden_size: 2}]\n"
    text = "\n".join([where] + [ln for ln in text.splitlines() if ln.split(":")[0] != where.split(":")[0]]) + "\n"
    path = tmp_path / "s.yaml"
    path.write_text(text)
    trace = rnntui.run(path, max_memory=1 << 26)
    key = "param.0.weight_ih_l0" if where.startswith("weights") else "input"
    assert key in trace and not trace[key].any()


@pytest.mark.parametrize("where", ["input: {file: NAME}", "input: {values: [1, 2]}\nweights: {file: NAME.npz}"])
def test_a_file_name_too_long_for_the_file_system_is_refused(tmp_path, where):
    # fuzz case 18329: Path.exists() raised OSError (ENAMETOOLONG) past the refusal
    from tests.hostile.common import invoke, refused

    path = tmp_path / "s.yaml"
    path.write_text(where.replace("NAME", "x" * 300) + "\nmodel: [{type: rnn, hidden_size: 2}]\n")
    lines = refused(invoke("validate", str(path)))
    assert any("File name too long" in ln and ".yaml:" in ln for ln in lines), lines


def test_the_report_escapes_control_characters_of_the_scenario(tmp_path):
    # fuzz case 31520: a text input's tokens (and the name, description, class names) reached `show` raw
    from tests.hostile.common import invoke

    path = tmp_path / "s.yaml"
    path.write_text('name: "n\\e[31mame"\ndescription: "d\\e]0;x\\aesc"\ninput: {text: "\\e[2J wipe it"}\n'
                    'model: [{type: rnn, hidden_size: 2}, {type: dense, units: 2}]\nclass_names: ["a\\e[1m", b]\n'
                    "loss: {kind: cross_entropy, target: [0, 1, 1, 0, 1]}\n")
    result = invoke("show", str(path))
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.output.replace("\n", "")), [ln for ln in result.output.splitlines()
                                                                 if CONTROL.search(ln)][:3]
    for shown in ("n\\x1b[31mame", "d\\x1b]0;x\\x07esc", "\\x1b", "a\\x1b[1m"):
        assert shown in result.output, shown


def test_one_to_many_from_a_text_input_is_reported(tmp_path):
    # fuzz seed 1 case 76720: one token unrolled for 4 steps; the report read tokens[1] and raised IndexError
    from tests.hostile.common import invoke

    path = tmp_path / "s.yaml"
    path.write_text("mode: one-to-many\nlength: 4\ninput: {text: hello}\n"
                    "model: [{type: lstm, hidden_size: 2}, {type: dense, units: 1}]\n")
    result = invoke("show", str(path))
    assert result.exit_code == 0, result.output
    assert "hello" in result.output
