"""SELECT: scan the tables a query names from the BEs, apply their key models, run the query in DuckDB.

Each table reference is replaced by a DuckDB relation over Arrow scanned from one healthy replica per tablet
(one do_get per BE, all BEs in parallel), reading only the columns the query mentions and only the partitions
its WHERE clause can reach. AGGREGATE and UNIQUE tables are merged at read time: rows carry __o (version and
row number), so "the last load wins" is an ORDER BY.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import duckdb
import numpy as np
import pyarrow as pa
from mysql_mimic import ColumnType, ResultColumn
from sqlglot import exp

from doris_br import duck, rpc
from doris_br.deletes import Condition
from doris_br.errors import DorisError
from doris_br.fe import indexes, info_schema, partial_agg, pushdown, routing
from doris_br.fe.catalog import Backend
from doris_br.fe.info_schema import INFO_SCHEMA
from doris_br.fe.olap import (
    DELETE_SIGN,
    Database,
    Partition,
    Table,
    View,
    find_table,
    find_view,
    get_database,
    partitions_of,
    table_not_found,
)
from doris_br.fe.privileges import require_on_table
from doris_br.schema import base_type, duckdb_type, normalise_key
from doris_br.sql import parse, sandbox

# ---- scans -------------------------------------------------------------------------------------------------


async def scan(fe: Any, table: Table, partitions: Sequence[Partition], columns: list[str] | None,
               with_order: bool, sql: str | None = None, filters: Sequence[Condition] = ()) -> pa.Table:
    """The visible rows of `partitions`, from one alive replica per tablet; a failed BE's tablets are retried
    on their other replicas."""
    schema = routing.table_schema(table)
    wanted = [(t, p.visible_version) for p in partitions if p.visible_version > 1 for t in p.tablets]
    failed: set[int] = set()
    parts: list[pa.Table] = []
    schema_text = rpc.schema_to_text(schema)
    while wanted:
        alive = {b.id: b for b in fe.backends.alive() if b.id not in failed}
        by_backend: dict[int, list[rpc.TabletVersion]] = {}
        owners: dict[int, list[tuple[Any, int]]] = {}
        for tablet, version in wanted:
            choices = [r.backend_id for r in tablet.replicas if r.backend_id in alive]
            if not choices:
                raise DorisError(f"Failed to get scan range, no queryable replica found in tablet: {tablet.id}")
            backend_id = min(choices, key=lambda b: len(by_backend.get(b, ())))
            by_backend.setdefault(backend_id, []).append(rpc.TabletVersion(tablet.id, version))
            owners.setdefault(backend_id, []).append((tablet, version))

        async def one(backend: Backend, tablets: list[rpc.TabletVersion]) -> pa.Table:
            task = rpc.ScanTablets(tablets=tablets, schema=schema_text, columns=columns, with_order=with_order,
                                   sql=sql, filters=list(filters))
            return await asyncio.to_thread(fe.backends.client(backend).get, task)

        ids = list(by_backend)
        results = await asyncio.gather(*(one(alive[b], by_backend[b]) for b in ids), return_exceptions=True)
        wanted = []
        for backend_id, result in zip(ids, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, rpc.TaskError):
                    raise result
                failed.add(backend_id)
                wanted.extend(owners[backend_id])
            else:
                parts.append(result)
    expected = rpc.scanned_schema(schema, columns, with_order)
    if sql is not None:  # partial aggregates: BEs agree on their types; with no BE involved, compute them here
        return pa.concat_tables(parts) if parts else duck.run_over(expected.empty_table(), sql)
    if not parts:
        return expected.empty_table()
    return pa.concat_tables([p.cast(expected) for p in parts])


# ---- pruning -----------------------------------------------------------------------------------------------


def _conjuncts(where: exp.Expression | None) -> list[exp.Expression]:
    if where is None:
        return []
    return list(where.flatten()) if isinstance(where, exp.And) else [where]


def _literal(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Literal):
        return node.this
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
        return node.this.this
    return None


def prune(table: Table, partitions: list[Partition], where: exp.Expression | None, alias: str) -> list[Partition]:
    """The partitions the WHERE clause can reach, from conjuncts on a single partition column."""
    if len(table.partition_columns) != 1 or where is None:
        return partitions
    column = table.partition_columns[0].lower()
    type_text = table.column(column).type
    numeric = base_type(type_text) in ("tinyint", "smallint", "int", "bigint", "largeint")

    def key(value: str) -> Any:
        text = normalise_key(type_text, value)
        return int(text) if numeric else text

    tests: list[tuple[str, list[Any]]] = []
    for c in _conjuncts(where.this if isinstance(where, exp.Where) else where):
        op = {exp.EQ: "=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}.get(type(c))
        try:
            if op and isinstance(c.this, exp.Column) and _literal(c.expression) is not None:
                col, values = c.this, [key(_literal(c.expression))]  # type: ignore[arg-type]
            elif op and isinstance(c.expression, exp.Column) and _literal(c.this) is not None:
                col, values = c.expression, [key(_literal(c.this))]  # type: ignore[arg-type]
                op = {">": "<", ">=": "<=", "<": ">", "<=": ">="}.get(op, op)
            elif isinstance(c, exp.In) and isinstance(c.this, exp.Column) and all(
                    _literal(e) is not None for e in c.expressions):
                col, op = c.this, "in"
                values = [key(_literal(e)) for e in c.expressions]  # type: ignore[arg-type]
            elif isinstance(c, exp.Between) and isinstance(c.this, exp.Column) and _literal(
                    c.args["low"]) is not None and _literal(c.args["high"]) is not None:
                col = c.this
                tests.append((">=", [key(_literal(c.args["low"]))]))  # type: ignore[arg-type]
                op, values = "<=", [key(_literal(c.args["high"]))]  # type: ignore[arg-type]
            else:
                continue
        except (ValueError, DorisError):
            continue
        if col.name.lower() != column or (col.table and col.table.lower() != alias.lower()):
            continue
        tests.append((op, values))
    if not tests:
        return partitions

    def reachable(p: Partition) -> bool:
        if table.partition_kind == "LIST":
            if not p.values:  # the default partition
                return True
            members = {key(v[0]) for v in p.values}
            return all(op not in ("=", "in") or any(v in members for v in values) for op, values in tests)
        lo = key(p.lower[0]) if p.lower else None
        hi = key(p.upper[0]) if p.upper else None
        for op, values in tests:
            ok = False
            for v in values:
                above_lo = lo is None or lo <= v
                below_hi = hi is None or v < hi
                ok = ok or {"=": above_lo and below_hi, "in": above_lo and below_hi, "<": lo is None or lo < v,
                            "<=": above_lo, ">": hi is None or hi > v, ">=": below_hi}[op]
            if not ok:
                return False
        return True

    return [p for p in partitions if reachable(p)]


# ---- planning ----------------------------------------------------------------------------------------------


@attrs.define
class ScanPlan:
    """One table reference of the query and what will be read for it."""

    relation: str
    db: Database
    table: Table
    partitions: list[Partition]
    total_partitions: int
    columns: list[str] | None
    total_tablets: int = 0
    partial_sql: str | None = None  # set when the BEs aggregate first (partial_agg)
    show_hidden: bool = False  # DELETE and UPDATE read the hidden columns of the rows they rewrite
    filters: list[Condition] = attrs.field(factory=list)  # applied by the BEs as they read (fe/pushdown.py)
    data: pa.Table | None = None


@attrs.define
class Plan:
    query: exp.Expression
    scans: list[ScanPlan] = attrs.field(factory=list)
    # Relations that are not tables of the catalog (information_schema), by the name the query uses for them.
    static: dict[str, pa.Table] = attrs.field(factory=dict)

    def explain(self) -> list[str]:
        lines = ["PLAN FRAGMENT 0", f"  {self.query.sql(dialect='duckdb')}"]
        for s in self.scans:
            tablets = sum(len(p.tablets) for p in s.partitions)
            total = s.total_tablets
            lines += [
                f"  OlapScanNode: TABLE: {s.db.name}.{s.table.name}({s.table.name}), PREAGGREGATION: ON",
                f"     partitions={len(s.partitions)}/{s.total_partitions} "
                f"({','.join(p.name for p in s.partitions)}), tablets={tablets}/{total}",
            ]
        return lines


def _numbers(table: exp.Table) -> exp.Expression | None:
    """numbers("number" = "N") as DuckDB's range: a column `number` of 0..N-1."""
    fn = table.this
    if not isinstance(fn, exp.Anonymous) or fn.name.lower() != "numbers":
        return None
    count = None
    for arg in fn.expressions:
        if isinstance(arg, exp.EQ) and str(arg.this.name).lower() == "number":
            text = arg.expression.name
            if not re.fullmatch(r"[+-]?[0-9]{1,18}", text.strip()):  # Java's Long.parseLong
                raise DorisError(f"cannot parse param value {text}")
            count = max(0, int(text))
    if count is None:
        raise DorisError("number not set")
    alias = table.alias or "numbers"
    return exp.select(exp.alias_(exp.column("range"), "number")).from_(f"range({count})").subquery(alias)


