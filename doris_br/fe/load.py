"""INSERT and the load path it shares with Stream Load: rows routed to tablets, written atomically to every replica.

Row work is vectorised (`doris_br.fe.routing`): DuckDB casts and computes each row's partition and bucket,
Arrow orders the rows so each tablet's rows are one slice.

Atomicity: a load stages its rows on every replica of every tablet of the partitions it touches (no rows if
none went there); only when every write succeeded does it take the table's lock, publish the staged files as
version V = visible + 1 of each touched partition and commit the new visible versions in one journal
transaction. Scans read versions up to the visible one, so a failed load leaves nothing visible, and a file it
published before failing is overwritten by the next load's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import attrs
import pyarrow as pa
from sqlglot import exp

from doris_br import duck, names, rpc
from doris_br.clock import now_ms
from doris_br.errors import ER_TABLE_EXISTS, DorisError
from doris_br.fe import auto_increment, compaction, routing, stale
from doris_br.fe import query as queries
from doris_br.fe.catalog import Backend
from doris_br.fe.olap import (
    LoadLabel,
    Partition,
    Table,
    Tablet,
    find_table,
    find_view,
    get_table,
    partitions_of,
    replicas_by_backend,
    resolve_partitions,
    session_table,
)
from doris_br.fe.placement import create_partitions, drop_tablets
from doris_br.schema import PartitionDesc
from doris_br.sql.values import RowValues, literal_rows

_TABLE_LOCKS: dict[int, asyncio.Lock] = {}
_LAST_PUBLISH: dict[int, int] = {}  # table id -> sequence of its last publish
# A load's do_put streams stay open while its rows arrive, which for a big Stream Load takes a while.
STREAM_TIMEOUT_S = 6 * 3600.0
# Each open stream holds a BE thread until the commit; tablets past this many get their rows in one put then.
MAX_OPEN_STREAMS = 240
# Renaming a load's staged files is quick; a BE that does not answer in this long fails the load.
PUBLISH_TIMEOUT_S = 60.0
# One-shot puts in flight per load: enough to keep every BE busy without a thread per tablet.
_PUTS = asyncio.Semaphore(32)


def table_lock(table_id: int) -> asyncio.Lock:
    """Load commits, truncates, partition changes, drops and restore commits of one table run one at a time."""
    return _TABLE_LOCKS.setdefault(table_id, asyncio.Lock())


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
    if node.args.get("overwrite"):
        return await overwrite(session, node)
    fe = session.fe
    target = _target_table(node)
    db, table = session_table(session, (target.db, target.name), needs="LOAD_PRIV")
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


async def overwrite(session: Any, node: exp.Insert) -> int:
    """INSERT OVERWRITE TABLE t [PARTITION (p, ...) | PARTITION (*)]: the rows go into fresh copies of the
    partitions (all, the named ones, or under PARTITION (*) those the rows land in), which replace the old ones
    in the load's commit; the old tablets are dropped overwritten_tablets_keep_s later (fe/stale.py). An empty
    result empties what it overwrites."""
    fe = session.fe
    target = _target_table(node)
    db, table = session_table(session, (target.db, target.name), needs="LOAD_PRIV")
    columns = _target_columns(table, node)
    fe.jobs.refuse_load(table)
    fe.jobs.refuse_ddl([table], "INSERT OVERWRITE")
    label = node.meta.get("label")
    if label is not None:
        check_label(fe, db.id, label)
    partition_node = target.args.get("partition")
    named = [e.name for e in partition_node.expressions] if partition_node else None
    star = bool(node.meta.get("partition_star"))
    data, source_columns = await _source(session, node)
    if data.num_columns != len(columns):
        raise DorisError("Column count doesn't match value count", 1136)
    table = get_table(fe.catalog, db, table.name)
    old = _load_partitions(fe, table, named)
    if any(p.temporary for p in old):
        raise DorisError("Can not overwrite temporary partitions")
    descs = [PartitionDesc(name=p.name, lower=p.lower, upper=p.upper, values=p.values) for p in old]
    fresh = Fresh(await create_partitions(fe, table, descs), replaces=frozenset(p.name for p in old),
                  only_touched=star, grows=named is None)
    async with Load(fe, db, table, label=label, fresh=fresh) as load:
        await load.add(data, source_columns, columns)
        return (await load.commit()).rows


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
    async with Load(fe, db, table, named, label) as load:
        await load.add(data, source_columns, columns)
        return await load.commit()


class LabelAlreadyUsed(DorisError):
    """A load's label is taken in its database; Stream Load answers it with a status of its own."""


