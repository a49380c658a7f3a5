"""How big a statement may be: tokens and nesting before parsing, each expression's depth and width after.

Doris refuses an expression deeper than `expr_depth_limit` (3000) or with more leaves than
`expr_children_limit` (10000), both FE configs, with "Exceeded the maximum depth / children of an expression
tree (N).". We check the same on sqlglot's tree (check_expressions).

Before parsing, one linear scan (check_text) bounds what parsing can cost:
- at most MAX_TOKENS tokens: sqlglot's tree takes about 1.5 KB a token, so this bounds a statement's memory and
  time (literal-only INSERT ... VALUES skips sqlglot and this limit);
- at most MAX_NESTING levels of parentheses, brackets, CASE and NOT: sqlglot's parser recurses about 25 Python
  frames a level, and the FE runs with a recursion limit of RECURSION_LIMIT, which an 8 MiB thread stack
  holds even for C code that recurses (json, repr). Deeper nesting is refused with Doris's depth error.
"""

from __future__ import annotations

import re
import sys

import attrs
from sqlglot import exp

from doris_br.errors import DorisError

MAX_TOKENS = 200_000
MAX_NESTING = 300
RECURSION_LIMIT = 10_000
_TOKEN = re.compile(r"[A-Za-z0-9_$]++|'(?:[^'\\]|\\.|'')*+'|\"(?:[^\"\\]|\\.|\"\")*+\"|`(?:[^`]|``)*+`|\S")
_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")


@attrs.frozen
class ExpressionLimits:
    depth: int = 3000  # Doris's expr_depth_limit
    children: int = 10000  # Doris's expr_children_limit


def too_deep(limits: ExpressionLimits) -> DorisError:
    return DorisError(f"Exceeded the maximum depth of an expression tree ({limits.depth}).")


def check_text(sql: str, limits: ExpressionLimits) -> None:
    """Refuse, before parsing, a statement with too many tokens or nested too deeply to parse."""
    depth = nots = 0
    for count, match in enumerate(_TOKEN.finditer(sql), 1):
        if count > MAX_TOKENS:
            raise DorisError(f"The statement is too long: more than {MAX_TOKENS} tokens. Load big data with "
                             "Stream Load or INSERT ... VALUES of literals")
        token = match.group()
        if token in _OPEN:
            depth += 1
        elif token in _CLOSE:
            depth -= 1
        else:
            word = token.upper()
            depth += (word == "CASE") - (word == "END")
            nots = nots + 1 if word == "NOT" else 0
        if depth + nots > MAX_NESTING:
            raise too_deep(attrs.evolve(limits, depth=min(limits.depth, MAX_NESTING)))


# Nodes that hold expressions without being one: an expression tree starts below them, and a subquery inside an
# expression counts there as one leaf (Doris plans it on its own).
_STRUCTURE = (exp.Query, exp.Subquery, exp.From, exp.Join, exp.Where, exp.Having, exp.Group, exp.Order, exp.Limit,
              exp.Offset, exp.Values, exp.Tuple, exp.CTE, exp.With, exp.Insert, exp.Create, exp.Schema, exp.Table,
              exp.TableAlias, exp.Qualify, exp.Lateral, exp.Set, exp.SetItem, exp.Properties, exp.Hint)


def check_expressions(root: exp.Expression, limits: ExpressionLimits) -> None:
    """Each expression tree of the statement within Doris's depth and width limits.

    Iterative (a tree may be thousands deep). AND and OR chains count as one node, as Doris's n-ary predicates.
    """
    depth: dict[int, int] = {}
    width: dict[int, int] = {}
    stack: list[tuple[exp.Expression, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if not done:
            stack.append((node, True))
            stack.extend((child, False) for child in node.iter_expressions())
            continue
        children = list(node.iter_expressions())
        if isinstance(node, _STRUCTURE):
            for child in children:
                if not isinstance(child, _STRUCTURE) and (depth[id(child)] > limits.depth or
                                                         width[id(child)] > limits.children):
                    _raise(depth[id(child)], limits)
            depth[id(node)], width[id(node)] = 1, 1
            continue
        if not children:
            depth[id(node)], width[id(node)] = 1, 1
            continue
        deepest = 0
        for child in children:
            same_chain = isinstance(node, exp.Connector) and type(child) is type(node)
            deepest = max(deepest, depth[id(child)] - 1 if same_chain else depth[id(child)])
        depth[id(node)] = deepest + 1
        width[id(node)] = sum(width[id(c)] for c in children)
        if depth[id(node)] > limits.depth or width[id(node)] > limits.children:
            _raise(depth[id(node)], limits)


def _raise(depth: int, limits: ExpressionLimits) -> None:
    if depth > limits.depth:
        raise too_deep(limits)
    raise DorisError(f"Exceeded the maximum children of an expression tree ({limits.children}).")


def raise_recursion_limit() -> None:
    """At the FE's start: enough frames for MAX_NESTING levels (the interpreter's default, 1000, is 40)."""
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
