"""How statements answer: a result set of typed columns, or an OK packet with a row count."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from mysql_mimic import ColumnType, ResultColumn
from mysql_mimic.charset import CharacterSet


class Affected:
    """Answer with an OK packet that carries `rows` affected rows (INSERT, DELETE ...)."""

    def __init__(self, rows: int = 0) -> None:
        self.rows = rows


def text_result(names: Sequence[str], rows: Iterable[Sequence[Any]],
                doris_string: bool = False) -> tuple[list[tuple], list[ResultColumn]]:
    """A result of text columns as Doris's SHOW statements send them: columns Doris declares VARCHAR(n) as
    MYSQL_TYPE_STRING (254), never MYSQL_TYPE_VARCHAR (15), which no server puts in a result set and
    prepared-statement clients refuse (2036); with `doris_string`, columns declared STRING (SHOW BACKUP / RESTORE /
    SNAPSHOT) as MYSQL_TYPE_BLOB (252). Both in utf8 (33), as Doris's MysqlSerializer writes them, so drivers
    read 252 as text, not bytes. None stays NULL."""
    materialised = [tuple(None if v is None else str(v) for v in row) for row in rows]
    return materialised, list(text_columns(tuple(names), doris_string))


@functools.lru_cache(maxsize=256)
def text_columns(names: tuple[str, ...], doris_string: bool = False) -> tuple[ResultColumn, ...]:
    """The columns of a SHOW result, built once per column list (the same few come back on every SHOW)."""
    kind = ColumnType.BLOB if doris_string else ColumnType.STRING
    return tuple(ResultColumn(name, kind, character_set=CharacterSet.utf8) for name in names)


def bool_text(value: bool) -> str:
    return "true" if value else "false"