def _referenced_columns(query: exp.Expression) -> set[str] | None:
    """Names of the columns the query mentions; None if it selects * (every column is needed)."""
    for star in query.find_all(exp.Star):
        # count(*) needs no column; only * in a select list (or t.*) means every column.
        if not isinstance(star.parent, exp.Count):
            return None
    return {c.name.lower() for c in query.find_all(exp.Column)}


def plan(session: Any, query: exp.Expression, default_db: str | None = None, depth: int = 0,
         check_privileges: bool = True) -> Plan:
    """Resolve every table reference of `query` (a copy is planned): views inlined, tables to scans.

    Runs in a worker thread: the tree can be big. The query is checked by the sandbox first (a view's query too,
    as it is inlined), so nothing but Doris's functions and the catalog's relations reaches the engine."""
    if depth > 16:
        raise DorisError("View nesting is too deep")
    sandbox.check(query)
    query = query.copy().transform(_without_collation, copy=False).transform(_table_qualified, copy=False)
    result = Plan(query=query)
    catalog = session.fe.catalog
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    referenced = _referenced_columns(query)
    # The tables behind each name the query uses (a view's: those it reads), for MATCH predicates' tokenisers.
    tables: dict[str, list[Table]] = {}
    for node in list(query.find_all(exp.Table)):
        numbers = _numbers(node)
        if numbers is not None:
            node.replace(numbers)
            continue
        if not node.name or (not node.db and node.name.lower() in ctes):
            continue
        if not node.db and node.name.lower() == "dual" and isinstance(node.parent, exp.From):
            node.parent.pop()  # MySQL's `FROM DUAL`: no table at all, and no database needed
            continue
        db_name = node.db or default_db or session.database
        alias = node.alias or node.name
        if db_name and db_name.lower() == INFO_SCHEMA:
            relation = f"__info{len(result.static)}_{depth}"
            result.static[relation] = info_schema.relation(session, node.name)
            node.replace(exp.alias_(exp.to_table(relation), alias, table=True))
            continue
        db = get_database(catalog, db_name)
        if check_privileges:  # before the lookup: one without the privilege is not told whether it exists
            require_on_table(session.user, "SELECT_PRIV", db.name, node.name)
        view = find_view(catalog, db, node.name)
        if view is not None:
            # As in Doris, a view's reader needs SELECT on the view only; its creator needed it on what it reads.
            inner = plan(session, view_query(view), db.name, depth + 1, check_privileges=False)
            tables[alias.lower()] = [s.table for s in inner.scans]
            result.scans.extend(inner.scans)
            result.static.update(inner.static)
            node.replace(inner.query.subquery(alias))
            continue
        table = find_table(catalog, db, node.name)
        if table is None:
            raise table_not_found(node.name, db.name)
        all_parts = partitions_of(catalog, table)
        select = node.find_ancestor(exp.Select)
        parts = prune(table, all_parts, select.args.get("where") if select else None, alias)
        columns = None
        if referenced is not None:
            needed = set(referenced)
            if table.keys_type != "DUP_KEYS":
                needed |= {k.lower() for k in table.key_columns}
            needed |= _merge_columns(table)
            columns = [c.name for c in table.stored_columns if c.name.lower() in needed]
        tables[alias.lower()] = [table]
        relation = f"__scan{len(result.scans)}_{depth}_{id(node) % 100000}"
        result.scans.append(ScanPlan(relation=relation, db=db, table=table, partitions=parts,
                                     total_partitions=len(all_parts), columns=columns,
                                     total_tablets=sum(len(p.tablets) for p in all_parts),
                                     filters=pushdown.filters(table, node, select),
                                     show_hidden=shows_hidden_columns(session)))
        node.replace(exp.alias_(exp.to_table(relation), alias, table=True))
    indexes.resolve_matches(result.query, tables, match_without_index(session))
    if depth == 0:
        sandbox.bound_values(result.query)
    return result


