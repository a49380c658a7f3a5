"""CREATE / ALTER / DROP ROLE, GRANT / REVOKE roles to users, SHOW ROLES.

Privileges granted TO ROLE are kept in the Role; users name the roles they hold (User.roles), and every privilege
check counts them (Catalog.acting_user). Built-in roles (operator, admin) live in code, as in Doris.
"""

from __future__ import annotations

from typing import Any

import attrs

from doris_br.errors import ER_SPECIFIC_ACCESS_DENIED, DorisError
from doris_br.fe.catalog import BUILTIN_ROLES, PRIVILEGES, Grant, Role, User
from doris_br.fe.privileges import has_privilege
from doris_br.fe.statements import handles
from doris_br.fe.statements.results import text_result
from doris_br.names import check_role_name
from doris_br.sql.admin import AlterRole, CreateRole, DropRole, GrantRoles, ShowRoles

# Doris 2.1's SHOW ROLES (ShowRolesStmt with comments and workload groups).
SHOW_ROLES_COLUMNS = ["Name", "Comment", "Users", "GlobalPrivs", "CatalogPrivs", "DatabasePrivs", "TablePrivs",
                      "ResourcePrivs", "WorkloadGroupPrivs"]


def require_grant_priv(user: User, operation: str) -> None:
    """Doris's checkGlobalPriv(PrivPredicate.GRANT) for role statements: GRANT_PRIV or ADMIN_PRIV on *.*, else
    1227 naming the operation."""
    if not (has_privilege(user, "GRANT_PRIV") or has_privilege(user, "ADMIN_PRIV")):
        raise DorisError(f"Access denied; you need (at least one of) the ({operation}) privilege(s) for this "
                         "operation", ER_SPECIFIC_ACCESS_DENIED)


def existing_role(catalog: Any, name: str) -> Role:
    """A role that must exist for a grant or revoke of privileges, as Doris's RoleManager words its absence."""
    role = catalog.role(name)
    if role is None:
        raise DorisError(f"Role {name} does not exist")
    return role


def role_exists_text(name: str) -> str:
    """Doris prints the new Role object (Role.toString) in its 'already exists' error."""
    return f"Role role: {name}, db table privs: {{}}, resource privs: {{}}, workload group privs: {{}} already exists"


def _role_statement(session: Any, name: str, verb: str) -> None:
    """CREATE / ALTER / DROP ROLE's checks, in Doris's order: the name's form, then GRANT_PRIV."""
    check_role_name(name, False, f"Can not {verb} role")
    require_grant_priv(session.user, f"{verb.upper()} ROLE")


@handles(CreateRole)
async def create_role(session: Any, node: CreateRole) -> None:
    name = node.name
    _role_statement(session, name, "create")
    catalog = session.fe.catalog
    if catalog.role(name) is not None:
        if node.args.get("if_not_exists"):
            return
        raise DorisError(role_exists_text(name))
    catalog.commit([Role(name=name, comment=node.args.get("comment") or "")])


@handles(AlterRole)
async def alter_role(session: Any, node: AlterRole) -> None:
    name = node.name
    _role_statement(session, name, "alter")
    role = session.fe.catalog.get(Role, name)
    if role is None:
        raise DorisError(f"Role {name} not exist")
    session.fe.catalog.commit([attrs.evolve(role, comment=node.args["comment"])])


@handles(DropRole)
async def drop_role(session: Any, node: DropRole) -> None:
    name = node.name
    _role_statement(session, name, "drop")
    catalog = session.fe.catalog
    role = catalog.get(Role, name)
    if role is None:
        if node.args.get("if_exists"):
            return
        raise DorisError(f"Role {name} does not exist")
    # The role leaves every user that held it in the same journal transaction, so no one keeps it by name
    # and gets it back from a role of that name created later.
    holders = [attrs.evolve(u, roles=tuple(r for r in u.roles if r != name)) for u in catalog.all(User)
               if name in u.roles]
    catalog.commit(holders, deletes=[role])


