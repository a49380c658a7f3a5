"""Rows cast to a table's types and routed to partitions and buckets, one block at a time.

DuckDB does the row work: casts (skipped when the block already has the table's Arrow types, as Stream Load's
typed CSV does), the partition of each row (a CASE over the partition bounds) and its bucket (DuckDB's hash of
the distribution columns modulo the buckets). Arrow then orders the block by (partition, bucket) with one
stable sort of small integer keys and one take, so each tablet's rows are one zero-copy slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from doris_br import duck
from doris_br.errors import DorisError
from doris_br.fe.olap import Partition, Table
from doris_br.schema import base_type, duckdb_cast, duckdb_type, type_params

STRICT_MODE_ERROR = "Insert has filtered data in strict mode. {reason}"


def _lit(type_text: str, value: str) -> str:
    return f"CAST('{value.replace(chr(39), chr(39) * 2)}' AS {duckdb_type(type_text)})"


def _less_than(cols: list[tuple[str, str]], key: tuple[str, ...]) -> str:
    """Lexicographic (cols) < key over the key's prefix; NULL sorts below everything, as in Doris."""
    ors = []
    for i, value in enumerate(key):
        name, type_text = cols[i]
        equal = [f"{duck.quote(n)} = {_lit(t, v)}" for (n, t), v in zip(cols[:i], key[:i], strict=False)]
        equal.append(f"({duck.quote(name)} IS NULL OR {duck.quote(name)} < {_lit(type_text, value)})")
        ors.append("(" + " AND ".join(equal) + ")")
    return "(" + " OR ".join(ors) + ")" if ors else "FALSE"


def routing_sql(table: Table, partitions: Sequence[Partition]) -> str:
    """A CASE giving each row the index of its partition in `partitions`, NULL if none takes it."""
    if table.partition_kind == "UNPARTITIONED":
        return "0" if partitions else "NULL"
    cols = [(c, table.column(c).type) for c in table.partition_columns]
    whens, default = [], "NULL"
    for i, p in enumerate(partitions):
        if table.partition_kind == "RANGE":
            conds = []
            if p.lower is not None:
                conds.append(f"NOT {_less_than(cols, p.lower)}")
            if p.upper is not None:
                conds.append(_less_than(cols, p.upper))
            whens.append(f"WHEN {' AND '.join(conds) or 'TRUE'} THEN {i}")
        elif not p.values:
            default = str(i)
        else:
            tuples = [" AND ".join(f"{duck.quote(n)} = {_lit(t, v)}" for (n, t), v in zip(cols, value, strict=False))
                      for value in p.values]
            whens.append(f"WHEN ({' OR '.join('(' + t + ')' for t in tuples)}) THEN {i}")
    if not whens:
        return default
    return f"CASE {' '.join(whens)} ELSE {default} END"


def bucket_sql(table: Table, partitions: Sequence[Partition] = ()) -> str:
    """A row's bucket in its partition (`__p`): partitions may have their own bucket counts (dynamic_partition
    .buckets, restored partitions), so the modulus is the partition's when they differ."""
    counts = [len(p.tablets) for p in partitions]
    n = str(table.buckets)
    if any(c != table.buckets for c in counts):
        n = "(CASE __p " + " ".join(f"WHEN {i} THEN {c}" for i, c in enumerate(counts)) + f" ELSE {n} END)"
    if table.distribution.kind == "HASH" and table.distribution.columns:
        return f"(hash({', '.join(duck.quote(table.column(c).name) for c in table.distribution.columns)}) % {n})"
    return f"CAST(floor(random() * {n}) AS BIGINT)"


def cast_sql(table: Table, source_columns: list[str], target: list[str]) -> str:
    """SELECT list giving every table column from the source's columns (by position) or its default."""
    by_name = {t.lower(): s for t, s in zip(target, source_columns, strict=True)}
    selects = []
    for c in table.stored_columns:
        src = by_name.get(c.name.lower())
        if src is not None:
            selects.append(f"{duckdb_cast(c.type, duck.quote(src))} AS {duck.quote(c.name)}")
        elif c.default is None or c.default == "NULL":
            if not c.nullable:
                raise DorisError(f"Column has no default value, column={c.name}")
            selects.append(f"CAST(NULL AS {duckdb_type(c.type)}) AS {duck.quote(c.name)}")
        elif c.default.upper() == "CURRENT_TIMESTAMP":
            selects.append(f"{duckdb_cast(c.type, 'current_localtimestamp()')} AS {duck.quote(c.name)}")
        else:
            selects.append(f"{_lit(c.type, c.default)} AS {duck.quote(c.name)}")
    return ", ".join(selects)


