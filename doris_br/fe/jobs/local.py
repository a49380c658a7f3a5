"""`__keep_on_local__`: backups whose snapshot stays on the BEs (hard links under snapshot/<job>/), never uploaded.

As in Doris (Repository.KEEP_ON_LOCAL_REPO_NAME, BackupHandler.localSnapshots) there is no repository object: a
FINISHED local backup in the job history is the snapshot, its info kept in the job. It is released (the hard
links removed on every BE) when the job leaves the history (max_backup_restore_job_num_per_db) or is cancelled.
"""

from __future__ import annotations

from typing import Any

from doris_br import rpc
from doris_br.fe.jobs.model import Job
from doris_br.repository import layout


def is_local(job: Job) -> bool:
    return job.type == "BACKUP" and job.repo == layout.KEEP_ON_LOCAL


def snapshot_root(label: str) -> str:
    """The snapshot's place as its info names it: nothing is written there, the files stay on the BEs."""
    return layout.snapshot_dir(layout.KEEP_ON_LOCAL, label)


def finished_snapshots(jobs: list[Job]) -> dict[str, Job]:
    """Label -> the newest FINISHED local backup of that label ("only keep last", as Doris's localSnapshots)."""
    found: dict[str, Job] = {}
    for job in jobs:  # oldest first, so a later backup of a label replaces an earlier one
        if is_local(job) and job.state == "FINISHED":
            found[job.label] = job
    return found


def release(fe: Any, job: Job) -> None:
    """Remove a local backup's hard links on every BE, in the background (best effort: a BE that is down keeps
    them until it is asked again; nothing names them any more)."""
    if not is_local(job):
        return
    for backend in fe.backends.all():
        fe.backends.send_later(backend.id, rpc.ReleaseSnapshots(job.id), 30.0)
