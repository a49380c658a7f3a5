"""FROM-less SELECTs of constants and session values, answered by the FE alone.

Clients and tools send `SELECT 1`, `SELECT DATABASE(), USER()`, `SELECT @@version_comment` ... on every connect
and as keep-alives; Doris's FE answers them itself, without a BE or a planner. Parsing such a statement with
sqlglot and running it in the engine costs about a millisecond; here the statement text is matched against a
closed list of shapes (integer and string literals, one integer operation, the session's functions and
@@variables, FROM DUAL, LIMIT) and answered in microseconds. Anything else, even a comment or a quoted alias with
a space, is not matched and takes the ordinary path: nothing here reads a table, a file or the engine, so the
sandbox has nothing to check.

Columns are named as Doris names them (a function as the user wrote it, `DATABASE()`, not `CURRENT_SCHEMA()`;
an operation as `(1 + 1)`; a string as `'x'`) and typed as MySQL types them: integers BIGINT (8), NOW() DATETIME
(12), CURDATE() DATE (10), text VARCHAR sent as MYSQL_TYPE_STRING (254) in utf8 (33).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from mysql_mimic import ColumnType, ResultColumn, ResultSet
from mysql_mimic.charset import CharacterSet

if TYPE_CHECKING:
    from doris_br.server.session import DorisSession

BIGINT_MIN, BIGINT_MAX = -(1 << 63), (1 << 63) - 1

# Words that end a select list: never read as a bare alias (`SELECT 1 FROM DUAL` has no alias `FROM`).
_NOT_ALIAS = r"(?!(?:FROM|LIMIT|WHERE|UNION|INTO|ORDER|GROUP|HAVING|FOR|LOCK|WINDOW|AS)\b)"

_ITEM = re.compile(
    r"""\s*(?:
        (?P<left>-?\d{1,18})(?:\s*(?P<op>[-+*])\s*(?P<right>-?\d{1,18}))?
      | '(?P<text>[^'\\]*)'
      | (?P<func>[A-Za-z_]+)\s*\(\s*\)
      | (?P<bare>CURRENT_TIMESTAMP|CURRENT_DATE|LOCALTIMESTAMP|LOCALTIME)
      | @@(?:(?:session|global|local)\.)?(?P<var>[A-Za-z_][A-Za-z0-9_]*)
    )(?![\w.(@'])
    (?:\s+(?:AS\s+)?(?:`(?P<quoted>[^`]+)`|""" + _NOT_ALIAS + r"""(?P<alias>[A-Za-z_][A-Za-z0-9_]*)))?
    \s*""",
    re.IGNORECASE | re.VERBOSE,
)
_TAIL = re.compile(r"(?:FROM\s+DUAL\s*)?(?:LIMIT\s+(?P<limit>\d{1,9})\s*)?;?\s*", re.IGNORECASE)
_SELECT = re.compile(r"\s*SELECT\s+", re.IGNORECASE)


@attrs.frozen
class Item:
    """One select-list entry: its column and how to compute its value for a session."""

    name: str
    type: ColumnType
    value: Callable[[DorisSession], Any]


def _now(session: DorisSession) -> dt.datetime:
    return session.timestamp.replace(tzinfo=None, microsecond=0)


# The session's functions, as mysql-mimic's function mapping gives them to the ordinary path.
_FUNCTIONS: dict[str, tuple[ColumnType, Callable[[DorisSession], Any]]] = {
    "DATABASE": (ColumnType.STRING, lambda s: s.database),
    "SCHEMA": (ColumnType.STRING, lambda s: s.database),
    "CURRENT_SCHEMA": (ColumnType.STRING, lambda s: s.database),
    "USER": (ColumnType.STRING, lambda s: s.variables.get("external_user")),
    "SESSION_USER": (ColumnType.STRING, lambda s: s.variables.get("external_user")),
    "SYSTEM_USER": (ColumnType.STRING, lambda s: s.variables.get("external_user")),
    "CURRENT_USER": (ColumnType.STRING, lambda s: s.username),
    "VERSION": (ColumnType.STRING, lambda s: s.variables.get("version")),
    "CONNECTION_ID": (ColumnType.LONGLONG, lambda s: s.connection_id),
    "NOW": (ColumnType.DATETIME, _now),
    "CURRENT_TIMESTAMP": (ColumnType.DATETIME, _now),
    "LOCALTIME": (ColumnType.DATETIME, _now),
    "LOCALTIMESTAMP": (ColumnType.DATETIME, _now),
    "CURDATE": (ColumnType.DATE, lambda s: s.timestamp.date()),
    "CURRENT_DATE": (ColumnType.DATE, lambda s: s.timestamp.date()),
    "UNIX_TIMESTAMP": (ColumnType.LONGLONG, lambda s: int(s.timestamp.timestamp())),
}


def _constant(value: Any) -> Callable[[DorisSession], Any]:
    return lambda _: value


def _integer(m: re.Match[str]) -> Item | None:
    left = int(m["left"])
    if m["op"] is None:
        return Item(m["left"], ColumnType.LONGLONG, _constant(left))
    right = int(m["right"])
    value = left + right if m["op"] == "+" else left - right if m["op"] == "-" else left * right
    if not BIGINT_MIN <= value <= BIGINT_MAX:
        return None  # BIGINT overflow: the engine's path widens the type, as Doris does
    return Item(f"({m['left']} {m['op']} {m['right']})", ColumnType.LONGLONG, _constant(value))


def _variable(session: DorisSession, m: re.Match[str]) -> Item | None:
    name = m["var"].lower()
    if name not in session.variables.schema:
        return None  # unknown: the ordinary path answers it
    value = session.variables.get(name)
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return Item(m[0].strip(), ColumnType.LONGLONG, lambda s: int(s.variables.get(name)))
    if value is None or isinstance(value, str):
        return Item(m[0].strip(), ColumnType.STRING, lambda s: s.variables.get(name))
    return None


def _item(session: DorisSession, m: re.Match[str]) -> Item | None:
    if m["left"] is not None:
        item = _integer(m)
    elif m["text"] is not None:
        item = Item(f"'{m['text']}'", ColumnType.STRING, _constant(m["text"]))
    elif m["func"] is not None:
        function = _FUNCTIONS.get(m["func"].upper())
        item = None if function is None else Item(f"{m['func']}()", *function)
    elif m["bare"] is not None:
        item = Item(m["bare"], *_FUNCTIONS[m["bare"].upper()])
    else:
        item = _variable(session, m)
    if item is None:
        return None
    alias = m["quoted"] or m["alias"]
    return item if alias is None else attrs.evolve(item, name=alias)


def match(session: DorisSession, sql: str) -> tuple[list[Item], int | None] | None:
    """The items and LIMIT of `sql` if it is one FROM-less SELECT of the shapes above, else None."""
    start = _SELECT.match(sql)
    if start is None:
        return None
    items, pos = [], start.end()
    while True:
        m = _ITEM.match(sql, pos)
        if m is None:
            return None
        item = _item(session, m)
        if item is None:
            return None
        items.append(item)
        pos = m.end()
        if sql.startswith(",", pos):
            pos += 1
            continue
        tail = _TAIL.fullmatch(sql, pos)
        if tail is None:
            return None
        return items, None if tail["limit"] is None else int(tail["limit"])


def answer(session: DorisSession, sql: str) -> ResultSet | None:
    """The result of `sql` computed by the FE, or None when the statement is not one it answers alone."""
    if len(sql) > 4096:
        return None
    found = match(session, sql)
    if found is None:
        return None
    items, limit = found
    columns = [_column(item.name, item.type) for item in items]
    row = tuple(item.value(session) for item in items)
    return ResultSet(rows=[row] if limit is None or limit > 0 else [], columns=columns)


def _column(name: str, kind: ColumnType) -> ResultColumn:
    return ResultColumn(name, kind, character_set=CharacterSet.utf8)  # 33 for every column, as Doris sends
