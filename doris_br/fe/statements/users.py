"""CREATE / DROP USER, SET PASSWORD, GRANT / REVOKE, SHOW GRANTS."""

from __future__ import annotations

import secrets
from typing import Any

import attrs

from doris_br.errors import DorisError
from doris_br.fe.catalog import GLOBAL_ONLY_PRIVILEGES, PRIVILEGES, Grant, User, password_hash
from doris_br.fe.privileges import has_privilege, normalise_privileges, require_global
from doris_br.fe.statements import handles
from doris_br.fe.statements.results import text_result
from doris_br.names import check_user_name
from doris_br.sql.admin import CreateUser, DropUser, GrantPrivileges, SetPassword, ShowGrants, UserIdentity

ER_CANNOT_USER = 1396
BUILTIN_USERS = ("root", "admin")


def _target(session: Any, identity: UserIdentity | None) -> tuple[str, str]:
    if identity is None or identity.args.get("current"):
        user = session.user
        return user.name, user.host
    return identity.name, identity.args.get("host") or "%"


def _stored_hash(password: str | None, hashed: bool) -> str:
    if password is None:
        return ""
    if not hashed:
        return password_hash(password)
    text = password.removeprefix("*").lower()
    if len(text) != 40 or any(c not in "0123456789abcdef" for c in text):
        raise DorisError("Password hash should be a 41-digit hexadecimal number")
    return text


@handles(CreateUser)
async def create_user(session: Any, node: CreateUser) -> None:
    require_global(session.user, "GRANT_PRIV", "ADMIN_PRIV")
    name, host = _target(session, node.this)
    catalog = session.fe.catalog
    if catalog.get(User, f"{name}@{host}") is not None:
        if node.args.get("if_not_exists"):
            return
        raise DorisError(f"Operation CREATE USER failed for '{name}'@'{host}'", ER_CANNOT_USER)
    check_user_name(name)
    auth = _stored_hash(node.args.get("password"), bool(node.args.get("hashed")))
    catalog.commit([User(name=name, host=host, auth_string=auth, comment=node.args.get("comment") or "",
                         incarnation=secrets.token_hex(16))])


@handles(DropUser)
async def drop_user(session: Any, node: DropUser) -> None:
    require_global(session.user, "GRANT_PRIV", "ADMIN_PRIV")
    name, host = _target(session, node.this)
    if name in BUILTIN_USERS:
        raise DorisError(f"Can not drop user {name}")
    user = session.fe.catalog.get(User, f"{name}@{host}")
    if user is None:
        check_user_name(name)  # an unknown user's name is refused as Doris refuses it
        if node.args.get("if_exists"):
            return
        raise DorisError(f"Operation DROP USER failed for '{name}'@'{host}'", ER_CANNOT_USER)
    session.fe.catalog.commit(deletes=[user])


@handles(SetPassword)
async def set_password(session: Any, node: SetPassword) -> None:
    name, host = _target(session, node.this)
    me = session.user
    if (name, host) != (me.name, me.host):
        require_global(me, "GRANT_PRIV", "ADMIN_PRIV")
        if name == "root":
            raise DorisError("Only root user can change root's password")
    user = session.fe.catalog.get(User, f"{name}@{host}")
    if user is None:
        check_user_name(name)
        raise DorisError(f"user '{name}'@'{host}' does not exist")
    auth = _stored_hash(node.args["password"], bool(node.args.get("hashed")))
    session.fe.catalog.commit([attrs.evolve(user, auth_string=auth)])


@handles(GrantPrivileges)
async def grant_or_revoke(session: Any, node: GrantPrivileges) -> None:
    db, table = node.args["db"], node.args["table"]
    me = session.user
    if not (has_privilege(me, "GRANT_PRIV", None if db == "*" else db) or has_privilege(me, "ADMIN_PRIV")):
        raise DorisError(
            "Access denied; you need (at least one of) the (GRANT) privilege(s) for this operation", 1227
        )
    privileges = normalise_privileges(node.args["privileges"], db, table)
    if "NODE_PRIV" in privileges and not has_privilege(me, "NODE_PRIV"):
        raise DorisError("Access denied; you need (at least one of) the (NODE) privilege(s) for this operation",
                         1227)
    name, host = _target(session, node.this)
    user = session.fe.catalog.get(User, f"{name}@{host}")
    if user is None:
        check_user_name(name)
        raise DorisError(f"user '{name}'@'{host}' does not exist")
    revoke = bool(node.args.get("revoke"))
    if revoke and name == "root" and GLOBAL_ONLY_PRIVILEGES & set(privileges):
        raise DorisError("Can not revoke NODE_PRIV or ADMIN_PRIV from root")
    grants = {(g.db, g.table): set(g.privileges) for g in user.grants}
    current = grants.setdefault((db, table), set())
    if revoke:
        current -= set(privileges)
    else:
        current |= set(privileges)
    new_grants = tuple(
        Grant(d, t, tuple(p for p in PRIVILEGES if p in privs)) for (d, t), privs in sorted(grants.items()) if privs
    )
    session.fe.catalog.commit([attrs.evolve(user, grants=new_grants)])


SHOW_GRANTS_COLUMNS = ["UserIdentity", "Comment", "Password", "Roles", "GlobalPrivs", "CatalogPrivs",
                       "DatabasePrivs", "TablePrivs", "ColPrivs", "ResourcePrivs", "WorkloadGroupPrivs"]


def _privs_text(privileges: tuple[str, ...]) -> str:
    return ",".join(p.capitalize() for p in privileges)


def grants_row(user: User) -> tuple:
    global_privs = [g for g in user.grants if g.db == "*"]
    db_privs = [g for g in user.grants if g.db != "*" and g.table == "*"]
    table_privs = [g for g in user.grants if g.table != "*"]
    roles = "operator" if user.name == "root" else "admin" if user.name == "admin" else ""
    return (
        user.identity,
        user.comment,
        "Yes" if user.auth_string else "No",
        roles,
        _privs_text(global_privs[0].privileges) if global_privs else None,
        None,
        "; ".join(f"internal.{g.db}: {_privs_text(g.privileges)}" for g in db_privs) or None,
        "; ".join(f"internal.{g.db}.{g.table}: {_privs_text(g.privileges)}" for g in table_privs) or None,
        None,
        None,
        "normal: Usage_priv",
    )


@handles(ShowGrants)
async def show_grants(session: Any, node: ShowGrants) -> Any:
    me = session.user
    catalog = session.fe.catalog
    if node.args.get("all"):
        require_global(me, "GRANT_PRIV", "ADMIN_PRIV")
        users = sorted(catalog.all(User), key=lambda u: u.key)
    else:
        name, host = _target(session, node.this)
        if (name, host) != (me.name, me.host):
            require_global(me, "GRANT_PRIV", "ADMIN_PRIV")
        user = catalog.get(User, f"{name}@{host}")
        if user is None:
            check_user_name(name)
            raise DorisError(f"user '{name}'@'{host}' does not exist")
        users = [user]
    return text_result(SHOW_GRANTS_COLUMNS, [grants_row(u) for u in users])
