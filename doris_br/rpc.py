"""The FE-to-BE task interface, over Arrow Flight.

A task is a frozen attrs class registered with @task; it travels as a Flight action whose type is the class
name and whose body is the task as JSON. The BE answers with the task's `Result` as JSON, or fails with a
TaskError (a Doris status code and a message) that the FE records, for example in a job's TaskErrMsg.
Bulk data (writes, scans) uses Flight's do_put / do_get on the same server.
"""

from __future__ import annotations

import base64
import json
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

import attrs
import cattrs
import pyarrow as pa
import pyarrow.flight as flight

from doris_br import json_text
from doris_br.deletes import Condition
from doris_br.repository.filesystems import StorageSpec

T = TypeVar("T")

TASKS: dict[str, type] = {}
converter = cattrs.Converter()
_ERROR_PREFIX = "TASK_ERROR:"
END_OF_ROWS = b"END_OF_ROWS"


def task(cls: type[T]) -> type[T]:
    TASKS[cls.__name__] = cls
    return cls


class StatusCode(StrEnum):
    """The Doris status codes (TStatusCode) a task fails with, or a job ends with; their text is Doris's."""

    OK = "OK"
    CANCELLED = "CANCELLED"
    COMMON_ERROR = "COMMON_ERROR"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXIST = "ALREADY_EXIST"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    BAD_FILE = "BAD_FILE"
    TIMEOUT = "TIMEOUT"
    BAD_CONNECTION = "BAD_CONNECTION"  # the FE could not reach the BE, or the BE's answer was not a task's

    @classmethod
    def _missing_(cls, value: object) -> StatusCode:
        return cls.COMMON_ERROR  # a code this FE does not know (a newer BE's): a failure all the same


class TaskError(Exception):
    """A task's failure: `code` is one of Doris's status codes, `message` what went wrong."""

    def __init__(self, code: StatusCode | str, message: str) -> None:
        super().__init__(message)
        self.code = StatusCode(code)
        self.message = message

    def to_wire(self) -> str:
        return _ERROR_PREFIX + json.dumps({"code": self.code, "message": self.message})

    @classmethod
    def from_flight(cls, error: flight.FlightError) -> TaskError:
        text = str(error)
        start = text.find(_ERROR_PREFIX)
        if start >= 0:
            body, _ = json.JSONDecoder().raw_decode(text[start + len(_ERROR_PREFIX) :])
            return cls(body["code"], body["message"])
        return cls("BAD_CONNECTION", text.splitlines()[0] if text else type(error).__name__)


def encode(obj: Any) -> bytes:
    """A task's JSON; a big one (a download of thousands of tablets' files) in pieces, so other threads run."""
    return json_text.dumps(converter.unstructure(obj)).encode()


def decode(cls: type[T], body: bytes) -> T:
    return converter.structure(json.loads(body), cls)


def decode_task(name: str, body: bytes) -> Any:
    return _structure_task(name, json.loads(body))


def _structure_task(name: str, fields: Any) -> Any:
    cls = TASKS.get(name)
    if cls is None:
        raise TaskError("COMMON_ERROR", f"unknown task type: {name}")
    return converter.structure(fields, cls)


# ---- tasks ---------------------------------------------------------------------------------------------


@attrs.frozen
class HeartbeatResult:
    instance_id: str
    start_time_ms: int
    version: str
    data_used_bytes: int
    disk_total_bytes: int
    disk_available_bytes: int
    tablet_count: int
    storage_medium: str = "HDD"  # the medium of the BE's storage root: HDD or SSD
    http_port: int = 0  # the BE's webserver_port (0: an older BE, no HTTP endpoint)


@task
@attrs.frozen
class Heartbeat:
    Result: ClassVar[type] = HeartbeatResult
    fe_time_ms: int = 0
    # Where the BE's HTTP endpoint relays Stream Loads (Doris's heartbeat tells the master FE's address too),
    # and the token that marks a relayed load, so the FE loads it instead of redirecting it again.
    fe_http_host: str = ""
    fe_http_port: int = 0
    relay_token: str = attrs.field(default="", repr=False)  # never in a log line


@attrs.frozen
class Done:
    ok: bool = True


@task
@attrs.frozen
class CreateTablets:
    """Make empty tablets; a tablet starts at version 1, which holds no rows and so has no file."""

    Result: ClassVar[type] = Done
    tablet_ids: list[int]


