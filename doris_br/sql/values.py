"""A fast path for `INSERT INTO ... VALUES (...), (...)` with many rows of plain literals.

sqlglot tokenizes and parses every literal into a node, which costs about 80 µs a row; loads of tens of
thousands of rows would spend seconds there. When the statement is one INSERT whose VALUES hold only
numbers, quoted strings, NULL, TRUE and FALSE, the rows are read here with one regular expression and
travel as Python tuples (RowValues); anything else goes through sqlglot as usual.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sqlglot import exp

# The head up to VALUES must be simple (no strings, no comments), so the split cannot fall inside a literal.
_HEAD = re.compile(r"\s*INSERT\s+INTO\s+[^'\";]*?\bVALUES\b", re.IGNORECASE | re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<open>\()|(?P<close>\))|(?P<comma>,)|
        (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|
        '(?P<sq>(?:[^'\\]|\\.|'')*)'|"(?P<dq>(?:[^"\\]|\\.|"")*)"|
        (?P<word>NULL|TRUE|FALSE)\b|
        (?P<end>;?\s*$)
    )""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "Z": "\x1a"}


class RowValues(exp.Expression):
    """VALUES rows already read into Python values (int, Decimal, float, str, bool, None)."""

    arg_types = {"rows": True}


def _unescape(text: str, quote: str) -> str:
    if "\\" not in text and quote * 2 not in text:
        return text
    text = text.replace(quote * 2, quote)
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def _number(text: str) -> Any:
    if "." in text or "e" in text or "E" in text:
        return Decimal(text)
    return int(text)


def read_rows(text: str, pos: int) -> list[tuple] | None:
    """The tuples of a VALUES list starting at `pos`, or None if it holds anything but literals."""
    rows: list[tuple] = []
    row: list[Any] = []
    # What may come next: a row's "(", a "value", "," or ")" inside a row ("sep"), "," or the end ("next").
    state = "row"
    while True:
        m = _TOKEN.match(text, pos)
        if m is None:
            return None
        pos = m.end()
        kind = m.lastgroup
        if state == "row":
            if kind != "open":
                return None
            row, state = [], "value"
        elif state == "next":
            if kind == "end":
                return rows
            if kind != "comma":
                return None
            state = "row"
        elif state == "sep":
            if kind == "close":
                rows.append(tuple(row))
                state = "next"
            elif kind == "comma":
                state = "value"
            else:
                return None
        else:  # a value
            if kind == "num":
                row.append(_number(m.group("num")))
            elif kind == "sq":
                row.append(_unescape(m.group("sq"), "'"))
            elif kind == "dq":
                row.append(_unescape(m.group("dq"), '"'))
            elif kind == "word":
                word = m.group("word").upper()
                row.append(None if word == "NULL" else word == "TRUE")
            else:
                return None
            state = "sep"


def fast_insert(sql: str, parse_head: Any) -> exp.Expression | None:
    """The INSERT of `sql` with its VALUES read directly, or None when the fast path does not apply."""
    head = _HEAD.match(sql)
    if head is None or len(sql) < 4096:  # short statements are cheap enough for the general path
        return None
    rows = read_rows(sql, head.end())
    if rows is None:
        return None
    statements = parse_head(sql[:head.end()] + " (1)")
    if len(statements) != 1 or not isinstance(statements[0], exp.Insert):
        return None
    insert = statements[0]
    insert.set("expression", RowValues(rows=rows))
    return insert


def literal_rows(values: exp.Values) -> list[tuple] | None:
    """The rows of a parsed VALUES when every item is a literal; None if any is an expression."""
    rows = []
    for tup in values.expressions:
        row = []
        for item in tup.expressions:
            negative = isinstance(item, exp.Neg)
            node = item.this if negative else item
            if isinstance(node, exp.Literal):
                if node.is_string:
                    if negative:
                        return None
                    row.append(node.this)
                else:
                    value = _number(node.this)
                    row.append(-value if negative else value)
            elif isinstance(node, exp.Null) and not negative:
                row.append(None)
            elif isinstance(node, exp.Boolean) and not negative:
                row.append(bool(node.this))
            else:
                return None
        rows.append(tuple(row))
    return rows
