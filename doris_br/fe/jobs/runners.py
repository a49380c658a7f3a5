"""The state machine of each job type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from doris_br.fe.jobs.backup import BackupRunner
from doris_br.fe.jobs.base import JobRunner
from doris_br.fe.jobs.model import Job
from doris_br.fe.jobs.restore import RestoreRunner

if TYPE_CHECKING:
    from doris_br.fe.frontend import Frontend


def runner_for(fe: Frontend, job: Job) -> JobRunner:
    return BackupRunner(fe) if job.type == "BACKUP" else RestoreRunner(fe)