def check_label(fe: Any, db_id: int, label: str) -> None:
    """Doris's label format (INSERT WITH LABEL and Stream Load's `label` header alike), then whether it is free."""
    names.check_label(label)
    used = fe.catalog.get(LoadLabel, f"{db_id}/{label}")
    if used is not None:
        raise LabelAlreadyUsed(f"Label [{label}] has already been used, relate to txn [{used.txn_id}]")


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


@attrs.define
class Fresh:
    """Partitions a load writes into that the catalog does not hold yet, made visible by the load's commit all
    at once: with the new table itself (CREATE TABLE ... AS SELECT), or in place of the table's partitions of
    the same names (INSERT OVERWRITE), so a reader sees all old or all new rows, never a mix.

    `replaces`: the names of the table's partitions that the fresh ones copy (their bounds), which must still
    exist at the commit. With `only_touched` (INSERT OVERWRITE ... PARTITION (*)) a fresh partition no row went
    to is dropped instead of replacing its old one. Partitions an AUTO PARTITION table needs for the rows are
    made fresh too, and added by the commit."""

    partitions: list[Partition]
    new_table: bool = False
    replaces: frozenset[str] = frozenset()
    only_touched: bool = False
    grows: bool = True  # may add the partitions an AUTO PARTITION table needs (not with PARTITION (p, ...))


@attrs.frozen
class _Write:
    """Rows for one replica of one tablet of a partition the load touches."""

    tablet: Tablet
    backend_id: int
    rows: pa.Table

    @property
    def key(self) -> tuple[int, int]:
        return self.tablet.id, self.backend_id


