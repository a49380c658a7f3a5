"""Tablet clones: a partition moving to another storage medium gets new tablets on BEs of that medium, each
filled with a copy of an existing replica's files, read from its BE in chunks (never a whole file in memory)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa
import pyarrow.flight as flight

from doris_br import rpc
from doris_br.be.server import handles
from doris_br.be.storage import Rowset
from doris_br.checksum import record_md5, recorded_md5

if TYPE_CHECKING:
    from doris_br.be.server import BackendService

CHUNK_BYTES = 4 << 20
# `md5`: the one the source recorded when it wrote the file (checksum.py), so a damaged replica is not copied.
CHUNKS = pa.schema([("name", pa.string()), ("md5", pa.string()), ("data", pa.binary())])
# A clone of one tablet's files; a BE that stops answering fails the ALTER instead of holding it for ever.
CLONE_TIMEOUT_S = 1800.0


@handles(rpc.ReadTabletFiles)
def read_tablet_files(be: BackendService, task: rpc.ReadTabletFiles) -> pa.RecordBatchReader:
    try:
        files = be.storage.version_files(task.tablet_id, task.version)
    except FileNotFoundError as e:
        raise rpc.TaskError("NOT_FOUND", str(e)) from None

    def chunks() -> Iterator[pa.RecordBatch]:
        for path in files:  # the stale inputs of a merge stay for a while, so the listing holds while read
            md5 = recorded_md5(path) or ""
            with open(path, "rb") as f:
                while data := f.read(CHUNK_BYTES):
                    yield pa.record_batch([[path.name], [md5], [data]], schema=CHUNKS)

    return pa.RecordBatchReader.from_batches(CHUNKS, chunks())


@handles(rpc.CloneTablet)
def clone_tablet(be: BackendService, task: rpc.CloneTablet) -> rpc.Done:
    folder = be.storage.tablet_dir(task.tablet_id)
    if not folder.is_dir():
        raise rpc.TaskError("NOT_FOUND", f"tablet {task.tablet_id} does not exist on this backend")
    client = rpc.BackendClient(task.source_host, task.source_port)
    written: dict[str, tuple[Path, BinaryIO, Any]] = {}  # name -> (temporary file, its handle, md5)
    expected: dict[str, str] = {}
    try:
        reader = client.stream(rpc.ReadTabletFiles(task.source_tablet_id, task.version), CLONE_TIMEOUT_S)
        for chunk in reader:
            columns = [chunk.data.column(i).to_pylist() for i in range(3)]
            for name, md5, data in zip(*columns, strict=True):
                if name not in written:
                    written[name], expected[name] = _open_part(folder, name), md5
                _, handle, digest = written[name]
                handle.write(data)
                digest.update(data)
        for name, (_, _, digest) in written.items():
            if expected[name] and digest.hexdigest() != expected[name]:
                raise rpc.TaskError("BAD_FILE", f"tablet {task.source_tablet_id}: {name} does not match its md5")
        for name, (tmp, handle, digest) in written.items():  # whole and checked: each file takes its name
            handle.close()
            record_md5(tmp, digest.hexdigest())  # a backup of the moved tablet uploads without reading twice
            tmp.rename(folder / name)
    except flight.FlightError as e:
        raise rpc.TaskError.from_flight(e) from None
    finally:
        for tmp, handle, _ in written.values():
            handle.close()
            tmp.unlink(missing_ok=True)
        client.close()
    return rpc.Done()


def _open_part(folder: Path, name: str) -> tuple[Path, BinaryIO, Any]:
    """A file of the clone, written under a temporary name; only rowset names are taken (names are not paths)."""
    if Path(name).name != name or Rowset.parse(Path(name)) is None:
        raise rpc.TaskError("COMMON_ERROR", f"not a rowset file: {name!r}")
    tmp = folder / f".{name}.{uuid.uuid4().hex}.tmp"
    return tmp, open(tmp, "wb"), hashlib.md5()  # noqa: SIM115 - closed with the clone, in clone_tablet
