"""The grammar (lark, LALR) and the translation of its parse tree into `nodes`.

lark is imported the first time an expression is parsed, so commands that parse none start as fast as
before. Only these forms exist: numbers, names (`gates.X` is the one dotted name), calls of the listed
functions, indexing with whole numbers and slices, arithmetic, comparisons, `and or not`, and one
`@place` at the end. Everything else (strings, attributes, lambdas, comprehensions, keywords
arguments) is a syntax error at its column.
"""
from __future__ import annotations

from rnntui.expr import nodes
from rnntui.expr.errors import ExprError

MAX_LENGTH = 1000   # characters: a watch or an assertion is one line
MAX_DEPTH = 60      # nesting: the tree is walked recursively when evaluated

GRAMMAR = r"""
start: expr [AT PLACE]

?expr: or_test
?or_test: and_test | or_test OR and_test                   -> logic
?and_test: not_test | and_test AND not_test                -> logic
?not_test: comparison | NOT not_test                       -> unary
?comparison: sum | sum (COMP sum)+                         -> compare
?sum: term | sum ADD term                                  -> binary
?term: factor | term MUL factor                            -> binary
?factor: power | ADD factor                                -> unary
?power: postfix | postfix POW factor                       -> binary
?postfix: atom | postfix LSQB subscripts RSQB              -> index
?atom: NUMBER                                              -> number
     | NAME                                                -> name
     | NAME DOT NAME                                       -> dotted
     | NAME LPAR expr RPAR                                 -> call
     | LPAR expr RPAR                                      -> group

subscripts: subscript (COMMA subscript)*
subscript: INT | [INT] COLON [INT] [COLON [INT]]

OR: "or"
AND: "and"
NOT: "not"
COMP: "<=" | ">=" | "==" | "!=" | "<" | ">"
ADD: "+" | "-"
MUL: "*" | "/"
POW: "**"
LSQB: "["
RSQB: "]"
LPAR: "("
RPAR: ")"
COMMA: ","
COLON: ":"
DOT: "."
AT: "@"
NUMBER: /(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/
INT: /-?\d+/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
PLACE: /[A-Za-z0-9_.]+/

%ignore /[ \t]+/
"""

# what each terminal is called in a message, in the order a message lists them
WORDS = {
    "NUMBER": "a number", "NAME": "a name", "LPAR": "'('", "NOT": "'not'", "ADD": "'+' or '-'", "INT": "a whole number",
    "COLON": "':'", "COMMA": "','", "RSQB": "']'", "RPAR": "')'", "LSQB": "'['", "DOT": "'.'", "MUL": "'*' or '/'",
    "POW": "'**'", "COMP": "a comparison (< <= > >= == !=)", "AND": "'and'", "OR": "'or'", "AT": "'@' and a place",
    "PLACE": "a place such as model.0.l0.fwd", "$END": "the end of the expression",
}

_parser = None


def _lark():
    global _parser
    if _parser is None:
        from lark import Lark

        _parser = Lark(GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=False,
                       maybe_placeholders=True)
    return _parser


def _expected(names) -> str:
    """What the parser would have taken, in words: a value, or what may follow one."""
    names = set(names)
    words = []
    if names & {"NUMBER", "NAME"}:
        words.append("a value (a number, a name, a function call or '(')")
    else:
        words += [WORDS[n] for n in ("INT", "COLON", "COMMA", "RSQB", "RPAR", "PLACE") if n in names]
        if names & {"ADD", "MUL", "POW", "COMP", "AND", "OR"}:
            words.append("an operator (+ - * / ** < <= > >= == != and or)")
        words += [WORDS[n] for n in ("AT", "$END") if n in names]
    if not words:
        words = [WORDS[n] for n in WORDS if n in names] or ["nothing more"]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _found(text: str, col: int) -> str:
    if col > len(text):
        return "the end of the expression"
    ch = text[col - 1]
    if ch in "'\"":
        return "a string (quote " + repr(ch) + "); strings are not part of the language"
    return repr(ch)


