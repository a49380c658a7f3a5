"""The state machine of each job type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from doris_br.fe.jobs.base import JobRunner
from doris_br.fe.jobs.model import Job

if TYPE_CHECKING:
    from doris_br.fe.frontend import Frontend


def runner_for(fe: Frontend, job: Job) -> JobRunner:
    from doris_br.fe.jobs.backup import BackupRunner
    from doris_br.fe.jobs.restore import RestoreRunner

    return BackupRunner(fe) if job.type == "BACKUP" else RestoreRunner(fe)