def _rounds_datetimes(table: Table) -> bool:
    """A DATETIME(p) column with p < 6: Arrow's microsecond timestamps must be rounded to it (see duckdb_cast)."""
    return any(base_type(c.type) == "datetime" and (type_params(c.type) or [0])[0] < 6 for c in table.stored_columns)


def table_schema(table: Table) -> pa.Schema:
    """The stored rows' schema: the hidden columns too."""
    return pa.schema([pa.field(c.name, c.arrow) for c in table.stored_columns])


@attrs.frozen
class Routed:
    """A block's routed rows in tablet order with each (partition index, bucket) slice's [start, end), and its
    rows that no partition takes (typed, for AUTO PARTITION)."""

    rows: pa.Table
    slices: dict[tuple[int, int], tuple[int, int]]
    unrouted: pa.Table


def _run(cur: Any, sql: str) -> pa.Table:
    try:
        return cur.sql(sql).to_arrow_table()
    except duck.ENGINE_ERRORS as e:  # a value that does not convert: strict mode refuses the whole load
        raise DorisError(STRICT_MODE_ERROR.format(reason=duck.error_text(e))) from None


def typed(table: Table, data: pa.Table, source_columns: list[str], target: list[str]) -> pa.Table:
    """The block with exactly the table's columns and Arrow types; DuckDB casts only when it must."""
    schema = table_schema(table)
    selected = data.select(source_columns) if source_columns == target == schema.names else None
    if selected is not None and selected.schema.equals(schema) and not _rounds_datetimes(table):
        rows = selected
    else:
        cur = duck.cursor()
        try:
            cur.register("__source", data)
            rows = _run(cur, f"SELECT {cast_sql(table, source_columns, target)} FROM __source").cast(schema)
        finally:
            cur.close()
    for c in table.stored_columns:
        column = rows.column(c.name)
        if not c.nullable and column.null_count:
            raise DorisError(STRICT_MODE_ERROR.format(reason=f"column {c.name} is NOT NULL but got NULL"))
        if c.type.startswith(("varchar", "char")) and len(column):
            # Doris measures CHAR and VARCHAR lengths in bytes.
            limit = type_params(c.type)[0]
            longest = pc.max(pc.binary_length(column)).as_py()
            if longest is not None and longest > limit:
                raise DorisError(STRICT_MODE_ERROR.format(
                    reason=f"the length of a value of column {c.name} is {longest}, longer than {limit}"))
    return rows


def route(table: Table, partitions: Sequence[Partition], rows: pa.Table) -> Routed:
    """Typed rows (see `typed`) ordered by tablet."""
    cur = duck.cursor()
    try:
        cur.register("__rows", rows)
        keys = _run(cur, f"SELECT __p, {bucket_sql(table, partitions)} AS __b FROM "
                         f"(SELECT {routing_sql(table, partitions)} AS __p, * FROM __rows)")
    finally:
        cur.close()
    p = keys.column("__p").combine_chunks().cast(pa.int64())
    unrouted_mask = p.is_null()
    unrouted = rows.filter(unrouted_mask) if p.null_count else rows.schema.empty_table()
    # One key per tablet; rows no partition takes sort last and are cut off.
    b = keys.column("__b").combine_chunks().cast(pa.int64())
    stride = max([table.buckets, *(len(part.tablets) for part in partitions)]) + 1
    key = pc.if_else(unrouted_mask, np.iinfo(np.int64).max,
                     pc.add(pc.multiply(p.fill_null(0), stride), b))
    order = pc.sort_indices(key)
    routed = len(rows) - p.null_count
    ordered = rows.take(order.slice(0, routed)) if routed else rows.schema.empty_table()
    sorted_keys = key.take(order.slice(0, routed)).to_numpy()
    slices: dict[tuple[int, int], tuple[int, int]] = {}
    if routed:
        starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_keys)) + 1))
        ends = np.concatenate((starts[1:], [routed]))
        for s, e in zip(starts, ends, strict=True):
            k = int(sorted_keys[s])
            slices[(k // stride, k % stride)] = (int(s), int(e))
    return Routed(rows=ordered, slices=slices, unrouted=unrouted)
