"""CREATE / ALTER / DROP REPOSITORY, SHOW REPOSITORIES, SHOW CREATE REPOSITORY, SHOW SNAPSHOT."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import attrs
from sqlglot import exp

from doris_br.clock import now_ms, time_text
from doris_br.errors import DorisError
from doris_br.fe import snapshots
from doris_br.fe.catalog import Broker, Repository, mask_secrets
from doris_br.fe.jobs import local
from doris_br.fe.jobs.base import repository_target, store_of
from doris_br.fe.privileges import require_global
from doris_br.fe.statements import handles
from doris_br.fe.statements.results import text_result
from doris_br.names import check_label, check_repository_name
from doris_br.repository import layout
from doris_br.repository.filesystems import InvalidRepositoryProperty, RepositoryUnreachable
from doris_br.repository.info import brief
from doris_br.repository.store import BadFile, RepositoryStore
from doris_br.sql.backup import (
    AlterRepository,
    CreateRepository,
    DropRepository,
    DropSnapshot,
    ShowCreateRepository,
    ShowRepositories,
    ShowSnapshot,
)

log = logging.getLogger(__name__)


def find_repository(session: Any, name: str, message: str | None = None) -> Repository:
    repo = session.fe.catalog.get(Repository, name)
    if repo is None:
        raise DorisError(message or f"Repository {name} does not exist")
    return repo


@handles(CreateRepository)
async def create_repository(session: Any, node: CreateRepository) -> None:
    require_global(session.user, "ADMIN_PRIV")
    catalog = session.fe.catalog
    name: str = node.name
    check_repository_name(name)  # it names a folder in the location: no '..', '/', quotes or newlines
    if name == layout.KEEP_ON_LOCAL or catalog.get(Repository, name) is not None:
        raise DorisError(f"Failed to create repository: repository with same name already exist: {name}")
    kind, broker = node.args["kind"], node.args.get("broker") or ""
    if kind == "BROKER" and not any(b.name == broker for b in catalog.all(Broker)):
        raise DorisError(f"broker does not exist: {broker}")
    if kind == "AZURE":
        raise DorisError("Failed to create repository: AZURE repositories are not supported")
    props = dict(node.args.get("properties") or {})
    snapshots.check_retention(props)
    props = merged_properties({}, props)  # an empty retention value sets nothing
    delete_if_exists = props.pop("delete_if_exists", "false").lower() == "true"
    read_only = bool(node.args.get("read_only"))
    repo = Repository(id=0, name=name, kind=kind, location=node.args["location"], properties=props,
                      broker=broker, read_only=read_only, create_time=time_text(now_ms()))

    def connect() -> str:
        store = store_of(repo)
        if delete_if_exists and kind == "S3" and store.fs.exists(store.root):
            store.fs.rm(store.root, recursive=True)
        return store.init(repo.create_time, read_only)

    try:
        create_time = await asyncio.to_thread(connect)
    except InvalidRepositoryProperty as e:
        raise DorisError(f"Failed to create repository: {e}") from None
    except RepositoryUnreachable as e:
        raise DorisError(f"Failed to create repository: failed to connect to the repo: {e}") from None
    if catalog.get(Repository, name) is not None:  # created concurrently while we were connecting
        raise DorisError(f"Failed to create repository: repository with same name already exist: {name}")
    catalog.commit_numbered(1, lambda repo_id: [attrs.evolve(repo, id=repo_id, create_time=create_time)])
    await session.fe.backends.open_repository(repository_target(catalog.get(Repository, name)))


@handles(AlterRepository)
async def alter_repository(session: Any, node: AlterRepository) -> None:
    require_global(session.user, "ADMIN_PRIV")
    repo = find_repository(session, node.name, "Repository does not exist")
    changes = dict(node.args["properties"])
    snapshots.check_retention(changes)
    storage_changes = {k: v for k, v in changes.items() if k not in snapshots.RETENTION_KEYS}
    if (storage_changes or not changes) and repo.kind != "S3":  # Doris's rule; retention fits every kind
        raise DorisError("Only support alter s3 or azure repository")
    updated = attrs.evolve(repo, properties=merged_properties(repo.properties, changes))
    if changes and not storage_changes:  # nothing the storage sees changed: no connection to check
        session.fe.catalog.commit([updated])
        session.fe.snapshots.wake()
        return
    try:
        await asyncio.to_thread(store_of(updated).ping)
    except InvalidRepositoryProperty as e:
        raise DorisError(f"Failed to alter repository: {e}") from None
    except RepositoryUnreachable as e:
        raise DorisError(f"Failed to alter repository: failed to connect to the repo: {e}") from None
    session.fe.catalog.commit([updated])
    await session.fe.backends.open_repository(repository_target(updated))


def merged_properties(current: dict[str, str], changes: dict[str, str]) -> dict[str, str]:
    """ALTER's properties over the old ones; a retention key set to '' is removed."""
    merged = {**current, **changes}
    return {k: v for k, v in merged.items() if not (k in snapshots.RETENTION_KEYS and not v.strip())}