@handles(GrantRoles)
async def grant_or_revoke_roles(session: Any, node: GrantRoles) -> None:
    revoke = bool(node.args.get("revoke"))
    names: list[str] = node.args["roles"]
    identity = node.this
    if revoke:
        for name in names:
            check_role_name(name, True, "Can not revoke role")
    require_grant_priv(session.user, "GRANT/REVOKE")
    me = session.user
    name, host = (me.name, me.host) if identity.args.get("current") else (identity.name,
                                                                          identity.args.get("host") or "%")
    if revoke and name == "admin" and host == "%" and any(n.lower() == "admin" for n in names):
        raise DorisError("Unsupported operation")
    catalog = session.fe.catalog
    user = catalog.get(User, f"{name}@{host}")
    if user is None:
        raise DorisError(f"user: '{name}'@'{host}' does not exist")
    held = [catalog.role(name) for name in names]
    for name, role in zip(names, held, strict=True):
        if role is None:
            raise DorisError(f"role:{name} does not exist")
    # Better than Doris, which lets any GRANT_PRIV holder give out operator: NODE_PRIV only from its holders,
    # through a role as directly (GRANT NODE_PRIV).
    if any("NODE_PRIV" in g.privileges for r in held if r is not None for g in r.grants) \
            and not has_privilege(session.user, "NODE_PRIV"):
        raise DorisError("Access denied; you need (at least one of) the (NODE) privilege(s) for this operation",
                         ER_SPECIFIC_ACCESS_DENIED)
    if revoke:
        roles = tuple(r for r in user.roles if r not in names)
    else:
        roles = user.roles + tuple(n for n in dict.fromkeys(names) if n not in user.roles)
    catalog.commit([attrs.evolve(user, roles=roles)])


def privs_text(privileges: tuple[str, ...]) -> str:
    """Doris's PrivBitSet.toString: `Select_priv,Load_priv`."""
    return ",".join(p.capitalize() for p in privileges)


def _role_row(role: Role, users: list[User], builtin: bool) -> tuple:
    """Doris's RoleManager.getRoleInfo: a global cell of the *.* privileges; `internal.db.*: privs` and
    `internal.db.tbl: privs` joined by '; '. A built-in role also holds its privileges on every resource ('*', a
    global resource pattern), which Doris joins into the same global cell."""
    global_grants = [g for g in role.grants if g.db == "*"]
    global_text = privs_text(global_grants[0].privileges) if global_grants else None
    if builtin and global_text:
        global_text = f"{global_text} {global_text}"
    db_text = "; ".join(f"internal.{g.db}.*: {privs_text(g.privileges)}" for g in role.grants
                        if g.db != "*" and g.table == "*")
    table_text = "; ".join(f"internal.{g.db}.{g.table}: {privs_text(g.privileges)}" for g in role.grants
                           if g.table != "*")
    return (role.name, role.comment, ", ".join(u.identity for u in users), global_text, None, db_text or None,
            table_text or None, None, None)


@handles(ShowRoles)
async def show_roles(session: Any, node: ShowRoles) -> Any:
    require_grant_priv(session.user, "GRANT")
    catalog = session.fe.catalog
    users = sorted(catalog.all(User), key=lambda u: u.key)
    roles = [(r, True) for r in BUILTIN_ROLES.values()] + [(r, False) for r in sorted(catalog.all(Role),
                                                                                      key=lambda r: r.name)]
    return text_result(SHOW_ROLES_COLUMNS, [_role_row(role, [u for u in users if role.name in u.roles], builtin)
                                            for role, builtin in roles])


def merged_grants(grants: tuple[Grant, ...], db: str, table: str, privileges: tuple[str, ...],
                  revoke: bool) -> tuple[Grant, ...]:
    """`grants` with `privileges` on db.table added or taken away; scopes left with none are gone."""
    by_scope = {(g.db, g.table): set(g.privileges) for g in grants}
    current = by_scope.setdefault((db, table), set())
    if revoke:
        current -= set(privileges)
    else:
        current |= set(privileges)
    return tuple(Grant(d, t, tuple(p for p in PRIVILEGES if p in privs))
                 for (d, t), privs in sorted(by_scope.items()) if privs)
