"""What backup and restore runners share: BE task rounds, background-task polling, cancelling."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from doris_br import rpc
from doris_br.clock import now_ms
from doris_br.fe.catalog import Backend, Repository
from doris_br.fe.jobs import local
from doris_br.fe.jobs.model import BeTask, Job, JobState, TabletPlan, TaskFailure
from doris_br.repository.store import RepositoryStore, open_store

if TYPE_CHECKING:
    from doris_br.fe.frontend import Frontend

log = logging.getLogger(__name__)


def repository_target(repo: Repository) -> rpc.RepositoryTarget:
    return rpc.RepositoryTarget(repo.name, repo.storage)


def store_of(repo: Repository) -> RepositoryStore:
    """The repository's store, kept open in this process (repository.store.open_store)."""
    return open_store(repo.name, repo.storage)


# A failed BE task waits this long before it is sent again, doubling per failure up to the cap.
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0
# How often a clean-up asks the BEs whether a cancelled job's transfers have ended.
STOPPED_POLL_S = 0.5


def retry_delay_s(failures: int) -> float:
    return min(FIRST_RETRY_S * 2 ** (failures - 1), MAX_RETRY_S)


def by_backend(tablets: tuple[TabletPlan, ...] | list[TabletPlan]) -> dict[int, list[TabletPlan]]:
    groups: dict[int, list[TabletPlan]] = defaultdict(list)
    for t in tablets:
        groups[t.backend_id].append(t)
    return dict(groups)