def parse(text: str) -> nodes.Expr:
    """Parse *text*; raise ExprError (with its column) for anything the language does not have."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    if not isinstance(text, str):
        raise ExprError(str(text), 1, f"found {type(text).__name__}; expected the text of an expression")
    if len(text) > MAX_LENGTH:
        raise ExprError(text, MAX_LENGTH + 1, f"found {len(text)} characters; expected at most {MAX_LENGTH}")
    if not text.strip():
        raise ExprError(text, len(text) + 1, "found nothing; expected an expression such as norm(dh) < 1e-3")
    bad = next((i for i, ch in enumerate(text) if not ch.isprintable() and ch != "\t"), None)
    if bad is not None:
        raise ExprError(text, bad + 1, f"found the character {text[bad]!r}; expected printable text on one line")
    try:
        tree = _lark().parse(text)
    except UnexpectedCharacters as e:
        raise ExprError(text, e.column, f"found {_found(text, e.column)}; expected {_expected(e.allowed)}") from None
    except UnexpectedToken as e:
        accepts = getattr(e, "accepts", None) or e.expected
        if e.token.type == "$END":
            col = len(text.rstrip()) + 1
            raise ExprError(text, col, f"the expression ends here; expected {_expected(accepts)}") from None
        raise ExprError(text, e.column, f"found {e.token.value!r}; expected {_expected(accepts)}") from None
    except UnexpectedEOF as e:
        raise ExprError(text, len(text.rstrip()) + 1, f"the expression ends here; expected {_expected(e.expected)}") from None
    _check_depth(tree, text)
    root, place, place_col = _Build(text).start(tree)
    return nodes.Expr(text, root, place, place_col)


def _check_depth(tree, text: str) -> None:
    from lark import Tree

    stack = [(tree, 1)]
    while stack:
        t, depth = stack.pop()
        if depth > MAX_DEPTH:
            col = next((tok.column for tok in t.scan_values(lambda v: hasattr(v, "column"))), 1)
            raise ExprError(text, col, f"found expressions nested more than {MAX_DEPTH} deep; expected fewer")
        stack.extend((c, depth + 1) for c in t.children if isinstance(c, Tree))


class _Build:
    """lark's tree -> nodes, refusing names and functions the language does not have, with their column."""

    def __init__(self, text: str):
        self.text = text

    def start(self, tree):
        expr, at, place = tree.children
        return self.node(expr), (str(place) if place is not None else None), (at.column if at is not None else None)

    def node(self, t):
        from lark import Token

        if isinstance(t, Token):  # a lone token cannot reach here: every atom is a rule
            raise ExprError(self.text, t.column, f"found {t.value!r}; expected an expression")
        kind, ch = t.data, t.children
        if kind == "number":
            return nodes.Num(float(ch[0]), ch[0].column)
        if kind == "name":
            name = str(ch[0])
            if name in nodes.FUNCTIONS:
                raise ExprError(self.text, ch[0].column, f"found the function {name} without '('; expected {name}(...)")
            if name in ("and", "or", "not"):
                raise ExprError(self.text, ch[0].column, f"found {name!r} where a value was expected")
            return nodes.Name(name, ch[0].column)
        if kind == "dotted":
            head, _, attr = ch
            if str(head) == "train":
                if f"train.{attr}" not in nodes.TRAINING_NAMES:
                    raise ExprError(self.text, ch[2].column, f"found train.{attr}; a training run's names are "
                                    f"{', '.join(nodes.TRAINING_NAMES)}")
                return nodes.Name(f"train.{attr}", head.column)
            if str(head) != "gates":
                raise ExprError(self.text, ch[1].column, f"found '.{attr}' after {str(head)!r}; attributes are not part of "
                                "the language (the dotted names are gates.X, e.g. gates.f, and train.X)")
            return nodes.Name(f"gates.{attr}", head.column)
        if kind == "call":
            fn, _, arg, _ = ch
            if str(fn) not in nodes.FUNCTIONS:
                raise ExprError(self.text, fn.column, f"found a call of {str(fn)!r}; expected one of the functions "
                                f"{', '.join(nodes.FUNCTIONS)}")
            return nodes.Call(str(fn), self.node(arg), fn.column)
        if kind == "group":
            return self.node(ch[1])
        if kind == "index":
            target, lsqb, subs, _ = ch
            return nodes.Index(self.node(target), tuple(self.subscript(s) for s in subs.children
                                                        if not _is_token(s)), lsqb.column)
        if kind == "unary":
            op, operand = ch
            return nodes.Unary(str(op), self.node(operand), op.column)
        if kind == "binary":
            left, op, right = ch
            return nodes.Binary(str(op), self.node(left), self.node(right), op.column)
        if kind == "compare":
            operands = [self.node(c) for c in ch[::2]]
            ops = tuple(str(c) for c in ch[1::2])
            return nodes.Compare(ops, tuple(operands), ch[1].column)
        if kind == "logic":
            left, op, right = ch
            return nodes.Logic(str(op), (self.node(left), self.node(right)), op.column)
        raise AssertionError(f"a rule without a translation: {kind}")  # the grammar and this table disagree

    def subscript(self, s):
        """`3` -> 3; `[a]:[b][:[c]]` -> slice (maybe_placeholders keeps every optional slot, as None)."""
        if len(s.children) == 1:
            return int(s.children[0])
        start, _, stop, _, step = s.children
        if step is not None and int(step) == 0:
            raise ExprError(self.text, step.column, "found a slice step of 0; expected a whole number other than 0")
        return slice(*(None if v is None else int(v) for v in (start, stop, step)))


def _is_token(x) -> bool:
    from lark import Token

    return isinstance(x, Token)
