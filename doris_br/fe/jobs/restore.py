"""RestoreJob: PENDING, SNAPSHOTING, DOWNLOAD, DOWNLOADING, COMMIT, COMMITTING, then FINISHED or CANCELLED: one
method per state, and STATES (at the end) the table of them, where each state can go.

Better than Doris: a restore never leaves a table half-overwritten. Restored data always goes into new
tablets that no table names yet, even for partitions that exist; COMMITTING then swaps the partitions'
tablet lists and versions, adds new tables and partitions, and marks the job FINISHED in ONE journal
transaction. Until that commit every table reads its old data; after it, the restored data. A cancel, a
BE crash or an FE kill -9 at any moment leaves one or the other, and cancelling drops only the new tablets.

Into a table that exists, a restore goes ahead only where Doris's would (_check_existing), so a restored
partition holds the snapshot's rows and nothing else. From the moment a restore is accepted until it ends,
its target tables refuse loads and DDL and its new names cannot be taken (JobManager.restore_of).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import attrs
from sqlglot import exp

from doris_br import json_text, rpc
from doris_br.clock import now_ms
from doris_br.errors import DorisError
from doris_br.fe import auto_increment, media
from doris_br.fe.catalog import from_json
from doris_br.fe.jobs.base import JobRunner, StateTable, Step, by_backend, repository_target
from doris_br.fe.jobs.model import BeTask, Job, JobState, TabletPlan, TaskFailure
from doris_br.fe.jobs.plans import ReplacedPartition, RestorePlan, plan_of
from doris_br.fe.load import table_lock
from doris_br.fe.olap import (
    Database,
    Partition,
    Table,
    View,
    check_overlaps,
    find_database,
    find_table,
    find_view,
    partitions_of,
    tables_of,
)
from doris_br.fe.placement import create_partitions, drop_tablets
from doris_br.names import UnsafeName, check_column_name, check_partition_name, path_component
from doris_br.repository import layout
from doris_br.repository.snapshot_info import SnapshotInfo
from doris_br.schema import PartitionDesc

log = logging.getLogger(__name__)


class RestoreFailed(Exception):
    """A check of PENDING failed: the job is cancelled with this message (Doris's COMMON_ERROR)."""


class CommitRefused(Exception):
    """COMMITTING found something dropped or created meanwhile: the job is cancelled with this code and message."""

    def __init__(self, code: rpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.frozen
class Swap:
    """What a restore's commit puts and deletes in one journal transaction, and the partitions whose tablets it
    then drops on the BEs (replaced or dropped)."""

    puts: list[Any]
    deletes: list[Any]
    old_partitions: list[Partition]


@attrs.define
class _Planning:
    """A RestorePlan while PENDING makes it, table by table."""

    new_tables: list[Table] = attrs.field(factory=list)
    new_partitions: list[Partition] = attrs.field(factory=list)
    replaced: list[ReplacedPartition] = attrs.field(factory=list)
    drop_tables: list[int] = attrs.field(factory=list)
    drop_partitions: list[int] = attrs.field(factory=list)
    views: list[View] = attrs.field(factory=list)
    locked_tables: dict[int, str] = attrs.field(factory=dict)
    auto_increments: dict[int, int] = attrs.field(factory=dict)

    def made(self, replication_num: int, db: Database, db_existed: bool) -> RestorePlan:
        return RestorePlan(
            replication_num=replication_num, db=db, db_existed=db_existed, new_tables=tuple(self.new_tables),
            new_partitions=tuple(self.new_partitions), replaced=tuple(self.replaced),
            drop_tables=tuple(self.drop_tables), drop_partitions=tuple(self.drop_partitions), views=tuple(self.views),
            locked_tables=self.locked_tables, auto_increments=self.auto_increments)



def check_snapshot_names(table: Table, parts: list[Partition], columns: bool = True) -> None:
    """Columns and partitions a restore creates from the snapshot's meta follow Doris's name rules (an
    unpartitioned table's one partition is named after the table, as Doris names it)."""
    try:
        for column in table.columns if columns else ():
            check_column_name(column.name)
        for p in parts if table.partition_kind != "UNPARTITIONED" else ():
            check_partition_name(p.name)
    except DorisError as e:
        raise RestoreFailed(e.detail) from None


def _true(job: Job, key: str) -> bool:
    return job.properties.get(key, "false").lower() == "true"


def view_signature(view: View) -> tuple:
    """What Doris's View.getSignature covers, less the name (as for tables, a view restored under an alias is
    compared with the one of that name): the definition and the names it shows."""
    return view.sql, view.columns


def schema_signature(table: Table) -> tuple:
    return (
        tuple((c.name.lower(), c.type.lower(), c.nullable, c.aggregation, c.is_key) for c in table.columns),
        table.keys_type, tuple(k.lower() for k in table.key_columns), table.partition_kind,
        tuple(c.lower() for c in table.partition_columns), table.distribution.kind,
        tuple(c.lower() for c in table.distribution.columns),
        # the hidden columns too, as Doris's full schema: a table's files hold them, so a restore of files without
        # a delete sign into a table with one (or the other way) would leave rows its reads cannot take
        tuple(c.name for c in table.hidden_columns),
    )


def with_source_counts(fresh: Partition, source: Partition, has_data: bool) -> Partition:
    """Row counts and sizes travel with the data (queries answer count(*) from them)."""
    tablets = tuple(
        attrs.evolve(t, row_count=s.row_count if has_data else 0, data_size=s.data_size if has_data else 0)
        for t, s in zip(fresh.tablets, source.tablets, strict=True)
    )
    return attrs.evolve(fresh, tablets=tablets, has_delete_predicates=has_data and source.has_delete_predicates)


def restore_signature(table: Table, partitions: list[Partition]) -> tuple:
    """Doris's OlapTable.getSignature for a restore: the schema, and the name and bucket count of each
    partition both the table and the snapshot have."""
    return schema_signature(table), tuple((p.name, len(p.tablets)) for p in partitions)


def same_item(a: Partition, b: Partition) -> bool:
    return (a.lower, a.upper, tuple(sorted(a.values))) == (b.lower, b.upper, tuple(sorted(b.values)))


def _intersect(table: Table, a: Partition, b: Partition) -> bool:
    """Whether two partitions of a RANGE or LIST table hold a key in common."""
    if table.partition_kind == "LIST":
        return bool(set(a.values) & set(b.values))
    descs = [PartitionDesc(name=str(i), lower=p.lower, upper=p.upper) for i, p in enumerate((a, b))]
    try:
        check_overlaps(table, descs)
    except DorisError:
        return True
    return False


class RestoreRunner(JobRunner):
    def timeout_message(self, job: Job) -> str:
        return f"restore job with label: {job.label}  timeout."

    # ---- PENDING: plan, and create the new (invisible) tablets ------------------------------------------

    async def pending(self, job: Job) -> Job:
        store = await self.store(job)
        directory = layout.snapshot_dir(store.root, job.label)
        try:
            meta = await asyncio.to_thread(lambda: json_text.loads(store.read_checked(directory, layout.META)))
        except Exception as e:
            return self.cancelled(job, rpc.StatusCode.BAD_FILE, f"failed to read the snapshot's meta: {e}")
        if job.created:  # an FE stopped inside this step: the tablets it journaled it was making go first
            await self._drop_created(job.created)
            job = attrs.evolve(job, created={})
        created: dict[str, list[int]] = {}
        try:
            plan, tablets = await self._plan(job, meta, store.root, created)
        except RestoreFailed as e:
            await self._drop_created(created)
            return self.cancelled(job, rpc.StatusCode.COMMON_ERROR, str(e))
        except Exception:
            await self._drop_created(created)
            raise
        return job.at(JobState.SNAPSHOTING, plan=plan, tablets=tuple(tablets), created=created,
                      times=job.stamped("meta_prepared"))

    async def _plan(self, job: Job, meta: dict[str, Any], repo_root: str,
                    created: dict[str, list[int]]) -> tuple[RestorePlan, list[TabletPlan]]:
        catalog = self.fe.catalog
        db = catalog.get(Database, str(job.db_id))
        db_existed = db is not None
        if db is None:
            db = Database(id=job.db_id, name=job.db_name, properties={}, create_time_ms=now_ms())
        info = job.info
        if info is None:
            raise RestoreFailed("the job has no snapshot info")
        snapshot_root = layout.snapshot_dir(repo_root, job.label)
        replication = plan_of(job).replication_num
        atomic = _true(job, "atomic_restore")
        plan = _Planning()
        tablets: list[TabletPlan] = []
        restored_names: set[str] = set()
        for ref in job.objects:
            target_name = ref.alias or ref.table
            restored_names.add(target_name.lower())
            if ref.table in meta.get("views", {}):
                view = self._view(meta["views"][ref.table], db, target_name, meta, job)
                if self._view_wanted(job, db, view):
                    plan.views.append(view)
                continue
            entry = meta["tables"][ref.table]
            source = from_json(Table, entry["table"])
            # A big table's partitions (thousands of tablet records) are read in a worker thread, off the event loop.
            source_parts = await asyncio.to_thread(_partitions_of, entry["partitions"])
            if ref.partitions:
                source_parts = [p for p in source_parts if p.name in ref.partitions]
            if find_view(catalog, db, target_name) is not None:
                raise RestoreFailed(f"The type of local table should be same as type of remote table: {target_name}")
            existing = find_table(catalog, db, target_name)
            if existing is not None:
                self._check_existing(job, existing, source, source_parts)
            counter = entry.get("auto_increment")
            if existing is None or atomic:
                local = {p.name: p for p in partitions_of(catalog, existing)} if existing is not None else {}
                table, parts = await self._new_table(source, source_parts, db, target_name, job, replication,
                                                     created, local)
                if counter is not None:  # never below what the table it replaces handed out
                    local_column = auto_increment.column_of(existing.columns) if existing is not None else None
                    plan.auto_increments[table.id] = max(counter, auto_increment.next_id(
                        catalog, existing.id, local_column) if existing is not None and local_column is not None
                        else 0)
                plan.new_tables.append(table)
                plan.new_partitions += parts
                if existing is not None:  # atomic: the new table takes the old one's place at commit
                    plan.drop_tables.append(existing.id)
                    plan.locked_tables[existing.id] = existing.name
                pairs = list(zip(source_parts, parts, strict=True))
            else:
                plan.locked_tables[existing.id] = existing.name
                if counter is not None:
                    plan.auto_increments[existing.id] = counter
                pairs = await self._into_existing(job, existing, source_parts, plan, created)
                if _true(job, "clean_partitions"):
                    keep = {p.name for p in source_parts}
                    plan.drop_partitions += [p.id for p in partitions_of(catalog, existing) if p.name not in keep]
            tablets += await asyncio.to_thread(self._plans_of_pairs, info, ref.table, pairs, snapshot_root)
        if _true(job, "clean_tables"):
            for t in tables_of(catalog, db):
                if t.name.lower() not in restored_names:
                    plan.drop_tables.append(t.id)
                    plan.locked_tables[t.id] = t.name
        return plan.made(replication, db, db_existed), tablets

    async def _new_table(self, source: Table, parts: list[Partition], db: Database, name: str, job: Job,
                         replication: int, created: dict[str, list[int]],
                         local: dict[str, Partition]) -> tuple[Table, list[Partition]]:
        """`local`: the partitions of the table an atomic restore replaces, whose media it may keep."""
        catalog = self.fe.catalog
        table_id = catalog.allocate_ids(2)
        props = dict(source.properties)
        if not _true(job, "reserve_replica"):
            props.pop("replication_num", None)
            props["replication_allocation"] = f"tag.location.default: {replication}"
        if "dynamic_partition.enable" in props and not _true(job, "reserve_dynamic_partition_enable"):
            props["dynamic_partition.enable"] = "false"
        check_snapshot_names(source, parts)
        props = media.restored_table_properties(job.properties, props)
        table = attrs.evolve(source, id=table_id, db_id=db.id, name=name, index_id=table_id + 1,
                             properties=props, create_time_ms=now_ms())
        # Each partition keeps its backed-up bucket count and replica count; the partitions alike in those and in
        # their medium are made together (one id range, one journal write, one request per BE: a table of 200
        # partitions was 200 rounds of all three).
        groups: dict[tuple[int, int, media.MediumRequest], list[Partition]] = {}
        for p in parts:
            reps = p.replication_num if _true(job, "reserve_replica") else replication
            groups.setdefault((len(p.tablets), reps, self._medium(job, p, local.get(p.name), reps)), []).append(p)
        made: dict[str, Partition] = {}
        for (buckets, reps, medium), alike in groups.items():
            shaped = attrs.evolve(table, distribution=attrs.evolve(table.distribution, buckets=buckets))
            for source_part, fresh in zip(alike, await self._create(job, shaped, alike, reps, created, medium),
                                          strict=True):
                made[source_part.name] = with_source_counts(fresh, source_part, self._has_data(job))
        return table, [made[p.name] for p in parts]

    async def _create(self, job: Job, table: Table, parts: list[Partition], replication: int,
                      created: dict[str, list[int]], medium: media.MediumRequest) -> list[Partition]:
        """New partitions' tablets on the BEs, each journaled in the job's `created` before it is made: an FE that
        stops in between drops them when PENDING runs again (or the job is cancelled), so none is left behind."""
        async def journal_created(partitions: list[Partition]) -> None:
            for p in partitions:
                for t in p.tablets:
                    for r in t.replicas:
                        created.setdefault(str(r.backend_id), []).append(t.id)
            kept = {backend: list(ids) for backend, ids in created.items()}
            await self.fe.catalog.update_off_loop(
                Job, job.key, lambda current: None if current is None else attrs.evolve(current, created=kept))

        descs = [PartitionDesc(name=p.name, lower=p.lower, upper=p.upper, values=p.values) for p in parts]
        try:
            return await create_partitions(self.fe, table, descs, replication=replication, medium=medium,
                                           before_create=journal_created)
        except DorisError as e:
            raise RestoreFailed(e.detail) from None

    def _medium(self, job: Job, source: Partition, local: Partition | None, replication: int) -> media.MediumRequest:
        """MediumDecisionMaker: a new partition follows the snapshot's (or the asked) medium, one that exists
        its own under same_with_upstream."""
        if local is None:
            return media.restore_request(job.properties, source.storage_medium)
        try:
            return media.restore_request_existing(job.properties, local, self.fe, replication)
        except DorisError as e:
            raise RestoreFailed(e.detail) from None

    @staticmethod
    def _has_data(job: Job) -> bool:
        return job.info is not None and job.info.has_data

    def _check_existing(self, job: Job, table: Table, source: Table, source_parts: list[Partition]) -> None:
        """Doris's refusals (RestoreJob.checkAndPrepareMeta) of a restore into a table that exists, so that a
        restore never leaves a table holding rows of both: force_replace (with atomic_restore) lifts the schema
        and partition checks, atomic_restore the replica and new-partition ones (it builds a new table)."""
        atomic, force = _true(job, "atomic_restore"), _true(job, "force_replace")
        name = table.name
        if partitions_of(self.fe.catalog, table, temporary=True):
            raise RestoreFailed("Do not support restoring table with temp partitions")
        current = {p.name: p for p in partitions_of(self.fe.catalog, table)}
        backed_up = {p.name: p for p in source_parts}
        if force:
            return
        if auto_increment.column_of(source.columns) is not None and auto_increment.column_of(table.columns) is None:
            raise RestoreFailed(f"Table {name} already exists but with different schema, local table doesn't have "
                                "auto-increment column but remote table has")
        if table.partition_kind != source.partition_kind:
            raise RestoreFailed("Table's partition type is different")
        shared = sorted(set(current) & set(backed_up), key=str.lower)
        if restore_signature(table, [current[n] for n in shared]) != restore_signature(
                attrs.evolve(source, name=name), [backed_up[n] for n in shared]):
            raise RestoreFailed(f"Table {name} already exist but with different schema")
        partitioned = table.partition_kind in ("RANGE", "LIST")
        for src in source_parts:
            old = current.get(src.name)
            if old is not None:
                if partitioned and not same_item(old, src):
                    raise RestoreFailed(f"Partition {src.name} in table {name} has different partition item "
                                        "with partition in repository")
                wanted = src.replication_num if _true(job, "reserve_replica") else plan_of(job).replication_num
                if not atomic and old.replication_num != wanted:
                    raise RestoreFailed(f"Partition {src.name} in table {name} has different replication num "
                                        f"'{old.replication_num}' with partition in repository, which is {wanted}")
            elif atomic:
                continue
            elif not partitioned:
                raise RestoreFailed(f"No partition exist in single partitioned table {name}")
            elif any(_intersect(table, src, p) for p in current.values()):
                raise RestoreFailed(f"Partition {src.name} in table {name} has conflict partition item with "
                                    "existing items")

    async def _into_existing(self, job: Job, table: Table, source_parts: list[Partition], plan: _Planning,
                             created: dict[str, list[int]]) -> list[tuple[Partition, Partition]]:
        """Matching partitions get new tablets swapped in at commit; missing ones are added (_check_existing
        made sure they fit)."""
        current = {p.name: p for p in partitions_of(self.fe.catalog, table)}
        check_snapshot_names(table, [src for src in source_parts if src.name not in current], columns=False)
        pairs = []
        for src in source_parts:
            old = current.get(src.name)
            shaped = attrs.evolve(table, distribution=attrs.evolve(table.distribution, buckets=len(src.tablets)))
            replication = old.replication_num if old is not None else (
                src.replication_num if _true(job, "reserve_replica") else plan_of(job).replication_num)
            medium = self._medium(job, src, old, replication)
            fresh = with_source_counts((await self._create(job, shaped, [src], replication, created, medium))[0],
                                       src, self._has_data(job))
            if old is None:
                plan.new_partitions.append(fresh)
                pairs.append((src, fresh))
                continue
            plan.replaced.append(ReplacedPartition(old.id, fresh.tablets, fresh.has_delete_predicates,
                                                   fresh.storage_medium))
            pairs.append((src, attrs.evolve(fresh, id=old.id, name=old.name)))
        return pairs

    def _plans_of_pairs(self, info: SnapshotInfo, table_name: str, pairs: list[tuple[Partition, Partition]],
                        snapshot_root: str) -> list[TabletPlan]:
        return [plan for src, dst in pairs for plan in self._tablet_plans(info, table_name, src, dst, snapshot_root)]

    def _tablet_plans(self, info: SnapshotInfo, table_name: str, src: Partition, dst: Partition,
                      snapshot_root: str) -> list[TabletPlan]:
        """Backed-up tablets map to target tablets by position (tablets_order), one download per replica."""
        table_info = info.tables.get(table_name)
        part_info = table_info.partitions.get(src.name) if table_info is not None else None
        if table_info is None or part_info is None:  # the meta and the info are two files: they may disagree
            raise RestoreFailed(f"partition {src.name} of table {table_name} is in the snapshot's meta but not in "
                                "its info")
        index = next(iter(part_info.indexes.values()), None)
        if index is None:  # an empty or metadata-only partition: nothing to download
            return []
        if len(index.tablets_order) != len(dst.tablets):
            raise RestoreFailed(f"the snapshot's info lists {len(index.tablets_order)} tablets for partition "
                                f"{src.name} of table {table_name}, its meta {len(dst.tablets)}")
        plans = []
        for source_id, target in zip(index.tablets_order, dst.tablets, strict=True):
            try:  # the info is the repository's word: its file names and ids must not lead out of the tablet
                names = [path_component(n) for n in index.tablets[source_id]
                         if not layout.split_md5(n)[0].endswith(".hdr")]
                remote = layout.tablet_dir(snapshot_root, info.db_id, table_info.id, part_info.id, index.id,
                                           source_id)
            except UnsafeName as e:
                raise RestoreFailed(f"the snapshot's info names a file outside its tablet: {e}") from None
            sizes = info.file_sizes.get(source_id, {})
            stored = tuple(rpc.StoredFile(n, sizes.get(n, -1), layout.split_md5(n)[1] or "") for n in names)
            for replica in target.replicas:
                plans.append(TabletPlan(
                    tablet_id=target.id, table=table_name, table_id=dst.table_id, partition=dst.name,
                    partition_id=dst.id, index_id=index.id, version=part_info.version,
                    backend_id=replica.backend_id, remote_dir=remote, stored=stored))
        return plans

    def _view(self, body: dict[str, Any], db: Database, name: str, meta: dict[str, Any], job: Job) -> View:
        view = from_json(View, body)
        source_db = meta.get("database", {}).get("name")
        sql = view.sql
        if source_db and source_db != db.name:  # a view restored elsewhere names the new database
            tree = exp.maybe_parse(sql, dialect="doris")
            for t in tree.find_all(exp.Table):
                if t.text("db") == source_db:
                    t.set("db", exp.to_identifier(db.name))
            sql = tree.sql(dialect="doris")
        return attrs.evolve(view, id=self.fe.catalog.allocate_ids(), db_id=db.id, name=name, sql=sql,
                            create_time_ms=now_ms())

    def _view_wanted(self, job: Job, db: Database, view: View) -> bool:
        """Doris's rules (RestoreJob.checkAndPrepareMeta) for a backed-up view, `view` as it would be restored: a
        view of that name that reads the same is kept (an atomic restore puts the copy in its place); one that
        differs fails the restore unless force_replace (which comes with atomic_restore) replaces it."""
        catalog = self.fe.catalog
        if find_table(catalog, db, view.name) is not None:
            raise RestoreFailed(f"The type of local table should be same as type of remote table: {view.name}")
        existing = find_view(catalog, db, view.name)
        if existing is None:
            return True
        if view_signature(existing) != view_signature(view) and not _true(job, "force_replace"):
            raise RestoreFailed(f"View {view.name} already exist but with different schema")
        return _true(job, "atomic_restore")

    # ---- SNAPSHOTING, DOWNLOAD, DOWNLOADING: fetch the files onto every replica --------------------------

    async def snapshoting(self, job: Job) -> Job:
        """The target tablets were created in PENDING; their staging folders appear with the downloads."""
        return job.at(JobState.DOWNLOAD, times=job.stamped("snapshot_finished"))

    async def download(self, job: Job) -> Job:
        groups = by_backend(job.tablets)
        first = self.fe.catalog.allocate_ids(len(groups)) if groups else 0
        tasks = tuple(BeTask(first + i, backend_id, tuple(sorted({t.tablet_id for t in group})))
                      for i, (backend_id, group) in enumerate(sorted(groups.items())))
        return job.at(JobState.DOWNLOADING, be_tasks=tasks)

    async def downloading(self, job: Job) -> Job:
        target = repository_target(self.repository(job))

        async def submit(task: BeTask) -> rpc.SubmitDownload:
            def made() -> rpc.SubmitDownload:  # thousands of tablets: built in a worker thread
                return rpc.SubmitDownload(job.id, task.signature, target, [
                    rpc.TabletDownload(t.tablet_id, t.remote_dir, list(t.stored))
                    for t in by_backend(job.tablets)[task.backend_id]])
            return await asyncio.to_thread(made)

        job, _ = await self.poll_be_tasks(job, submit)
        # A damaged or missing file in the repository ends the job at once (a failed task's error is recorded).
        bad = [f for f in job.task_errors.values() if f.code is rpc.StatusCode.BAD_FILE]
        if bad:
            return await self.cancel(job, rpc.StatusCode.BAD_FILE, bad[0].detail)
        if all(t.done for t in job.be_tasks):
            return job.at(JobState.COMMIT, times=job.stamped("download_finished"))
        return job

    # ---- COMMIT, COMMITTING: files into the new tablets, then one journaled swap --------------------------

    async def commit(self, job: Job) -> Job:
        errors: dict[str, TaskFailure] = {}

        async def one(backend_id: int, group: list[TabletPlan]) -> None:
            commits = sorted({(t.tablet_id, t.version) for t in group})
            try:
                await self.call(backend_id, rpc.CommitRestore(job.id, [rpc.TabletCommit(i, v) for i, v in commits]))
            except rpc.TaskError as e:
                errors[f"commit@{backend_id}"] = TaskFailure.of(e)

        await asyncio.gather(*(one(b, g) for b, g in by_backend(job.tablets).items()))
        if errors:
            return attrs.evolve(job, task_errors=errors)  # retried until the BE answers or the job times out
        return job.at(JobState.COMMITTING)

    async def committing(self, job: Job) -> Job:
        catalog = self.fe.catalog
        locked = sorted(plan_of(job).locked_tables)
        locks = [table_lock(i) for i in locked]
        for lock in locks:  # loads and DDL on these tables wait for the swap
            await lock.acquire()
        try:
            try:  # tens of thousands of partition records made from the plan: in a worker thread
                swap = await asyncio.to_thread(self._swap, job)
            except CommitRefused as e:
                return await self.cancel(job, e.code, e.message)
            finished = self.finish(job)
            # the one step that makes the restore visible
            await catalog.commit_together([*swap.puts, finished], swap.deletes)
        finally:
            for lock in locks:
                lock.release()
        await drop_tablets(self.fe, swap.old_partitions)
        await self.release_everywhere(job)
        return finished

    def _swap(self, job: Job) -> Swap:
        """What COMMITTING commits: the new tables, partitions and views, the partitions whose tablets it swaps,
        and what it drops; refused (CommitRefused) if something was dropped or created in between."""
        plan = plan_of(job)
        catalog = self.fe.catalog
        db = plan.db
        if db is None:
            raise CommitRefused(rpc.StatusCode.COMMON_ERROR, "the job has no plan")
        vanished = self._vanished(plan, db)
        if vanished:
            raise CommitRefused(rpc.StatusCode.COMMON_ERROR, vanished)
        puts: list[Any] = [] if catalog.get(Database, str(db.id)) else [db]
        deletes: list[Any] = []
        dropped_tables = set(plan.drop_tables)
        for table in plan.new_tables:
            clash = find_table(catalog, db, table.name) or find_view(catalog, db, table.name)
            if clash is not None and clash.id not in dropped_tables:
                raise CommitRefused(rpc.StatusCode.COMMON_ERROR, f"Table {table.name} was created while restoring")
            puts.append(table)
        versions = {(t.partition_id): t.version for t in job.tablets}
        for part in plan.new_partitions:
            puts.append(attrs.evolve(part, visible_version=versions.get(part.id, 1),
                                     visible_version_time_ms=now_ms()))
        old_partitions: list[Partition] = []
        for swap in plan.replaced:
            part = catalog.get(Partition, str(swap.partition_id))
            if part is None:
                raise CommitRefused(rpc.StatusCode.NOT_FOUND, f"partition {swap.partition_id} has been dropped")
            old_partitions.append(part)
            puts.append(attrs.evolve(part, tablets=swap.tablets, visible_version=versions.get(part.id, 1),
                                     visible_version_time_ms=now_ms(), has_delete_predicates=swap.has_delete_predicates,
                                     storage_medium=swap.storage_medium or part.storage_medium))
        for table_id, counter in plan.auto_increments.items():
            # max(local, backup): the counter never goes backwards
            puts += auto_increment.raise_to(catalog, table_id, counter)
        for table_id in plan.drop_tables:
            table = catalog.get(Table, str(table_id))
            if table is not None:
                parts = partitions_of(catalog, table) + partitions_of(catalog, table, temporary=True)
                deletes += [table, *parts, *auto_increment.marks_of(catalog, [table])]
                old_partitions += parts
        for pid in plan.drop_partitions:
            part = catalog.get(Partition, str(pid))
            if part is not None:
                deletes.append(part)
                old_partitions.append(part)
        for view in plan.views:
            old_view = find_view(catalog, db, view.name)
            if old_view is not None:
                deletes.append(old_view)
            puts.append(view)
        return Swap(puts, deletes, old_partitions)

    def _vanished(self, plan: RestorePlan, db: Database) -> str:
        """What was dropped (DROP ... FORCE) or created in its place while the job ran, if anything: the restore
        then fails rather than commit around it."""
        catalog = self.fe.catalog
        if plan.db_existed and catalog.get(Database, str(db.id)) is None:
            return f"Database {db.name} has been dropped"
        if not plan.db_existed:
            other = find_database(catalog, db.name)
            if other is not None and other.id != db.id:
                return f"Database {db.name} was created while restoring"
        dropped = set(plan.drop_tables)
        for table_id, name in plan.locked_tables.items():
            if table_id not in dropped and catalog.get(Table, str(table_id)) is None:
                return f"Table {name} has been dropped"
        return ""

    # ---- cancelling ------------------------------------------------------------------------------------------

    async def cancel(self, job: Job, code: rpc.StatusCode, message: str) -> Job:
        """Nothing of the restore is visible before COMMITTING's commit: drop the new tablets and staging."""
        await self.release_everywhere(job)
        await self._drop_created(job.created)
        return self.cancelled(job, code, message)

    async def _drop_created(self, created: dict[str, list[int]]) -> None:
        for backend_id, tablet_ids in created.items():
            try:
                await self.call(int(backend_id), rpc.DropTablets(tablet_ids=tablet_ids), 60.0)
            except rpc.TaskError as e:  # a BE that is down keeps orphans that never become visible
                log.warning("could not drop restore tablets on backend %s: %s", backend_id, e.message)


def _partitions_of(bodies: list[dict[str, Any]]) -> list[Partition]:
    return [from_json(Partition, body) for body in bodies]



S = JobState
# A restore's states: the method each runs, and where its job can be after it (see base.Step). Nothing is visible
# before COMMITTING's one commit, so a cancel anywhere before it drops only what the job created.
STATES: StateTable[RestoreRunner] = {
    # The snapshot's meta read and checked against the target; the plan made; the new tablets created on the BEs
    # (journaled in `created` first: a crash inside drops them when PENDING runs again).
    S.PENDING: Step(RestoreRunner.pending, (S.SNAPSHOTING, S.CANCELLED)),
    # Doris's state in name only: the new tablets were made in PENDING.
    S.SNAPSHOTING: Step(RestoreRunner.snapshoting, (S.DOWNLOAD,)),
    # One download task per BE, with fresh signatures.
    S.DOWNLOAD: Step(RestoreRunner.download, (S.DOWNLOADING,)),
    # The BEs' downloads polled, failed ones sent again; a damaged file in the repository (BAD_FILE) cancels.
    S.DOWNLOADING: Step(RestoreRunner.downloading, (S.DOWNLOADING, S.COMMIT, S.CANCELLED)),
    # Each BE moves the staged files into the new tablets (again until every BE has answered).
    S.COMMIT: Step(RestoreRunner.commit, (S.COMMIT, S.COMMITTING)),
    # The swap and FINISHED in one journal transaction, then the old tablets dropped; something dropped or created
    # meanwhile cancels instead.
    S.COMMITTING: Step(RestoreRunner.committing, (S.FINISHED, S.CANCELLED)),
}
