"""Issue 17 part 4: the backup and restore runners, state by state, in one process (tests/inprocess.py). For every
state of both: stepped through; an FE crash after it and inside it (its work done, its result not journaled); every
process restarted after it; a CANCEL in it, and one that arrives while its step runs. Also the scheduler's own loop,
held by the step hook. The process-level tests (test_backup*.py, test_restore.py) stay the end-to-end layer."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import uvloop

from doris_br.fe.catalog import Catalog
from doris_br.fe.jobs import backup, restore
from doris_br.fe.jobs.model import DONE_STATES, Job, JobState
from doris_br.fe.jobs.runners import runner_for, step_of
from doris_br.fe.journal import Journal, journal_path
from tests.inprocess import InProcessCluster

pytestmark = pytest.mark.in_process

Rows = dict[str, list[tuple[Any, ...]]]  # each table's rows, sorted

BACKUP_STATES = ("PENDING", "SNAPSHOTING", "UPLOAD_SNAPSHOT", "UPLOADING", "SAVE_META", "UPLOAD_INFO")
RESTORE_STATES = ("PENDING", "SNAPSHOTING", "DOWNLOAD", "DOWNLOADING", "COMMIT", "COMMITTING")
TABLES = ("dup", "uniq")
REPO = "repo"
SOURCE = "src"
# Restored over the source database: `dup` over the table that exists (its partitions get new tablets swapped
# in), `uniq` as a new table beside the one that exists. Replica counts as the backed-up partitions have them.
RESTORE_CLAUSE = "ON (dup, uniq AS uniq_new)"
RESTORE_PROPERTIES = "'reserve_replica' = 'true'"



def test_each_state_table_names_every_state_its_runs_go_through() -> None:
    """The states the tests step through are the tables' (in the same order), and every state a row leads to has a
    row of its own or ends the job."""
    for table, states in ((backup.STATES, BACKUP_STATES), (restore.STATES, RESTORE_STATES)):
        assert tuple(table) == states
        assert all(n in table or n in DONE_STATES for step in table.values() for n in step.next)


def test_a_state_method_that_moves_its_job_where_its_row_does_not_say_is_refused() -> None:
    """The scheduler cancels such a job as it does one whose step raised (a bug)."""
    job = Job(id=1, type="BACKUP", label="l", db_id=1, db_name="d", repo=REPO, state=JobState.UPLOAD_SNAPSHOT)
    step = step_of(job)
    step.check(job, job.at(JobState.UPLOADING))
    with pytest.raises(RuntimeError, match="from UPLOAD_SNAPSHOT to SAVE_META"):
        step.check(job, job.at(JobState.SAVE_META))


# ---- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture
def loop() -> Iterator[asyncio.Runner]:
    """One event loop for the whole test, the FE's (uvloop, as `doris-br fe` runs), across FE restarts."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        yield runner


@attrs.frozen
class World:
    """A stopped cluster's folders (FE data, BE roots) that each test starts a copy of, and what they hold: the
    source's rows as backed up (`data`) and as they are now (`old`), and the snapshot's timestamp if any. Loading
    and backing up once per module instead of per test halves the tests' time."""

    root: Path
    data: Rows
    old: Rows
    ts: str = ""


def build_world(root: Path, build: Callable[[InProcessCluster], Awaitable[World]]) -> World:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        cluster = runner.run(InProcessCluster.start(root))
        try:
            return runner.run(build(cluster))
        finally:
            runner.run(cluster.close())


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The source database, loaded; no repository yet."""
    async def build(c: InProcessCluster) -> World:
        data = await make_source(c)
        return World(c.root, data, data)

    return build_world(tmp_path_factory.mktemp("loaded"), build)


@pytest.fixture(scope="module")
def backed(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The source backed up to the repository (which every copy shares: restores only read it), then changed."""
    async def build(c: InProcessCluster) -> World:
        ts, data = await backed_up(c, c.root.parent)
        return World(c.root, data, await change_source(c), ts)

    return build_world(tmp_path_factory.mktemp("backed") / "cluster", build)


