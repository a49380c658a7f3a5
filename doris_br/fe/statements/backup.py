"""BACKUP SNAPSHOT, SHOW BACKUP, CANCEL BACKUP (and what RESTORE shares with them)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlglot import exp

from doris_br.clock import now_ms
from doris_br.errors import ER_NO_DB, DorisError, access_denied_need
from doris_br.fe import snapshots
from doris_br.fe.catalog import Repository
from doris_br.fe.jobs.base import store_of
from doris_br.fe.jobs.manager import SUBMIT_LOCK
from doris_br.fe.jobs.model import Job, ObjectRef
from doris_br.fe.jobs.show import BACKUP_COLUMNS, backup_row
from doris_br.fe.olap import Database, find_table, find_view, get_database, partitions_of, tables_of, views_of
from doris_br.fe.privileges import has_privilege, require_on_db
from doris_br.fe.statements import handles
from doris_br.fe.statements.repositories import find_repository
from doris_br.fe.statements.results import text_result
from doris_br.names import check_label
from doris_br.repository import layout
from doris_br.server.compat import like_regex
from doris_br.sql.backup import BackupSnapshot, CancelBackup, ShowBackup, TableRef

MIN_TIMEOUT_S = 600
# CANCEL answers within this long: with the job CANCELLED, or else shown as cancelling by SHOW BACKUP / RESTORE.
CANCEL_WAIT_S = 5.0


def job_database_name(session: Any, db_name: str | None) -> str:
    """The statement's database, else the session's; a restore may name one that does not exist yet."""
    name = db_name or session.database
    if not name:
        raise DorisError("No database selected", ER_NO_DB)
    return name


def job_database(session: Any, db_name: str | None) -> Database:
    return get_database(session.fe.catalog, job_database_name(session, db_name))


def require_load(session: Any, db_name: str) -> None:
    if not has_privilege(session.user, "LOAD_PRIV", db_name):
        raise access_denied_need("LOAD_PRIV")


def parse_timeout(session: Any, properties: dict[str, str]) -> int:
    """Seconds: the `timeout` property, else Doris's FE config backup_job_default_timeout_ms (1 day)."""
    text = properties.get("timeout")
    if text is None:
        default_ms = session.fe.frontend_config.get("backup_job_default_timeout_ms", "86400000")
        try:
            return max(1, int(default_ms) // 1000)
        except ValueError:
            return 86400
    try:
        timeout = int(text)
    except ValueError:
        raise DorisError(f"Invalid timeout format: {text}") from None
    if timeout < MIN_TIMEOUT_S:
        raise DorisError("timeout must be at least 10 min")
    return timeout


def writable_repository(session: Any, name: str) -> Repository:
    repo = find_repository(session, name)
    if repo.read_only:
        raise DorisError(f"Repository {name} is read only")
    return repo


def backup_objects(session: Any, db: Database, node: BackupSnapshot) -> tuple[ObjectRef, ...]:
    """The tables and views to back up, with Doris's checks on ON / EXCLUDE."""
    catalog = session.fe.catalog
    refs: list[TableRef] = node.args.get("tables") or []
    seen: set[str] = set()
    for ref in refs:
        if ref.args.get("db"):
            raise DorisError(f"Cannot specify database name on backup objects: {ref.name}. "
                             "Specify database name before label")
        if ref.args.get("alias"):
            raise DorisError(f"Can not set alias for table in Backup Command: {ref.name}")
        if ref.name.lower() in seen:
            raise DorisError(f"Duplicated table: {ref.name}")
        seen.add(ref.name.lower())
    everything = [t.name for t in tables_of(catalog, db)] + [v.name for v in views_of(catalog, db)]
    if node.args.get("kind") == "ON":
        chosen = [(r.name, tuple(r.args.get("partitions") or ())) for r in refs]
    else:
        excluded = {r.name.lower() for r in refs}
        chosen = [(name, ()) for name in everything if name.lower() not in excluded]
    objects = []
    for name, partitions in chosen:
        table = find_table(catalog, db, name)
        if table is None:
            if find_view(catalog, db, name) is None:
                raise DorisError(f"Unknown table '{name}'", 1146)
            if partitions:
                raise DorisError(f"Table '{name}' is not a OLAP table")
            objects.append(ObjectRef(name))
            continue
        if partitions_of(catalog, table, temporary=True):
            raise DorisError("Do not support backup table with temp partitions")
        known = {p.name for p in partitions_of(catalog, table)}
        for p in partitions:
            if p not in known:
                raise DorisError(f"Unknown partition {p} in table{name}")
        objects.append(ObjectRef(table.name, partitions))
    if not objects:
        raise DorisError(f"Database {db.name} has no table or view to back up")
    return tuple(objects)


def check_backup_properties(properties: dict[str, str]) -> None:
    unknown = [k for k in properties if k not in ("type", "timeout", "content", snapshots.BACKUP_TTL)]
    if unknown:
        raise DorisError(f"Unknown backup job properties: {unknown}")
    kind = properties.get("type", "full").lower()
    if kind not in ("full", "incremental"):
        raise DorisError(f"Invalid backup job type: {properties['type']}")
    content = properties.get("content", "ALL").upper()
    if content not in ("ALL", "METADATA_ONLY"):
        raise DorisError(f"Invalid backup job content:{properties['content']}")
    if snapshots.BACKUP_TTL in properties:  # ours: retention drops the snapshot this long after the backup
        snapshots.ttl_ms(properties[snapshots.BACKUP_TTL], snapshots.BACKUP_TTL)


@handles(BackupSnapshot)
async def backup(session: Any, node: BackupSnapshot) -> None:
    db = job_database(session, node.args.get("db"))
    require_load(session, db.name)
    label = node.name
    check_label(label)
    # `__keep_on_local__` is no repository: the snapshot stays on the BEs (fe/jobs/local.py), and Doris makes
    # neither the read-only nor the label check for it.
    keep_on_local = node.args["repo"] == layout.KEEP_ON_LOCAL
    repo = None if keep_on_local else writable_repository(session, node.args["repo"])
    properties = dict(node.args.get("properties") or {})
    check_backup_properties(properties)
    timeout = parse_timeout(session, properties)
    objects = backup_objects(session, db, node)
    async with SUBMIT_LOCK:
        if repo is not None:
            await check_label_free(session, repo, label, properties)
        created = now_ms()
        await session.fe.jobs.submit(Job(
            id=0, type="BACKUP", label=label, db_id=db.id, db_name=db.name,
            repo=repo.name if repo is not None else layout.KEEP_ON_LOCAL,
            create_time_ms=created, timeout_s=timeout, properties=properties, kind=node.args.get("kind") or "",
            objects=objects, timestamp=layout.backup_timestamp(created),
        ))


async def check_label_free(session: Any, repo: Repository, label: str, properties: dict[str, str]) -> None:
    store = await asyncio.to_thread(store_of, repo)
    cleaning = session.fe.jobs.cleaning(repo.name, label)
    dropping = snapshots.dropping(session.fe, repo.name, label)
    if cleaning or dropping or label in await asyncio.to_thread(store.snapshot_names):
        if properties.get("type", "full").lower() == "incremental":
            raise DorisError("Currently does not support incremental backup")
        raise DorisError(f"Snapshot with name '{label}' already exist in repository" + (
            "; a cancelled backup's partial snapshot is being removed, try again later" if cleaning else
            "; a DROP SNAPSHOT of it is being finished, try again later" if dropping else ""))


def label_filter(node: Any, column: str) -> Any:
    """SHOW BACKUP / RESTORE filters: `<column> = "x"`, `<column> LIKE "p"`, or a bare LIKE."""
    like = node.args.get("like")
    if like is not None:
        regex = like_regex(like)
        return lambda label: bool(regex.match(label))
    where = node.args.get("where")
    if where is None:
        return lambda label: True
    hint = (f'Where clause should like: {column} = "your_{"snapshot_name" if column == "SnapshotName" else "label"}",'
            '  or ' + f'{column} LIKE "matcher"')
    if not isinstance(where, (exp.EQ, exp.Like)) or not isinstance(where.this, exp.Column) \
            or where.this.name.lower() != column.lower() or not isinstance(where.expression, exp.Literal):
        raise DorisError(hint)
    value = where.expression.this
    if isinstance(where, exp.EQ):
        return lambda label: label == value
    regex = like_regex(value)
    return lambda label: bool(regex.match(label))


@handles(ShowBackup)
async def show_backup(session: Any, node: ShowBackup) -> Any:
    db = job_database(session, node.args.get("db"))
    require_on_db(session.user, db.name, "LOAD_PRIV")
    matches = label_filter(node, "SnapshotName")
    jobs = [(j, dict(session.fe.jobs.progress_of(j))) for j in session.fe.jobs.of_db(db.id, "BACKUP")
            if matches(j.label)]
    # A job's rows name every unfinished tablet while it snapshots (100,000 of them, as Doris lists them): made in a
    # worker thread, from the (immutable) jobs and copies of their live progress.
    rows = await asyncio.to_thread(lambda: [backup_row(j, live) for j, live in jobs])
    return text_result(BACKUP_COLUMNS, rows, doris_string=True)


async def cancel_running(session: Any, db_id: int | None, job_type: str, message: str) -> None:
    running = [j for j in session.fe.jobs.of_db(db_id, job_type) if not j.done] if db_id is not None else []
    if not running:
        raise DorisError("No backup job is currently running" if job_type == "BACKUP"
                         else "No restore is currently running")
    job = running[-1]
    session.fe.jobs.request_cancel(job, message.format(state=job.state))
    deadline = time.monotonic() + CANCEL_WAIT_S
    while time.monotonic() < deadline:  # answer once the job is cancelled, so SHOW right after sees it
        current = session.fe.catalog.get(Job, job.key)
        if current is None or current.done:
            return
        await asyncio.sleep(0.1)
    # Its current step waits on something slow (a repository request, bounded by the repository's timeouts):
    # the cancel is journaled and SHOW BACKUP / RESTORE say the job is cancelling.


@handles(CancelBackup)
async def cancel_backup(session: Any, node: CancelBackup) -> None:
    db = job_database(session, node.args.get("db"))
    require_load(session, db.name)
    await cancel_running(session, db.id, "BACKUP", "user cancelled")
