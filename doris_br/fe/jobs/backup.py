"""BackupJob: PENDING, SNAPSHOTING, UPLOAD_SNAPSHOT, UPLOADING, SAVE_META, UPLOAD_INFO, then FINISHED or CANCELLED.

One method per state, and STATES (at the end) the table of them: where each state can go. Each is idempotent:
after an FE restart the job re-enters the journaled state and its method re-sends that state's tasks (BEs answer
known ones with their current state).
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs

from doris_br import json_text, rpc
from doris_br.errors import reason
from doris_br.fe import auto_increment
from doris_br.fe.catalog import Repository, to_json
from doris_br.fe.jobs import local
from doris_br.fe.jobs.base import JobRunner, StateTable, Step, by_backend, repository_target, retry_delay_s
from doris_br.fe.jobs.model import BeTask, Job, JobState, TabletPlan, TaskFailure
from doris_br.fe.olap import Database, Partition, Table, View, partitions_of
from doris_br.repository import layout
from doris_br.repository.snapshot_info import (
    META_VERSION,
    IndexInfo,
    PartitionInfo,
    SnapshotInfo,
    TableInfo,
    ViewInfo,
)

MAX_BACKUP_TABLETS = 300000  # Doris's FE config max_backup_tablets_per_job
# Tablets per snapshot request and per page of a finished upload's stored files: no answer is so big that decoding
# it holds the FE's interpreter (and so every session) for long.
TABLETS_PER_CALL = 1000
CLEANUP_ATTEMPTS = 6  # removing a cancelled backup's partial snapshot: about a minute of waits between tries
# A cancelled upload ends within its repository's timeouts (minutes at worst); a clean-up waits this long.
UPLOADS_STOP_WAIT_S = 600.0


class BackupRunner(JobRunner):
    async def pending(self, job: Job) -> Job:
        """Plan every tablet at its partition's visible version, on the lowest-id alive replica."""
        catalog = self.fe.catalog
        db = catalog.get(Database, str(job.db_id))
        if db is None:
            return self.cancelled(job, rpc.StatusCode.NOT_FOUND, f"database {job.db_name} has been dropped")
        root = local.snapshot_root(job.label) if local.is_local(job) else \
            layout.snapshot_dir((await self.store(job)).root, job.label)
        tables = {t.name: t for t in catalog.owned(Table, db.id)}
        # Views are not in here: their definitions go into the meta, they have no tablets.
        chosen = {ref.table: self._partitions(tables[ref.table], ref.partitions)
                  for ref in job.objects if ref.table in tables}
        # Tens of thousands of tablet plans, and the meta (every chosen partition's JSON): made in a worker thread,
        # from the objects read above.
        plans = await asyncio.to_thread(self._plans, job, db, tables, chosen, root, self._alive_ids())
        if len(plans) > MAX_BACKUP_TABLETS:
            return self.cancelled(job, rpc.StatusCode.COMMON_ERROR,
                                  f"too many tablets in one backup job: {len(plans)} > {MAX_BACKUP_TABLETS}")
        meta = await asyncio.to_thread(self._meta, job, db, tables, chosen)
        return job.at("SNAPSHOTING", tablets=tuple(plans), meta=meta)

    def _plans(self, job: Job, db: Database, tables: dict[str, Table], chosen: dict[str, list[Partition]],
               root: str, alive: set[int]) -> list[TabletPlan]:
        metadata_only = job.properties.get("content", "ALL").upper() == "METADATA_ONLY"
        plans: list[TabletPlan] = []
        for name, parts in chosen.items():
            table = tables[name]
            index_id = table.index_id or table.id
            for part in parts:
                for tablet in () if metadata_only else part.tablets:
                    plans.append(TabletPlan(
                        tablet_id=tablet.id, table=table.name, table_id=table.id, partition=part.name,
                        partition_id=part.id, index_id=index_id, version=part.visible_version,
                        backend_id=_pick_replica(tablet.replicas, alive),
                        remote_dir=layout.tablet_dir(root, db.id, table.id, part.id, index_id, tablet.id),
                    ))
        return plans

    def _partitions(self, table: Table, names: tuple[str, ...]) -> list[Partition]:
        parts = partitions_of(self.fe.catalog, table)
        return [p for p in parts if not names or p.name in names]

    def _alive_ids(self) -> set[int]:
        return {b.id for b in self.fe.backends.alive()}

    def _meta(self, job: Job, db: Database, tables: dict[str, Table],
              chosen: dict[str, list[Partition]]) -> dict[str, Any]:
        """__meta: the schema of what is backed up, enough to create the tables again on any cluster."""
        meta: dict[str, Any] = {"meta_version": META_VERSION, "database": to_json(db), "tables": {}, "views": {}}
        views = {v.name: v for v in self.fe.catalog.owned(View, db.id)}
        for ref in job.objects:
            if ref.table in tables:
                table = tables[ref.table]
                meta["tables"][table.name] = {
                    "table": to_json(table),
                    "partitions": [to_json(p) for p in chosen[ref.table]],
                }
                auto = auto_increment.column_of(table.columns)
                if auto is not None:  # the restored table's ids continue after every id handed out so far
                    meta["tables"][table.name]["auto_increment"] = auto_increment.next_id(
                        self.fe.catalog, table.id, auto)
            elif ref.table in views:
                meta["views"][ref.table] = to_json(views[ref.table])
        return meta

    async def snapshoting(self, job: Job) -> Job:
        """Hard-link each tablet's files on its BE; a tablet whose BE is down moves to another replica."""
        pending = [t for t in job.tablets if not t.done]
        errors = dict(job.task_errors)
        results: dict[int, list[rpc.SnapshotFile]] = {}

        async def one(backend_id: int, group: list[TabletPlan]) -> None:
            for start in range(0, len(group), TABLETS_PER_CALL):  # one request after the other on each BE
                batch = group[start:start + TABLETS_PER_CALL]
                task = rpc.MakeSnapshots(job.id, [rpc.TabletVersion(t.tablet_id, t.version) for t in batch])
                try:
                    answer = await self.call(backend_id, task, timeout_s=600.0)
                except rpc.TaskError as e:
                    for t in group[start:]:
                        errors[str(t.tablet_id)] = TaskFailure.of(e)
                    return
                for t in batch:
                    results[t.tablet_id] = answer.files[str(t.tablet_id)]
                    errors.pop(str(t.tablet_id), None)

        await asyncio.gather(*(one(b, g) for b, g in by_backend(pending).items()))
        # Tens of thousands of tablet records rebuilt: in a worker thread, not on the event loop.
        return await asyncio.to_thread(self._snapshotted, job, results, errors, self._alive_ids())

    def _snapshotted(self, job: Job, results: dict[int, list[rpc.SnapshotFile]], errors: dict[str, TaskFailure],
                     alive: set[int]) -> Job:
        """SNAPSHOTING's outcome: the files of the tablets snapshotted, the others planned again; once all are,
        the next state."""
        tablets = tuple(
            attrs.evolve(t, files=tuple(results[t.tablet_id]), done=True) if t.tablet_id in results
            else self._replan(t, alive) for t in job.tablets
        )
        job = attrs.evolve(job, tablets=tablets, task_errors=errors)
        if all(t.done for t in tablets) and local.is_local(job):  # nothing to upload: the files stay here
            kept = tuple(attrs.evolve(t, stored=tuple(rpc.StoredFile(f.name, f.size, "") for f in t.files))
                         for t in tablets)
            return job.at("SAVE_META", tablets=kept, times=job.stamped("snapshot_finished"))
        if all(t.done for t in tablets):
            unmarked = tuple(attrs.evolve(t, done=False) for t in tablets)
            return job.at("UPLOAD_SNAPSHOT", tablets=unmarked, times=job.stamped("snapshot_finished"))
        return job

    def _replan(self, plan: TabletPlan, alive: set[int]) -> TabletPlan:
        """A tablet whose BE is down is snapshotted from another replica next round."""
        if plan.done or plan.backend_id in alive:
            return plan
        part = self.fe.catalog.get(Partition, str(plan.partition_id))
        tablet = next((t for t in part.tablets if t.id == plan.tablet_id), None) if part else None
        if tablet is None:
            return plan
        return attrs.evolve(plan, backend_id=_pick_replica(tablet.replicas, alive, avoid=plan.backend_id))

    async def upload_snapshot(self, job: Job) -> Job:
        """One upload task per BE, carrying all its tablets; the BE uploads several files at a time."""
        groups = by_backend(job.tablets)
        first = self.fe.catalog.allocate_ids(len(groups)) if groups else 0
        tasks = tuple(BeTask(first + i, backend_id, tuple(t.tablet_id for t in group))
                      for i, (backend_id, group) in enumerate(sorted(groups.items())))
        return job.at("UPLOADING", be_tasks=tasks)

    async def uploading(self, job: Job) -> Job:
        target = repository_target(self.repository(job))

        async def submit(task: BeTask) -> rpc.SubmitUpload:
            def made() -> rpc.SubmitUpload:  # thousands of tablets: built in a worker thread
                plans = {t.tablet_id: t for t in job.tablets}
                return rpc.SubmitUpload(job.id, task.signature, target,
                                        [rpc.TabletUpload(i, plans[i].remote_dir) for i in task.tablet_ids])
            return await asyncio.to_thread(made)

        async def collect(task: BeTask, status: rpc.TaskProgress) -> rpc.TaskProgress:
            return await self._stored_files(job.id, task, status)

        job, finished = await self.poll_be_tasks(job, submit, collect)
        # Tens of thousands of tablet records rebuilt and checked: in a worker thread, not on the event loop.
        return await asyncio.to_thread(_uploaded, job, finished)

    async def _stored_files(self, job_id: int, task: BeTask, status: rpc.TaskProgress) -> rpc.TaskProgress:
        """A finished upload's stored files, read a page of tablets at a time."""
        stored: dict[str, list[rpc.StoredFile]] = {}
        while True:
            page = await self.call(task.backend_id, rpc.TaskStoredFiles(job_id, task.signature, len(stored),
                                                                        TABLETS_PER_CALL), 30.0)
            if page.state != "FINISHED":
                raise rpc.TaskError(rpc.StatusCode.NOT_FOUND,
                                    f"upload task {task.signature} is {page.state} on its backend")
            stored.update(page.stored)
            if len(stored) >= page.files_total or not page.stored:
                return attrs.evolve(status, stored=stored)

    async def save_meta(self, job: Job) -> Job:
        info = await asyncio.to_thread(self._info, job)  # every tablet's files: off the event loop
        if local.is_local(job):  # Doris keeps the info in the job; the BE snapshots stay until it is released
            return self.finish(attrs.evolve(job, info=info))
        await self.release_everywhere(job)
        return job.at("UPLOAD_INFO", info=info)

    def _info(self, job: Job) -> SnapshotInfo:
        """Doris's BackupJobInfo, plus each stored file's size so restores can check it."""
        tables: dict[str, dict[str, dict[str, Any]]] = {}  # table -> partition -> what its IndexInfo is made of
        for t in job.tablets:
            part = tables.setdefault(t.table, {}).setdefault(t.partition, {
                "id": t.partition_id, "version": t.version, "index_id": t.index_id, "tablets": {}})
            part["tablets"][t.tablet_id] = tuple(f.name for f in t.stored)
        infos: dict[str, TableInfo] = {}
        for name, entry in job.meta.get("tables", {}).items():  # metadata-only and empty partitions too
            parts = tables.get(name, {})
            for p in entry["partitions"]:
                parts.setdefault(p["name"], {"id": p["id"], "version": p["visible_version"], "tablets": {}})
            infos[name] = TableInfo(id=entry["table"]["id"], schema_hash=entry["table"].get("schema_hash", 0),
                                    partitions={pname: _partition_info(name, p) for pname, p in parts.items()})
        return SnapshotInfo(
            name=job.label, database=job.db_name, db_id=job.db_id, backup_time_ms=job.create_time_ms,
            content=job.properties.get("content", "ALL").upper(), tables=infos,
            views=tuple(ViewInfo(v["id"], v["name"]) for v in job.meta.get("views", {}).values()),
            tablet_backends={t.tablet_id: t.backend_id for t in job.tablets},
            tablet_paths={t.tablet_id: t.remote_dir for t in job.tablets},
            file_sizes={t.tablet_id: {f.name: f.size for f in t.stored} for t in job.tablets},
            ttl=job.properties.get("ttl"),  # ours: fe/snapshots.py
        )

    async def upload_info(self, job: Job) -> Job:
        """__meta first, then the info file: the snapshot becomes visible only when it is whole."""
        try:
            store = await self.store(job)
            directory = layout.snapshot_dir(store.root, job.label)

            def write() -> None:
                # The same bytes however often this runs: written again after an FE restart (the journal gives its
                # JSON back with its keys sorted), other bytes would be a second file of another md5.
                info_json = job.info.to_json() if job.info is not None else {}
                store.write_checked(directory, layout.META, json_text.dumps(job.meta, sort_keys=True).encode())
                store.write_checked(directory, layout.info_name(job.timestamp),
                                    json_text.dumps(info_json, sort_keys=True).encode())

            await asyncio.to_thread(write)
        except (OSError, rpc.TaskError, ValueError) as e:
            return attrs.evolve(job, task_errors={"info": TaskFailure(None, reason(e))})  # retried until timeout
        return self.finish(job)

    async def cancel(self, job: Job, code: rpc.StatusCode, message: str) -> Job:
        """Stop the tasks and release the BE snapshots. The partial snapshot is removed from the repository
        once the job is CANCELLED, in the background (clean_up), since the repository may be what hangs."""
        await self.release_everywhere(job)
        partial = job.state != "PENDING" and not local.is_local(job)  # a local backup wrote nowhere
        return attrs.evolve(self.cancelled(job, code, message), cleanup_pending=partial)

    async def clean_up(self, job: Job) -> str:
        """Once no BE is still inside an upload of the job (so nothing lands after this), remove the partial
        snapshot, tried again with a growing delay. A snapshot without its info file is never listed as whole,
        so what could not be removed is clutter, never a wrong restore."""
        await self.wait_tasks_stopped(job, UPLOADS_STOP_WAIT_S)
        error = ""
        for attempt in range(1, CLEANUP_ATTEMPTS + 1):
            if self.fe.catalog.get(Repository, job.repo) is None:  # dropped since: nothing to clean any more
                return ""
            try:
                store = await self.store(job)
                await asyncio.to_thread(store.delete_snapshot, job.label)
                return ""
            except Exception as e:
                error = reason(e)
                await asyncio.sleep(retry_delay_s(attempt))
        return f"the partial snapshot could not be removed: {error}"


