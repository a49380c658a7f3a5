"""INSERT: rows cast to the table's types, routed to partitions and buckets, written atomically to every replica.

All row work is vectorised in DuckDB: one query casts, routes (a CASE over the partition bounds) and hashes
(DuckDB's hash of the distribution columns modulo the buckets), sorted so each tablet's rows are one slice.

Atomicity: loads of one table are serialised. Each touched partition gets version V = visible + 1, written as
v<V>.parquet to every replica of every tablet of the partition (empty if no rows went there); only when every
write succeeded are the new visible versions committed, in one journal transaction. Scans read versions up to
the visible one, so a failed load leaves nothing visible, and its orphan files are overwritten by the next.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from doris_br import duck, rpc
from doris_br.clock import now_ms
from doris_br.errors import DorisError
from doris_br.fe import query as queries
from doris_br.fe.olap import (
    LoadLabel,
    Partition,
    Table,
    get_database,
    get_table,
    partitions_of,
    resolve_partitions,
)
from doris_br.fe.placement import create_partitions
from doris_br.fe.privileges import require_on_table
from doris_br.schema import PartitionDesc, duckdb_type, type_params
from doris_br.sql.values import RowValues, literal_rows

STRICT_MODE_ERROR = "Insert has filtered data in strict mode. {reason}"
_TABLE_LOCKS: dict[int, asyncio.Lock] = {}
# Concurrent writes per load: enough to keep every BE busy without a thread per tablet.
_WRITERS = asyncio.Semaphore(32)


def table_lock(table_id: int) -> asyncio.Lock:
    """Loads, truncates, partition changes and drops of one table run one at a time."""
    return _TABLE_LOCKS.setdefault(table_id, asyncio.Lock())


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(type_text: str, value: str) -> str:
    return f"CAST('{value.replace(chr(39), chr(39) * 2)}' AS {duckdb_type(type_text)})"


def _less_than(cols: list[tuple[str, str]], key: tuple[str, ...]) -> str:
    """Lexicographic (cols) < key over the key's prefix; NULL sorts below everything, as in Doris."""
    ors = []
    for i, value in enumerate(key):
        name, type_text = cols[i]
        equal = [f"{_q(n)} = {_lit(t, v)}" for (n, t), v in zip(cols[:i], key[:i], strict=False)]
        equal.append(f"({_q(name)} IS NULL OR {_q(name)} < {_lit(type_text, value)})")
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
            tuples = [" AND ".join(f"{_q(n)} = {_lit(t, v)}" for (n, t), v in zip(cols, value, strict=False))
                      for value in p.values]
            whens.append(f"WHEN ({' OR '.join('(' + t + ')' for t in tuples)}) THEN {i}")
    if not whens:
        return default
    return f"CASE {' '.join(whens)} ELSE {default} END"


def bucket_sql(table: Table) -> str:
    n = table.buckets
    if table.distribution.kind == "HASH" and table.distribution.columns:
        return f"(hash({', '.join(_q(table.column(c).name) for c in table.distribution.columns)}) % {n})"
    return f"CAST(floor(random() * {n}) AS BIGINT)"


def cast_sql(table: Table, source_columns: list[str], target: list[str]) -> str:
    """SELECT list giving every table column from the source's columns (by position) or its default."""
    by_name = {t.lower(): s for t, s in zip(target, source_columns, strict=True)}
    selects = []
    for c in table.columns:
        src = by_name.get(c.name.lower())
        if src is not None:
            selects.append(f"CAST({_q(src)} AS {duckdb_type(c.type)}) AS {_q(c.name)}")
        elif c.default is None or c.default == "NULL":
            if not c.nullable:
                raise DorisError(f"Column has no default value, column={c.name}")
            selects.append(f"CAST(NULL AS {duckdb_type(c.type)}) AS {_q(c.name)}")
        elif c.default.upper() == "CURRENT_TIMESTAMP":
            selects.append(f"CAST(current_localtimestamp() AS {duckdb_type(c.type)}) AS {_q(c.name)}")
        else:
            selects.append(f"{_lit(c.type, c.default)} AS {_q(c.name)}")
    return ", ".join(selects)