@handles(DropRepository)
async def drop_repository(session: Any, node: DropRepository) -> None:
    require_global(session.user, "ADMIN_PRIV")
    if node.name == layout.KEEP_ON_LOCAL:
        return
    repo = find_repository(session, node.name, "Repository does not exist")
    if session.fe.jobs.repository_in_use(repo.name):
        raise DorisError("Backup or restore job is running on this repository. Can not drop it")
    session.fe.catalog.commit(deletes=[repo])  # the stored snapshots stay where they are


@handles(ShowRepositories)
async def show_repositories(session: Any, node: ShowRepositories) -> Any:
    require_global(session.user, "ADMIN_PRIV")
    rows = [
        (r.id, r.name, r.create_time, str(r.read_only).lower(), r.location, r.broker or "-", r.kind,
         None)  # ErrMsg: a repository that cannot be reached is refused when created or altered
        for r in sorted(session.fe.catalog.all(Repository), key=lambda r: r.id)
    ]
    return text_result(["RepoId", "RepoName", "CreateTime", "IsReadOnly", "Location", "Broker", "Type", "ErrMsg"],
                       rows)


def create_statement(repo: Repository) -> str:
    kind = f"BROKER `{repo.broker}`" if repo.kind == "BROKER" else repo.kind
    props = ",\n".join(f'"{k}" = "{v}"' for k, v in mask_secrets(repo.properties).items())
    text = f"CREATE {'READ ONLY ' if repo.read_only else ''}REPOSITORY `{repo.name}`\nWITH {kind}\n"
    text += f'ON LOCATION "{repo.location}"'
    if props:
        text += f"\nPROPERTIES\n(\n{props}\n)"
    return text + ";"


@handles(ShowCreateRepository)
async def show_create_repository(session: Any, node: ShowCreateRepository) -> Any:
    require_global(session.user, "ADMIN_PRIV")
    repo = find_repository(session, node.name)
    return text_result(["RepoName", "CreateStmt"], [(repo.name, create_statement(repo))])


WHERE_HINT = ("Where clause should looks like: SNAPSHOT = 'your_snapshot_name' [AND TIMESTAMP = "
              "'2018-04-18-19-19-10'] [AND SNAPSHOTTYPE = 'remote' | 'local']")


def snapshot_filter(where: exp.Expression | None) -> dict[str, str]:
    """SNAPSHOT / TIMESTAMP / SNAPSHOTTYPE equalities joined by AND, as Doris allows."""
    if where is None:
        return {}
    conditions = list(where.flatten()) if isinstance(where, exp.And) else [where]
    found: dict[str, str] = {}
    for cond in conditions:
        if not (isinstance(cond, exp.EQ) and isinstance(cond.this, exp.Column)
                and isinstance(cond.expression, exp.Literal) and cond.expression.is_string):
            raise DorisError(WHERE_HINT)
        key = cond.this.name.upper()
        if key not in ("SNAPSHOT", "TIMESTAMP", "SNAPSHOTTYPE") or key in found:
            raise DorisError(WHERE_HINT)
        found[key] = cond.expression.this
    if "SNAPSHOT" not in found or found.get("SNAPSHOTTYPE", "remote").lower() not in ("remote", "local"):
        raise DorisError(WHERE_HINT)
    return found