class Load:
    """One atomic load, fed block by block: `async with Load(...) as load`, `await load.add(...)` per block,
    then `await load.commit()`. Leaving the block without a commit gives the load up.

    The rows are staged on every replica under the load's own id (rpc.WriteTablet) without holding the table,
    so other loads and DDL of the table go on meanwhile. With `streaming` (Stream Load), each replica of a
    touched tablet gets a do_put stream, opened when its first rows arrive and written as blocks are routed, so
    the FE holds one block at a time, never the whole load; past MAX_OPEN_STREAMS tablet replicas, rows are held
    until the commit instead. Otherwise (INSERT) all rows are held. The commit stages the held rows, and no rows
    for the touched partitions' other tablets, then takes the table's lock: the touched partitions must still
    have the tablets the rows went to, each gets version V = visible + 1, every replica publishes its staged
    file as V (rpc.PublishTablets), and the versions and the label are committed in one journal transaction.

    A table under restore (from the moment the RESTORE is accepted) refuses the load, when it begins and again
    under the table's lock before it publishes (JobManager.refuse_load), so no load is acknowledged that the
    restore's commit then replaces.

    A BE stages a file only when its stream ended as a whole (rpc.PutStream); whatever a load given up staged is
    deleted. A publish that fails on some replica may leave files of version V that no scan reads (V is not
    visible) and that the next load's publish replaces.
    """

    def __init__(self, fe: Any, db: Any, table: Table, named: list[str] | None = None,
                 label: str | None = None, streaming: bool = False, fresh: Fresh | None = None) -> None:
        self._fe = fe
        self._db = db
        self.table = table
        self._named = named
        self._label = label
        self._streaming = streaming
        self._txn = uuid.uuid4().hex
        self._committed = False
        self.rows = 0
        self._partitions: list[Partition] = []
        self._touched: dict[int, Partition] = {}  # id -> the partition as the load found it
        self._streams: dict[tuple[int, int], rpc.PutStream] = {}  # (tablet id, backend id)
        self._held: dict[tuple[int, int], list[_Write]] = {}
        self._lock = table_lock(table.id)
        self._fresh = fresh

    async def __aenter__(self) -> Load:
        try:
            if self._label is not None:
                check_label(self._fe, self._db.id, self._label)  # fail fast; checked again at the commit
            if self._fresh is not None and self._fresh.new_table:
                self._partitions = list(self._fresh.partitions)
                return self
            self.table = get_table(self._fe.catalog, self._db, self.table.name)
            self._fe.jobs.refuse_load(self.table)
            self._partitions = _load_partitions(self._fe, self.table, self._named) if self._fresh is None \
                else list(self._fresh.partitions)
            return self
        except BaseException:
            if self._fresh is not None:  # __aexit__ does not run
                await drop_tablets(self._fe, self._fresh.partitions)
            raise

    async def __aexit__(self, *exc: object) -> None:
        if self._streams:  # given up: the BEs drop what they got
            streams = list(self._streams.values())
            self._streams.clear()
            await asyncio.to_thread(lambda: [s.close() for s in streams])
        if not self._committed:
            for backend_id, tablet_ids in replicas_by_backend(self._touched.values()).items():
                self._fe.backends.send_later(backend_id, rpc.AbortTablets(self._txn, [t for t, _ in tablet_ids]))
            if self._fresh is not None:  # no catalog object names them
                await drop_tablets(self._fe, self._fresh.partitions)

    async def add(self, data: pa.Table, source_columns: list[str], columns: list[str]) -> None:
        """Route a block (`source_columns[i]` of `data` goes to table column `columns[i]`) and send it."""
        if data.num_rows == 0:
            return

        auto = auto_increment.column_of(self.table.columns)
        count = auto_increment.missing(data, source_columns, columns, auto) if auto is not None else 0
        first = auto_increment.allocate(self._fe.catalog, self.table.id, auto, count) if auto and count else 0

        def prepare() -> tuple[pa.Table, routing.Routed]:
            block, sources, targets = data, source_columns, columns
            if auto is not None and count:
                block, sources, targets = auto_increment.fill(data, source_columns, columns, auto, first)
            rows = routing.typed(self.table, block, sources, targets)
            return rows, routing.route(self.table, self._partitions, rows)

        rows, routed = await asyncio.to_thread(prepare)
        if routed.unrouted.num_rows and self.table.auto_partition and self._fresh is not None \
                and self._fresh.grows:
            await self._fresh_auto_partitions(routed.unrouted)
            routed = await asyncio.to_thread(routing.route, self.table, self._partitions, rows)
        elif routed.unrouted.num_rows and self.table.auto_partition and self._named is None:
            async with self._lock:  # two loads needing the same new partition make it once
                self._fe.jobs.refuse_load(self.table)
                await _auto_partitions(self._fe, self.table, routed.unrouted)
            self.table = get_table(self._fe.catalog, self._db, self.table.name)
            self._partitions = _load_partitions(self._fe, self.table, self._named)
            routed = await asyncio.to_thread(routing.route, self.table, self._partitions, rows)
        if routed.unrouted.num_rows:
            raise DorisError(routing.STRICT_MODE_ERROR.format(
                reason=f"{routed.unrouted.num_rows} row(s) fit no partition: no partition for this tuple"))
        by_backend: dict[int, list[_Write]] = {}
        for (index, bucket), (start, end) in routed.slices.items():
            partition = self._touched.setdefault(self._partitions[index].id, self._partitions[index])
            tablet = partition.tablets[bucket]
            for replica in tablet.replicas:
                w = _Write(tablet, replica.backend_id, routed.rows.slice(start, end - start))
                by_backend.setdefault(w.backend_id, []).append(w)
        await _per_backend(self._write, by_backend)
        self.rows += data.num_rows

    async def commit(self) -> LoadOutcome:
        """Every replica stages its rows; then, holding the table, the versions are published everywhere and
        committed (with the label) at once."""
        empty = routing.table_schema(self.table).empty_table()
        puts = list(self._held.values())
        puts += [[_Write(t, r.backend_id, empty)] for p in self._touched.values() for t in p.tablets
                 for r in t.replicas if (t.id, r.backend_id) not in self._streams
                 and (t.id, r.backend_id) not in self._held]
        by_backend: dict[int, list[tuple[int, int]]] = {}
        for key in self._streams:
            by_backend.setdefault(key[1], []).append(key)
        try:
            stored, put = await _all(_per_backend(self._store, by_backend), self._put_all(puts))
        finally:
            self._streams.clear()
        stored.update(put)
        async with self._lock:
            # A restore accepted since the load began: its commit would replace what this publishes.
            if self._fresh is None or not self._fresh.new_table:
                self._fe.jobs.refuse_load(self.table)
            # Fresh partitions are the load's own: nothing else could have changed them.
            current = self._current_partitions() if self._fresh is None else list(self._touched.values())
            if self._label is not None:
                check_label(self._fe, self._db.id, self._label)
            sequence = _publish_sequence(self.table.id)
            publish = {backend_id: rpc.PublishTablets(self._txn, [rpc.TabletVersion(tablet_id, p.visible_version + 1)
                                                                  for tablet_id, p in tablets], sequence)
                       for backend_id, tablets in replicas_by_backend(current).items()}
            await _per_backend(self._publish, publish)
            now = now_ms()
            published = []
            for p in current:
                tablets = []
                for t in p.tablets:
                    size = stored[(t.id, t.replicas[0].backend_id)]  # type: ignore[index]  # replicas hold the same rows
                    tablets.append(attrs.evolve(t, row_count=t.row_count + size.rows,
                                                data_size=t.data_size + size.bytes))
                published.append(attrs.evolve(p, visible_version=p.visible_version + 1, visible_version_time_ms=now,
                                              tablets=tuple(tablets)))
            puts, deletes, dropped = (published, [], []) if self._fresh is None else self._swap(published)
            if self._label is None:
                self._fe.catalog.commit(puts, deletes)
                txn_id = 0
            else:
                label = self._label
                txn_id = self._fe.catalog.commit_numbered(1, lambda txn: [*puts, LoadLabel(
                    db_id=self._db.id, label=label, txn_id=txn, table_id=self.table.id, rows=self.rows,
                    finish_time_ms=now)], deletes)
            self._committed = True
        await drop_tablets(self._fe, dropped)
        compaction.request(self._fe, self.table, published)
        return LoadOutcome(rows=self.rows, txn_id=txn_id)

    def _swap(self, published: list[Partition]) -> tuple[list[Any], list[Partition], list[Partition]]:
        """What the commit of a load into fresh partitions puts and deletes, and the partitions whose tablets
        are dropped after it (fresh ones no row went to under PARTITION (*)); the replaced ones' tablets are
        dropped after a grace, for the reads planned before the swap (fe/stale.py)."""
        fresh = self._fresh
        assert fresh is not None
        touched = {p.id: p for p in published}
        kept = [touched.get(p.id, p) for p in fresh.partitions if p.id in touched or not fresh.only_touched]
        discarded = [p for p in fresh.partitions if p.id not in touched and fresh.only_touched]
        catalog = self._fe.catalog
        if fresh.new_table:
            name = self.table.name
            if find_table(catalog, self._db, name) is not None or find_view(catalog, self._db, name) is not None \
                    or self._fe.jobs.restore_creating(self._db.id, name) is not None:
                raise DorisError(f"Table '{name}' already exists", ER_TABLE_EXISTS)
            return [self.table, *kept], [], discarded
        table = find_table(catalog, self._db, self.table.name)
        if table is not None:
            self._fe.jobs.refuse_ddl([table], "INSERT OVERWRITE")  # a backup snapshotting the old tablets
        current = {p.name: p for p in partitions_of(catalog, table)} if table and table.id == self.table.id else {}
        if any(name not in current for name in fresh.replaces):
            raise DorisError(f"table {self.table.name} changed while the load was running (a partition was "
                             "dropped, or the table); nothing was loaded, load again")
        replaced = [current[p.name] for p in kept if p.name in current]
        return [*kept, *stale.stale(replaced, self._fe.config.overwritten_tablets_keep_s)], replaced, discarded

    async def _fresh_auto_partitions(self, rows: pa.Table) -> None:
        """An AUTO PARTITION table's partitions for rows no fresh partition takes: made fresh as well."""
        fresh = self._fresh
        assert fresh is not None
        taken = {p.name for p in fresh.partitions}
        descs = [d for d in _auto_partition_descs(self.table, rows) if d.name not in taken]
        fresh.partitions.extend(await create_partitions(self._fe, self.table, resolve_partitions(self.table, descs)))
        self._partitions = list(fresh.partitions)

    def _current_partitions(self) -> list[Partition]:
        """The touched partitions as they are now; the load fails if one was dropped, or given other tablets or
        replicas (TRUNCATE, a restore), while its rows were staged."""
        current = []
        for p in self._touched.values():
            now = self._fe.catalog.get(Partition, str(p.id))
            if now is None or _placement(now) != _placement(p):
                raise DorisError(f"table {self.table.name} changed while the load was running (partition {p.name} "
                                 "was dropped, truncated or restored); nothing was loaded, load again")
            current.append(now)
        return current

    def _publish(self, backend_id: int, task: rpc.PublishTablets) -> dict[Any, Any]:
        backend = self._fe.catalog.get(Backend, str(backend_id))
        try:
            if backend is None:
                raise rpc.TaskError("NOT_FOUND", "the backend was dropped")
            self._fe.backends.client(backend).call(task, PUBLISH_TIMEOUT_S)
        except rpc.TaskError as e:
            raise DorisError(f"failed to publish the load on backend {backend_id}: {e.message}") from None
        return {}

    # ---- writing ----------------------------------------------------------------------------------------

    def _write(self, backend_id: int, writes: list[_Write]) -> dict[Any, Any]:
        """A block's rows for one backend: into open streams, or held for the commit."""
        for w in writes:
            stream = self._streams.get(w.key)
            if stream is None and self._streaming and w.key not in self._held \
                    and len(self._streams) < MAX_OPEN_STREAMS:
                stream = self._streams[w.key] = self._open(w)
            if stream is None:
                self._held.setdefault(w.key, []).append(w)
                continue
            try:
                stream.write(w.rows)
            except rpc.TaskError as e:
                raise _failed(w, e) from None
        return {}

    def _open(self, w: _Write) -> rpc.PutStream:
        backend = self._fe.catalog.get(Backend, str(w.backend_id))
        try:
            if backend is None:
                raise rpc.TaskError("NOT_FOUND", f"backend of tablet {w.tablet.id} was dropped")
            task = rpc.WriteTablet(w.tablet.id, self._txn)
            return self._fe.backends.client(backend).open_put(task, w.rows.schema, timeout_s=STREAM_TIMEOUT_S)
        except rpc.TaskError as e:
            raise _failed(w, e) from None

    def _store(self, backend_id: int, keys: list[tuple[int, int]]) -> dict[Any, Any]:
        """End this backend's streams together (so it stores its tablets at once), then collect the answers."""
        streams = [self._streams[key] for key in keys]
        try:
            for stream in streams:
                stream.end()
            return {key: stream.result() for key, stream in zip(keys, streams, strict=True)}
        except rpc.TaskError as e:
            for stream in streams:  # the ones not ended yet give up; closing an ended one does nothing
                stream.close()
            raise DorisError(f"failed to load a tablet on backend {backend_id}: {e.message}") from None

    async def _put_all(self, puts: list[list[_Write]]) -> dict[Any, Any]:
        """Held rows and empty versions, each tablet replica in one do_put, some at once (as INSERT always did)."""

        async def put(writes: list[_Write]) -> rpc.WriteResult:
            async with _PUTS:
                w = writes[0]
                rows = pa.concat_tables([x.rows for x in writes])
                return await asyncio.to_thread(self._put, attrs.evolve(w, rows=rows))

        results = await _all(*(put(ws) for ws in puts))
        return {ws[0].key: r for ws, r in zip(puts, results, strict=True)}

    def _put(self, w: _Write) -> rpc.WriteResult:
        stream = self._open(w)
        try:
            stream.write(w.rows)
            stream.end()
            return stream.result()
        except rpc.TaskError as e:
            stream.close()
            raise _failed(w, e) from None


