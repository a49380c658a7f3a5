"""A job's durable state. Every state change is committed to the journal before the next state's work, so a
restarted FE resumes each unfinished job in the state it was in, re-sending that state's (idempotent) tasks.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from doris_br import rpc
from doris_br.clock import now_ms
from doris_br.fe.catalog import register_kind

DONE_STATES = ("FINISHED", "CANCELLED")


@attrs.frozen
class ObjectRef:
    """One table of the job as the user named it (after ON / EXCLUDE), with its partitions and alias."""

    table: str
    partitions: tuple[str, ...] = ()
    alias: str = ""


@attrs.frozen
class TabletPlan:
    """One tablet to back up (source side) or to restore into (target side)."""

    tablet_id: int
    table: str
    table_id: int
    partition: str
    partition_id: int
    index_id: int
    version: int
    backend_id: int
    remote_dir: str = ""
    files: tuple[rpc.SnapshotFile, ...] = ()
    stored: tuple[rpc.StoredFile, ...] = ()
    done: bool = False


@attrs.frozen
class BeTask:
    """A background task on one BE (an upload or a download batch), identified by its signature."""

    signature: int
    backend_id: int
    tablet_ids: tuple[int, ...]
    done: bool = False
    failures: int = 0  # failed attempts so far
    retry_at_ms: int = 0  # epoch ms at which the next attempt is sent, after a failure; 0: none is waiting


@register_kind
@attrs.frozen
class Job:
    KIND: ClassVar[str] = "jobs"
    id: int
    type: str  # BACKUP | RESTORE
    label: str
    db_id: int
    db_name: str
    repo: str
    state: str = "PENDING"
    create_time_ms: int = 0
    timeout_s: int = 86400
    properties: dict[str, str] = attrs.field(factory=dict)
    kind: str = ""  # ON | EXCLUDE | "" (whole database)
    objects: tuple[ObjectRef, ...] = ()
    # State timestamps: snapshot_finished, upload_finished, meta_prepared, download_finished, finished.
    times: dict[str, int] = attrs.field(factory=dict)
    status_code: str = "OK"
    status_msg: str = ""
    task_errors: dict[str, str] = attrs.field(factory=dict)
    tablets: tuple[TabletPlan, ...] = ()
    be_tasks: tuple[BeTask, ...] = ()
    timestamp: str = ""  # the snapshot's yyyy-MM-dd-HH-mm-ss
    info: dict[str, Any] = attrs.field(factory=dict)
    meta: dict[str, Any] = attrs.field(factory=dict)
    # Restore: what the job created (to drop on cancel) and what it swaps in at commit.
    created: dict[str, list[int]] = attrs.field(factory=dict)
    plan: dict[str, Any] = attrs.field(factory=dict)
    # A CANCEL's reason, journaled when it is asked: carried out when the job's current step ends, also after
    # an FE restart; cleared when the job is CANCELLED.
    cancel_request: str = ""
    # A cancelled backup whose partial snapshot is still to be removed from the repository (resumed after an FE
    # restart); its label cannot be backed up again until then.
    cleanup_pending: bool = False

    @property
    def key(self) -> str:
        return str(self.id)

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    def at(self, state: str, **changes: Any) -> Job:
        return attrs.evolve(self, state=state, task_errors={}, **changes)

    def stamped(self, name: str) -> dict[str, int]:
        return {**self.times, name: now_ms()}