def started_copy(loop: asyncio.Runner, world: World, tmp_path: Path) -> Iterator[InProcessCluster]:
    root = tmp_path / "cluster"
    shutil.copytree(world.root, root)
    cluster = loop.run(InProcessCluster.start(root))
    yield cluster
    loop.run(cluster.close())


@pytest.fixture
def inproc(loop: asyncio.Runner, loaded: World, tmp_path: Path) -> Iterator[InProcessCluster]:
    """A cluster of the test's own, holding the loaded source."""
    yield from started_copy(loop, loaded, tmp_path)


@pytest.fixture
def restorable(loop: asyncio.Runner, backed: World, tmp_path: Path) -> Iterator[InProcessCluster]:
    """A cluster of the test's own, holding the changed source and its backup."""
    yield from started_copy(loop, backed, tmp_path)


# ---- data and jobs -------------------------------------------------------------------------------------------


async def make_source(c: InProcessCluster) -> Rows:
    """Two tables over three BEs (two partitions, two and three replicas), two loads each; their rows."""
    await c.execute(f"CREATE DATABASE {SOURCE}")
    await c.execute(f"CREATE TABLE {SOURCE}.dup (k INT, dt DATE, v VARCHAR(20)) DUPLICATE KEY(k) "
                    "PARTITION BY RANGE(dt) (PARTITION p1 VALUES LESS THAN ('2024-02-01'), "
                    "PARTITION p2 VALUES LESS THAN ('2024-03-01')) DISTRIBUTED BY HASH(k) BUCKETS 3 "
                    "PROPERTIES ('replication_num' = '2')")
    await c.execute(f"CREATE TABLE {SOURCE}.uniq (k INT, v DECIMAL(10,2)) UNIQUE KEY(k) "
                    "DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '3')")
    for start in (0, 10):
        span = range(start, start + 10)
        await c.execute(f"INSERT INTO {SOURCE}.dup VALUES " + ", ".join(
            f"({i}, '2024-0{1 + i % 2}-{1 + i % 28:02d}', 'v{i}')" for i in span))
        await c.execute(f"INSERT INTO {SOURCE}.uniq VALUES " + ", ".join(f"({i % 7}, {i}.25)" for i in span))
    return await c.table_rows(SOURCE, TABLES)


async def submit_backup(c: InProcessCluster, label: str = "snap") -> Job:
    await c.execute(f"BACKUP SNAPSHOT {SOURCE}.{label} TO {REPO}")
    return c.job("BACKUP", label)


async def backed_up(c: InProcessCluster, tmp_path: Path) -> tuple[str, Rows]:
    """The source backed up whole: (the snapshot's timestamp, its rows)."""
    data = await make_source(c)
    await c.create_local_repo(REPO, tmp_path / "repo")
    job = await c.run_to_end((await submit_backup(c)).id)
    assert job.state == "FINISHED", job.status_msg
    return await c.snapshot_timestamp(REPO, "snap"), data


async def restored_rows(c: InProcessCluster, db: str, scheduled: bool = False) -> Rows:
    """The snapshot restored whole into a new database, read back. `scheduled`: the scheduler's loop runs, and
    steps the restore (a second stepper would run its states twice at once)."""
    ts = await c.snapshot_timestamp(REPO, "snap")
    await c.execute(f"RESTORE SNAPSHOT {db}.snap FROM {REPO} PROPERTIES ('backup_timestamp' = '{ts}', "
                    "'replication_num' = '1')")
    restore = c.job("RESTORE", "snap")
    job = await (c.wait_done(restore.id) if scheduled else c.run_to_end(restore.id))
    assert job.state == "FINISHED", job.status_msg
    return await c.table_rows(db, TABLES)


async def change_source(c: InProcessCluster) -> Rows:
    """Rows loaded after the backup: what the target tables hold while the restore runs."""
    await c.execute(f"INSERT INTO {SOURCE}.dup VALUES (700, '2024-01-09', 'late'), (701, '2024-02-09', 'late')")
    await c.execute(f"INSERT INTO {SOURCE}.uniq VALUES (1, 77.00), (70, 70.00)")
    return await c.table_rows(SOURCE, TABLES)


