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
