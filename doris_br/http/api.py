"""The REST API (JSON) behind the console: what SHOW statements tell, through the very same handlers.

Each read runs the statement's handler (doris_br.fe.statements) for the authenticated user through a small
session shim, so privileges and columns are exactly the MySQL port's. Secrets never leave: repositories
are shown with `mask_secrets`, job details with every secret-looking key masked.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlglot import exp

from doris_br import rpc
from doris_br.errors import DorisError
from doris_br.fe import statements
from doris_br.fe.catalog import Repository, User, mask_secrets
from doris_br.fe.jobs.model import Job
from doris_br.fe.jobs.show import BACKUP_COLUMNS, backup_row, restore_columns, restore_row, task_counts
from doris_br.fe.olap import find_database, find_table, find_view
from doris_br.fe.privileges import can_see_table, has_any_on_db, has_privilege, require_global
from doris_br.http.auth import AuthFailed, authenticate, unauthorized
from doris_br.metastore import layout
from doris_br.metastore.backup import MetastoreError, backup_files
from doris_br.metastore.cli import BACKUPS_FOLDER, run_backup
from doris_br.metastore.listing import describe, list_backups
from doris_br.metastore.restore import left_out_of, load_backup
from doris_br.sql import parse

ACCESS_DENIED = {1044, 1045, 1142, 1225, 1227}
NOT_FOUND = {1049, 1146}
CONSOLE_HEADER = "X-Doris-Console"


class HttpSession:
    """Just what the SHOW handlers read from a MySQL session: the FE, the user, no current database."""

    def __init__(self, fe: Any, user: User) -> None:
        self.fe = fe
        self.username = user.name
        self.database: str | None = None
        self.client_address = ""  # errors name the user's host instead

    @property
    def user(self) -> User:
        user = self.fe.find_user(self.username)
        return user if user is not None else User(self.username)


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


async def run_show(fe: Any, user: User, sql: str) -> list[dict[str, Any]]:
    """Run one SHOW/DESC statement for `user` through its handler; the rows as dicts."""
    session = HttpSession(fe, user)
    node = parse(sql)[0]
    if isinstance(node, exp.Show):
        result = await statements.show(session, node)
        if result is statements.NOT_HANDLED:
            raise DorisError(f"Unsupported statement: {sql}")
    else:
        result = await statements.execute(session, node, sql)
    rows, columns = result
    names = [c.name for c in columns]
    return [dict(zip(names, row, strict=True)) for row in rows]


def progress_percent(job: Job, live: dict[int, Any]) -> float:
    """Bytes moved over bytes to move, across the job's BE tasks; 100 once the job is finished."""
    if job.state == "FINISHED":
        return 100.0
    counts = [c for _, c in task_counts(job, live)]
    done, total = sum(c[2] for c in counts), sum(c[3] for c in counts)
    return 100.0 * done / total if total else 0.0


def job_view(job: Job, live: dict[int, rpc.TaskProgress]) -> dict[str, Any]:
    row = (backup_row(job, live) if job.type == "BACKUP" else restore_row(job, live, brief_form=False))
    columns = BACKUP_COLUMNS if job.type == "BACKUP" else restore_columns(False)
    return {
        "id": job.id,
        "kind": job.type,
        "label": job.label,
        "database": job.db_name,
        "state": job.state,
        "progress": round(progress_percent(job, live), 1),
        "detail": dict(zip(columns, row, strict=True)),  # the SHOW BACKUP / SHOW RESTORE row
    }


async def jobs(fe: Any, user: User) -> list[dict[str, Any]]:
    """Backup and restore jobs the user may see, newest first: as SHOW BACKUP / RESTORE, LOAD_PRIV on the job's
    database (a SELECT on one of its tables is not enough). Made in a worker thread, as SHOW BACKUP's rows."""
    visible = sorted((j for j in fe.jobs.all() if has_privilege(user, "LOAD_PRIV", j.db_name)),
                     key=lambda j: j.id, reverse=True)
    lives = [dict(fe.jobs.progress_of(j)) for j in visible]
    return await asyncio.to_thread(lambda: [job_view(j, live) for j, live in zip(visible, lives, strict=True)])


