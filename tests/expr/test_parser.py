"""The grammar: what parses, what is refused and where, and that nothing reaches Python."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnntui.expr import ExprError, nodes, parse


def err(text: str) -> ExprError:
    with pytest.raises(ExprError) as e:
        parse(text)
    return e.value


def test_the_listed_forms_parse():
    e = parse("norm(dh) < 1e-3 @model.0.l1.bwd")
    assert e.place == "model.0.l1.bwd" and e.place_col == 17
    assert e.root == nodes.Compare(("<",), (nodes.Call("norm", nodes.Name("dh", 6), 1), nodes.Num(1e-3, 12)), 10)
    assert parse("h[:, 0:4]").root == nodes.Index(nodes.Name("h", 1), (slice(None), slice(0, 4)), 2)
    assert parse("h[3]").root.items == (3,)
    assert parse("h[-1, ::2]").root.items == (-1, slice(None, None, 2))
    assert parse("gates.f").root == nodes.Name("gates.f", 1)
    assert parse("-h ** 2").root == nodes.Unary("-", nodes.Binary("**", nodes.Name("h", 2), nodes.Num(2.0, 7), 4), 1)
    # precedence as in Python: not < and < or; comparisons chain
    r = parse("not a > 1 and b or c").root
    assert r.op == "or" and r.operands[0].op == "and" and r.operands[0].operands[0].op == "not"
    assert parse("0 < h <= 1").root.ops == ("<", "<=")
    assert parse("android + order").root.left == nodes.Name("android", 1)   # keywords inside names are names


@pytest.mark.parametrize("text, column, words", [
    ("norm(dh) <> 1", 11, "found '>'; expected a value"),
    ("h +", 4, "the expression ends here; expected a value"),
    ("(h", 3, "ends here; expected ')'"),
    ("h[1.5]", 4, "expected ':', ',' or ']'"),
    ("mean(h, 1)", 7, "found ','"),
    ("mean", 1, "without '('"),
    ("h @", 4, "expected a place"),
    ("h[0:1:0]", 7, "slice step of 0"),
    ("", 1, "found nothing"),
])
def test_syntax_errors_point_at_their_column(text, column, words):
    e = err(text)
    assert e.column == column and words in e.message, e


@pytest.mark.parametrize("text, column, words", [
    ("h.__class__", 2, "attributes are not part of the language"),
    ("gates.f.__class__", 8, "found '."),
    ("h.__class__.__mro__", 12, "found '."),
    ("__import__(1)", 1, "found a call of '__import__'"),
    ("open(1)", 1, "found a call of 'open'"),
    ("eval(h)", 1, "found a call of 'eval'"),
    ("mean.__globals__", 5, "found '."),
    ("lambda x: x", 8, "found 'x'"),
    ("[h for h in x]", 1, "found '['"),
    ("(h for h in x)", 4, "found 'for'"),
    ("'os'", 1, "a string"),
    ('"h"', 1, "a string"),
    ("h(1)", 1, "found a call of 'h'"),
    ("mean(h)(1)", 8, "found '('"),
    ("h[mean(h)]", 3, "found 'mean'"),
    ("h if 1 else 2", 3, "found 'if'"),
    ("f'{h}'", 2, "a string"),
    ("h; import os", 2, "found ';'"),
    ("x := 1", 3, "found ':'"),
    ("mean(h=1)", 7, "found '='"),
])
def test_attempts_to_reach_python_are_refused(text, column, words):
    e = err(text)
    assert e.column == column and words in e.message, e


def test_no_python_evaluation_is_used(monkeypatch, family_runs):
    """With eval, exec and compile gone from builtins, parsing and evaluating still work."""
    import builtins

    from rnntui.expr import bind

    parse("h")  # build lark's parser first: its own grammar loader is not what this test is about
    trace = family_runs["rnn"]

    def refuse(*a, **k):
        raise AssertionError("eval/exec/compile called")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, refuse)
    b = bind("norm(dh) < 1e3 and max(abs(h[0, 0:2])) < 2 @model.0.l1.bwd", trace)
    assert b.holds.all()


TOKENS = ["h", "c", "dh", "x", "gates.f", "gates", ".", "mean", "norm", "any", "(", ")", "[", "]", ":", ",", "1",
          "0.5", "1e-3", "-", "+", "*", "/", "**", "<", "<=", "==", "!=", "and", "or", "not", "@", "model.0.l0.fwd",
          " ", "'", "__class__", "lambda", "for", "in", "=", "{", "!", "$", "\t", "é"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14).map("".join))
def test_token_soup_parses_or_gives_a_positioned_error(text):
    try:
        e = parse(text)
    except ExprError as exc:
        assert 1 <= exc.column <= len(text) + 1
        assert exc.message and "\n" not in exc.message
    else:
        assert isinstance(e, nodes.Expr)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_any_text_parses_or_gives_a_positioned_error(text):
    try:
        parse(text)
    except ExprError as exc:
        assert 1 <= exc.column <= len(text) + 1


def _expressions():
    leaf = st.sampled_from(["h", "dh", "t", "T", "1", "0.25", "2e-3", "gates.z"])
    return st.recursive(leaf, lambda inner: st.one_of(
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(sorted(nodes.FUNCTIONS)), inner),
        st.builds(lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from(["+", "-", "*", "/", "<", ">=", "and"]), inner),
        st.builds(lambda a: f"-{a}", inner),
        st.builds(lambda a: f"(not {a})", inner),
    ), max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(_expressions())
def test_generated_expressions_parse(text):
    assert parse(text).text == text


def test_deep_nesting_and_long_text_are_refused_with_a_position():
    e = err("-" * 200 + "h")
    assert "nested" in e.message and e.column >= 1
    e = err("h+" * 2100 + "h")
    assert e.column == 4001 and "at most 4000" in e.message
    assert err("h\x1b[2J").column == 2
