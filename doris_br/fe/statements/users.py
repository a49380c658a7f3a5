"""CREATE / DROP USER, SET PASSWORD, GRANT / REVOKE, SHOW GRANTS."""

from __future__ import annotations

import secrets
from typing import Any

import attrs

from doris_br.errors import DorisError
from doris_br.fe.catalog import GLOBAL_ONLY_PRIVILEGES, Grant, User, password_hash
from doris_br.fe.privileges import has_privilege, held_grants, normalise_privileges, require_global
from doris_br.fe.statements import handles
from doris_br.fe.statements.results import text_result
from doris_br.fe.statements.roles import existing_role, merged_grants, privs_text
from doris_br.names import check_role_name, check_user_name
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
    default_role = node.args.get("default_role")
    if default_role is not None and catalog.role(default_role) is None:  # checked first, as in Doris
        raise DorisError(f"Role: {default_role} does not exist")
    if catalog.get(User, f"{name}@{host}") is not None:
        if node.args.get("if_not_exists"):
            return
        raise DorisError(f"Operation CREATE USER failed for '{name}'@'{host}'", ER_CANNOT_USER)
    check_user_name(name)
    auth = _stored_hash(node.args.get("password"), bool(node.args.get("hashed")))
    catalog.commit([User(name=name, host=host, auth_string=auth, comment=node.args.get("comment") or "",
                         incarnation=secrets.token_hex(16), roles=(default_role,) if default_role else ())])


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
    revoke = bool(node.args.get("revoke"))
    role_name = node.args.get("role")
    if role_name is not None:
        check_role_name(role_name, False, "Can not revoke from role" if revoke else "Can not grant to role")
    me = session.user
    if not (has_privilege(me, "GRANT_PRIV", None if db == "*" else db) or has_privilege(me, "ADMIN_PRIV")):
        raise DorisError(
            "Access denied; you need (at least one of) the (GRANT) privilege(s) for this operation", 1227
        )
    privileges = normalise_privileges(node.args["privileges"], db, table)
    if "NODE_PRIV" in privileges and not has_privilege(me, "NODE_PRIV"):
        raise DorisError("Access denied; you need (at least one of) the (NODE) privilege(s) for this operation",
                         1227)
    catalog = session.fe.catalog
    if role_name is not None:
        role = existing_role(catalog, role_name)
        catalog.commit([attrs.evolve(role, grants=merged_grants(role.grants, db, table, privileges, revoke))])
        return
    name, host = _target(session, node.this)
    user = catalog.get(User, f"{name}@{host}")
    if user is None:
        check_user_name(name)
        raise DorisError(f"user '{name}'@'{host}' does not exist")
    if revoke and name == "root" and GLOBAL_ONLY_PRIVILEGES & set(privileges):
        raise DorisError("Can not revoke NODE_PRIV or ADMIN_PRIV from root")
    catalog.commit([attrs.evolve(user, grants=merged_grants(user.grants, db, table, privileges, revoke))])


SHOW_GRANTS_COLUMNS = ["UserIdentity", "Comment", "Password", "Roles", "GlobalPrivs", "CatalogPrivs",
                       "DatabasePrivs", "TablePrivs", "ColPrivs", "ResourcePrivs", "WorkloadGroupPrivs"]


def grants_row(user: User) -> tuple:
    """Doris's Auth.getUserAuthInfo: the user's roles, and the privileges of all of them (its own and its
    roles') merged per scope. `user` is the acting user, with its roles' grants."""
    grants: tuple[Grant, ...] = ()
    for grant in held_grants(user):
        grants = merged_grants(grants, grant.db, grant.table, grant.privileges, False)
    global_privs = [g for g in grants if g.db == "*"]
    db_privs = [g for g in grants if g.db != "*" and g.table == "*"]
    table_privs = [g for g in grants if g.table != "*"]
    return (
        user.identity,
        user.comment,
        "Yes" if user.auth_string else "No",
        ",".join(user.roles),
        privs_text(global_privs[0].privileges) if global_privs else None,
        None,
        "; ".join(f"internal.{g.db}: {privs_text(g.privileges)}" for g in db_privs) or None,
        "; ".join(f"internal.{g.db}.{g.table}: {privs_text(g.privileges)}" for g in table_privs) or None,
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
        users = sorted(map(catalog.acting_user, catalog.all(User)), key=lambda u: u.key)
    else:
        name, host = _target(session, node.this)
        if (name, host) != (me.name, me.host):
            require_global(me, "GRANT_PRIV", "ADMIN_PRIV")
        user = catalog.get(User, f"{name}@{host}")
        if user is None:
            check_user_name(name)
            raise DorisError(f"user '{name}'@'{host}' does not exist")
        users = [catalog.acting_user(user)]
    return text_result(SHOW_GRANTS_COLUMNS, [grants_row(u) for u in users])