async def submit_restore(c: InProcessCluster, ts: str) -> Job:
    await c.execute(f"RESTORE SNAPSHOT {SOURCE}.snap FROM {REPO} {RESTORE_CLAUSE} "
                    f"PROPERTIES ('backup_timestamp' = '{ts}', {RESTORE_PROPERTIES})")
    return c.job("RESTORE", "snap")


async def check_restored(c: InProcessCluster, data: Rows,
                         old: Rows) -> None:
    """The backed-up rows in the restored tables; the table the restore left alone as it was."""
    assert await c.table_rows(SOURCE, ("dup", "uniq_new")) == {"dup": data["dup"], "uniq_new": data["uniq"]}
    assert await c.table_rows(SOURCE, ("uniq",)) == {"uniq": old["uniq"]}


async def cancel_by_statement(c: InProcessCluster, sql: str, job_id: int) -> Job:
    """CANCEL as a client sends it: the statement journals the cancel and waits for the job to end, which the
    job's next step does."""
    statement = asyncio.create_task(c.execute(sql))
    for _ in range(1000):  # the statement runs up to its journaled request, then polls the job
        job = c.frontend.catalog.get(Job, str(job_id))
        if statement.done() or (job is not None and job.cancel_request):
            break
        await asyncio.sleep(0)
    job = await c.step(job_id)
    await statement  # it answers once it sees the job ended
    return job


async def cancel_during_step(c: InProcessCluster, sql: str, job_id: int) -> Job:
    """CANCEL while the job's step is under way: the step started and waits (on a BE, the repository or the
    journal thread) when the statement journals the cancel, which must survive the step's own commit."""
    step = asyncio.create_task(c.step(job_id))
    await asyncio.sleep(0)  # the step runs up to its first wait
    statement = asyncio.create_task(c.execute(sql))
    job = await step
    if not job.done:
        assert job.cancel_request, "the step's commit dropped the cancel asked meanwhile"
        job = await c.step(job_id)
    await statement
    return job


async def crash_inside(c: InProcessCluster, job: Job) -> None:
    """The job's state method runs to its end (its BE calls and repository writes made), and the FE dies before
    its result is journaled."""
    await step_of(job).run(runner_for(c.frontend, job), job)


async def crash(c: InProcessCluster, how: str) -> None:
    if how == "fe":
        await c.restart_fe()
    else:
        await c.restart_everything()


def show_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert rows, "SHOW answered no job"
    return rows[-1]


# ---- backup --------------------------------------------------------------------------------------------------


async def crash_then_finish(c: InProcessCluster, job: Job, how: str, inside: bool, kind: str) -> Job:
    """The FE (or everything) crashed after the job's step, or inside it; then the job run to the end: FINISHED."""
    if inside:
        await crash_inside(c, job)
    await crash(c, how)
    job = await c.run_to_end(job.id)
    assert job.state == "FINISHED", (job.status_code, job.status_msg, job.task_errors)
    assert show_row(await c.query_dicts(f"SHOW {kind} FROM {SOURCE}"))["Status"] == "[OK]"
    return job


async def backup_then_check(c: InProcessCluster, data: Rows, tmp_path: Path, state: str, how: str,
                            inside: bool) -> None:
    repo_folder = tmp_path / "repo"
    await c.create_local_repo(REPO, repo_folder)
    job = await c.step_until((await submit_backup(c)).id, state)
    job = await crash_then_finish(c, job, how, inside, "BACKUP")
    assert c.backend_dirs("snapshot", job.id) == []  # released once uploaded
    snapshot = repo_folder / f"__palo_repository_{REPO}" / "__ss_snap"
    assert len(list(snapshot.glob("__meta.*"))) == len(list(snapshot.glob("__info_*"))) == 1
    assert await restored_rows(c, "back") == data