@task
@attrs.frozen
class DropTablets:
    Result: ClassVar[type] = Done
    tablet_ids: list[int]


@attrs.frozen
class WriteResult:
    rows: int
    bytes: int


@task
@attrs.frozen
class WriteTablet:
    """do_put: stage the rows sent for the tablet as load `txn`'s, unseen until PublishTablets (a hex id)."""

    Result: ClassVar[type] = WriteResult
    tablet_id: int
    txn: str


@attrs.frozen
class TabletVersion:
    tablet_id: int
    version: int


@task
@attrs.frozen
class ScanTablets:
    """do_get: versions 2..version of each tablet (version 1 is empty), as one stream of `schema`.

    `columns` None means all; `with_order` adds __o = version << 40 | row number, which orders rows by load
    so the FE can apply UNIQUE and REPLACE semantics.
    """

    Result: ClassVar[type] = Done
    tablets: list[TabletVersion]
    schema: str  # base64 of the Arrow schema of the stored columns
    columns: list[str] | None = None
    with_order: bool = False
    # DuckDB SQL over the scanned rows (named __data), run on the BE: the first phase of an aggregation.
    sql: str | None = None
    # Conditions every row read must meet (a query's simple WHERE conjuncts, see fe/pushdown.py), applied by
    # the BE as it reads the files, so Parquet statistics skip row groups.
    filters: list[Condition] = attrs.field(factory=list)


def scanned_schema(schema: pa.Schema, columns: list[str] | None, with_order: bool) -> pa.Schema:
    """What a ScanTablets stream holds: the chosen columns (or, with none, __n for counting rows), and __o."""
    fields = list(schema) if columns is None else [schema.field(c) for c in columns]
    fields = fields or [pa.field("__n", pa.null())]
    if with_order:
        fields.append(pa.field("__o", pa.int64()))
    return pa.schema(fields)