def _partition_info(table: str, part: dict[str, Any]) -> PartitionInfo:
    """A partition's entry: its base index (named after the table, as Doris names it) with its tablets, in the
    order they were planned (the bucket order); none for an empty or metadata-only partition."""
    tablets = part["tablets"]
    indexes = {table: IndexInfo(id=part["index_id"], schema_hash=0, tablets=tablets,
                                tablets_order=tuple(tablets))} if tablets else {}
    return PartitionInfo(id=part["id"], version=part["version"], indexes=indexes)


def _pick_replica(replicas: Any, alive: set[int], avoid: int | None = None) -> int:
    """The lowest-id alive replica (Doris's choice), else the lowest id: its task then fails and is retried."""
    ids = sorted(r.backend_id for r in replicas)
    healthy = [i for i in ids if i in alive and i != avoid]
    return healthy[0] if healthy else ids[0]


def _uploaded(job: Job, finished: dict[int, rpc.TaskProgress]) -> Job:
    """UPLOADING's outcome: the stored files of the tablets whose upload tasks finished; once every task has,
    the next state (every snapshot file must have arrived, under its checksum name)."""
    if finished:
        stored = {int(k): v for status in finished.values() for k, v in status.stored.items()}
        job = attrs.evolve(job, tablets=tuple(
            attrs.evolve(t, stored=tuple(sorted(stored[t.tablet_id], key=lambda f: f.name)), done=True)
            if t.tablet_id in stored else t for t in job.tablets))
    if not all(t.done for t in job.be_tasks):
        return job
    for t in job.tablets:
        if sorted(layout.split_md5(f.name)[0] for f in t.stored) != sorted(f.name for f in t.files):
            return job.at("UPLOAD_SNAPSHOT", task_errors={
                str(t.tablet_id): TaskFailure(None, "uploaded files do not match the snapshot; uploading again")})
    return job.at("SAVE_META", times=job.stamped("upload_finished"))


