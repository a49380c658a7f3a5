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
    be.storage.drop_tablets(task.tablet_ids)
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


def file_groups(chains: list[list[Path]]) -> dict[tuple[deletes.DeletePredicate, ...], list[str]]:
    """The files to read, grouped by the delete predicates that apply to their rows (those of the newer files of
    their tablet); tablets of one partition share their predicates, so a partition's files are a few groups.
    Files of no rows (a DELETE's own versions) are not read."""
    groups: dict[tuple[deletes.DeletePredicate, ...], list[str]] = {}
    for chain in chains:
        rowsets = [(path, Rowset.parse(path).end) for path in chain]  # type: ignore[union-attr]  # chains hold rowsets
        for (path, end), predicates in zip(rowsets, deletes.deleted_by_newer(rowsets), strict=True):
            if deletes.footer(path, end).rows:
                groups.setdefault(tuple(predicates), []).append(str(path))
    return groups


def _read_sql(files: list[str], task: rpc.ScanTablets, schema: pa.Schema, where: list[str]) -> str:
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    names = schema.names if task.columns is None else task.columns
    projection = [duck.quote(c) for c in names] or ["NULL AS __n"]  # no columns: rows only, what count(*) needs
    options = ""
    if task.with_order:
        options = ", filename = true, file_row_number = true"
        projection.append(f"(CAST(regexp_extract(filename, '{ROWSET_END_SQL_PATTERN}', 1) AS BIGINT) << 40) "
                          "| file_row_number AS __o")
    read = f"SELECT {', '.join(projection)} FROM read_parquet({listing}{options})"
    return read + (f" WHERE {' AND '.join(where)}" if where else "")


def _scan_files(groups: dict[tuple[deletes.DeletePredicate, ...], list[str]], task: rpc.ScanTablets,
                schema: pa.Schema) -> pa.Table:
    """DuckDB reads all the files in one multi-threaded pass (one read per group of files with the same delete
    predicates, which drop the rows they delete), running the first aggregation phase in the same query when
    there is one. With `with_order`, __o numbers each row by its version and place in the file: a compacted
    rowset's rows keep their versions' order, so its last version numbers them all."""
    filters = [c.sql() for c in task.filters]
    reads = []
    for predicates, files in groups.items():
        deleted = [f"NOT {deletes.deleted_sql(list(predicates))}"] if predicates else []
        reads.append(_read_sql(files, task, schema, filters + deleted))
    read = " UNION ALL ".join(reads)
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
        groups = file_groups([be.storage.version_files(tv.tablet_id, tv.version) for tv in task.tablets])
        return _scan_files(groups, task, schema) if groups else _empty(task, schema)
    except FileNotFoundError as e:
        raise rpc.TaskError("NOT_FOUND", str(e)) from None
    except duck.ENGINE_ERRORS as e:
        raise rpc.TaskError("COMMON_ERROR", duck.error_text(e)) from None
    except ValueError as e:  # a filter that is not one the FE sends
        raise rpc.TaskError("INVALID_ARGUMENT", str(e)) from None


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
