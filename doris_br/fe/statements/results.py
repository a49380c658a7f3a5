"""How statements answer: a result set of typed columns, or an OK packet with a row count."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mysql_mimic import ColumnType, ResultColumn


class Affected:
    """Answer with an OK packet that carries `rows` affected rows (INSERT, DELETE ...)."""

    def __init__(self, rows: int = 0) -> None:
        self.rows = rows


def text_result(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[list[tuple], list[ResultColumn]]:
    """A result of VARCHAR columns, as Doris's SHOW statements send them: MYSQL_TYPE_STRING (254), never
    MYSQL_TYPE_VARCHAR (15), which no server puts in a result set and prepared-statement clients refuse (2036).
    None stays NULL."""
    materialised = [tuple(None if v is None else str(v) for v in row) for row in rows]
    return materialised, [ResultColumn(name, ColumnType.STRING) for name in names]


def bool_text(value: bool) -> str:
    return "true" if value else "false"