S = JobState
# A backup's states: the method each runs, and where its job can be after it (see base.Step).
STATES: StateTable[BackupRunner] = {
    # The tablets planned (each at its partition's visible version, on an alive replica) and the meta made.
    S.PENDING: Step(BackupRunner.pending, (S.SNAPSHOTING, S.CANCELLED)),
    # Each BE hard-links its tablets' files; a tablet on a BE that is down is planned on another replica. A
    # __keep_on_local__ backup uploads nothing: SAVE_META.
    S.SNAPSHOTING: Step(BackupRunner.snapshoting, (S.SNAPSHOTING, S.UPLOAD_SNAPSHOT, S.SAVE_META)),
    # One upload task per BE, with fresh signatures.
    S.UPLOAD_SNAPSHOT: Step(BackupRunner.upload_snapshot, (S.UPLOADING,)),
    # The BEs' uploads polled, failed ones sent again; stored files that do not match the snapshot: UPLOAD_SNAPSHOT.
    S.UPLOADING: Step(BackupRunner.uploading, (S.UPLOADING, S.UPLOAD_SNAPSHOT, S.SAVE_META)),
    # The info made from the stored files; the BE snapshots released (a local backup's stay: it is FINISHED).
    S.SAVE_META: Step(BackupRunner.save_meta, (S.UPLOAD_INFO, S.FINISHED)),
    # __meta, then the info file, written to the repository: the snapshot is whole and visible.
    S.UPLOAD_INFO: Step(BackupRunner.upload_info, (S.UPLOAD_INFO, S.FINISHED)),
}