@attrs.frozen
class Routed:
    """The load's rows in tablet order, and each (partition index, bucket) slice's [start, end)."""

    rows: pa.Table
    slices: dict[tuple[int, int], tuple[int, int]]
    unrouted: int


def route(cur: Any, table: Table, partitions: Sequence[Partition], source_columns: list[str],
          target: list[str]) -> Routed:
    sql = (f"SELECT *, {routing_sql(table, partitions)} AS __p, {bucket_sql(table)} AS __b "
           f"FROM (SELECT {cast_sql(table, source_columns, target)} FROM __source) ORDER BY __p, __b")
    try:
        rows = cur.sql(sql).to_arrow_table()
    except Exception as e:  # a value that does not convert: strict mode refuses the whole load
        raise DorisError(STRICT_MODE_ERROR.format(reason=str(e).split("\n")[0])) from None
    for c in table.columns:
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
    pcol = rows.column("__p")
    unrouted = pcol.null_count
    slices: dict[tuple[int, int], tuple[int, int]] = {}
    if rows.num_rows and unrouted < rows.num_rows:
        routed = rows.slice(0, rows.num_rows - unrouted) if unrouted and _nulls_last(pcol) else rows
        p = routed.column("__p").to_numpy().astype(np.int64)
        b = routed.column("__b").to_numpy().astype(np.int64)
        keys = p * (table.buckets + 1) + b
        starts = np.concatenate(([0], np.flatnonzero(np.diff(keys)) + 1))
        ends = np.concatenate((starts[1:], [len(keys)]))
        for s, e in zip(starts, ends, strict=True):
            slices[(int(p[s]), int(b[s]))] = (int(s), int(e))
    return Routed(rows=rows.drop_columns(["__p", "__b"]), slices=slices, unrouted=unrouted)


def _nulls_last(column: pa.ChunkedArray) -> bool:
    return column.num_chunks > 0 and column[len(column) - 1].as_py() is None


def _target_columns(table: Table, node: exp.Insert) -> list[str]:
    target = node.this
    if isinstance(target, exp.Schema):
        names = [e.name for e in target.expressions]
        for n in names:
            table.column(n)
        return names
    return [c.name for c in table.columns]


def _target_table(node: exp.Insert) -> exp.Table:
    target = node.this
    return target.this if isinstance(target, exp.Schema) else target


def rows_to_arrow(rows: list[tuple]) -> pa.Table:
    """Literal rows as Arrow columns; a column of mixed kinds travels as text and is cast by the load."""
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise DorisError("Column count doesn't match value count", 1136)
    arrays = []
    for values in zip(*rows, strict=True):
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.table(arrays, names=[f"__c{i}" for i in range(width)])


async def _source(session: Any, node: exp.Insert) -> tuple[pa.Table, list[str]]:
    """The rows to load as Arrow, with their column names (positions are what matter)."""
    source = node.expression
    rows = source.args["rows"] if isinstance(source, RowValues) else (
        literal_rows(source) if isinstance(source, exp.Values) else None)
    if rows is not None:
        data = rows_to_arrow(rows)
        return data, data.column_names
    if isinstance(source, exp.Values):
        sql = exp.select("*").from_(source.copy()).sql(dialect="duckdb")

        def values() -> pa.Table:
            cur = duck.cursor()
            try:
                return queries.run(cur, sql)
            finally:
                cur.close()

        data = await asyncio.to_thread(values)
    else:
        data = await queries.execute_query(session, source)
    names = [f"__c{i}" for i in range(data.num_columns)]
    return data.rename_columns(names), names