def _merge_columns(table: Table) -> set[str]:
    """Columns a UNIQUE table's merge reads whatever the query names: the hidden ones and the sequence column."""
    names = {c.name.lower() for c in table.hidden_columns}
    if table.keys_type == "UNIQUE_KEYS" and table.sequence_column is not None:
        names.add(table.sequence_column.lower())
    return names


def _without_collation(node: exp.Expression) -> exp.Expression:
    """COLLATE clauses name MySQL collations, which Doris accepts and ignores."""
    return node.this if isinstance(node, exp.Collate) else node


def _table_qualified(node: exp.Expression) -> exp.Expression:
    """`shop.orders.id` (what SQLAlchemy writes for a table with a schema) as `orders.id`: every table reference
    reaches the engine by its alias, which is the table's name where the query gives none."""
    if isinstance(node, exp.Column) and node.args.get("db") is not None and node.args.get("table") is not None:
        node.set("catalog", None)
        node.set("db", None)
    return node


def view_query(view: View) -> exp.Expression:
    query = parse(view.sql)[0]
    if view.columns:
        return exp.select(*[exp.alias_(exp.column(f"_c{i}"), c) for i, c in enumerate(view.columns)]).from_(
            exp.Subquery(this=query, alias=exp.TableAlias(
                this=exp.to_identifier("__v"),
                columns=[exp.to_identifier(f"_c{i}") for i in range(len(view.columns))])))
    return query


