"""The BE's tablet tasks: create and drop tablets, write a version (do_put), scan versions (do_get)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from doris_br import rpc
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


@handles(rpc.ScanTablets)
def scan_tablets(be: BackendService, task: rpc.ScanTablets) -> pa.Table:
    schema = rpc.schema_from_text(task.schema)

    def read(tv: rpc.TabletVersion) -> pa.Table:
        return be.storage.read_versions(tv.tablet_id, tv.version, schema, task.columns, task.with_order)

    try:
        parts = list(_READERS.map(read, task.tablets))
    except FileNotFoundError as e:
        raise rpc.TaskError("NOT_FOUND", str(e)) from None
    if not parts:
        return be.storage.read_versions(0, 1, schema, task.columns, task.with_order)
    return pa.concat_tables(parts)
