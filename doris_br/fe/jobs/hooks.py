"""Points where a test reaches into the job scheduler: whether a job is held in its state this tick, and what
each step committed. The FE runs with ConfigPause; in-process tests pass their own (tests/inprocess.py), which then
replaces it (debug_pause_job_states holds nothing there)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import attrs

from doris_br.fe.jobs.model import Job, JobState

if TYPE_CHECKING:
    from doris_br.fe.frontend import Frontend

PAUSE_CONFIG = "debug_pause_job_states"


class StepHook(Protocol):
    def holds(self, job: Job) -> bool:
        """Whether the job's state method is skipped this tick (a cancel or a timeout still goes through)."""
        ...

    async def stepped(self, before: JobState, job: Job) -> None:
        """After a step ran and its result, if it changed the job, was committed: `before` is the state the step
        ran in, `job` the job as journaled now. The job's next step waits until this returns."""
        ...


@attrs.frozen
class ConfigPause:
    """Debug point for the process-level fault tests: ADMIN SET FRONTEND CONFIG ("debug_pause_job_states" =
    "RESTORE.COMMIT,BACKUP.UPLOADING") holds such jobs in that state. It lives in memory only, so a restarted FE
    runs every job again."""

    fe: Frontend

    def holds(self, job: Job) -> bool:
        spec = self.fe.frontend_config.get(PAUSE_CONFIG, "")
        return f"{job.type}.{job.state}" in {s.strip().upper() for s in spec.split(",")}

    async def stepped(self, before: JobState, job: Job) -> None:
        return None