def _unique_merge_sql(table: Table, relation: str, key_list: str, show_hidden: bool) -> str:
    """The latest row of each key (the larger sequence value first, then the later load), unless it is a delete
    (its delete sign is 1); the hidden columns are not shown (DELETE and UPDATE read them: `show_hidden`)."""
    q = duck.quote
    order = "__o DESC"
    if table.sequence_column is not None:
        order = f"{q(table.sequence_column)} DESC NULLS LAST, {order}"
    latest = f"SELECT * FROM {relation} QUALIFY row_number() OVER (PARTITION BY {key_list} ORDER BY {order}) = 1"
    hidden = [] if show_hidden else [q(c.name) for c in table.hidden_columns]
    where = f" WHERE {q(DELETE_SIGN)} = 0" if table.has_delete_sign else ""
    return f"SELECT * EXCLUDE ({', '.join(['__o', *hidden])}) FROM ({latest}){where}"


def merge_sql(table: Table, relation: str, columns: list[str], show_hidden: bool = False) -> str:
    """How the raw rows of a table become what a query sees under its key model."""
    q = duck.quote
    if table.keys_type == "DUP_KEYS":
        return f"SELECT * FROM {relation}"
    keys = [c.name for c in table.columns if c.name in table.key_columns]
    key_list = ", ".join(q(k) for k in keys)
    if table.keys_type == "UNIQUE_KEYS":
        return _unique_merge_sql(table, relation, key_list, show_hidden)
    selects = []
    for name in columns:
        col = table.column(name)
        if col.name in table.key_columns:
            selects.append(q(col.name))
            continue
        fn = col.aggregation or "REPLACE"
        expr = {
            "SUM": f"SUM({q(name)})", "MAX": f"MAX({q(name)})", "MIN": f"MIN({q(name)})",
            "REPLACE": f"arg_max_null({q(name)}, __o)",
            "REPLACE_IF_NOT_NULL": f"arg_max({q(name)}, __o) FILTER (WHERE {q(name)} IS NOT NULL)",
        }[fn]
        selects.append(f"CAST({expr} AS {duckdb_type(col.type)}) AS {q(name)}")
    return f"SELECT {', '.join(selects)} FROM {relation} GROUP BY {key_list}"


async def fetch(session: Any, p: Plan) -> None:
    """Scan every table of the plan, in parallel."""
    todo = [s for s in p.scans if s.data is None]  # some are answered from the catalog (split_aggregation)
    datas = await asyncio.gather(*(
        scan(session.fe, s.table, s.partitions, s.columns, s.table.keys_type != "DUP_KEYS", s.partial_sql,
             s.filters)
        for s in todo))
    for s, data in zip(todo, datas, strict=True):
        s.data = data


