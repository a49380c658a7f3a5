"""RESTORE SNAPSHOT, SHOW [BRIEF] RESTORE, CANCEL RESTORE."""

from __future__ import annotations

import asyncio
from typing import Any

from doris_br.clock import now_ms
from doris_br.errors import DorisError
from doris_br.fe import media
from doris_br.fe.catalog import Catalog
from doris_br.fe.jobs.base import store_of
from doris_br.fe.jobs.model import Job, ObjectRef
from doris_br.fe.jobs.plans import RestorePlan
from doris_br.fe.jobs.show import restore_columns, restore_row
from doris_br.fe.olap import Database, find_database, find_table, find_view
from doris_br.fe.privileges import require_on_db
from doris_br.fe.statements import handles
from doris_br.fe.statements.backup import (
    SUBMIT_LOCK,
    cancel_running,
    job_database,
    job_database_name,
    label_filter,
    parse_timeout,
    require_load,
)
from doris_br.fe.statements.repositories import find_repository
from doris_br.fe.statements.results import text_result
from doris_br.names import check_database_name, check_label, check_table_name
from doris_br.repository import layout
from doris_br.repository.snapshot_info import SnapshotInfo
from doris_br.repository.store import BadFile
from doris_br.sql.backup import CancelRestore, RestoreSnapshot, ShowRestore, TableRef

BOOLEAN_PROPERTIES = ("reserve_replica", "reserve_dynamic_partition_enable", "allow_load", "clean_tables",
                      "clean_partitions", "atomic_restore", "force_replace", "is_being_synced")
KNOWN_PROPERTIES = ("backup_timestamp", "timeout", "replication_num", "replication_allocation", "meta_version",
                    *BOOLEAN_PROPERTIES, *media.RESTORE_PROPERTIES)


def check_restore_properties(properties: dict[str, str]) -> int:
    """Doris's checks; returns the replication number for new tables and partitions."""
    unknown = [k for k in properties if k not in KNOWN_PROPERTIES]
    if unknown:
        raise DorisError(f"Unknown restore job properties: [{', '.join(unknown)}]")  # Java's List.toString
    if "backup_timestamp" not in properties:
        raise DorisError("Missing backup_timestamp property")
    media.check_restore_properties(properties)
    for key in BOOLEAN_PROPERTIES:
        value = properties.get(key)
        if value is not None and value.lower() not in ("true", "false"):
            raise DorisError(f"Invalid boolean property {key} value: {value}")
    if properties.get("force_replace", "false").lower() == "true" and \
            properties.get("atomic_restore", "false").lower() != "true":
        raise DorisError("force_replace is only supported when atomic_restore is true")
    if "meta_version" in properties:
        try:
            int(properties["meta_version"])
        except ValueError:
            raise DorisError(f"Invalid meta version format: {properties['meta_version']}") from None
    replication = 3
    if "replication_allocation" in properties:
        text = properties["replication_allocation"]
        try:
            replication = int(text.rsplit(":", 1)[1])
        except (IndexError, ValueError):
            raise DorisError(f"Invalid replication allocation property: {text}") from None
    if "replication_num" in properties:
        try:
            replication = int(properties["replication_num"])
        except ValueError:
            raise DorisError(f"Invalid replication num: {properties['replication_num']}") from None
    if replication < 1:
        raise DorisError("Invalid replication num: it must be at least 1")
    return replication


def restore_objects(node: RestoreSnapshot, info: SnapshotInfo) -> tuple[ObjectRef, ...]:
    """ON / EXCLUDE applied to the snapshot's tables and views, with Doris's checks and messages."""
    label = node.name
    refs: list[TableRef] = node.args.get("tables") or []
    kind = node.args.get("kind")
    tables = info.tables
    views = {v.name for v in info.views}
    in_snapshot = {**{name: name for name in tables}, **{name: name for name in views}}
    aliases: set[str] = set()
    for ref in refs:
        if ref.args.get("db"):
            raise DorisError(f"Cannot specify database name on backup objects: {ref.name}. "
                             "Specify database name before label")
        alias = ref.args.get("alias")
        if alias and kind == "EXCLUDE":
            raise DorisError("The table alias in exclude clause does not make sense")
        target = (alias or ref.name).lower()
        if target in aliases:
            raise DorisError(f"Duplicated alias name: {alias or ref.name}")
        aliases.add(target)
    if kind == "ON":
        chosen = []
        for ref in refs:
            if ref.name not in in_snapshot:
                raise DorisError(f"Table {ref.name} does not exist in snapshot {label}")
            partitions = tuple(ref.args.get("partitions") or ())
            for p in partitions:
                if p.startswith("tp_") or ref.name in views:
                    raise DorisError("Do not support restoring temporary partitions")
                if ref.name not in tables or p not in tables[ref.name].partitions:
                    raise DorisError(f"Partition {p} of table {ref.name} does not exist in snapshot")
            chosen.append(ObjectRef(ref.name, partitions, ref.args.get("alias") or ""))
        return tuple(chosen)
    excluded = {r.name for r in refs}
    return tuple(ObjectRef(name) for name in sorted(in_snapshot) if name not in excluded)