def meta_backups_dir(fe: Any) -> Path:
    return Path(fe.config.data_dir).resolve() / BACKUPS_FOLDER


def scope_from(body: dict[str, Any]) -> dict[str, str]:
    kind = str(body.get("scope") or body.get("kind") or "system").lower()
    if kind == "system":
        return {"kind": "system"}
    database = str(body.get("database") or "")
    if not database:
        raise MetastoreError(f"a {kind} backup needs a database")
    if kind == "database":
        return {"kind": "database", "database": database}
    if kind == "table":
        table = str(body.get("table") or "")
        if not table:
            raise MetastoreError("a table backup needs a table")
        return {"kind": "table", "database": database, "table": table}
    raise MetastoreError(f"unknown scope {kind!r}: system, database or table")


async def start_meta_backup(fe: Any, user: User, body: dict[str, Any]) -> dict[str, Any]:
    require_global(user, "ADMIN_PRIV")
    scope = scope_from(body)
    path = await asyncio.to_thread(run_backup, fe.config.data_dir, scope, meta_backups_dir(fe), "off")
    row = await asyncio.to_thread(describe, path)
    return {"name": path.name, "path": str(path), "scope": scope, **({"backup": row} if row else {})}


def backup_zip(fe: Any, name: str) -> bytes:
    """The backup as a zip of its files, written again from its checked objects: one written before backups
    left secrets out gives none either."""
    folder = meta_backups_dir(fe) / name
    if not layout.BACKUP_NAME.match(name) or "/" in name or not folder.is_dir():
        raise MetastoreError(f"no metadata backup named {name}")
    manifest, objects = load_backup(folder, "off")
    files = backup_files(objects, manifest["scope"], str(manifest.get("source", "")), str(manifest.get("created")),
                         left_out_before=tuple(left_out_of(manifest, folder / layout.MANIFEST)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for rel, data in files:
            z.writestr(f"{name}/{rel}", data)
    return buffer.getvalue()


# ---- routes ----------------------------------------------------------------------------------------------


def error_response(e: Exception) -> web.Response:
    if isinstance(e, AuthFailed):
        return unauthorized(e)
    if isinstance(e, DorisError):
        code = int(getattr(e, "code", 0) or 0)
        status = 403 if code in ACCESS_DENIED else 404 if code in NOT_FOUND else 400
        return web.json_response({"status": "FAILED", "msg": e.detail, "code": code}, status=status)
    return web.json_response({"status": "FAILED", "msg": str(e)}, status=400)


def api(fn):  # type: ignore[no-untyped-def]
    """Authenticate, run, answer {"status": "OK", "data": ...}; errors as JSON with 401/403/404/400."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            user, how = authenticate(request)
            if request.method != "GET" and how == "cookie" and request.headers.get(CONSOLE_HEADER) != "1":
                raise DorisError("a console request must carry the X-Doris-Console header", 1227)
            result = await fn(request, request.app["fe"], user)
        except (AuthFailed, DorisError, MetastoreError) as e:
            return error_response(e)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response({"status": "OK", "data": result})

    return handler


@api
async def get_frontends(request: web.Request, fe: Any, user: User) -> Any:
    return await run_show(fe, user, "SHOW FRONTENDS")


@api
async def get_backends(request: web.Request, fe: Any, user: User) -> Any:
    return await run_show(fe, user, "SHOW BACKENDS")


@api
async def get_databases(request: web.Request, fe: Any, user: User) -> Any:
    return [r["Database"] for r in await run_show(fe, user, "SHOW DATABASES")]


def visible_database(fe: Any, user: User, name: str) -> Any:
    db = find_database(fe.catalog, name)
    if db is None or not has_any_on_db(user, db.name):
        raise DorisError(f"Unknown database '{name}'", 1049)
    return db


@api
async def get_tables(request: web.Request, fe: Any, user: User) -> Any:
    db = visible_database(fe, user, request.match_info["db"])
    rows = await run_show(fe, user, f"SHOW FULL TABLES FROM {quote(db.name)}")
    return [{"name": r[f"Tables_in_{db.name}"], "type": r["Table_type"]} for r in rows]


async def table_detail(fe: Any, user: User, db_name: str, name: str) -> dict[str, Any]:
    db = visible_database(fe, user, db_name)
    table = find_table(fe.catalog, db, name)
    found = table or find_view(fe.catalog, db, name)
    if found is None or not can_see_table(user, db.name, found.name):
        raise DorisError(f"Unknown table '{name}'", 1146)
    full = f"{quote(db.name)}.{quote(found.name)}"
    detail: dict[str, Any] = {"database": db.name, "name": found.name,
                              "columns": await run_show(fe, user, f"DESC {full}"),
                              "create": (await run_show(fe, user, f"SHOW CREATE TABLE {full}"))[0]}
    if table is not None:
        detail["partitions"] = await run_show(fe, user, f"SHOW PARTITIONS FROM {full}")
    return detail


@api
async def get_table(request: web.Request, fe: Any, user: User) -> Any:
    return await table_detail(fe, user, request.match_info["db"], request.match_info["table"])


async def repositories(fe: Any, user: User) -> list[dict[str, Any]]:
    rows = await run_show(fe, user, "SHOW REPOSITORIES")
    for row in rows:
        repo = fe.catalog.get(Repository, row["RepoName"])
        row["Properties"] = mask_secrets(dict(repo.properties)) if repo is not None else {}
    return rows


@api
async def get_repositories(request: web.Request, fe: Any, user: User) -> Any:
    return await repositories(fe, user)


@api
async def get_snapshots(request: web.Request, fe: Any, user: User) -> Any:
    return await run_show(fe, user, f"SHOW SNAPSHOT ON {quote(request.match_info['repo'])}")


@api
async def get_jobs(request: web.Request, fe: Any, user: User) -> Any:
    return await jobs(fe, user)


@api
async def get_verify(request: web.Request, fe: Any, user: User) -> Any:
    """VERIFY SNAPSHOT's running and recent verifications, with their counts: those whose database the user
    holds LOAD_PRIV on (what the statement needed)."""
    return [p.view() for p in fe.verifies.all() if has_privilege(user, "LOAD_PRIV", p.db_name)]


@api
async def get_meta_backups(request: web.Request, fe: Any, user: User) -> Any:
    require_global(user, "ADMIN_PRIV")
    return await asyncio.to_thread(list_backups, meta_backups_dir(fe))


@api
async def post_meta_backup(request: web.Request, fe: Any, user: User) -> Any:
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        raise MetastoreError("the request body must be JSON") from None
    return await start_meta_backup(fe, user, body if isinstance(body, dict) else {})


@api
async def download_meta_backup(request: web.Request, fe: Any, user: User) -> Any:
    require_global(user, "ADMIN_PRIV")
    name = request.match_info["name"]
    data = await asyncio.to_thread(backup_zip, fe, name)
    return web.Response(body=data, content_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}.zip"'})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/rest/v1/frontends", get_frontends)
    app.router.add_get("/rest/v1/backends", get_backends)
    app.router.add_get("/rest/v1/databases", get_databases)
    app.router.add_get("/rest/v1/databases/{db}/tables", get_tables)
    app.router.add_get("/rest/v1/databases/{db}/tables/{table}", get_table)
    app.router.add_get("/rest/v1/repositories", get_repositories)
    app.router.add_get("/rest/v1/repositories/{repo}/snapshots", get_snapshots)
    app.router.add_get("/rest/v1/jobs", get_jobs)
    app.router.add_get("/rest/v1/verify", get_verify)
    app.router.add_get("/rest/v1/meta_backups", get_meta_backups)
    app.router.add_post("/rest/v1/meta_backups", post_meta_backup)
    app.router.add_get("/rest/v1/meta_backups/{name}/download", download_meta_backup)