async def insert(session: Any, node: exp.Insert) -> int:
    fe = session.fe
    target = _target_table(node)
    db = get_database(fe.catalog, target.db or session.database)
    table = get_table(fe.catalog, db, target.name)
    require_on_table(session.user, "LOAD_PRIV", db.name, table.name)
    columns = _target_columns(table, node)
    partition_node = target.args.get("partition")
    named = [e.name for e in partition_node.expressions] if partition_node else None
    data, source_columns = await _source(session, node)
    if data.num_columns != len(columns):
        raise DorisError("Column count doesn't match value count", 1136)
    if data.num_rows == 0:
        return 0
    outcome = await load_arrow(fe, db, table, data, source_columns, columns, named, node.meta.get("label"))
    return outcome.rows


@attrs.frozen
class LoadOutcome:
    rows: int
    txn_id: int  # 0 when the load had no label


async def load_arrow(fe: Any, db: Any, table: Table, data: pa.Table, source_columns: list[str],
                     columns: list[str], named: list[str] | None = None, label: str | None = None) -> LoadOutcome:
    """Load an Arrow table into `table` atomically, as one new version of each partition it touches.

    `source_columns[i]` of `data` goes to table column `columns[i]`; other columns get their defaults. The
    caller checks privileges. With a label, the label is recorded with the versions (and refused if used).
    """
    if label is not None:
        _check_label(fe, db.id, label)
    txn_id = 0
    async with table_lock(table.id):
        table = get_table(fe.catalog, db, table.name)  # as it is now that no other load runs
        partitions = _load_partitions(fe, table, named)
        routed = await _route(data, table, partitions, source_columns, columns)
        if routed.unrouted and table.auto_partition and named is None:
            await _auto_partitions(fe, table, routed.rows.slice(routed.rows.num_rows - routed.unrouted))
            partitions = _load_partitions(fe, table, named)
            routed = await _route(data, table, partitions, source_columns, columns)
        if routed.unrouted:
            raise DorisError(STRICT_MODE_ERROR.format(
                reason=f"{routed.unrouted} row(s) fit no partition: no partition for this tuple"))
        extra = []
        if label is not None:
            _check_label(fe, db.id, label)
            txn_id = fe.catalog.allocate_ids()
            extra.append(LoadLabel(db_id=db.id, label=label, txn_id=txn_id, table_id=table.id,
                                   rows=data.num_rows, finish_time_ms=now_ms()))
        await _write_and_publish(fe, table, partitions, routed, extra)
    return LoadOutcome(rows=data.num_rows, txn_id=txn_id)


def _check_label(fe: Any, db_id: int, label: str) -> None:
    used = fe.catalog.get(LoadLabel, f"{db_id}/{label}")
    if used is not None:
        raise DorisError(f"Label [{label}] has already been used, relate to txn [{used.txn_id}]")


def _load_partitions(fe: Any, table: Table, named: list[str] | None) -> list[Partition]:
    partitions = partitions_of(fe.catalog, table)
    if named is None:
        return partitions
    temporary = {p.name: p for p in partitions_of(fe.catalog, table, temporary=True)}
    by_name = {p.name: p for p in partitions}
    chosen = []
    for name in named:
        p = by_name.get(name) or temporary.get(name)
        if p is None:
            raise DorisError(f"Unknown partition '{name}' in table '{table.name}'")
        chosen.append(p)
    return chosen


async def _route(data: pa.Table, table: Table, partitions: list[Partition], source_columns: list[str],
                 columns: list[str]) -> Routed:
    def work() -> Routed:
        cur = duck.cursor()
        try:
            cur.register("__source", data)
            return route(cur, table, partitions, source_columns, columns)
        finally:
            cur.close()

    return await asyncio.to_thread(work)


