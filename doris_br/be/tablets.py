"""The BE's tablet tasks: create and drop tablets, write a version (do_put), scan versions (do_get)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq

from doris_br import deletes, duck, rpc
from doris_br.be.server import BackendService, handles
from doris_br.be.storage import ROWSET_END_SQL_PATTERN, Rowset, covering


@handles(rpc.CreateTablets)
def create_tablets(be: BackendService, task: rpc.CreateTablets) -> rpc.Done:
    for tablet_id in task.tablet_ids:
        be.storage.create_tablet(tablet_id)
    return rpc.Done()


@handles(rpc.DropTablets)
def drop_tablets(be: BackendService, task: rpc.DropTablets) -> rpc.Done:
    for tablet_id in task.tablet_ids:
        be.storage.drop_tablet(tablet_id)
    return rpc.Done()


@handles(rpc.WriteTablet)
def write_tablet(be: BackendService, task: rpc.WriteTablet, reader: flight.MetadataRecordBatchReader) \
        -> rpc.WriteResult:
    rows = 0

    def whole() -> Iterator[pa.RecordBatch]:
        """The stream's batches; an error at its end if the writer gave up, so that nothing is kept."""
        nonlocal rows
        ended = False
        for chunk in reader:
            if chunk.data is not None:
                rows += chunk.data.num_rows
                yield chunk.data
            ended = chunk.app_metadata is not None and chunk.app_metadata.to_pybytes() == rpc.END_OF_ROWS
        if not ended:
            raise rpc.TaskError("CANCELLED", f"the write of tablet {task.tablet_id} was given up")

    try:
        size = be.storage.write_staged(task.tablet_id, task.txn,
                                       pa.RecordBatchReader.from_batches(reader.schema, whole()))
    except FileNotFoundError as e:
        raise rpc.TaskError("NOT_FOUND", str(e)) from None
    return rpc.WriteResult(rows=rows, bytes=size)


@handles(rpc.PublishTablets)
def publish_tablets(be: BackendService, task: rpc.PublishTablets) -> rpc.Done:
    try:
        for tv in task.tablets:
            be.storage.publish(tv.tablet_id, task.txn, tv.version, task.sequence)
    except (FileNotFoundError, FileExistsError) as e:
        raise rpc.TaskError("NOT_FOUND" if isinstance(e, FileNotFoundError) else "ALREADY_EXIST", str(e)) from None
    return rpc.Done()


@handles(rpc.AbortTablets)
def abort_tablets(be: BackendService, task: rpc.AbortTablets) -> rpc.Done:
    be.storage.abort(task.tablet_ids, task.txn)
    return rpc.Done()


def delete_filter(chains: list[list[Path]]) -> str | None:
    """A WHERE clause (over read_parquet's filename column) that drops the rows delete predicates delete: each
    predicate deletes from the files of its tablet older than itself. None when no predicate deletes anything.
    Tablets with the same predicates (those of one partition) share one test, so the clause grows with the
    predicates, not with files times predicates; DuckDB computes the file tests once per chunk (a constant)."""
    groups: dict[tuple[deletes.DeletePredicate, ...], list[str]] = {}
    for chain in chains:
        ends = [Rowset.parse(p).end for p in chain]  # type: ignore[union-attr]  # chains hold rowsets only
        found = [d for path, end in zip(chain, ends, strict=True) for d in deletes.of_file(path, end)]
        applying = tuple(d for d in found if d.version > ends[0])
        if applying:
            groups.setdefault(applying, []).extend(str(p) for p in chain)
    if not groups:
        return None
    end = f"CAST(regexp_extract(filename, '{ROWSET_END_SQL_PATTERN}', 1) AS BIGINT)"
    tests = []
    for predicates, paths in groups.items():
        listing = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        tests.append(f"(filename IN ({listing}) AND {deletes.deleted_before_sql(list(predicates), end)})")
    return "NOT (" + " OR ".join(tests) + ")"


def _scan_files(files: list[str], task: rpc.ScanTablets, schema: pa.Schema, where: str | None = None) \
        -> pa.Table:
    """DuckDB reads all the files in one multi-threaded pass, running the first aggregation phase in the same
    query when there is one. With `with_order`, __o numbers each row by its version and place in the file: a
    compacted rowset's rows keep their versions' order, so its last version numbers them all."""
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    names = schema.names if task.columns is None else task.columns
    projection = [duck.quote(c) for c in names] or ["NULL AS __n"]  # no columns: rows only, what count(*) needs
    options = ", filename = true" if where is not None else ""
    if task.with_order:
        options = ", filename = true, file_row_number = true"
        projection.append(f"(CAST(regexp_extract(filename, '{ROWSET_END_SQL_PATTERN}', 1) AS BIGINT) << 40) "
                          "| file_row_number AS __o")
    read = f"SELECT {', '.join(projection)} FROM read_parquet({listing}{options})"
    if where is not None:
        read += f" WHERE {where}"
    cur = duck.files_cursor()
    try:
        if task.sql is None:
            return cur.sql(read).to_arrow_table()
        # The partial aggregate comes from a user's query: it runs in the sandbox, over the files' rows as a
        # stream, never where files can be opened.
        return duck.run_over(cur.sql(read).fetch_record_batch(), task.sql)
    finally:
        cur.close()


def _empty(task: rpc.ScanTablets, schema: pa.Schema) -> pa.Table:
    """What a scan of tablets holding no rows (all at version 1) returns."""
    empty = rpc.scanned_schema(schema, task.columns, task.with_order).empty_table()
    return empty if task.sql is None else duck.run_over(empty, task.sql)


@handles(rpc.ScanTablets)
def scan_tablets(be: BackendService, task: rpc.ScanTablets) -> pa.Table:
    """Versions 2..version of each tablet (version 1 holds no rows), as one table."""
    schema = rpc.schema_from_text(task.schema)
    try:
        chains = [be.storage.version_files(tv.tablet_id, tv.version) for tv in task.tablets]
        files = [str(p) for chain in chains for p in chain]
        return _scan_files(files, task, schema, delete_filter(chains)) if files else _empty(task, schema)
    except FileNotFoundError as e:
        raise rpc.TaskError("NOT_FOUND", str(e)) from None
    except duck.ENGINE_ERRORS as e:
        raise rpc.TaskError("COMMON_ERROR", duck.error_text(e)) from None


@handles(rpc.CompactTablets)
def compact_tablets(be: BackendService, task: rpc.CompactTablets) -> rpc.Done:
    be.compactor.submit(task.tablets)
    return rpc.Done()


@handles(rpc.TabletRowsets)
def tablet_rowsets(be: BackendService, task: rpc.TabletRowsets) -> rpc.TabletRowsetsResult:
    def info(r: Rowset) -> rpc.RowsetInfo:
        return rpc.RowsetInfo(r.start, r.end, r.path.stat().st_size, pq.read_metadata(r.path).num_rows)

    try:
        found, staged = be.storage.contents(task.tablet_id)
        rowsets = sorted(found, key=lambda r: (r.start, r.end))
        try:  # every version on disk: the BE does not know which are visible, and reads never go past them
            chain = covering(rowsets, max((r.end for r in rowsets), default=1))
        except FileNotFoundError:
            chain = []
        return rpc.TabletRowsetsResult(rowsets=[info(r) for r in chain],
                                       stale=[info(r) for r in rowsets if r not in chain], staged=len(staged))
    except FileNotFoundError as e:  # the tablet, or a rowset swept while looked at
        raise rpc.TaskError("NOT_FOUND", str(e)) from None
