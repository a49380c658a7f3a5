"""The BE's tablet tasks: create and drop tablets, write a version (do_put), scan versions (do_get)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import duckdb
import pyarrow as pa

from doris_br import duck, rpc
from doris_br.be.server import BackendService, handles

# Scans read many small files; a few threads overlap their I/O and decoding.
_READERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="scan")


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
def write_tablet(be: BackendService, task: rpc.WriteTablet, table: pa.Table) -> rpc.WriteResult:
    try:
        size = be.storage.write_version(task.tablet_id, task.version, table)
    except FileNotFoundError as e:
        raise rpc.TaskError("NOT_FOUND", str(e)) from None
    return rpc.WriteResult(rows=table.num_rows, bytes=size)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _scan_files(be: BackendService, task: rpc.ScanTablets) -> pa.Table:
    """Rows without load order (DUPLICATE tables): DuckDB reads all the files in one multi-threaded pass,
    running the first aggregation phase in the same query when there is one."""
    files = [str(p) for tv in task.tablets for p in be.storage.version_files(tv.tablet_id, tv.version)]
    listing = "read_parquet([" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "])"
    if task.columns is None:
        projection = "*"
    elif task.columns:
        projection = ", ".join(_quote(c) for c in task.columns)
    else:
        projection = "NULL AS __n"  # rows, no columns: what count(*) needs
    cur = duck.cursor()
    try:
        cur.execute(f"CREATE TEMP VIEW __data AS SELECT {projection} FROM {listing}")
        return cur.sql(task.sql or "SELECT * FROM __data").to_arrow_table()
    finally:
        cur.close()


@handles(rpc.ScanTablets)
def scan_tablets(be: BackendService, task: rpc.ScanTablets) -> pa.Table:
    schema = rpc.schema_from_text(task.schema)
    has_files = any(tv.version > 1 for tv in task.tablets)
    if not task.with_order and has_files:
        try:
            return _scan_files(be, task)
        except FileNotFoundError as e:
            raise rpc.TaskError("NOT_FOUND", str(e)) from None
        except duckdb.Error as e:
            raise rpc.TaskError("COMMON_ERROR", str(e).split("\n")[0]) from None

    def read(tv: rpc.TabletVersion) -> pa.Table:
        return be.storage.read_versions(tv.tablet_id, tv.version, schema, task.columns, task.with_order)

    try:
        parts = list(_READERS.map(read, task.tablets))
    except FileNotFoundError as e:
        raise rpc.TaskError("NOT_FOUND", str(e)) from None
    data = pa.concat_tables(parts) if parts else be.storage.read_versions(0, 1, schema, task.columns,
                                                                          task.with_order)
    if task.sql is None:
        return data
    try:  # the first phase of an aggregation, over the rows just read
        return duck.run_over(data, task.sql)
    except duckdb.Error as e:
        raise rpc.TaskError("COMMON_ERROR", str(e).split("\n")[0]) from None