def _publish_sequence(table_id: int) -> int:
    """Larger than the table's last one, also across FE restarts (the clock in ns); taken under its lock."""
    sequence = max(time.time_ns(), _LAST_PUBLISH.get(table_id, 0) + 1)
    _LAST_PUBLISH[table_id] = sequence
    return sequence


def _placement(p: Partition) -> tuple[tuple[int, tuple[int, ...]], ...]:
    return tuple((t.id, tuple(r.backend_id for r in t.replicas)) for t in p.tablets)


def _failed(w: _Write, e: rpc.TaskError) -> DorisError:
    return DorisError(f"failed to load tablet {w.tablet.id} on backend {w.backend_id}: {e.message}")


async def _all(*awaitables: Any) -> list[Any]:
    """Their results, once every one has ended; then the first failure, if any, is raised."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


async def _per_backend(work: Any, by_backend: dict[int, list[Any]]) -> dict[Any, Any]:
    """`work(backend_id, items)` in one thread per backend, so that every BE receives at once; results merged."""
    # all threads done before a failure closes streams
    results = await _all(*(asyncio.to_thread(work, b, items) for b, items in by_backend.items()))
    return {k: v for r in results for k, v in r.items()}


def _auto_partition_descs(table: Table, rows: pa.Table) -> list[PartitionDesc]:
    """AUTO PARTITION BY RANGE (date_trunc(col, unit)): one partition per unit the rows fall in."""
    column = table.partition_columns[0]
    unit = table.auto_unit or "day"
    values = {v for v in rows.column(column).to_pylist() if v is not None}
    starts = sorted({_trunc(v, unit) for v in values})
    type_text = table.column(column).type
    fmt = "%Y-%m-%d" if type_text.startswith("date") and not type_text.startswith("datetime") else "%Y-%m-%d %H:%M:%S"
    return [PartitionDesc(name="p" + s.strftime("%Y%m%d%H%M%S"), lower=(s.strftime(fmt),),
                          upper=(_next(s, unit).strftime(fmt),)) for s in starts]


async def _auto_partitions(fe: Any, table: Table, rows: pa.Table) -> None:
    """The new partitions an AUTO PARTITION table needs for the rows, committed."""
    existing = {p.name for p in partitions_of(fe.catalog, table)}
    descs = [d for d in _auto_partition_descs(table, rows) if d.name not in existing]
    if not descs:
        return
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
