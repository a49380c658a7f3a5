"""What a backup holds: everything (system), or a database or table with what it depends on.

A scope *owns* some kinds of objects: a scoped restore replaces those, and only adds its dependencies
(backends, users, roles, repositories, brokers, the database record of a table) where they are missing.
"""

from __future__ import annotations

from typing import Any

from doris_br.metastore.errors import MetastoreError
from doris_br.metastore.layout import Objects

Scope = dict[str, str]

OWNED_KINDS: dict[str, tuple[str, ...]] = {
    "database": ("databases", "tables", "partitions", "views", "load_labels", "jobs", "job_parts", "auto_increments"),
    "table": ("tables", "partitions", "load_labels", "auto_increments"),
}


def scope_text(scope: Scope) -> str:
    if scope["kind"] == "database":
        return f"database {scope['database']}"
    if scope["kind"] == "table":
        return f"table {scope['database']}.{scope['table']}"
    return "system"


def _where(objects: Objects, kind: str, test: Any) -> dict[str, dict[str, Any]]:
    return {key: body for key, body in objects.get(kind, {}).items() if test(body)}


def find_database(objects: Objects, name: str) -> tuple[str, dict[str, Any]]:
    # Exact names, as the FE resolves them: `Shop` and `shop` are two databases.
    for key, body in objects.get("databases", {}).items():
        if body.get("name") == name:
            return key, body
    raise MetastoreError(f"Unknown database '{name}'")


def owned(objects: Objects, scope: Scope) -> Objects:
    """The objects a database or table scope consists of; raises if the database or table does not exist."""
    db_key, db = find_database(objects, scope["database"])
    tables = _where(objects, "tables", lambda t: t.get("db_id") == db["id"])
    if scope["kind"] == "table":
        tables = {k: t for k, t in tables.items() if t.get("name") == scope["table"]}
        if not tables:
            raise MetastoreError(f"Unknown table '{scope['table']}' in database '{db['name']}'")
    table_ids = {t["id"] for t in tables.values()}
    selected: Objects = {
        "tables": tables,
        "partitions": _where(objects, "partitions", lambda p: p.get("table_id") in table_ids),
        "auto_increments": _where(objects, "auto_increments", lambda a: a.get("table_id") in table_ids),
        "load_labels": _where(objects, "load_labels",
                              lambda ll: ll.get("db_id") == db["id"] and ll.get("table_id") in table_ids),
    }
    if scope["kind"] == "database":
        selected["databases"] = {db_key: db}
        selected["views"] = _where(objects, "views", lambda v: v.get("db_id") == db["id"])
        # A label whose table was dropped still belongs to the database: it keeps the label used.
        selected["load_labels"] = _where(objects, "load_labels", lambda ll: ll.get("db_id") == db["id"])
        selected["jobs"] = _where(objects, "jobs", lambda j: j.get("db_id") == db["id"])
        # A job's tablets, meta and info are journaled apart from it, keyed "<job key>/<part>".
        selected["job_parts"] = {key: body for key, body in objects.get("job_parts", {}).items()
                                 if key.partition("/")[0] in selected["jobs"]}
    return selected


def _granted(holder: dict[str, Any], scope: Scope) -> bool:
    """Whether a user's or a role's own grants name the scope."""
    for grant in holder.get("grants", []):
        if grant.get("db") != scope["database"]:
            continue
        if scope["kind"] == "database" or grant.get("table") == scope["table"]:
            return True
    return False


def dependencies(objects: Objects, own: Objects, scope: Scope) -> Objects:
    """What the owned objects need beside them: the BEs holding their replicas, the database record of a
    table, the users and roles granted on the scope, and the repositories (and their brokers) of its jobs."""
    backend_ids = {replica["backend_id"] for p in own.get("partitions", {}).values()
                   for tablet in p.get("tablets", []) for replica in tablet.get("replicas", [])}
    repo_names = {j.get("repo") for j in own.get("jobs", {}).values()}
    repositories = _where(objects, "repositories", lambda r: r.get("name") in repo_names)
    broker_names = {r.get("broker") for r in repositories.values() if r.get("broker")}
    # Users granted on the scope, themselves or through a role granted on it; the roles granted on the scope
    # and every role those users hold, so that a restored user has what it had.
    scoped_roles = {body.get("name") for body in objects.get("roles", {}).values() if _granted(body, scope)}
    users = _where(objects, "users", lambda u: _granted(u, scope) or bool(scoped_roles & set(u.get("roles", []))))
    held_roles = scoped_roles | {name for u in users.values() for name in u.get("roles", [])}
    deps: Objects = {
        "backends": _where(objects, "backends", lambda b: b.get("id") in backend_ids),
        "users": users,
        "roles": _where(objects, "roles", lambda r: r.get("name") in held_roles),
        "repositories": repositories,
        "brokers": _where(objects, "brokers", lambda b: b.get("name") in broker_names),
    }
    if scope["kind"] == "table":
        db_key, db = find_database(objects, scope["database"])
        deps["databases"] = {db_key: db}
    return deps


def select_scope(objects: Objects, scope: Scope) -> Objects:
    """The objects a backup of `scope` holds: all of them, or the scope's own and its dependencies."""
    if scope["kind"] == "system":
        return objects
    own = owned(objects, scope)
    selected = {**own, **dependencies(objects, own, scope)}
    return {kind: objs for kind, objs in selected.items() if objs}
