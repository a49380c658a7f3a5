"""CREATE TABLE ... AS SELECT: the new table's columns from the query's result, as Doris derives them.

Doris takes each column's type from the query's output slot (`CreateTableCommand.getDataType`): a column read
straight from a table keeps that column's type and nullability (`varchar(20)` stays `varchar(20)`), a computed
one gets its result type, with text as STRING; the first column cannot be STRING (it becomes the key and the
distribution column) and is VARCHAR(65533) instead. Our result types come from the engine (Arrow); where a
projection is a plain column of a table of the catalog, that column is what the new one copies.
"""

from __future__ import annotations

from typing import Any

import attrs
import pyarrow as pa
from sqlglot import exp

from doris_br.errors import DorisError
from doris_br.fe.olap import find_database, find_table
from doris_br.schema import Column

MAX_VARCHAR = 65533


def _arrow_type_text(t: pa.DataType) -> str:
    """Doris's type for a result column of Arrow type `t`."""
    simple = [
        (pa.types.is_boolean, "boolean"), (pa.types.is_int8, "tinyint"), (pa.types.is_int16, "smallint"),
        (pa.types.is_uint8, "smallint"), (pa.types.is_int32, "int"), (pa.types.is_uint16, "int"),
        (pa.types.is_int64, "bigint"), (pa.types.is_uint32, "bigint"), (pa.types.is_uint64, "largeint"),
        (pa.types.is_float32, "float"), (pa.types.is_float64, "double"), (pa.types.is_date, "date"),
        (pa.types.is_string, "string"), (pa.types.is_large_string, "string"),
        (pa.types.is_null, "tinyint"),  # Doris: a NULL literal's column is TINYINT
    ]
    for test, text in simple:
        if test(t):
            return text
    if pa.types.is_timestamp(t):
        return "datetime"
    if pa.types.is_decimal(t):
        if t.scale == 0 and t.precision == 38:
            return "largeint"  # the engine's 128-bit integers (sums of BIGINT)
        return f"decimal({t.precision},{t.scale})"
    raise DorisError(f"Unsupported data type {t} in CREATE TABLE AS SELECT")


def _from_tables(select: exp.Select) -> dict[str, exp.Table]:
    """The tables a SELECT reads directly (FROM and JOINs, not subqueries), by alias or name."""
    sources: list[exp.Expression] = []
    if select.args.get("from_") is not None:
        sources.append(select.args["from_"].this)
    sources += [j.this for j in select.args.get("joins") or []]
    return {t.alias_or_name.lower(): t for t in sources if isinstance(t, exp.Table)}


def _source_columns(session: Any, query: exp.Expression, width: int) -> list[Column | None]:
    """For each result column, the table column it is a plain copy of, if any."""
    select = query
    while isinstance(select, exp.Subquery):
        select = select.this
    if not isinstance(select, exp.Select) or select.args.get("group") is not None:
        return [None] * width  # a UNION, or grouped rows: the engine's types
    ctes = {cte.alias_or_name.lower() for cte in select.find_all(exp.CTE)}
    tables = {}
    for alias, ref in _from_tables(select).items():
        if ref.name.lower() in ctes and not ref.args.get("db"):
            continue
        db = find_database(session.fe.catalog, ref.db or session.database or "")
        table = find_table(session.fe.catalog, db, ref.name) if db is not None else None
        if table is not None:
            tables[alias] = table
    out: list[Column | None] = []
    for projection in select.expressions:
        expression = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(expression, exp.Star) and len(tables) == 1 and len(_from_tables(select)) == 1:
            out += list(next(iter(tables.values())).columns)
        elif isinstance(expression, exp.Column) and isinstance(expression.this, exp.Star):
            table = tables.get(expression.table.lower())
            out += list(table.columns) if table is not None else [None]
        elif isinstance(expression, exp.Column):
            candidates = [tables[expression.table.lower()]] if expression.table.lower() in tables else (
                list(tables.values()) if not expression.table and len(_from_tables(select)) == 1 else [])
            found = [c for t in candidates for c in t.columns if c.name.lower() == expression.name.lower()]
            out.append(found[0] if found else None)
        else:
            out.append(None)
    if len(out) != width:
        return [None] * width
    if any(j.side for j in select.args.get("joins") or []):  # an outer join's columns may be NULL
        out = [attrs.evolve(c, nullable=True) if c is not None else None for c in out]
    return out


def result_columns(session: Any, query: exp.Expression, data: pa.Table, names: tuple[str, ...]) -> tuple[Column, ...]:
    """The new table's columns: the result's names (or `names`, CTAS's column list) and Doris's types."""
    if names and len(names) != data.num_columns:
        raise DorisError("ctas column size is not equal to the query's")
    sources = _source_columns(session, query, data.num_columns)
    columns = []
    for i, field in enumerate(data.schema):
        name = names[i] if names else field.name
        source = sources[i]
        if source is not None and source.arrow.equals(field.type):
            type_text, nullable = source.type, source.nullable
        else:
            type_text, nullable = _arrow_type_text(field.type), True
        if i == 0 and type_text == "string":
            type_text = f"varchar({MAX_VARCHAR})"
        columns.append(Column(name=name, type=type_text, nullable=nullable))
    return tuple(columns)