def prepare_cursor(p: Plan) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection where each scan's relation name is its table, merged by its key model."""
    cur = duck.cursor()
    for name, data in p.static.items():
        cur.register(name, data)
    for s in p.scans:
        assert s.data is not None
        if s.table.keys_type == "DUP_KEYS":  # rows as stored: no merge view needed
            cur.register(s.relation, s.data)
            continue
        cur.register(f"{s.relation}_raw", s.data)
        columns = s.columns if s.columns is not None else [c.name for c in s.table.columns]
        merged = merge_sql(s.table, s.relation + "_raw", columns, s.show_hidden)
        cur.execute(f"CREATE TEMP VIEW {s.relation} AS {merged}")
    return cur


# The most a query's result may hold in the FE, as Doris's exec_mem_limit (2 GiB).
RESULT_BYTES_LIMIT = 2 << 30


def run(cur: duckdb.DuckDBPyConnection, sql: str, limit: int = RESULT_BYTES_LIMIT) -> pa.Table:
    """The query's result, read batch by batch so that one bigger than `limit` bytes stops early."""
    try:
        reader = cur.sql(sql).fetch_record_batch(64 * 1024)
        batches, held = [], 0
        for batch in reader:
            held += batch.nbytes
            if held > limit:
                raise DorisError(f"[MEM_LIMIT_EXCEEDED]the query's result is bigger than exec_mem_limit ({limit} "
                                 "bytes); add a LIMIT or a WHERE clause")
            batches.append(batch)
        return pa.Table.from_batches(batches, schema=reader.schema)
    except duck.ENGINE_ERRORS as e:
        raise DorisError(duck.error_text(e)) from None


def split_aggregation(p: Plan) -> None:
    """Let the BEs aggregate first when the query allows it (see partial_agg)."""
    if len(p.scans) != 1:
        return
    s = p.scans[0]
    found = partial_agg.split(p.query, s.relation, s.table.keys_type)
    if found is None:
        return
    p.query = found.final
    if found.counts_only and not any(part.has_delete_predicates for part in s.partitions):
        rows = sum(p.row_count for p in s.partitions)
        s.data = pa.table({name: pa.array([rows], pa.int64()) for name in found.counts_only})
    else:
        s.partial_sql = found.partial_sql


async def execute_query(session: Any, query: exp.Expression) -> pa.Table:
    def planned() -> Plan:
        p = plan(session, query)
        split_aggregation(p)
        return p

    return await execute_planned(session, planned)


async def execute_planned(session: Any, planned: Callable[[], Plan]) -> pa.Table:
    """The result of the plan `planned()` makes (in a worker thread: the tree can be big): its tables scanned
    from the BEs, then the query run in an engine thread."""

    def make() -> tuple[Plan, str]:
        p = planned()
        return p, p.query.sql(dialect="duckdb")

    p, sql = await asyncio.to_thread(make)
    await fetch(session, p)
    cur = prepare_cursor(p)

    def work() -> pa.Table:
        try:
            return run(cur, sql)
        finally:
            cur.close()

    return await in_engine(session, cur, work)


# Queries run in threads of their own: a long one never holds the threads of asyncio's default pool that the
# FE's other work (journal, repositories, planning) uses, and many of them queue here instead.
ENGINE_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="engine")


def match_without_index(session: Any) -> bool:
    """The session's enable_match_without_inverted_index (Doris's default true)."""
    try:  # HTTP's sessions have no variables
        return str(session.variables.get("enable_match_without_inverted_index")).lower() not in ("false", "0")
    except AttributeError:
        return True


def shows_hidden_columns(session: Any) -> bool:
    """The session's show_hidden_columns (Doris's default false)."""
    try:  # HTTP's sessions have no variables
        return bool(session.variables.get("show_hidden_columns"))
    except (AttributeError, TypeError, ValueError):
        return False


def query_timeout_s(session: Any) -> float:
    """The session's query_timeout (seconds; Doris's default 900, which a value of 0 or less also means)."""
    try:  # HTTP's sessions have no variables
        timeout = float(session.variables.get("query_timeout"))
    except (AttributeError, TypeError, ValueError):
        return 900.0
    return timeout if timeout > 0 else 900.0