def schema_to_text(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def schema_from_text(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


# ---- backup and restore tasks ---------------------------------------------------------------------------
# Long tasks (upload, download) run in the BE's background; the FE submits them with a signature it chose,
# polls TaskStatus, and may submit the same signature again (after an FE or BE restart): a BE answers a
# known signature with its current state instead of starting it twice.


@attrs.frozen
class SnapshotFile:
    name: str
    size: int


@attrs.frozen
class SnapshotResult:
    """Per tablet id (as text, JSON keys are strings): the files of its snapshot."""

    files: dict[str, list[SnapshotFile]]


@task
@attrs.frozen
class PublishTablets:
    """Load `txn`'s staged rows become version `version` of each tablet. `sequence` grows with each publish of a
    table: a BE refuses one older than a publish it already made (a late request of a load given up)."""

    Result: ClassVar[type] = Done
    txn: str
    tablets: list[TabletVersion]
    sequence: int


@task
@attrs.frozen
class AbortTablets:
    """Delete what load `txn` staged in these tablets, and keep nothing it stages here later."""

    Result: ClassVar[type] = Done
    txn: str
    tablet_ids: list[int]


@attrs.frozen
class RowsetInfo:
    start: int
    end: int
    bytes: int
    rows: int


@attrs.frozen
class TabletRowsetsResult:
    rowsets: list[RowsetInfo]  # the files a read of every version takes
    stale: list[RowsetInfo]  # merged, kept a while for reads planned before the merge
    staged: int  # files of loads not yet published


@task
@attrs.frozen
class TabletRowsets:
    """A replica's rowsets, for the compaction status operators look at."""

    Result: ClassVar[type] = TabletRowsetsResult
    tablet_id: int


@task
@attrs.frozen
class CompactTablets:
    """Merge each tablet's small rowsets up to `version` (published, so no later load replaces them) in the
    background; answered at once."""

    Result: ClassVar[type] = Done
    tablets: list[TabletVersion]


@task
@attrs.frozen
class MakeSnapshots:
    """Hard-link each tablet's files up to `version` into snapshot/<job_id>/<tablet_id>/, plus a header."""

    Result: ClassVar[type] = SnapshotResult
    job_id: int
    tablets: list[TabletVersion]


@task
@attrs.frozen
class ReleaseSnapshots:
    Result: ClassVar[type] = Done
    job_id: int


@attrs.frozen
class RepositoryTarget:
    """What a BE needs to open a repository: its name and its storage."""

    name: str
    storage: StorageSpec


@task
@attrs.frozen
class OpenRepository:
    """Open a repository's storage client and keep it: the first job on the repository then starts at once."""

    Result: ClassVar[type] = Done
    repo: RepositoryTarget


@attrs.frozen
class TabletUpload:
    tablet_id: int
    remote_dir: str  # inside the repository's filesystem


@task
@attrs.frozen
class SubmitUpload:
    """Upload each tablet's snapshot files to its remote_dir as <name>.<md5>, several at a time."""

    Result: ClassVar[type] = Done
    job_id: int
    signature: int
    repo: RepositoryTarget
    tablets: list[TabletUpload]


@attrs.frozen
class StoredFile:
    name: str  # as stored: <file>.<md5>
    size: int
    md5: str


@attrs.frozen
class TabletDownload:
    tablet_id: int  # the target tablet
    remote_dir: str
    files: list[StoredFile]


@task
@attrs.frozen
class SubmitDownload:
    """Download snapshot files into restore/<job_id>/<tablet_id>/, checking each file's size and md5."""

    Result: ClassVar[type] = Done
    job_id: int
    signature: int
    repo: RepositoryTarget
    tablets: list[TabletDownload]


@attrs.frozen
class VerifyFile:
    """A stored file to read: its path relative to the repository's root, as the snapshot's info records it."""

    rel: str
    size: int
    md5: str
    tablet_id: int


@attrs.frozen
class VerifiedFile:
    """What reading a file found: rows decoded (-1: not decoded), and a problem (a verify.Problem value, or "")."""

    rel: str
    rows: int
    bytes_read: int
    problem: str = ""
    detail: str = ""


@task
@attrs.frozen
class SubmitVerify:
    """VERIFY SNAPSHOT ... level data: read each file (md5, Parquet decode), changing nothing; progress and the
    files' results through TaskStatus."""

    Result: ClassVar[type] = Done
    job_id: int
    signature: int
    repo: RepositoryTarget
    files: list[VerifyFile]


@attrs.frozen
class TaskProgress:
    state: str  # RUNNING | FINISHED | FAILED | UNKNOWN
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    error_code: str = ""
    error: str = ""
    # Uploads: per tablet id (text), the stored files; empty in TaskStatus answers, which stay small however many
    # tablets the task has (polled every tick): a finished upload's files are read with TaskStoredFiles.
    stored: dict[str, list[StoredFile]] = attrs.field(factory=dict)
    # Verifications: each file read so far.
    verified: list[VerifiedFile] = attrs.field(factory=list)


@task
@attrs.frozen
class TaskStatus:
    Result: ClassVar[type] = TaskProgress
    job_id: int
    signature: int


@task
@attrs.frozen
class TaskStoredFiles:
    """A finished upload's stored files, `limit` tablets from the `offset`-th (in tablet id order): a task of
    30,000 tablets answers in pages, so no one answer takes the FE long to decode."""

    Result: ClassVar[type] = TaskProgress
    job_id: int
    signature: int
    offset: int
    limit: int


@attrs.frozen
class StoppingTasks:
    running: int = 0  # the job's cancelled tasks that have not ended yet (each is inside one file's transfer)


@task
@attrs.frozen
class CancelJobTasks:
    """Stop the job's background tasks (they stop between files) and forget them. Answers how many are still
    running (a transfer that has not returned yet); sent again, it answers the count then."""

    Result: ClassVar[type] = StoppingTasks
    job_id: int


@attrs.frozen
class TabletCommit:
    tablet_id: int
    version: int  # the restored data becomes versions 2..version of the tablet


@task
@attrs.frozen
class CommitRestore:
    """Move downloaded files into their tablets, replacing what they held; idempotent."""

    Result: ClassVar[type] = Done
    job_id: int
    tablets: list[TabletCommit]


@task
@attrs.frozen
class ReadTabletFiles:
    """do_get: the files holding versions 2..version of a tablet, as (name, data) chunks in file order: what a
    clone copies (be/clone.py)."""

    Result: ClassVar[type] = Done
    tablet_id: int
    version: int


@task
@attrs.frozen
class CloneTablet:
    """Copy the files holding versions 2..version of tablet `source_tablet_id` on the BE at source_host:source_port
    into this BE's (empty, just created) tablet `tablet_id`: a partition moving to another storage medium."""

    Result: ClassVar[type] = Done
    tablet_id: int
    source_tablet_id: int
    source_host: str
    source_port: int
    version: int


# ---- client --------------------------------------------------------------------------------------------


class BackendClient:
    """Calls tasks on one BE. Blocking: the FE runs calls in threads (asyncio.to_thread)."""

    def __init__(self, host: str, port: int, timeout_s: float = 30.0) -> None:
        self.address = f"{host}:{port}"
        self._client = flight.FlightClient(f"grpc+tcp://{host}:{port}")
        self._timeout_s = timeout_s

    def call(self, task_obj: Any, timeout_s: float | None = None) -> Any:
        options = flight.FlightCallOptions(timeout=timeout_s or self._timeout_s)
        action = flight.Action(type(task_obj).__name__, encode(task_obj))
        try:
            results = list(self._client.do_action(action, options=options))
        except flight.FlightError as e:
            raise TaskError.from_flight(e) from None
        body = results[0].body.to_pybytes() if results else b"null"
        return decode(type(task_obj).Result, body)

    def open_put(self, task_obj: Any, schema: pa.Schema, timeout_s: float | None = None) -> PutStream:
        """do_put left open: rows are written as they come; `end`, then `result` gives the task's Result."""
        options = flight.FlightCallOptions(timeout=timeout_s or self._timeout_s)
        descriptor = flight.FlightDescriptor.for_command(_put_command(task_obj))
        try:
            writer, reader = self._client.do_put(descriptor, schema, options=options)
        except flight.FlightError as e:
            raise TaskError.from_flight(e) from None
        return PutStream(type(task_obj).Result, writer, reader)

    def get(self, task_obj: Any, timeout_s: float | None = None) -> pa.Table:
        """do_get: the rows the task selects."""
        options = flight.FlightCallOptions(timeout=timeout_s or self._timeout_s)
        try:
            return self._client.do_get(flight.Ticket(_put_command(task_obj)), options=options).read_all()
        except flight.FlightError as e:
            raise TaskError.from_flight(e) from None

    def stream(self, task_obj: Any, timeout_s: float | None = None) -> flight.FlightStreamReader:
        """do_get read batch by batch, for answers too big to hold at once."""
        options = flight.FlightCallOptions(timeout=timeout_s or self._timeout_s)
        try:
            return self._client.do_get(flight.Ticket(_put_command(task_obj)), options=options)
        except flight.FlightError as e:
            raise TaskError.from_flight(e) from None

    def close(self) -> None:
        self._client.close()


class PutStream:
    """One open do_put. Blocking, and used by one thread at a time.

    The last message of a whole stream carries END_OF_ROWS as its metadata: a BE keeps the rows only then, so a
    writer that gives up (`close`) leaves nothing behind, not even a version cut short."""

    def __init__(self, result: type, writer: flight.FlightStreamWriter, reader: flight.FlightMetadataReader) -> None:
        self._result = result
        self._writer = writer
        self._reader = reader

    def write(self, rows: pa.Table) -> None:
        try:
            self._writer.write_table(rows)
        except flight.FlightError as e:
            raise TaskError.from_flight(e) from None

    def end(self) -> None:
        """All the rows are sent: the BE stores them and answers (read with `result`)."""
        try:
            self._writer.write_metadata(pa.py_buffer(END_OF_ROWS))
            self._writer.done_writing()
        except flight.FlightError as e:
            raise TaskError.from_flight(e) from None

    def result(self) -> Any:
        """The task's Result, once the BE has stored the rows (after `end`)."""
        try:
            answer = self._reader.read()
            self._writer.close()
        except flight.FlightError as e:
            raise TaskError.from_flight(e) from None
        return decode(self._result, answer.to_pybytes() if answer is not None else b"null")

    def close(self) -> None:
        """Give up: the stream ends without END_OF_ROWS, so the BE drops the rows it got."""
        try:
            self._writer.close()
        except (flight.FlightError, OSError, pa.ArrowException):
            pass


def _put_command(task_obj: Any) -> bytes:
    return json.dumps({"task": type(task_obj).__name__, "body": converter.unstructure(task_obj)}).encode()


def decode_command(command: bytes) -> Any:
    """The task of a do_put descriptor or do_get ticket."""
    body = json.loads(command)
    return _structure_task(body["task"], body["body"])
