"""A job's durable state. Every state change is committed to the journal before the next state's work, so a
restarted FE resumes each unfinished job in the state it was in, re-sending that state's (idempotent) tasks.

A job is journaled as a small header row and part rows (catalog.SPLIT_KINDS): its tablet plans in slices of
TABLETS_PER_PART, and its meta, info, plan and created lists one row each. A commit writes the header and only the
parts that changed (by identity: a step that leaves a slice's tablets alone keeps the very same objects), so a step
of a 100,000-tablet job commits a few kilobytes, not the whole job.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, ClassVar

import attrs
import cattrs

from doris_br import rpc
from doris_br.clock import now_ms
from doris_br.fe.catalog import converter, register_split_kind
from doris_br.fe.jobs.plans import RestorePlan, plan_from_journal
from doris_br.repository.snapshot_info import SnapshotInfo


class JobState(StrEnum):
    """The states of both job types (backup.STATES and restore.STATES say which, and where each goes); their text is
    Doris's, in the journal and in SHOW."""

    PENDING = "PENDING"
    SNAPSHOTING = "SNAPSHOTING"
    UPLOAD_SNAPSHOT = "UPLOAD_SNAPSHOT"
    UPLOADING = "UPLOADING"
    SAVE_META = "SAVE_META"
    UPLOAD_INFO = "UPLOAD_INFO"
    DOWNLOAD = "DOWNLOAD"
    DOWNLOADING = "DOWNLOADING"
    COMMIT = "COMMIT"
    COMMITTING = "COMMITTING"
    FINISHED = "FINISHED"
    CANCELLED = "CANCELLED"


DONE_STATES = (JobState.FINISHED, JobState.CANCELLED)
TABLETS_PER_PART = 1000
# The job's fields journaled as one part row each, apart from its header, with their types.
_WHOLE_PARTS: dict[str, Any] = {"meta": dict[str, Any], "info": SnapshotInfo | None, "plan": RestorePlan | None,
                                "created": dict[str, list[int]]}
_EMPTY_PARTS = {"meta": {}, "info": None, "plan": None, "created": {}}
# A job journals its snapshot's info in the info file's own form; {} (or none) is a job that has none yet.
converter.register_unstructure_hook(SnapshotInfo, SnapshotInfo.to_json)
converter.register_structure_hook(SnapshotInfo, lambda body, _: SnapshotInfo.from_json(body))


@attrs.frozen
class TaskFailure:
    """Why a part of a job's step failed (a BE task, a tablet's snapshot, a BE's commit, the info file's write), as
    TaskErrMsg shows it: `CODE: message`, or a note without a code; a failed BE task's attempt and its retry."""

    code: rpc.StatusCode | None
    message: str
    attempt: int = 0  # the failed attempt of a BE task that is sent again in retry_in_s; 0: not retried on a timer
    retry_in_s: float = 0.0

    @classmethod
    def of(cls, error: rpc.TaskError) -> TaskFailure:
        return cls(error.code, error.message)

    @property
    def detail(self) -> str:
        """The text after the code."""
        if not self.attempt:
            return self.message
        return f"{self.message} (attempt {self.attempt} failed; retrying in {self.retry_in_s:g}s)"

    def text(self) -> str:
        return f"{self.code}: {self.detail}" if self.code is not None else self.detail

    @classmethod
    def from_text(cls, text: str) -> TaskFailure:
        """A failure as FEs before TaskFailure journaled it: the text above. Anything that does not read back as the
        very same text is a note."""
        found = _FAILURE_TEXT.fullmatch(text)
        if found is None or found["code"] not in _CODES:
            return cls(None, text)
        attempt = int(found["attempt"]) if found["attempt"] else 0
        failure = cls(rpc.StatusCode(found["code"]), found["message"], attempt,
                      float(found["delay"]) if attempt else 0.0)
        return failure if failure.text() == text else cls(None, text)


_FAILURE_TEXT = re.compile(r"(?P<code>[A-Z_]+): (?P<message>.*?)"
                           r"(?: \(attempt (?P<attempt>\d+) failed; retrying in (?P<delay>[0-9.e+]+)s\))?", re.DOTALL)
_CODES = {c.value for c in rpc.StatusCode}
_failure_fields = cattrs.gen.make_dict_structure_fn(TaskFailure, converter)
converter.register_structure_hook(
    TaskFailure, lambda body, _: TaskFailure.from_text(body) if isinstance(body, str) else _failure_fields(body, _))


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


