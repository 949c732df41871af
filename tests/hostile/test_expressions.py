"""Expressions family: long flat chains, nesting, characters no expression holds, and refusals without a
default place: each works or is refused with the rnntui message first, naming what and why."""
from __future__ import annotations

import numpy as np
import pytest

import rnntui
from rnntui.expr.bound import bind
from rnntui.expr.grammar import MAX_DEPTH, parse
from tests.hostile.common import invoke, refused


@pytest.fixture(scope="module")
def bptt():
    return rnntui.run("bptt")


def test_330_chained_additions_are_one_level_and_add_up(bptt):
    text = " + ".join(["norm(h)"] * 330)
    values = bind(text + " @model.0.l0.fwd", bptt).values
    h = bptt["model.0.l0.fwd.h"]
    norm = np.sqrt((h * h).sum(axis=(1, 2)))
    want = norm
    for _ in range(329):
        want = want + norm   # left to right, as written
    assert values.tolist() == want.tolist()
    result = invoke("check", "bptt", "--assert", text + " >= 0")
    assert result.exit_code == 0, result.output


def test_mixed_signs_in_a_chain_keep_their_order(bptt):
    text = " - ".join(["t"] * 200) + " + T * 2 / 4"
    values = bind(text + " @model.0.l0.fwd", bptt).values
    t = np.arange(bptt.info.T, dtype=np.float64)
    want = t.copy()
    for _ in range(199):
        want = want - t
    assert values.tolist() == (want + bptt.info.T * 2 / 4).tolist()


def test_165_chained_ands_are_one_level(bptt):
    text = " and ".join(["norm(h) > 0"] * 164 + ["t < 5"])
    tree = parse(text).root
    assert tree.op == "and" and len(tree.operands) == 165
    assert bind(text + " @model.0.l0.fwd", bptt).holds.tolist() == [t < 5 and True for t in range(bptt.info.T)]
    result = invoke("check", "bptt", "--assert", " and ".join(["norm(h) > 0"] * 165))
    assert result.exit_code == 0, result.output


def test_real_nesting_is_refused_naming_the_limit():
    lines = refused(invoke("check", "bptt", "--assert", "(" * (MAX_DEPTH + 1) + "h" + ")" * (MAX_DEPTH + 1) + " > 0"))
    assert f"found expressions nested more than {MAX_DEPTH} deep (parentheses, calls and operators inside each " \
           f"other); expected at most {MAX_DEPTH} levels" in lines[0]


def test_a_nul_through_the_api_is_an_expression_error(bptt):
    with pytest.raises(rnntui.ExprError) as err:
        rnntui.check(bptt, "norm(h) \x00> 0")
    assert isinstance(err.value, rnntui.RnntuiError) and err.value.column == 9
    assert "found the character '\\x00'; expected printable text on one line" in str(err.value)


def test_a_byte_that_is_not_utf8_on_the_command_line_is_escaped():
    """argv's undecodable bytes reach Python as lone surrogates (surrogateescape): shown as escapes."""
    lines = refused(invoke("check", "bptt", "--assert", "norm(h) > \udcff"))
    assert "found the character '\\udcff'" in lines[0] and lines[1].endswith("\\udcff")


def test_a_refusal_without_a_default_place_says_rnntui_first():
    lines = refused(invoke("check", "cnn-digit", "--assert", "norm(h) > 0"))
    assert lines[0].startswith("rnntui: expression error: --assert 1 ('norm(h) > 0'), column 12: found no @place, and "
                               "this model has no recurrent place to check by default")
    assert lines[1:] == ["  norm(h) > 0", "             ^"]