class JobRunner:
    """One method per state, named after it (the runner's STATES table maps the states to them); each returns the
    job as it should be journaled."""

    def __init__(self, fe: Frontend) -> None:
        self.fe = fe

    # ---- helpers -----------------------------------------------------------------------------------------

    def backend(self, backend_id: int) -> Backend | None:
        return self.fe.catalog.get(Backend, str(backend_id))

    async def call(self, backend_id: int, task: Any, timeout_s: float = 120.0) -> Any:
        backend = self.backend(backend_id)
        if backend is None:
            raise rpc.TaskError(rpc.StatusCode.NOT_FOUND, f"backend {backend_id} is not in the cluster")
        return await self.fe.backends.call(backend, task, timeout_s)

    def repository(self, job: Job) -> Repository:
        repo = self.fe.catalog.get(Repository, job.repo)
        if repo is None:
            raise rpc.TaskError(rpc.StatusCode.NOT_FOUND, f"Repository {job.repo} does not exist")
        return repo

    async def store(self, job: Job) -> RepositoryStore:
        return await asyncio.to_thread(store_of, self.repository(job))

    async def poll_be_tasks(self, job: Job, submit: Callable[[BeTask], Awaitable[Any]],
                            collect: Callable[[BeTask, rpc.TaskProgress], Awaitable[rpc.TaskProgress]] | None = None,
                            ) -> tuple[Job, dict[int, rpc.TaskProgress]]:
        """One round over the job's unfinished BE tasks: (re)submit unknown or failed ones, record progress.

        A failed task is sent again after a delay that doubles with each failure (retry_delay_s), so a full
        disk or a refusing repository is not hammered until the job's timeout; TaskErrMsg says which attempt
        failed, why, and when the next one goes. Returns the job with finished tasks marked done and errors
        recorded, and the finished tasks' progress (with their results) by signature. `collect` reads a finished
        task's results (an upload's stored files, in pages); if that fails, the task is asked about again next round.
        """
        live = self.fe.jobs.progress_of(job)
        errors = dict(job.task_errors)
        finished: dict[int, rpc.TaskProgress] = {}

        async def one(task: BeTask) -> BeTask:
            if task.done or now_ms() < task.retry_at_ms:
                return task
            try:
                if task.retry_at_ms:  # a failed attempt's wait is over: the next one
                    await self.call(task.backend_id, await submit(task), 30.0)
                    return attrs.evolve(task, retry_at_ms=0)
                status = await self.call(task.backend_id, rpc.TaskStatus(job.id, task.signature), 30.0)
                if status.state == "FAILED":
                    failures = task.failures + 1
                    delay = retry_delay_s(failures)
                    errors[str(task.signature)] = TaskFailure(rpc.StatusCode(status.error_code), status.error,
                                                              attempt=failures, retry_in_s=delay)
                    return attrs.evolve(task, failures=failures, retry_at_ms=now_ms() + int(delay * 1000))
                if status.state == "UNKNOWN":  # never sent, or the BE restarted
                    await self.call(task.backend_id, await submit(task), 30.0)
                    return task
                live[task.signature] = status
                if status.state == "FINISHED":
                    finished[task.signature] = await collect(task, status) if collect else status
                    errors.pop(str(task.signature), None)
                    return attrs.evolve(task, done=True)
            except rpc.TaskError as e:
                errors[str(task.signature)] = TaskFailure.of(e)
            return task

        tasks = tuple(await asyncio.gather(*(one(t) for t in job.be_tasks)))
        # A finished task's counts are journaled, so Progress stays right after the job ends or the FE restarts.
        counts = {**job.task_progress, **{
            str(sig): [p.files_done, p.files_total, p.bytes_done, p.bytes_total] for sig, p in finished.items()}}
        progress = counts if finished else job.task_progress
        return attrs.evolve(job, be_tasks=tasks, task_errors=errors, task_progress=progress), finished

    async def release_everywhere(self, job: Job) -> None:
        """Stop the job's BE tasks and drop its snapshots and staged files, on every BE (best effort)."""
        async def one(backend: Backend) -> None:
            try:
                await self.fe.backends.call(backend, rpc.CancelJobTasks(job.id), 10.0)
                await self.fe.backends.call(backend, rpc.ReleaseSnapshots(job.id), 30.0)
            except rpc.TaskError as e:
                log.warning("could not release job %s on backend %s: %s", job.id, backend.id, e.message)

        await asyncio.gather(*(one(b) for b in self.fe.backends.all()))
        self.fe.jobs.progress.pop(job.id, None)

    async def wait_tasks_stopped(self, job: Job, limit_s: float) -> None:
        """Until no BE is still inside a transfer of the cancelled job (each ends within its repository's
        timeouts), or limit_s has passed. A BE that does not answer is taken as stopped: it is down, or its
        transfer times out as well."""
        async def running(backend: Backend) -> int:
            try:
                answer = await self.fe.backends.call(backend, rpc.CancelJobTasks(job.id), 10.0)
            except rpc.TaskError:
                return 0
            return answer.running

        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if not any(await asyncio.gather(*(running(b) for b in self.fe.backends.all()))):
                return
            await asyncio.sleep(STOPPED_POLL_S)

    async def clean_up(self, job: Job) -> str:
        """What a cancelled job left outside the cluster, removed after it is CANCELLED (Job.cleanup_pending);
        returns what could not be removed, if anything."""
        return ""

    def finish(self, job: Job) -> Job:
        finished = job.at(JobState.FINISHED, times=job.stamped("finished"))
        return finished if local.is_local(job) else finished.history()

    def cancelled(self, job: Job, code: rpc.StatusCode, message: str) -> Job:
        """The job CANCELLED, as its history keeps it: call it once what the job made is released or dropped."""
        return attrs.evolve(job, state=JobState.CANCELLED, status_code=code, status_msg=message, cancel_request="",
                            times={**job.times, "finished": now_ms()}).history()

    def timeout_message(self, job: Job) -> str:
        return ""


R = TypeVar("R", bound=JobRunner)


@attrs.frozen
class Step(Generic[R]):
    """A state's row in its runner's STATES table: the method the scheduler runs in it (again after an FE restart:
    it is idempotent), and the states the method's job can be in after it. The job stays in its state where `next`
    names it (BE tasks still running, a failure retried); any state goes to CANCELLED through the runner's
    cancel() besides (a CANCEL, a timeout, a bug), which is not in the table."""

    run: Callable[[R, Job], Awaitable[Job]]
    next: tuple[JobState, ...]

    def check(self, before: Job, after: Job) -> None:
        """A state method that moved its job where its row does not say is a bug: the scheduler cancels the job."""
        if after.state not in self.next:
            raise RuntimeError(f"job {before.label} went from {before.state} to {after.state}")


StateTable = dict[JobState, Step[R]]
