"""An in-process doris-br cluster for job runner tests: real BackendService Flight servers (pyarrow serves each in
its own threads) and a real Frontend on a data folder, all in the test's process and event loop.

Nothing is faked: the FE is built as `doris-br fe` builds it and its BEs adopted as Frontend.serve adopts them, but
no MySQL or HTTP listener and no scheduler loop runs. Statements go through a DorisSession's handle_query, the code a
MySQL connection runs; jobs are stepped one state at a time (JobManager.step_once), and each step a job takes is
recorded by the StepHook the FE is given. A crash drops the Frontend as a killed process leaves it (its tasks gone,
its journal closed, its lock released) and builds a new one on the same folder.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import attrs

from doris_br.be.server import BackendService, choose_port
from doris_br.be.storage import Storage
from doris_br.config import BeConfig, FeConfig
from doris_br.fe.catalog import Backend
from doris_br.fe.frontend import Frontend
from doris_br.fe.jobs.model import Job, JobState
from doris_br.fe.olap import Partition
from doris_br.server.session import DorisSession

# A job that has not ended after this many seconds of stepping has hung: the test fails instead of waiting.
STEP_DEADLINE_S = 30.0
# BE tasks (uploads, downloads) run in the BEs' threads: a step that polls them waits this long between polls.
POLL_PAUSE_S = 0.01


@attrs.define
class Step:
    """One step a job took: the state it ran in and the job as journaled after it."""

    before: JobState
    job: Job

    @property
    def after(self) -> JobState:
        return self.job.state


@attrs.define
class StepRecorder:
    """The FE's StepHook here: records every step. It holds no job before its step (a test that steps jobs itself
    decides when they step); with `stop_after`, the scheduler's task of the job that has just reached that state
    waits for ever, as if the FE hung there, until a crash ends it."""

    steps: list[Step] = attrs.field(factory=list)
    stop_after: str = ""
    stopped: asyncio.Event = attrs.field(factory=asyncio.Event)

    def holds(self, job: Job) -> bool:
        return False

    async def stepped(self, before: JobState, job: Job) -> None:
        self.steps.append(Step(before, job))
        if self.stop_after and job.state == self.stop_after and before != job.state:
            self.stopped.set()
            await asyncio.Future()  # never done: cancelled with the FE's other tasks by crash_fe

    def states(self, job_id: int) -> list[str]:
        """The states the job went through, in order, each once (a poll that changed nothing is not a state)."""
        seen: list[str] = []
        for step in self.steps:
            if step.job.id != job_id:
                continue
            for state in (step.before, step.after):
                if not seen or seen[-1] != state:
                    seen.append(state)
        return seen


@attrs.define
class InProcessBackend:
    """A BE as `doris-br be` runs it, on its storage root, minus the HTTP relay (Stream Load is not used here)."""

    root: Path
    service: BackendService | None = None

    def start(self) -> None:
        config = BeConfig(storage_root=str(self.root))
        storage = Storage(self.root)
        storage.remove_partial_files()  # as run_be does at every start
        # The port this root used last time, if free, as run_be picks it: a restarted BE is found where it was.
        self.service = BackendService(config, storage, choose_port(config, storage))
        storage.port_file.write_text(str(self.service.port))

    def stop(self) -> None:
        """Stop serving and wait for its transfers: a killed BE's uploads end with it, and none may go on writing
        into the repository while the BE that replaces it works on the same files."""
        service = self.service
        if service is None:
            return
        self.service = None
        service.shutdown()
        service.tasks._pool.shutdown(wait=True)  # BackgroundTasks has no stop of its own: a BE never needed one

    @property
    def storage(self) -> Storage:
        assert self.service is not None, "the backend is stopped"
        return self.service.storage

    @property
    def address(self) -> str:
        assert self.service is not None, "the backend is stopped"
        return f"127.0.0.1:{self.service.port}"


@attrs.define
class InProcessCluster:
    root: Path
    backends: list[InProcessBackend]
    hook: StepRecorder = attrs.field(factory=StepRecorder)
    fe: Frontend | None = None
    session: DorisSession | None = None

    @classmethod
    async def start(cls, root: Path, backends: int = 3) -> InProcessCluster:
        cluster = cls(root, [InProcessBackend(root / f"be{i}") for i in range(backends)])
        for be in cluster.backends:
            be.start()
        await cluster.start_fe()
        return cluster

    # ---- processes ---------------------------------------------------------------------------------------

    async def start_fe(self) -> None:
        """A Frontend on the data folder, its BEs adopted and heartbeaten as Frontend.serve does first."""
        config = FeConfig(data_dir=str(self.root), heartbeat_timeout_s=2.0)
        self.fe = Frontend(config, job_hook=self.hook)
        for be in self.backends:
            host, port = be.address.split(":")
            await self.fe.backends.adopt(host, int(port))
        await self.fe.backends.heartbeat_all()
        self.session = DorisSession(self.fe)
        self.session.username = "root"

    async def crash_fe(self) -> None:
        """What kill -9 leaves: no task of the FE runs on (every task in the loop but the test's own is cancelled:
        the scheduler, a cancelled backup's clean-up, a BE request sent in the background), its journal as last
        committed, its folder's lock free. The BEs run on."""
        fe = self.frontend
        ours = asyncio.current_task()
        doomed = [t for t in asyncio.all_tasks() if t is not ours]
        for task in doomed:
            task.cancel()
        await asyncio.gather(*doomed, return_exceptions=True)
        for backend in fe.backends.all():
            fe.backends.client(backend).close()
        fe.catalog.journal.close()
        fe.lock.release()
        self.fe = self.session = None

    async def restart_fe(self) -> None:
        await self.crash_fe()
        await self.start_fe()

    async def restart_everything(self) -> None:
        """The FE and every BE die; the BEs come back on their storage roots (what they ran in memory is gone),
        then the FE."""
        await self.crash_fe()
        for be in self.backends:
            be.stop()
        for be in self.backends:
            be.start()
        await self.start_fe()

    async def close(self) -> None:
        if self.fe is not None:
            await self.crash_fe()
        for be in self.backends:
            be.stop()

    @property
    def frontend(self) -> Frontend:
        assert self.fe is not None, "the FE is down"
        return self.fe

    # ---- statements --------------------------------------------------------------------------------------

    async def execute(self, sql: str) -> Any:
        """The statement run as a MySQL connection runs it: parsed, checked and dispatched by the session."""
        assert self.session is not None, "the FE is down"
        return await self.session.handle_query(sql, {})

    async def query(self, sql: str) -> list[tuple[Any, ...]]:
        rows, _ = await self.execute(sql)
        return list(rows)

    async def query_dicts(self, sql: str) -> list[dict[str, Any]]:
        rows, columns = await self.execute(sql)
        names = [c.name for c in columns]
        return [dict(zip(names, row, strict=True)) for row in rows]

    async def table_rows(self, db: str, tables: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
        # Sorted here: the tables have different columns, so no one ORDER BY fits them all.
        return {t: sorted(await self.query(f"SELECT * FROM {db}.{t}")) for t in tables}

    async def tables_in(self, db: str) -> set[str]:
        return {row[0] for row in await self.query(f"SHOW TABLES FROM {db}")}

    async def create_local_repo(self, name: str, folder: Path) -> None:
        await self.execute(f'CREATE REPOSITORY {name} WITH LOCAL ON LOCATION "file://{folder}"')

    async def snapshot_timestamp(self, repo: str, label: str) -> str:
        rows = await self.query(f"SHOW SNAPSHOT ON {repo} WHERE SNAPSHOT = '{label}'")
        assert rows and rows[0][2] == "OK", rows
        return str(rows[0][1])

    # ---- jobs --------------------------------------------------------------------------------------------

    def job(self, kind: str, label: str) -> Job:
        """The newest job of the kind and label."""
        jobs = [j for j in self.frontend.jobs.all() if j.type == kind and j.label == label]
        assert jobs, f"no {kind} job {label}"
        return jobs[-1]

    async def step(self, job_id: int) -> Job:
        job = await self.frontend.jobs.step_once(job_id)
        assert job is not None, f"job {job_id} is gone"
        return job

    async def step_until(self, job_id: int, state: str) -> Job:
        """Step the job until it is in `state` (at once if it is); it must not end elsewhere first."""
        deadline = time.monotonic() + STEP_DEADLINE_S
        job = self.frontend.catalog.get(Job, str(job_id))
        while job is not None and job.state != state:
            assert not job.done, f"job ended {job.state} ({job.status_msg}) before reaching {state}"
            assert time.monotonic() < deadline, f"job stuck in {job.state}: {job.task_errors}"
            before = job.state
            job = await self.step(job_id)
            if job.state == before:  # BE tasks still running: give their threads a moment
                await asyncio.sleep(POLL_PAUSE_S)
        assert job is not None
        return job

    async def run_to_end(self, job_id: int) -> Job:
        deadline = time.monotonic() + STEP_DEADLINE_S
        job = self.frontend.catalog.get(Job, str(job_id))
        assert job is not None
        while not job.done:
            assert time.monotonic() < deadline, f"job stuck in {job.state}: {job.task_errors}"
            before = job.state
            job = await self.step(job_id)
            if job.state == before:
                await asyncio.sleep(POLL_PAUSE_S)
        return job

    async def wait_done(self, job_id: int) -> Job:
        """Until the job has ended, however it is run (the scheduler's loop here)."""
        deadline = time.monotonic() + STEP_DEADLINE_S
        while not (job := self.frontend.catalog.get(Job, str(job_id))) or not job.done:
            assert time.monotonic() < deadline, f"job {job_id} did not end"
            await asyncio.sleep(POLL_PAUSE_S)
        return job

    async def finish_cleanup(self, job_id: int) -> Job:
        """Wait for a cancelled job's background clean-up (Job.cleanup_pending) to end."""
        deadline = time.monotonic() + STEP_DEADLINE_S
        while (job := self.frontend.catalog.get(Job, str(job_id))) is not None and job.cleanup_pending:
            assert time.monotonic() < deadline, f"clean-up of job {job_id} did not end"
            await asyncio.sleep(POLL_PAUSE_S)
        assert job is not None
        return job

    def backend_dirs(self, kind: str, job_id: int) -> list[Path]:
        """The job's snapshot (`snapshot`) or staged download (`restore`) folders left on the BEs."""
        found = []
        for be in self.backends:
            folder = be.storage.snapshot_dir(job_id) if kind == "snapshot" else be.storage.restore_dir(job_id)
            if folder.exists():
                found.append(folder)
        return found

    def tablet_dirs(self, tablet_ids: list[int]) -> list[Path]:
        """The tablets of these ids that exist on any BE."""
        return [be.storage.tablet_dir(i) for be in self.backends for i in tablet_ids
                if be.storage.tablet_dir(i).exists()]

    def orphan_tablets(self) -> list[tuple[int, int]]:
        """(backend id, tablet id) of the tablets on the BEs that no partition of the catalog names: files no
        read will ever take, and nothing drops."""
        catalog = self.frontend.catalog
        named = {(r.backend_id, t.id) for p in catalog.all(Partition) for t in p.tablets for r in t.replicas}
        ids = {b.instance_id: b.id for b in catalog.all(Backend)}
        found = []
        for be in self.backends:
            data = be.storage.root / "data"
            held = [int(d.name) for d in data.iterdir() if d.name.isdigit()] if data.is_dir() else []
            found += [(ids[be.storage.instance_id], t) for t in held]
        return sorted(f for f in found if f not in named)