def check_history(c: InProcessCluster, job: Job) -> None:
    """A finished job's history, in memory and read back from the journal, holds none of its per-tablet work (a
    job of 100,000 tablets kept hundreds of megabytes), yet its SHOW row has what it had: the tasks' counts and the
    snapshot's tables and partitions."""
    for kept in (job, Catalog(Journal(journal_path(c.root), read_only=True)).get(Job, job.key)):
        assert kept is not None and kept.tablets == () and kept.meta == {} and kept.created == {}
        assert all(t.tablet_ids == () for t in kept.be_tasks) and len(kept.task_progress) == len(kept.be_tasks)
        assert kept.info is not None and all(not p.indexes for t in kept.info.tables.values()
                                             for p in t.partitions.values()) and kept.info.tables


def test_backup_steps_through_every_state(loop: asyncio.Runner, inproc: InProcessCluster, loaded: World,
                                          tmp_path: Path) -> None:
    async def scenario() -> None:
        await inproc.create_local_repo(REPO, tmp_path / "repo")
        job = await submit_backup(inproc)
        for state in BACKUP_STATES:
            job = await inproc.step_until(job.id, state)
            assert job.state == state
        job = await inproc.run_to_end(job.id)
        assert job.state == "FINISHED", job.status_msg
        assert inproc.hook.states(job.id) == [*BACKUP_STATES, "FINISHED"]
        assert inproc.backend_dirs("snapshot", job.id) == []
        assert await restored_rows(inproc, "back") == loaded.data
        check_history(inproc, job)

    loop.run(scenario())


@pytest.mark.parametrize("state", BACKUP_STATES)
def test_backup_resumes_after_an_fe_crash_after(loop: asyncio.Runner, inproc: InProcessCluster, loaded: World,
                                                tmp_path: Path, state: str) -> None:
    loop.run(backup_then_check(inproc, loaded.data, tmp_path, state, "fe", inside=False))


@pytest.mark.parametrize("state", BACKUP_STATES)
def test_backup_resumes_after_an_fe_crash_inside(loop: asyncio.Runner, inproc: InProcessCluster, loaded: World,
                                                 tmp_path: Path, state: str) -> None:
    loop.run(backup_then_check(inproc, loaded.data, tmp_path, state, "fe", inside=True))


@pytest.mark.parametrize("state", BACKUP_STATES)
def test_backup_resumes_after_every_process_restarts_after(loop: asyncio.Runner, inproc: InProcessCluster,
                                                           loaded: World, tmp_path: Path, state: str) -> None:
    loop.run(backup_then_check(inproc, loaded.data, tmp_path, state, "everything", inside=False))


@pytest.mark.parametrize("state", BACKUP_STATES)
def test_backup_cancelled_in(loop: asyncio.Runner, inproc: InProcessCluster, tmp_path: Path, state: str) -> None:
    async def scenario() -> None:
        repo_folder = tmp_path / "repo"
        await inproc.create_local_repo(REPO, repo_folder)
        job = await inproc.step_until((await submit_backup(inproc)).id, state)
        job = await cancel_by_statement(inproc, f"CANCEL BACKUP FROM {SOURCE}", job.id)
        assert job.state == "CANCELLED"
        row = show_row(await inproc.query_dicts(f"SHOW BACKUP FROM {SOURCE}"))
        assert (row["State"], row["Status"]) == ("CANCELLED", "[COMMON_ERROR, msg: user cancelled]"), row
        assert inproc.backend_dirs("snapshot", job.id) == []  # every BE released its hard links
        job = await inproc.finish_cleanup(job.id)
        assert "cleanup" not in job.task_errors, job.task_errors
        assert list(repo_folder.rglob("__ss_snap")) == []  # nothing of the partial snapshot stays
        assert await inproc.query(f"SHOW SNAPSHOT ON {REPO}") == []
        # The label is free again, and the backup made with it finishes.
        again = await inproc.run_to_end((await submit_backup(inproc)).id)
        assert again.state == "FINISHED", again.status_msg

    loop.run(scenario())


# ---- restore -------------------------------------------------------------------------------------------------


