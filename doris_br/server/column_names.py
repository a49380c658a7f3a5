"""Result column names as the user wrote them: a SELECT's unaliased expressions take their own text (`k+1`,
`CONCAT('a', v)`, `DATABASE()`), as MySQL names result columns, not sqlglot's printing of its node nor the
engine's name for what it ran. The text is found with the tokenizer and kept only if it parses back to the very
expression it names."""

from __future__ import annotations

import functools

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from doris_br.sql import DorisBR, parse


def name_as_written(statement: exp.Expression, sql: str) -> None:
    """A SELECT's unaliased expressions named as the user wrote them (`DATABASE()`, `k+1`, `IF(k>0,'y','n')`), as
    MySQL names result columns, never as sqlglot prints its node (`CURRENT_SCHEMA()`) nor as the engine would name
    what it ran (`('a' || k)` for CONCAT). Columns, stars and literals keep their names; an expression whose text
    cannot be told for sure keeps the name it had."""
    if not isinstance(statement, exp.Select):
        return
    unnamed = [i for i, p in enumerate(statement.expressions) if not isinstance(p, _NAMED_PROJECTIONS)]
    if not unnamed:
        return
    items = _select_list_texts(statement, sql)
    if items is None or len(items) != len(statement.expressions):
        return
    for i in unnamed:
        projection, written = statement.expressions[i], items[i]
        if len(written) > MAX_COLUMN_NAME or not _reads_as(written, projection):
            continue
        projection.replace(exp.alias_(projection.copy(), exp.to_identifier(written)))


# Projections that already have their name: Doris names a column by the column, a literal by its value.
_NAMED_PROJECTIONS = (exp.Alias, exp.Column, exp.Star, exp.Literal, exp.Null, exp.Boolean)
MAX_COLUMN_NAME = 256  # MySQL's limit on a result column's name
_SELECT_LIST_ENDS = frozenset({
    TokenType.FROM, TokenType.WHERE, TokenType.GROUP_BY, TokenType.HAVING, TokenType.ORDER_BY, TokenType.LIMIT,
    TokenType.UNION, TokenType.EXCEPT, TokenType.INTERSECT, TokenType.INTO, TokenType.SEMICOLON, TokenType.WINDOW,
    TokenType.QUALIFY,
})


# Dashboards send the same SELECT again and again: the tokenizing and parsing back below (twice a parse's time)
# is done once per text, for texts as short as the reads the parse cache keeps.
CACHED_SQL_CHARS = 4096


def _select_list_texts(statement: exp.Select, sql: str) -> tuple[str, ...] | None:
    """The text of each item of the statement's select list."""
    # Where the list's first item with a known place starts (no item has one in `SELECT @x`: the text's start).
    first = min((n.meta["start"] for p in statement.expressions for n in p.walk() if "start" in n.meta), default=0)
    if len(sql) <= CACHED_SQL_CHARS:
        return _item_texts(sql, first)
    return _item_texts.__wrapped__(sql, first)


@functools.lru_cache(maxsize=1024)
def _item_texts(sql: str, first: int) -> tuple[str, ...] | None:
    """The select list's items of the SELECT keyword before `first`: split at commas outside parentheses, up to
    FROM (or whatever ends the list)."""
    try:
        tokens = DorisBR().tokenize(sql)
    except TokenError:
        return None
    at = next((i for i, t in enumerate(tokens) if t.start >= first), None)
    if at is None:
        return None
    start = next((i for i in range(at, -1, -1) if tokens[i].token_type == TokenType.SELECT), None)
    if start is None:
        return None
    start += 1
    while start < len(tokens) and tokens[start].token_type in (TokenType.DISTINCT, TokenType.ALL, TokenType.HINT):
        start += 1
    items, depth, begin = [], 0, start
    for i in range(start, len(tokens) + 1):
        token = tokens[i] if i < len(tokens) else None
        kind = token.token_type if token is not None else None
        if token is None or (depth == 0 and (kind == TokenType.COMMA or kind in _SELECT_LIST_ENDS)) or depth < 0:
            if begin >= i:
                return None
            items.append(sql[tokens[begin].start:tokens[i - 1].end + 1])
            if kind != TokenType.COMMA or depth < 0:
                return tuple(items)
            begin = i + 1
        elif kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
    return tuple(items)


def _reads_as(text: str, projection: exp.Expression) -> bool:
    """Whether `text` parses back to the projection: the name is only ever the text of that very expression."""
    return _reread(text) == projection


@functools.lru_cache(maxsize=4096)
def _reread(text: str) -> exp.Expression | None:
    """The one expression `SELECT <text>` selects (None: not exactly one). Kept, so never changed: only compared."""
    try:
        reread = parse(f"SELECT {text}")
    except (ParseError, TokenError, RecursionError):
        return None
    if len(reread) != 1 or not isinstance(reread[0], exp.Select) or len(reread[0].expressions) != 1:
        return None
    return reread[0].expressions[0]
