"""Stream Load's `merge_type` (APPEND, DELETE, MERGE with `delete: <condition>`) and `function_column.sequence_col`
headers: each block's rows get the hidden delete sign (and sequence) column the table's UNIQUE merge reads.

A header the table cannot honour fails the load with Doris's message; nothing is silently appended.
"""

from __future__ import annotations

import attrs
import pyarrow as pa
import sqlglot
from sqlglot import exp

from doris_br import duck
from doris_br.errors import DorisError
from doris_br.fe.olap import DELETE_SIGN, SEQUENCE_HIDDEN, Table
from doris_br.schema import duckdb_type
from doris_br.sql import parse as parse_sql
from doris_br.sql import sandbox

MERGE_TYPES = ("APPEND", "DELETE", "MERGE")


class BadHeader(Exception):
    """A header the BE refuses (Doris answers these with [INVALID_ARGUMENT])."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = f"[INVALID_ARGUMENT]{message}"


@attrs.frozen
class MergeOptions:
    merge_type: str = "APPEND"
    delete_sql: str | None = None  # MERGE: DuckDB SQL over the row's columns, true for rows that delete
    sequence_source: str | None = None  # the row's column that fills the hidden sequence column


def merge_options(headers: object) -> MergeOptions:
    get = headers.get  # type: ignore[attr-defined]
    merge_type = (get("merge_type") or "APPEND").strip().upper()
    if merge_type not in MERGE_TYPES:
        raise BadHeader(f"Invalid merge type {get('merge_type')}")
    condition = (get("delete") or "").strip()
    if merge_type == "MERGE" and not condition:
        raise BadHeader("Excepted DELETE ON clause when merge type is MERGE.")
    if merge_type != "MERGE" and condition:
        raise BadHeader("Not support DELETE ON clause when merge type is not MERGE.")
    sequence = (get("function_column.sequence_col") or "").strip() or None
    return MergeOptions(merge_type, _condition_sql(condition) if condition else None, sequence)


def _condition_sql(text: str) -> str:
    """The `delete` header, a boolean expression over the row's columns, as sandbox SQL."""
    try:
        parsed = parse_sql(f"SELECT {text}")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, RecursionError):
        raise DorisError(f"delete condition cannot be parsed: {text}") from None
    select = parsed[0] if len(parsed) == 1 else None
    if not isinstance(select, exp.Select) or len(select.expressions) != 1 \
            or any(v for k, v in select.args.items() if k != "expressions") \
            or select.expressions[0].find(exp.Query, exp.Table, exp.Subquery):
        raise DorisError(f"delete condition cannot be parsed: {text}")
    sandbox.check(select)
    sandbox.bound_values(select)
    return select.expressions[0].sql(dialect="duckdb")


def check_table(table: Table, opts: MergeOptions) -> None:
    """Doris's checks of the headers against the table, before any of the body is read."""
    if opts.merge_type != "APPEND":
        if table.keys_type != "UNIQUE_KEYS":
            raise DorisError("load by MERGE or DELETE is only supported in unique tables.")
        if not table.has_delete_sign:
            raise DorisError("load by MERGE or DELETE need to upgrade table to support batch delete.")
    hidden_sequence = table.sequence_column == SEQUENCE_HIDDEN
    if opts.sequence_source is not None and table.sequence_column is None:
        raise DorisError("There is no sequence column in the table " + table.name)
    if hidden_sequence and opts.sequence_source is None:
        raise DorisError(f"Table {table.name} has sequence column, need to specify the sequence column")


def with_hidden(table: Table, opts: MergeOptions, data: pa.Table) -> pa.Table:
    """The block's rows (columns named as the table's) with the delete sign and the hidden sequence set."""
    if opts.sequence_source is not None and table.sequence_column == SEQUENCE_HIDDEN:
        source = next((n for n in data.column_names if n.lower() == opts.sequence_source.lower()), None)
        if source is None:
            raise DorisError(f"sequence column {opts.sequence_source} is not a column of the load")
        data = _set(data, SEQUENCE_HIDDEN, data.column(source))
    if opts.merge_type == "DELETE":
        return _set(data, DELETE_SIGN, pa.array([1] * data.num_rows, pa.int8()))
    if opts.merge_type == "MERGE":
        assert opts.delete_sql is not None
        return _set(data, DELETE_SIGN, _deletes(table, data, opts.delete_sql))
    return data


def _set(data: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    index = next((i for i, n in enumerate(data.column_names) if n.lower() == name.lower()), None)
    if index is None:
        return data.append_column(name, column)
    return data.set_column(index, name, column)


def _deletes(table: Table, data: pa.Table, condition: str) -> pa.Array:
    """1 where the condition holds for the row (its columns at the table's types), else 0."""
    typed = ", ".join(f"TRY_CAST({duck.quote(n)} AS {duckdb_type(table.column(n).type)}) AS {duck.quote(n)}"
                      for n in data.column_names)
    cur = duck.cursor()  # the condition is the user's SQL: the sandbox
    try:
        cur.register("__rows", data)
        out = cur.sql(f"WITH __typed AS (SELECT {typed} FROM __rows) "
                      f"SELECT CAST(coalesce(({condition}), false) AS TINYINT) AS s FROM __typed").to_arrow_table()
    except duck.ENGINE_ERRORS as e:
        raise DorisError(f"delete condition cannot be computed: {duck.error_text(e)}") from None
    finally:
        cur.close()
    return out.column(0).combine_chunks()