def check_new_names(catalog: Catalog, db: Database | None, db_name: str, objects: tuple[ObjectRef, ...]) -> None:
    """The names a restore creates (its database, tables and views, from the statement or the snapshot) follow
    Doris's rules; a table restored over one that exists keeps that one's name."""
    if db is None:
        check_database_name(db_name)
    for ref in objects:
        target = ref.alias or ref.table
        if db is None or (find_table(catalog, db, target) is None and find_view(catalog, db, target) is None):
            check_table_name(target)


@handles(RestoreSnapshot)
async def restore(session: Any, node: RestoreSnapshot) -> None:
    if node.args["repo"] == layout.KEEP_ON_LOCAL:  # Doris's first check, before privileges and properties
        raise DorisError("restore from the local repo via SQL call is not supported")
    db_name = job_database_name(session, node.args.get("db"))
    require_load(session, db_name)
    label = node.name
    check_label(label)
    repo = find_repository(session, node.args["repo"])
    properties = dict(node.args.get("properties") or {})
    replication = check_restore_properties(properties)
    timeout = parse_timeout(session, properties)
    timestamp = properties["backup_timestamp"]
    store = await asyncio.to_thread(store_of, repo)
    try:
        info = await asyncio.to_thread(store.read_info, label, timestamp)
    except (BadFile, OSError, ValueError) as e:
        raise DorisError(f"Failed to get info of snapshot '{label}' because: {e}. "
                         "Maybe specified wrong backup timestamp") from None
    objects = restore_objects(node, info)
    if not objects:
        raise DorisError(f"Nothing to restore from snapshot {label}")
    existing = find_database(session.fe.catalog, db_name)
    check_new_names(session.fe.catalog, existing, db_name, objects)
    async with SUBMIT_LOCK:
        await session.fe.jobs.submit(Job(
            # A database the restore creates gets its id now, so the job can be found by it meanwhile.
            id=0, type="RESTORE", label=label, db_id=existing.id if existing else session.fe.catalog.allocate_ids(),
            db_name=db_name, repo=repo.name, create_time_ms=now_ms(), timeout_s=timeout, properties=properties,
            kind=node.args.get("kind") or "", objects=objects, timestamp=timestamp, info=info,
            plan=RestorePlan(replication_num=replication),
        ))


def restore_database(session: Any, db_name: str | None) -> tuple[str, int | None]:
    """SHOW / CANCEL RESTORE may name a database that only a running restore is creating."""
    name = job_database_name(session, db_name)
    db = find_database(session.fe.catalog, name)
    if db is not None:
        return db.name, db.id
    jobs = [j for j in session.fe.jobs.all() if j.type == "RESTORE" and j.db_name == name]
    if jobs:
        return name, jobs[-1].db_id
    job_database(session, name)  # raises Doris's unknown database error
    return name, None


@handles(ShowRestore)
async def show_restore(session: Any, node: ShowRestore) -> Any:
    name, db_id = restore_database(session, node.args.get("db"))
    require_on_db(session.user, name, "LOAD_PRIV")
    matches = label_filter(node, "Label")
    brief_form = bool(node.args.get("brief"))
    jobs = [j for j in session.fe.jobs.of_db(db_id, "RESTORE") if matches(j.label)] if db_id else []
    lives = [dict(session.fe.jobs.progress_of(j)) for j in jobs]
    # Big jobs' rows in a worker thread, as SHOW BACKUP's (fe/statements/backup.py).
    rows = await asyncio.to_thread(lambda: [restore_row(j, live, brief_form) for j, live in zip(jobs, lives,
                                                                                                strict=True)])
    return text_result(restore_columns(brief_form), rows, doris_string=True)


@handles(CancelRestore)
async def cancel_restore(session: Any, node: CancelRestore) -> None:
    name, db_id = restore_database(session, node.args.get("db"))
    require_load(session, name)
    await cancel_running(session, db_id, "RESTORE",
                         "user cancelled, current state: {state}")