async def _auto_partitions(fe: Any, table: Table, rows: pa.Table) -> None:
    """AUTO PARTITION BY RANGE (date_trunc(col, unit)): one new partition per unit the rows fall in."""
    column = table.partition_columns[0]
    unit = table.auto_unit or "day"
    values = {v for v in rows.column(column).to_pylist() if v is not None}
    if not values:
        return
    starts = sorted({_trunc(v, unit) for v in values})
    type_text = table.column(column).type
    fmt = "%Y-%m-%d" if type_text.startswith("date") and not type_text.startswith("datetime") else "%Y-%m-%d %H:%M:%S"
    descs = [PartitionDesc(name="p" + s.strftime("%Y%m%d%H%M%S"), lower=(s.strftime(fmt),),
                           upper=(_next(s, unit).strftime(fmt),)) for s in starts]
    existing = {p.name for p in partitions_of(fe.catalog, table)}
    descs = [d for d in descs if d.name not in existing]
    new = await create_partitions(fe, table, resolve_partitions(table, descs))
    fe.catalog.commit(new)


def _trunc(value: dt.date, unit: str) -> dt.datetime:
    d = value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day)
    if unit == "year":
        return d.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "month":
        return d.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "hour":
        return d.replace(minute=0, second=0, microsecond=0)
    return d.replace(hour=0, minute=0, second=0, microsecond=0)


def _next(start: dt.datetime, unit: str) -> dt.datetime:
    if unit == "year":
        return start.replace(year=start.year + 1)
    if unit == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    if unit == "hour":
        return start + dt.timedelta(hours=1)
    return start + dt.timedelta(days=1)


async def _write_and_publish(fe: Any, table: Table, partitions: list[Partition], routed: Routed,
                             extra: Sequence[Any] = ()) -> None:
    """Write every replica of every touched partition, then publish the versions (and `extra`) at once."""
    schema = queries.table_schema(table)
    rows = routed.rows.cast(schema)
    empty = schema.empty_table()
    touched = sorted({p for p, _ in routed.slices})
    backends = {b.id: b for b in fe.backends.all()}
    writes = []
    for index in touched:
        partition = partitions[index]
        version = partition.visible_version + 1
        for bucket, tablet in enumerate(partition.tablets):
            span = routed.slices.get((index, bucket))
            data = rows.slice(span[0], span[1] - span[0]) if span else empty
            for replica in tablet.replicas:
                writes.append((index, bucket, backends.get(replica.backend_id), rpc.WriteTablet(tablet.id, version),
                               data))

    async def write(backend: Any, task: rpc.WriteTablet, data: pa.Table) -> rpc.WriteResult:
        if backend is None:
            raise rpc.TaskError("NOT_FOUND", f"backend of tablet {task.tablet_id} was dropped")
        async with _WRITERS:
            return await asyncio.to_thread(fe.backends.client(backend).put, task, data)

    results = await asyncio.gather(*(write(b, t, d) for _, _, b, t, d in writes), return_exceptions=True)
    for (_, _, backend, task, _), r in zip(writes, results, strict=True):
        if isinstance(r, BaseException):
            message = r.message if isinstance(r, rpc.TaskError) else str(r)
            where = backend.id if backend else "?"
            raise DorisError(f"failed to load tablet {task.tablet_id} on backend {where}: {message}")
    sizes: dict[tuple[int, int], rpc.WriteResult] = {}
    for (index, bucket, _, _, _), r in zip(writes, results, strict=True):
        sizes.setdefault((index, bucket), r)  # type: ignore[arg-type]
    now = now_ms()
    published = []
    for index in touched:
        p = partitions[index]
        tablets = tuple(
            attrs.evolve(t, row_count=t.row_count + sizes[(index, b)].rows,
                         data_size=t.data_size + sizes[(index, b)].bytes)
            for b, t in enumerate(p.tablets))
        published.append(attrs.evolve(p, visible_version=p.visible_version + 1, visible_version_time_ms=now,
                                      tablets=tablets))
    fe.catalog.commit([*published, *extra])
