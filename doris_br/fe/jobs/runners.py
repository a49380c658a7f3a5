"""The state machine of each job type: its runner, and its table of states (backup.STATES, restore.STATES)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from doris_br.fe.jobs import backup, restore
from doris_br.fe.jobs.backup import BackupRunner
from doris_br.fe.jobs.base import JobRunner, Step
from doris_br.fe.jobs.model import Job
from doris_br.fe.jobs.restore import RestoreRunner

if TYPE_CHECKING:
    from doris_br.fe.frontend import Frontend


def runner_for(fe: Frontend, job: Job) -> JobRunner:
    return BackupRunner(fe) if job.type == "BACKUP" else RestoreRunner(fe)


def step_of(job: Job) -> Step[JobRunner]:
    """The row of the unfinished job's state in its type's table."""
    table = backup.STATES if job.type == "BACKUP" else restore.STATES
    return table[job.state]  # type: ignore[return-value]  # the runner runner_for gives a job of its type