async def restore_then_check(c: InProcessCluster, world: World, state: str, how: str, inside: bool) -> None:
    data, old = world.data, world.old
    job = await c.step_until((await submit_restore(c, world.ts)).id, state)
    assert await c.table_rows(SOURCE, TABLES) == old  # nothing of the restore is visible before its commit
    job = await crash_then_finish(c, job, how, inside, "RESTORE")
    await check_restored(c, data, old)
    assert c.backend_dirs("restore", job.id) == []  # every staged download moved or released
    assert c.orphan_tablets() == []  # the replaced tablets dropped, and no target tablet made twice


def test_restore_steps_through_every_state(loop: asyncio.Runner, restorable: InProcessCluster,
                                           backed: World) -> None:
    async def scenario() -> None:
        c = restorable
        job = await submit_restore(c, backed.ts)
        for state in RESTORE_STATES:
            job = await c.step_until(job.id, state)
            assert job.state == state
            assert await c.table_rows(SOURCE, TABLES) == backed.old, state
            assert "uniq_new" not in await c.tables_in(SOURCE), state
        job = await c.run_to_end(job.id)
        assert job.state == "FINISHED", job.status_msg
        assert c.hook.states(job.id) == [*RESTORE_STATES, "FINISHED"]
        await check_restored(c, backed.data, backed.old)
        check_history(c, job)
        assert c.backend_dirs("restore", job.id) == []
        assert c.orphan_tablets() == []

    loop.run(scenario())


@pytest.mark.parametrize("state", RESTORE_STATES)
def test_restore_resumes_after_an_fe_crash_after(loop: asyncio.Runner, restorable: InProcessCluster, backed: World,
                                                 state: str) -> None:
    loop.run(restore_then_check(restorable, backed, state, "fe", inside=False))


@pytest.mark.parametrize("state", RESTORE_STATES)
def test_restore_resumes_after_an_fe_crash_inside(loop: asyncio.Runner, restorable: InProcessCluster, backed: World,
                                                  state: str) -> None:
    loop.run(restore_then_check(restorable, backed, state, "fe", inside=True))


@pytest.mark.parametrize("state", RESTORE_STATES)
def test_restore_resumes_after_every_process_restarts_after(loop: asyncio.Runner, restorable: InProcessCluster,
                                                            backed: World, state: str) -> None:
    loop.run(restore_then_check(restorable, backed, state, "everything", inside=False))


@pytest.mark.parametrize("state", RESTORE_STATES)
def test_restore_cancelled_in(loop: asyncio.Runner, restorable: InProcessCluster, backed: World,
                              state: str) -> None:
    inproc, ts, data, old = restorable, backed.ts, backed.data, backed.old

    async def scenario() -> None:
        job = await inproc.step_until((await submit_restore(inproc, ts)).id, state)
        created = [i for ids in job.created.values() for i in ids]
        assert state == "PENDING" or created  # the target tablets are made in PENDING
        job = await cancel_by_statement(inproc, f"CANCEL RESTORE FROM {SOURCE}", job.id)
        assert job.state == "CANCELLED"
        row = show_row(await inproc.query_dicts(f"SHOW RESTORE FROM {SOURCE}"))
        assert (row["State"], row["Status"]) == (
            "CANCELLED", f"[COMMON_ERROR, msg: user cancelled, current state: {state}]"), row
        assert await inproc.table_rows(SOURCE, TABLES) == old  # as it was before
        assert "uniq_new" not in await inproc.tables_in(SOURCE)
        assert inproc.tablet_dirs(created) == []  # the restore's own tablets dropped on every BE
        assert inproc.orphan_tablets() == []
        assert inproc.backend_dirs("restore", job.id) == []  # and its staged downloads
        # Nothing is left in the way: the same restore runs again and finishes.
        again = await inproc.run_to_end((await submit_restore(inproc, ts)).id)
        assert again.state == "FINISHED", again.status_msg
        await check_restored(inproc, data, old)

    loop.run(scenario())


