"""SHOW BACKUP and SHOW [BRIEF] RESTORE rows, in Doris's columns and value formats."""

from __future__ import annotations

from typing import Any

from doris_br import rpc
from doris_br.clock import time_text
from doris_br.fe.jobs.model import Job, JobState
from doris_br.fe.jobs.plans import plan_of
from doris_br.repository.info import brief

BACKUP_COLUMNS = ["JobId", "SnapshotName", "DbName", "State", "BackupObjs", "CreateTime", "SnapshotFinishedTime",
                  "UploadFinishedTime", "FinishedTime", "UnfinishedTasks", "Progress", "TaskErrMsg", "Status",
                  "Timeout"]
RESTORE_COLUMNS = ["JobId", "Label", "Timestamp", "DbName", "State", "AllowLoad", "ReplicationNum",
                   "ReplicaAllocation", "ReserveReplica", "ReserveDynamicPartitionEnable", "RestoreObjs",
                   "CreateTime", "MetaPreparedTime", "SnapshotFinishedTime", "DownloadFinishedTime", "FinishedTime",
                   "UnfinishedTasks", "Progress", "TaskErrMsg", "Status", "Timeout"]
BRIEF_HIDDEN = ("RestoreObjs", "Progress", "TaskErrMsg")


def status_text(job: Job) -> str:
    if job.status_code is rpc.StatusCode.OK:
        return "[OK]"
    return f"[{job.status_code}, msg: {job.status_msg}]"


def objects_text(job: Job) -> str:
    refs = []
    for ref in job.objects:
        text = f"`{job.db_name}`.`{ref.table}`"
        if ref.partitions:
            text += " PARTITIONS (" + ", ".join(f"`{p}`" for p in ref.partitions) + ")"
        if ref.alias:
            text += f" AS `{ref.alias}`"
        refs.append(f"[{text}]")
    return ", ".join(refs)


def unfinished_text(job: Job) -> str:
    if job.state is JobState.SNAPSHOTING:
        return ", ".join(f"{t.tablet_id}={t.backend_id}" for t in job.tablets if not t.done)
    if job.state in (JobState.UPLOADING, JobState.DOWNLOADING):
        return ", ".join(f"{t.signature}={t.backend_id}" for t in job.be_tasks if not t.done)
    return ""


def task_counts(job: Job, live: dict[int, rpc.TaskProgress]) -> list[tuple[int, list[int]]]:
    """(signature, [files done, files total, bytes done, bytes total]) of each BE task that reported:
    journaled counts for finished tasks, the BEs' live ones for running tasks."""
    recorded = job.task_progress
    counts = []
    for task in job.be_tasks:
        p = live.get(task.signature)
        found = recorded.get(str(task.signature)) or (
            [p.files_done, p.files_total, p.bytes_done, p.bytes_total] if p is not None else None)
        if found is not None:
            counts.append((task.signature, found))
    return counts


def progress_text(job: Job, live: dict[int, rpc.TaskProgress]) -> str:
    """Doris's `[taskId: finished/total]`, with bytes done and total added."""
    return ", ".join(f"[{signature}: {files_done}/{files_total} (bytes {bytes_done}/{bytes_total})]"
                     for signature, (files_done, files_total, bytes_done, bytes_total) in task_counts(job, live))


def errors_text(job: Job) -> str:
    errors = {key: failure.text() for key, failure in job.task_errors.items()}
    if job.cancel_request and not job.done:  # a CANCEL has answered; the job's current step has not ended yet
        errors["cancel"] = f"cancelling ({job.cancel_request}) once the current step ends"
    if job.cleanup_pending:
        errors["cleanup"] = "removing the partial snapshot from the repository"
    return ", ".join(f"[{k}: {v}]" for k, v in errors.items())


def backup_row(job: Job, live: dict[int, rpc.TaskProgress]) -> tuple[Any, ...]:
    return (
        job.id, job.label, job.db_name, job.state, objects_text(job), time_text(job.create_time_ms),
        time_text(job.times.get("snapshot_finished")), time_text(job.times.get("upload_finished")),
        time_text(job.times.get("finished")), unfinished_text(job), progress_text(job, live), errors_text(job),
        status_text(job), job.timeout_s,
    )


def restore_row(job: Job, live: dict[int, rpc.TaskProgress], brief_form: bool) -> tuple[Any, ...]:
    replication = plan_of(job).replication_num
    row = {
        "JobId": job.id, "Label": job.label, "Timestamp": job.timestamp, "DbName": job.db_name,
        "State": job.state, "AllowLoad": job.properties.get("allow_load", "false").lower(),
        "ReplicationNum": replication, "ReplicaAllocation": f"tag.location.default: {replication}",
        "ReserveReplica": job.properties.get("reserve_replica", "false").lower(),
        "ReserveDynamicPartitionEnable": job.properties.get("reserve_dynamic_partition_enable", "false").lower(),
        "RestoreObjs": brief(job.info) if job.info else "",
        "CreateTime": time_text(job.create_time_ms), "MetaPreparedTime": time_text(job.times.get("meta_prepared")),
        "SnapshotFinishedTime": time_text(job.times.get("snapshot_finished")),
        "DownloadFinishedTime": time_text(job.times.get("download_finished")),
        "FinishedTime": time_text(job.times.get("finished")), "UnfinishedTasks": unfinished_text(job),
        "Progress": progress_text(job, live), "TaskErrMsg": errors_text(job), "Status": status_text(job),
        "Timeout": job.timeout_s,
    }
    return tuple(row[c] for c in restore_columns(brief_form))


def restore_columns(brief_form: bool) -> list[str]:
    return [c for c in RESTORE_COLUMNS if not (brief_form and c in BRIEF_HIDDEN)]