@register_split_kind
@attrs.frozen
class Job:
    KIND: ClassVar[str] = "jobs"
    id: int
    type: str  # BACKUP | RESTORE
    label: str
    db_id: int
    db_name: str
    repo: str
    state: JobState = attrs.field(default=JobState.PENDING, converter=JobState)
    create_time_ms: int = 0
    timeout_s: int = 86400
    properties: dict[str, str] = attrs.field(factory=dict)
    kind: str = ""  # ON | EXCLUDE | "" (whole database)
    objects: tuple[ObjectRef, ...] = ()
    # State timestamps: snapshot_finished, upload_finished, meta_prepared, download_finished, finished.
    times: dict[str, int] = attrs.field(factory=dict)
    status_code: rpc.StatusCode = attrs.field(default=rpc.StatusCode.OK, converter=rpc.StatusCode)
    status_msg: str = ""
    # What failed in the current state, by signature, tablet id or part ("info", "cleanup", "commit@<backend>"):
    # cleared when the job moves on (Job.at).
    task_errors: dict[str, TaskFailure] = attrs.field(factory=dict)
    tablets: tuple[TabletPlan, ...] = ()
    be_tasks: tuple[BeTask, ...] = ()
    timestamp: str = ""  # the snapshot's yyyy-MM-dd-HH-mm-ss
    # The snapshot's info: the backup's, once its files are stored (SAVE_META); the restore's, as RESTORE read it.
    info: SnapshotInfo | None = None
    meta: dict[str, Any] = attrs.field(factory=dict)
    # Restore: what the job created (to drop on cancel) and what it swaps in at commit.
    created: dict[str, list[int]] = attrs.field(factory=dict)
    plan: RestorePlan | None = None  # a restore's (plans.py); a backup has none
    # A finished BE task's counts by signature (text): [files done, files total, bytes done, bytes total], so
    # Progress stays right after the job ends or the FE restarts.
    task_progress: dict[str, list[int]] = attrs.field(factory=dict)
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

    def at(self, state: JobState | str, **changes: Any) -> Job:  # text converts: backup.py names states so
        return attrs.evolve(self, state=state, task_errors={}, **changes)

    def history(self) -> Job:
        """The job as its history keeps it once it has ended: what SHOW BACKUP / RESTORE and the REST API show
        (states, times, objects, counts, the snapshot's tables and partitions), without the per-tablet plans,
        meta and files it worked from. A job history of ten 100,000-tablet jobs kept them all (gigabytes). A
        local backup keeps everything: it is the snapshot, restored from."""
        plan = RestorePlan(replication_num=self.plan.replication_num) if self.plan is not None else None
        return attrs.evolve(
            self, tablets=(), meta={}, created={}, plan=plan,
            be_tasks=tuple(attrs.evolve(t, tablet_ids=()) for t in self.be_tasks),
            info=self.info.summary() if self.info is not None else None)

    def stamped(self, name: str) -> dict[str, int]:
        return {**self.times, name: now_ms()}

    # ---- journaling: a header and parts -------------------------------------------------------------------

    def journal_part_names(self) -> list[str]:
        slices = [f"tablets.{i:06d}" for i in range(_slice_count(self.tablets))]
        return slices + [name for name in _WHOLE_PARTS if getattr(self, name)]

    def journal_parts(self, previous: Job | None) -> tuple[Job, list[tuple[str, Any]], list[str]]:
        """The header (this job without its parts), the parts that differ from `previous` as (name, JSON), and
        the names of the parts `previous` had and this job has not."""
        header = attrs.evolve(self, tablets=(), **_EMPTY_PARTS)
        changed: list[tuple[str, Any]] = []
        old_tablets = previous.tablets if previous is not None else ()
        for i in range(_slice_count(self.tablets)):
            cut = slice(i * TABLETS_PER_PART, (i + 1) * TABLETS_PER_PART)
            if previous is None or _differ(self.tablets[cut], old_tablets[cut]):
                changed.append((f"tablets.{i:06d}", converter.unstructure(self.tablets[cut])))
        for name in _WHOLE_PARTS:
            value = getattr(self, name)
            if value and (previous is None or getattr(previous, name) is not value):
                changed.append((name, converter.unstructure(value)))
        mine = set(self.journal_part_names())
        gone = [n for n in previous.journal_part_names() if n not in mine] if previous is not None else []
        return header, changed, gone

    @classmethod
    def from_journal(cls, header: dict[str, Any], parts: dict[str, Any]) -> Job:
        """The job from its header row and part rows (a job journaled whole, before parts, has none)."""
        # The plan as any FE wrote it (a dict, in the header of a job journaled whole): read by plans.py's rules.
        plan = parts.get("plan", header.get("plan")) or {}
        header = {**header, "plan": None}
        if not header.get("info"):  # journaled by an FE that kept an empty info as {}
            header["info"] = None
        job = converter.structure(header, cls)
        slices = sorted(n for n in parts if n.startswith("tablets."))
        if slices:
            tablets = [t for n in slices for t in parts[n]]
            job = attrs.evolve(job, tablets=converter.structure(tablets, tuple[TabletPlan, ...]))
        whole = {name: converter.structure(parts[name], kind) for name, kind in _WHOLE_PARTS.items()
                 if name in parts and name != "plan"}
        job = attrs.evolve(job, plan=plan_from_journal(job.type, plan), **whole)
        if "progress" in plan and not job.task_progress:  # journaled by an FE before task_progress
            job = attrs.evolve(job, task_progress=plan["progress"])
        return job


def _slice_count(tablets: tuple[TabletPlan, ...]) -> int:
    return -(-len(tablets) // TABLETS_PER_PART)


def _differ(new: tuple[TabletPlan, ...], old: tuple[TabletPlan, ...]) -> bool:
    return len(new) != len(old) or any(a is not b for a, b in zip(new, old, strict=True))