async def in_engine(session: Any, cur: duckdb.DuckDBPyConnection, work: Callable[[], pa.Table]) -> pa.Table:
    """work() (which runs on `cur`) in an engine thread; stopped by the engine's interrupt when the statement
    is cancelled (KILL QUERY, the client gone) or runs past its query_timeout, so no thread keeps working for
    nobody."""
    timeout = query_timeout_s(session)
    left = max(0.0, timeout - (time.time() - getattr(session, "query_started", time.time())))
    future = asyncio.get_running_loop().run_in_executor(ENGINE_THREADS, work)
    future.add_done_callback(lambda f: f.cancelled() or f.exception())  # an abandoned one's error is read
    try:
        return await asyncio.wait_for(asyncio.shield(future), left)
    except TimeoutError:
        _interrupt(cur)
        raise DorisError(f"Query timeout. query_timeout: {timeout:g} s") from None
    except asyncio.CancelledError:
        _interrupt(cur)
        raise


def _interrupt(cur: duckdb.DuckDBPyConnection) -> None:
    """Stop the engine's work on `cur`; a cursor that has already finished and closed has nothing to stop."""
    try:
        cur.interrupt()
    except duckdb.Error:
        pass


def constant_value(expression: exp.Expression) -> Any:
    """The value of an expression that reads no table (a SET statement's), computed in the sandbox."""
    query = exp.select(expression.copy())
    sandbox.check(query)
    if query.find(exp.Table, exp.Subquery):
        raise DorisError("Variable value must be a constant")
    indexes.resolve_matches(query, {})  # Doris's error: a constant has no column to match
    sandbox.bound_values(query)
    cur = duck.cursor()
    try:
        return run(cur, query.sql(dialect="duckdb")).column(0)[0].as_py()
    finally:
        cur.close()


# ---- results -----------------------------------------------------------------------------------------------


def _mysql_type(t: pa.DataType) -> ColumnType:
    if pa.types.is_boolean(t) or pa.types.is_int8(t):
        return ColumnType.TINY
    if pa.types.is_int16(t) or pa.types.is_uint8(t):
        return ColumnType.SHORT
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return ColumnType.LONG
    if pa.types.is_integer(t):
        return ColumnType.LONGLONG
    if pa.types.is_float32(t):
        return ColumnType.FLOAT
    if pa.types.is_floating(t):
        return ColumnType.DOUBLE
    if pa.types.is_decimal(t):
        return ColumnType.NEWDECIMAL
    if pa.types.is_date(t):
        return ColumnType.DATE
    if pa.types.is_timestamp(t):
        return ColumnType.DATETIME
    return ColumnType.STRING  # 254, what Doris sends for CHAR and VARCHAR (PrimitiveType.toMysqlType)


def _text(value: Any) -> Any:
    if isinstance(value, (dt.date, decimal.Decimal, int, float, str, bool)) or value is None:
        return value
    return str(value)


def narrowed(table: pa.Table) -> pa.Table:
    """A result as the client gets it: integer sums BIGINT where they fit (CREATE TABLE AS SELECT's types)."""
    return _narrow(table)


def _narrow(table: pa.Table) -> pa.Table:
    """DuckDB sums integers into HUGEINT (decimal(38,0) in Arrow); Doris answers BIGINT where it fits."""
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type) and field.type.scale == 0 and field.type.precision == 38:
            try:
                table = table.set_column(i, field.name, table.column(i).cast(pa.int64()))
            except pa.ArrowInvalid:
                pass
    return table


def _float32_text(column: ResultColumn, value: Any) -> bytes:
    """FLOAT values as their shortest float32 text (1.1, not 1.100000023841858), as Doris prints them."""
    return str(np.float32(value)).encode()


# Results with more rows than this are turned into Python rows slice by slice as they are sent.
_ROWS_AT_ONCE = 50_000


def to_result(table: pa.Table) -> tuple[list[tuple] | Iterator[tuple], list[ResultColumn]]:
    table = _narrow(table)
    columns = [ResultColumn(f.name, _mysql_type(f.type), text_encoder=_float32_text if pa.types.is_float32(f.type)
                            else None) for f in table.schema]
    if table.num_rows <= _ROWS_AT_ONCE:
        return _rows(table), columns
    return (row for start in range(0, table.num_rows, _ROWS_AT_ONCE)
            for row in _rows(table.slice(start, _ROWS_AT_ONCE))), columns


def _rows(table: pa.Table) -> list[tuple]:
    data = [col.to_pylist() for col in table.columns]
    if any(not pa.types.is_primitive(f.type) and not pa.types.is_string(f.type) for f in table.schema):
        data = [[_text(v) for v in col] for col in data]
    return list(zip(*data, strict=True)) if data else []