def _snapshot_rows(store: RepositoryStore, names: list[str]) -> list[tuple]:
    rows = []
    for label in names:
        try:
            stamps = store.info_timestamps(label)
        except Exception as e:  # one unreadable snapshot must not hide the others
            rows.append((label, None, f"ERROR: Failed to get info: {e}"))
            continue
        if not stamps:
            rows.append((label, None, "ERROR: No info file found"))
            continue
        text = "\n".join(ts if ok else f"Invalid: {layout.info_name(ts)}" for ts, ok in stamps)
        rows.append((label, text, "OK"))
    return rows


@handles(ShowSnapshot)
async def show_snapshot(session: Any, node: ShowSnapshot) -> Any:
    require_global(session.user, "ADMIN_PRIV")
    conditions = snapshot_filter(node.args.get("where"))
    columns = ["Snapshot", "Timestamp", "Status"]
    if node.name == layout.KEEP_ON_LOCAL:
        return local_snapshot_rows(session, conditions)
    repo = find_repository(session, node.name)
    store = await asyncio.to_thread(store_of, repo)
    label = conditions.get("SNAPSHOT")
    if "TIMESTAMP" not in conditions:
        def rows() -> list[tuple]:
            names = store.snapshot_names()
            return _snapshot_rows(store, [n for n in names if label is None or n == label])

        return text_result(columns, await asyncio.to_thread(rows), doris_string=True)
    timestamp = conditions["TIMESTAMP"]
    try:
        info = await asyncio.to_thread(store.read_info, label, timestamp)
        row = (label, timestamp, info.database,
               brief(info, snapshots.expiry_text(info, timestamp, repo)), "OK")
    except (BadFile, OSError, ValueError) as e:
        row = (label, timestamp, None, None, f"Failed to get info: {e}")
    return text_result(["Snapshot", "Timestamp", "Database", "Details", "Status"], [row], doris_string=True)


def local_snapshot_rows(session: Any, conditions: dict[str, str]) -> Any:
    """SHOW SNAPSHOT ON `__keep_on_local__`: the finished local backups the job history holds, in the forms
    of a repository's snapshots (with TIMESTAMP: the snapshot's brief info)."""
    snapshots = local.finished_snapshots(session.fe.jobs.all())
    label, timestamp = conditions.get("SNAPSHOT"), conditions.get("TIMESTAMP")
    chosen = [j for name, j in sorted(snapshots.items()) if label is None or name == label]
    if timestamp is None:
        return text_result(["Snapshot", "Timestamp", "Status"], [(j.label, j.timestamp, "OK") for j in chosen],
                           doris_string=True)
    found = [j for j in chosen if j.timestamp == timestamp]
    row = (label, timestamp, found[0].db_name, brief(found[0].info) if found[0].info else None, "OK") if found else \
        (label, timestamp, None, None, f"Failed to get info: snapshot {label} at {timestamp} does not exist")
    return text_result(["Snapshot", "Timestamp", "Database", "Details", "Status"], [row], doris_string=True)


DROP_WHERE_HINT = "Where clause should looks like: TIMESTAMP = '2018-04-18-19-19-10'"


def drop_timestamp(where: exp.Expression | None) -> str | None:
    """DROP SNAPSHOT's WHERE: one TIMESTAMP equality, or nothing (every backup of the label)."""
    if where is None:
        return None
    if not (isinstance(where, exp.EQ) and isinstance(where.this, exp.Column) and where.this.name.upper() ==
            "TIMESTAMP" and isinstance(where.expression, exp.Literal) and where.expression.is_string):
        raise DorisError(DROP_WHERE_HINT)
    return where.expression.this


@handles(DropSnapshot)
async def drop_snapshot(session: Any, node: DropSnapshot) -> None:
    """Invisible first (the info files go), then the files no remaining backup names (fe/snapshots.py)."""
    require_global(session.user, "ADMIN_PRIV")
    label = node.name
    timestamp = drop_timestamp(node.args.get("where"))
    check_label(label)
    repo = find_repository(session, node.args["repo"])
    if repo.read_only:
        raise DorisError(f"Repository {repo.name} is read only")
    try:
        await session.fe.snapshots.drop(repo, label, timestamp)
    except DorisError:
        raise
    except Exception:  # the storage failed: fe.log has its words, the client a fixed text
        log.exception("DROP SNAPSHOT %s FROM %s failed", label, repo.name)
        raise DorisError(f"Failed to drop snapshot {label}: the repository could not be read or written "
                         "(fe.log has the details); a drop begun is finished by the next DROP SNAPSHOT or FE start"
                         ) from None
