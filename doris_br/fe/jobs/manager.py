"""The job scheduler: submits, steps, cancels, times out and retires backup and restore jobs.

Each tick runs one state method of every unfinished job (jobs of different databases in parallel). When the
method returns a changed job, the change is journaled before anything else happens to the job.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import attrs

from doris_br import rpc
from doris_br.clock import now_ms
from doris_br.errors import DorisError, reason
from doris_br.fe.jobs import local
from doris_br.fe.jobs.hooks import ConfigPause, StepHook
from doris_br.fe.jobs.model import Job, JobState, TaskFailure
from doris_br.fe.jobs.runners import runner_for, step_of
from doris_br.fe.olap import Table

if TYPE_CHECKING:
    from doris_br.fe.frontend import Frontend

log = logging.getLogger(__name__)

# Doris's answers to DDL on a table whose state is RESTORE (OlapTable.checkNormalStateForAlter,
# InternalCatalog.truncateTable and dropTable).
_DROP_REFUSED = ("The table [{name}]'s state is RESTORE, cannot be dropped. please cancel the operation on olap "
                 "table firstly. If you want to forcibly drop(cannot be recovered), please use \"DROP table FORCE\".")
_NOT_NORMAL = {
    "ALTER TABLE": "Table[{name}]'s state(RESTORE) is not NORMAL. Do not allow doing ALTER ops",
    "TRUNCATE TABLE": "Table' state is not NORMAL: RESTORE",
    "DROP TABLE": _DROP_REFUSED,
    "DROP DATABASE": _DROP_REFUSED,
    "INSERT OVERWRITE": "Table {name} is in restore process. Can not load into it",
}

# Doris's max_backup_restore_job_num_per_db: how many jobs a database keeps, finished or not (ADMIN SET FRONTEND
# CONFIG changes it, live; like Doris's other mutable configs it is back to its default after a restart).
MAX_JOBS_CONFIG = "max_backup_restore_job_num_per_db"
MAX_JOBS_PER_DB = 10
# Submissions check the repository and then register the job: one at a time, as Doris's global lock does. A
# DROP SNAPSHOT holds it too while it checks for jobs and removes the info files (fe/snapshots.py), so no
# restore starts from an info about to go.
SUBMIT_LOCK = asyncio.Lock()
# How often unfinished jobs are stepped (BE tasks polled); a state change steps the job again at once.
TICK_S = 0.1


class JobManager:
    def __init__(self, fe: Frontend, hook: StepHook | None = None) -> None:
        self.fe = fe
        self.hook: StepHook = hook if hook is not None else ConfigPause(fe)
        # Live progress of BE tasks, per job and signature (not journaled: it is re-read from the BEs).
        self.progress: dict[int, dict[int, rpc.TaskProgress]] = {}
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        # Repository clean-ups of cancelled jobs (Job.cleanup_pending) running now, by job id.
        self._cleanups: dict[int, asyncio.Task[None]] = {}

    # ---- queries -----------------------------------------------------------------------------------------

    def all(self) -> list[Job]:
        return sorted(self.fe.catalog.all(Job), key=lambda j: j.id)

    def of_db(self, db_id: int, job_type: str | None = None) -> list[Job]:
        return [j for j in self.all() if j.db_id == db_id and (job_type is None or j.type == job_type)]

    def unfinished(self) -> list[Job]:
        return [j for j in self.all() if not j.done]

    def repository_in_use(self, name: str) -> bool:
        return any(j.repo == name for j in self.unfinished())

    def restore_of(self, db_id: int, name: str, table_id: int | None = None) -> Job | None:
        """The unfinished restore that writes the table `name` of the database (or will create it), from the
        moment it is accepted (PENDING, before it has planned anything) until it is FINISHED or CANCELLED."""
        for job in self.unfinished():
            if job.type == "RESTORE" and job.db_id == db_id and restores_into(job, name, table_id):
                return job
        return None

    def refuse_load(self, table: Table) -> None:
        """Doris's refusal of every write (INSERT, Stream Load, DELETE, UPDATE) into a table under restore, so
        that nothing is acknowledged that the restore's commit would then replace."""
        if self.restore_of(table.db_id, table.name, table.id) is not None:
            raise DorisError(f"Table {table.name} is in restore process. Can not load into it")

    def refuse_ddl(self, tables: list[Table], operation: str, force: bool = False) -> None:
        """Tables a job is snapshotting or restoring into must not be truncated, altered or dropped; a table
        under restore answers as Doris's tables in state RESTORE do (DROP ... FORCE goes through, as in Doris,
        and the restore then fails at its commit)."""
        for table in tables:
            if self.restore_of(table.db_id, table.name, table.id) is not None and not force:
                raise DorisError(_NOT_NORMAL[operation].format(name=table.name))
        for job in self.unfinished():
            locked = self.locked_tables(job) if job.type == "BACKUP" else {}
            for table in tables:
                if table.id in locked:
                    raise DorisError(f"Table {locked[table.id]} is in {job.type.lower()} job {job.label} "
                                     f"(state {job.state}); {operation} is not allowed until it ends")

    def restore_creating(self, db_id: int, name: str) -> Job | None:
        """The unfinished restore that names `name` as a target in the database: a table or view of that name
        cannot be created or renamed to meanwhile (as in Doris, where the restore has registered it)."""
        return next((j for j in self.unfinished() if j.type == "RESTORE" and j.db_id == db_id
                     and any((ref.alias or ref.table) == name for ref in j.objects)), None)

    def restore_creating_database(self, name: str) -> Job | None:
        """The unfinished restore that creates the database `name` at its commit."""
        return next((j for j in self.unfinished() if j.type == "RESTORE" and j.db_name == name), None)

    def locked_tables(self, job: Job) -> dict[int, str]:
        if job.type == "BACKUP" and job.state not in (JobState.PENDING, JobState.SNAPSHOTING):
            return {}  # the snapshot holds the data from here on
        if job.type == "BACKUP":
            names = {ref.table for ref in job.objects}
            return {t.id: t.name for t in self.fe.catalog.owned(Table, job.db_id) if t.name in names}
        return dict(job.plan.locked_tables) if job.plan is not None else {}

    # ---- changes -----------------------------------------------------------------------------------------

    async def submit(self, job: Job) -> Job:
        """Record a new job (the caller holds SUBMIT_LOCK, so no other job of the database comes in between the
        check and the commit)."""
        running = [j for j in self.unfinished() if j.db_id == job.db_id or j.db_name == job.db_name]
        if running:
            raise DorisError(
                "Can only run one backup or restore job of a database at same time, current running: "
                f"label = {running[0].label} jobId = {running[0].id}, to run label = {job.label}"
            )
        catalog = self.fe.catalog
        job = job if job.id else attrs.evolve(job, id=catalog.allocate_ids())
        limit = self.max_jobs_per_db()
        if limit <= 0:  # Doris then records no job at all: the statement answers OK and nothing runs
            return job
        # Doris's BackupHandler.addBackupOrRestoreJob: the oldest jobs of the database (backups and restores
        # alike) leave the history until the new one fits; a cancelled job whose clean-up still runs stays.
        history = [j for j in self.of_db(job.db_id) if not j.cleanup_pending]
        retired = history[: max(0, len(history) - (limit - 1))]
        # In the journal thread: a restore's job carries its snapshot's info (100,000 tablets are megabytes of JSON
        # to make and write). The new job and the ones it retires may appear and go one after the other.
        await catalog.commit_off_loop([job], deletes=retired)
        for old in retired:
            self.progress.pop(old.id, None)
            local.release(self.fe, old)  # a local backup's snapshot goes with its job
        self._wake.set()
        return job

    def max_jobs_per_db(self) -> int:
        """max_backup_restore_job_num_per_db as ADMIN SET FRONTEND CONFIG last set it (checked there)."""
        return int(self.fe.frontend_config.get(MAX_JOBS_CONFIG, MAX_JOBS_PER_DB))

    def request_cancel(self, job: Job, message: str) -> None:
        """Journaled at once, so a CANCEL that has answered is carried out even if the FE restarts first; the
        job is cancelled as soon as its current step (a BE call, a repository request) has ended."""
        self.fe.catalog.update(Job, job.key, lambda current: None if current is None or current.done
                               else attrs.evolve(current, cancel_request=message))
        self._wake.set()

    def cleaning(self, repo: str, label: str) -> bool:
        """A cancelled backup of the label whose partial snapshot is still being removed from the repository."""
        return any(j.cleanup_pending and j.repo == repo and j.label == label for j in self.all())

    def _clean_up(self, job: Job) -> None:
        """Remove what a cancelled job left in its repository, in the background: a repository that hangs delays
        the clean-up (and the label's reuse), never the CANCEL. What could not be removed is noted in
        TaskErrMsg; the job's Status stays as Doris has it."""
        if job.id in self._cleanups:
            return

        async def run() -> None:
            try:
                problem = await runner_for(self.fe, job).clean_up(job)
            except Exception as e:  # a bug in the clean-up must not keep the label taken for ever
                log.exception("clean-up of job %s failed", job.label)
                problem = reason(e)
            finally:
                self._cleanups.pop(job.id, None)
            def cleaned(current: Job | None) -> Job | None:
                if current is None:
                    return None
                errors = {**current.task_errors, "cleanup": TaskFailure(None, problem)} if problem \
                    else current.task_errors
                return attrs.evolve(current, cleanup_pending=False, task_errors=errors)

            await self.fe.catalog.update_off_loop(Job, job.key, cleaned)

        self._cleanups[job.id] = asyncio.create_task(run())

    # ---- running -----------------------------------------------------------------------------------------

    async def run_forever(self) -> None:
        for job in self.all():  # clean-ups an FE that stopped did not finish
            if job.done and job.cleanup_pending:
                self._clean_up(job)
        while True:
            for job in self.unfinished():
                task = self._running.get(job.id)
                if task is None or task.done():
                    self._running[job.id] = asyncio.create_task(self._step(job.id))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), TICK_S)
            except TimeoutError:
                pass

    async def _step(self, job_id: int) -> None:
        job = self.fe.catalog.get(Job, str(job_id))
        if job is None or job.done:
            return
        runner = runner_for(self.fe, job)
        try:
            if job.cancel_request:
                new = await runner.cancel(job, rpc.StatusCode.COMMON_ERROR, job.cancel_request)
            elif now_ms() - job.create_time_ms > job.timeout_s * 1000:  # a held job times out too
                new = await runner.cancel(job, rpc.StatusCode.TIMEOUT, runner.timeout_message(job))
            elif self.hook.holds(job):
                return
            else:
                step = step_of(job)
                new = await step.run(runner, job)
                step.check(job, new)
        except Exception:  # a bug in one state must not stop the scheduler; the job records it (not Python's text)
            log.exception("job %s failed in %s", job.label, job.state)
            new = await runner.cancel(job, rpc.StatusCode.COMMON_ERROR,
                                      f"unexpected error in state {job.state}; see fe.log")

        def stepped(current: Job | None) -> Job | None:  # in the journal thread: comparing big jobs takes time too
            if current is None or current is new or new == job:  # `current is new`: the step committed it itself
                return None
            if current.cancel_request and not job.cancel_request:  # asked while this step ran
                return _keep_cancel_request(new, current.cancel_request)
            return new

        committed = await self.fe.catalog.update_off_loop(Job, str(job_id), stepped)
        if committed is not None and committed is not job and committed.done and committed.cleanup_pending:
            self._clean_up(committed)
        if committed is not None:
            await self.hook.stepped(job.state, committed)
        if new.state != job.state:
            self._wake.set()  # go on with the next state at once

    async def step_once(self, job_id: int) -> Job | None:
        """One step of the job, as run_forever's ticks make them (tests drive jobs a state at a time with it);
        the job as journaled after it."""
        await self._step(job_id)
        return self.fe.catalog.get(Job, str(job_id))

    def progress_of(self, job: Job) -> dict[int, rpc.TaskProgress]:
        return self.progress.setdefault(job.id, {})


def _keep_cancel_request(job: Job, reason: str) -> Job:
    """A CANCEL that answered while the job's step ran stays asked; if the step ended the job itself meanwhile
    (a repository that failed), the job is the user's cancel, as in Doris, with the step's reason in TaskErrMsg."""
    if not job.done:
        return attrs.evolve(job, cancel_request=reason)
    if job.state is JobState.CANCELLED:
        return attrs.evolve(job, status_code=rpc.StatusCode.COMMON_ERROR, status_msg=reason,
                            task_errors={**job.task_errors, "error": TaskFailure(job.status_code, job.status_msg)})
    return job


def restores_into(job: Job, name: str, table_id: int | None = None) -> bool:
    """Whether the restore job writes the table `name` (or `table_id`) of its database: a target it names (its
    alias, else its name), a table it planned to replace or drop, or any table at all with clean_tables."""
    if job.properties.get("clean_tables", "false").lower() == "true":
        return True
    if table_id is not None and job.plan is not None and table_id in job.plan.locked_tables:
        return True
    return any((ref.alias or ref.table) == name for ref in job.objects)
