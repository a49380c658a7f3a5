"""The web console at `/`: server-rendered pages over the REST API's functions, a little JavaScript for the
backup buttons and the live job progress bars. Every asset is served by the FE itself."""

from __future__ import annotations

import asyncio
import html
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import quote as url_quote

from aiohttp import web

from doris_br.errors import DorisError
from doris_br.fe.catalog import User
from doris_br.fe.privileges import has_privilege, require_global
from doris_br.http import api
from doris_br.http.auth import COOKIE, SESSION_TTL_S, AuthFailed, authenticate, check_password
from doris_br.metastore.backup import MetastoreError
from doris_br.metastore.listing import list_backups

PACKAGE = resources.files("doris_br.http")
LAYOUT = Template((PACKAGE / "templates" / "layout.html").read_text())
STATIC_TYPES = {".css": "text/css", ".js": "application/javascript"}
NAV = [("/", "Cluster"), ("/databases", "Databases"), ("/repositories", "Repositories"), ("/jobs", "Jobs"),
       ("/meta-backups", "Metadata backups")]


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def table_html(rows: list[dict[str, Any]], columns: list[str] | None = None, empty: str = "nothing here",
               links: dict[str, Any] | None = None, attrs: str = "") -> str:
    if not rows:
        return f'<div class="empty">{e(empty)}</div>'
    columns = columns or list(rows[0])
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            link = links.get(c) if links else None
            if link is not None:
                cells.append(f'<td><a href="{e(link(row))}">{e(value)}</a></td>')
            elif isinstance(value, str) and "\n" in value:
                cells.append(f"<td><pre>{e(value)}</pre></td>")
            else:
                cells.append(f"<td>{e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table {attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def progress_html(pct: float | None) -> str:
    if pct is None:
        return '<span class="empty">-</span>'
    p = max(0.0, min(100.0, float(pct)))
    return (f'<div class="progress" data-progress="{p:g}"><div class="bar" style="width: {p:g}%"></div>'
            f'<span class="label">{p:.0f}%</span></div>')


def jobs_html(jobs: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{e(j['id'])}</td><td>{e(j['kind'])}</td><td>{e(j['database'])}</td><td>{e(j['label'])}</td>"
        f"<td>{e(j['state'])}</td><td>{progress_html(j['progress'])}</td></tr>" for j in jobs)
    hidden = ' style="display:none"'
    return (f'<div id="jobs-empty" class="empty"{hidden if jobs else ""}>No backup or restore jobs.</div>'
            f'<table id="jobs-table"{"" if jobs else hidden}><thead><tr><th>JobId</th><th>Kind</th><th>Database</th>'
            f'<th>Label</th><th>State</th><th>Progress</th></tr></thead><tbody id="jobs-body">{rows}</tbody></table>')


def backup_button(scope: str, database: str = "", table: str = "") -> str:
    what = {"system": "the whole system's", "database": f"database {database}'s",
            "table": f"table {database}.{table}'s"}[scope]
    return (f'<div class="actions"><button class="backup" id="backup-button" data-scope="{e(scope)}" '
            f'data-database="{e(database)}" data-table="{e(table)}">Back up {e(what)} metadata</button>'
            f'<div id="backup-result" class="backup-result"></div></div>')


def page(request: web.Request, user: User | None, title: str, body: str, status: int = 200) -> web.Response:
    path = request.path
    nav = "".join(
        f'<a href="{href}" class="{"active" if (path == href or (href != "/" and path.startswith(href))) else ""}">'
        f"{e(name)}</a>" for href, name in NAV) if user else ""
    who = f'{e(user.name)} <a href="/logout">Log out</a>' if user else ""
    text = LAYOUT.substitute(title=e(title), nav=nav, who=who, body=body)
    return web.Response(text=text, content_type="text/html", status=status)


def console(fn):  # type: ignore[no-untyped-def]
    """A console page: log-in required (cookie or basic auth); errors rendered in the page."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            user, _ = authenticate(request)
        except AuthFailed:
            raise web.HTTPFound("/login?next=" + url_quote(request.path_qs)) from None
        try:
            title, body = await fn(request, request.app["fe"], user)
        except (DorisError, MetastoreError) as err:
            response = api.error_response(err)
            message = err.detail if isinstance(err, DorisError) else str(err)
            return page(request, user, "Error", f'<div class="error">{e(message)}</div>', response.status)
        return page(request, user, title, body)

    return handler


@console
async def cluster_page(request: web.Request, fe: Any, user: User) -> tuple[str, str]:
    parts = []
    if has_privilege(user, "ADMIN_PRIV") or has_privilege(user, "NODE_PRIV"):
        frontends = await api.run_show(fe, user, "SHOW FRONTENDS")
        backends = await api.run_show(fe, user, "SHOW BACKENDS")
        parts.append("<h2>Frontends</h2>" + table_html(frontends, ["Name", "Host", "QueryPort", "HttpPort", "Role",
                                                                   "Alive", "LastStartTime", "Version"]))
        parts.append("<h2>Backends</h2>" + table_html(backends, [
            "BackendId", "Host", "BePort", "Alive", "LastHeartbeat", "TabletNum", "DataUsedCapacity",
            "AvailCapacity", "TotalCapacity", "UsedPct", "ErrMsg"], empty="no backends"))
    else:
        parts.append('<div class="empty">Frontends and backends are shown to users with ADMIN_PRIV or NODE_PRIV.</div>')
    if has_privilege(user, "ADMIN_PRIV"):
        parts.append("<h2>Metadata backup</h2>" + backup_button("system"))
    return "Cluster", "".join(parts)


@console
async def databases_page(request: web.Request, fe: Any, user: User) -> tuple[str, str]:
    names = [r["Database"] for r in await api.run_show(fe, user, "SHOW DATABASES")]
    rows = [{"Database": n} for n in names if n != "information_schema"]
    return "Databases", table_html(rows, links={"Database": lambda r: "/databases/" + url_quote(r["Database"])},
                                   empty="No databases.")


@console
async def database_page(request: web.Request, fe: Any, user: User) -> tuple[str, str]:
    db = api.visible_database(fe, user, request.match_info["db"]).name
    tables = await api.run_show(fe, user, f"SHOW FULL TABLES FROM {api.quote(db)}")
    rows = [{"Table": r[f"Tables_in_{db}"], "Type": r["Table_type"]} for r in tables]
    body = table_html(rows, links={"Table": lambda r: f"/databases/{url_quote(db)}/{url_quote(r['Table'])}"},
                      empty="No tables.")
    if has_privilege(user, "ADMIN_PRIV"):
        body += "<h2>Metadata backup</h2>" + backup_button("database", db)
    return f"Database {db}", body


@console
async def table_page(request: web.Request, fe: Any, user: User) -> tuple[str, str]:
    detail = await api.table_detail(fe, user, request.match_info["db"], request.match_info["table"])
    db, name = detail["database"], detail["name"]
    body = (f'<p><a href="/databases/{url_quote(db)}">&larr; {e(db)}</a></p>'
            "<h2>Columns</h2>" + table_html(detail["columns"]))
    if "partitions" in detail:
        body += "<h2>Partitions</h2>" + table_html(detail["partitions"], [
            "PartitionId", "PartitionName", "VisibleVersion", "State", "PartitionKey", "Range", "Buckets",
            "ReplicationNum", "DataSize"], empty="No partitions.")
    create = detail["create"]
    body += "<h2>Definition</h2><pre>" + e(create.get("Create Table") or create.get("Create View")) + "</pre>"
    if has_privilege(user, "ADMIN_PRIV"):
        body += "<h2>Metadata backup</h2>" + backup_button("table", db, name)
    return f"Table {db}.{name}", body


@console
async def repositories_page(request: web.Request, fe: Any, user: User) -> tuple[str, str]:
    rows = await api.repositories(fe, user)
    for r in rows:
        r["Properties"] = ", ".join(f"{k}={v}" for k, v in r["Properties"].items())
    return "Repositories", table_html(
        rows, ["RepoId", "RepoName", "CreateTime", "IsReadOnly", "Location", "Type", "Properties", "ErrMsg"],
        links={"RepoName": lambda r: "/repositories/" + url_quote(r["RepoName"])}, empty="No repositories.")


@console
async def repository_page(request: web.Request, fe: Any, user: User) -> tuple[str, str]:
    name = request.match_info["repo"]
    rows = await api.run_show(fe, user, f"SHOW SNAPSHOT ON {api.quote(name)}")
    return f"Repository {name}", '<p><a href="/repositories">&larr; Repositories</a></p><h2>Snapshots</h2>' + \
        table_html(rows, empty="No snapshots in this repository.")


@console
async def jobs_page(request: web.Request, fe: Any, user: User) -> tuple[str, str]:
    return "Backup and restore jobs", jobs_html(await api.jobs(fe, user))


@console
async def meta_backups_page(request: web.Request, fe: Any, user: User) -> tuple[str, str]:
    require_global(user, "ADMIN_PRIV")
    rows = await asyncio.to_thread(list_backups, api.meta_backups_dir(fe))
    for r in rows:
        r["objects"] = sum(r["counts"].values())
        r["download"] = "zip"
    body = table_html(rows, ["name", "time", "scope", "objects", "size", "status", "path", "download"],
                      links={"download": lambda r: f"/rest/v1/meta_backups/{url_quote(r['name'])}/download"},
                      empty="No metadata backups yet.")
    return "Metadata backups", body + "<h2>New backup</h2>" + backup_button("system")


# ---- login ------------------------------------------------------------------------------------------------


def _login_form(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    nxt = request.query.get("next", "/")
    body = (f'<div class="error">{e(error)}</div>' if error else "") + (
        f'<form class="login" method="post" action="/login?next={e(url_quote(nxt))}">'
        '<label>User <input type="text" name="username" id="username" autofocus></label>'
        '<label>Password <input type="password" name="password" id="password"></label>'
        '<input type="submit" id="login" value="Log in"></form>')
    return page(request, None, "Log in", body, status)


async def login_get(request: web.Request) -> web.Response:
    return _login_form(request)


async def login_post(request: web.Request) -> web.Response:
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    user = check_password(request.app["fe"], username, password)
    if user is None:
        return _login_form(request, f"Access denied for user '{username}'", 401)
    response = web.HTTPFound(local_path(request.query.get("next", "/")))
    response.set_cookie(COOKIE, request.app["sessions"].create(user), httponly=True, samesite="Strict",
                        max_age=SESSION_TTL_S, path="/")
    raise response


def local_path(target: str) -> str:
    """Where to go after logging in: only a path on this server, else "/". Browsers drop tabs and line ends
    from a URL and read a backslash as a slash, so `/\t/evil.example` or `/\\evil.example` would leave it."""
    printable = all("!" <= c <= "~" for c in target)
    if not printable or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def logout(request: web.Request) -> web.Response:
    request.app["sessions"].drop(request.cookies.get(COOKIE))
    response = web.HTTPFound("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    kind = next((t for ext, t in STATIC_TYPES.items() if name.endswith(ext)), None)
    if kind is None or "/" in name or name.startswith("."):
        raise web.HTTPNotFound()
    resource = PACKAGE / "static" / name
    if not resource.is_file():
        raise web.HTTPNotFound()
    return web.Response(text=resource.read_text(), content_type=kind, headers={"Cache-Control": "no-cache"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", cluster_page)
    app.router.add_get("/databases", databases_page)
    app.router.add_get("/databases/{db}", database_page)
    app.router.add_get("/databases/{db}/{table}", table_page)
    app.router.add_get("/repositories", repositories_page)
    app.router.add_get("/repositories/{repo}", repository_page)
    app.router.add_get("/jobs", jobs_page)
    app.router.add_get("/meta-backups", meta_backups_page)
    app.router.add_get("/login", login_get)
    app.router.add_post("/login", login_post)
    app.router.add_get("/logout", logout)
    app.router.add_get("/static/{name}", static)
