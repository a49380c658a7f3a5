"""RestoreJob (being built)."""

from __future__ import annotations

from doris_br.fe.jobs.base import JobRunner
from doris_br.fe.jobs.model import Job


class RestoreRunner(JobRunner):
    async def cancel(self, job: Job, code: str, message: str) -> Job:
        return self.cancelled(job, code, message)