# ---- the scheduler's own loop --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "state"), [("BACKUP", "UPLOADING"), ("RESTORE", "COMMITTING")])
def test_the_scheduler_held_by_the_hook_then_an_fe_crash_and_a_new_fe_finishes(
        loop: asyncio.Runner, request: pytest.FixtureRequest, tmp_path: Path, kind: str, state: str) -> None:
    """JobManager.run_forever, not the test, steps the job: the hook stops it right after it reached `state`."""
    inproc: InProcessCluster = request.getfixturevalue("inproc" if kind == "BACKUP" else "restorable")
    world: World = request.getfixturevalue("loaded" if kind == "BACKUP" else "backed")
    data, old = world.data, world.old

    async def scenario() -> None:
        if kind == "BACKUP":
            await inproc.create_local_repo(REPO, tmp_path / "repo")
            job = await submit_backup(inproc)
        else:
            job = await submit_restore(inproc, world.ts)
        inproc.hook.stop_after = state
        scheduler = asyncio.create_task(inproc.frontend.jobs.run_forever())
        await asyncio.wait_for(inproc.hook.stopped.wait(), 20)
        assert inproc.job(kind, "snap").state == state
        inproc.hook.stop_after = ""
        await inproc.restart_fe()  # ends the scheduler and its held step
        assert scheduler.cancelled()
        scheduler = asyncio.create_task(inproc.frontend.jobs.run_forever())  # closing the cluster ends it
        job = await inproc.wait_done(job.id)
        assert job.state == "FINISHED", job.status_msg
        if kind == "BACKUP":
            assert await restored_rows(inproc, "back", scheduled=True) == data
        else:
            await check_restored(inproc, data, old)

    loop.run(scenario())


# ---- a cancel that arrives while a step runs -----------------------------------------------------------------
# The last state's step ends the job itself (the info written, the swap committed): it wins over a cancel asked
# meanwhile, and the CANCEL, which waits for the job to end, answers OK.


@pytest.mark.parametrize("state", BACKUP_STATES)
def test_backup_cancelled_while_its_step_runs_in(loop: asyncio.Runner, inproc: InProcessCluster, loaded: World,
                                                 tmp_path: Path, state: str) -> None:
    async def scenario() -> None:
        await inproc.create_local_repo(REPO, tmp_path / "repo")
        job = await inproc.step_until((await submit_backup(inproc)).id, state)
        job = await cancel_during_step(inproc, f"CANCEL BACKUP FROM {SOURCE}", job.id)
        row = show_row(await inproc.query_dicts(f"SHOW BACKUP FROM {SOURCE}"))
        if state == BACKUP_STATES[-1]:
            assert row["State"] == "FINISHED", row
            assert await restored_rows(inproc, "back") == loaded.data
            return
        assert (row["State"], row["Status"]) == ("CANCELLED", "[COMMON_ERROR, msg: user cancelled]"), row
        assert inproc.backend_dirs("snapshot", job.id) == []
        job = await inproc.finish_cleanup(job.id)
        assert await inproc.query(f"SHOW SNAPSHOT ON {REPO}") == []

    loop.run(scenario())


@pytest.mark.parametrize("state", RESTORE_STATES)
def test_restore_cancelled_while_its_step_runs_in(loop: asyncio.Runner, restorable: InProcessCluster, backed: World,
                                                  state: str) -> None:
    c = restorable

    async def scenario() -> None:
        job = await c.step_until((await submit_restore(c, backed.ts)).id, state)
        job = await cancel_during_step(c, f"CANCEL RESTORE FROM {SOURCE}", job.id)
        row = show_row(await c.query_dicts(f"SHOW RESTORE FROM {SOURCE}"))
        if state == RESTORE_STATES[-1]:
            assert row["State"] == "FINISHED", row
            await check_restored(c, backed.data, backed.old)
        else:
            assert (row["State"], row["Status"]) == (
                "CANCELLED", f"[COMMON_ERROR, msg: user cancelled, current state: {state}]"), row
            assert await c.table_rows(SOURCE, TABLES) == backed.old
            assert "uniq_new" not in await c.tables_in(SOURCE)
        assert c.orphan_tablets() == []
        assert c.backend_dirs("restore", job.id) == []

    loop.run(scenario())
