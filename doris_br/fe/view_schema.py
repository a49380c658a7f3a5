"""A view's columns and their Doris types, worked out once at CREATE VIEW, as Doris keeps a view's schema.

information_schema.columns (and so dbt's catalog and its column lookups) lists them; before, a view without a
column list showed one column named `_`. The types come from planning the view's query and running it over no
rows: no tablet is read, however big the tables are.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlglot import exp

from doris_br.errors import DorisError
from doris_br.fe import ctas
from doris_br.fe import query as queries

ER_VIEW_WRONG_LIST = 1353
# CTAS makes a first text column VARCHAR(65533), as it becomes the key; a view has no key, its text is STRING.
_CTAS_KEY_TEXT = f"varchar({ctas.MAX_VARCHAR})"


async def _empty_result(session: Any, query: exp.Expression, default_db: str) -> pa.Table:
    probe = exp.select("*").from_(query.subquery("__view")).limit(0)

    def planned() -> queries.Plan:
        p = queries.plan(session, probe, default_db=default_db)  # every table it names must exist
        for s in p.scans:
            s.partitions = []  # types only: a scan of no partition reads nothing and answers the table's schema
        return p

    return queries.narrowed(await queries.execute_planned(session, planned))


async def view_columns(session: Any, query: exp.Expression, default_db: str,
                       names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(name, Doris type) of each column the view shows: `names` (its column list) or the query's own names; a
    column read straight from a table keeps that column's type, as CREATE TABLE ... AS SELECT derives them."""
    data = await _empty_result(session, query, default_db)
    if names and len(names) != data.num_columns:
        raise DorisError("View's SELECT and view's field list have different column counts", ER_VIEW_WRONG_LIST)
    try:
        columns = [(c.name, c.type) for c in ctas.result_columns(session, query, data, names)]
        if columns and columns[0][1] == _CTAS_KEY_TEXT:  # CTAS's rule for its key column, not a view's
            columns[0] = (columns[0][0], "string")
        return tuple(columns)
    except DorisError:  # a type no table column can have (a list, a time): a view may still show it
        return tuple((name, _type_text(field.type)) for name, field in zip(names or data.column_names, data.schema,
                                                                          strict=True))


def _type_text(arrow_type: pa.DataType) -> str:
    try:
        text = ctas.result_columns(None, exp.select("1"), pa.schema([("c", arrow_type)]).empty_table(), ())[0].type
    except DorisError:
        return str(arrow_type)
    return "string" if text == _CTAS_KEY_TEXT else text
