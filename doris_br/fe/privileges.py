"""Doris's privilege model on *.*, db.* and db.tbl scopes.

ADMIN_PRIV on *.* implies every privilege but NODE_PRIV; a privilege on *.* applies to every database, one on
db.* to every table of the database. A user holds its own grants and those of its roles (User.role_grants, filled
in by Catalog.acting_user wherever a statement's user is looked up), as Doris checks every role of the user.
"""

from __future__ import annotations

from doris_br.errors import (
    ER_DB_PRIV_DENIED,
    ER_DBACCESS_DENIED,
    ER_TABLEACCESS_DENIED,
    DorisError,
    access_denied_need,
)
from doris_br.fe.catalog import GLOBAL_ONLY_PRIVILEGES, PRIVILEGES, Grant, User

ALL_PRIVILEGES = tuple(p for p in PRIVILEGES if p != "NODE_PRIV")
# Doris's PrivPredicate.SHOW: any of these lets a user see a table (ADMIN_PRIV implies them all). SHOW_VIEW_PRIV
# is not one: it lets SHOW CREATE VIEW show a view's text, nothing more.
SHOW_PRIVILEGES = ("SELECT_PRIV", "LOAD_PRIV", "ALTER_PRIV", "CREATE_PRIV", "DROP_PRIV")
# How Doris prints PrivPredicate.SHOW's privileges in its errors.
SHOW_PRIVILEGES_TEXT = "Admin_priv,Select_priv,Load_priv,Alter_priv,Create_priv,Drop_priv"


def held_grants(user: User) -> tuple[Grant, ...]:
    """The user's own grants and its roles'."""
    return user.grants + user.role_grants


def has_privilege(user: User, privilege: str, db: str | None = None, table: str | None = None) -> bool:
    for grant in held_grants(user):
        if grant.db == "*":
            if privilege in grant.privileges or (privilege != "NODE_PRIV" and "ADMIN_PRIV" in grant.privileges):
                return True
        elif db is not None and grant.db.lower() == db.lower():
            if grant.table == "*" or (table is not None and grant.table.lower() == table.lower()):
                if privilege in grant.privileges:
                    return True
    return False


def has_any_on_db(user: User, db: str) -> bool:
    """Whether the user may see the database at all: a SHOW privilege on it, on one of its tables or globally
    (Doris's checkDbPriv with PrivPredicate.SHOW; GRANT_PRIV or USAGE_PRIV alone show nothing)."""
    if has_privilege(user, "ADMIN_PRIV"):
        return True
    return any((g.db == "*" or g.db.lower() == db.lower()) and any(p in g.privileges for p in SHOW_PRIVILEGES)
               for g in held_grants(user))


def require_see_db(user: User, db: str) -> None:
    """Raise Doris's 1225 unless the user may see the database (SHOW CREATE DATABASE)."""
    if not has_any_on_db(user, db):
        raise DorisError(f"Access denied; you need (at least one of) the ({SHOW_PRIVILEGES_TEXT}) privilege(s) on "
                         f"database {db} for this operation", ER_DB_PRIV_DENIED)


def can_see_table(user: User, db: str, table: str) -> bool:
    """Doris's checkTblPriv(PrivPredicate.SHOW): a SHOW privilege on the table, its database or globally."""
    return any(has_privilege(user, p, db, table) for p in SHOW_PRIVILEGES)


def table_denied(command: str, user: User, client_host: str, table: str) -> DorisError:
    """Doris's 1142 as its SHOW / DESCRIBE statements word it: the client's address, and the table as the
    statement names it (`db.tbl` or `db: tbl`, as Doris writes each)."""
    return DorisError(f"{command} command denied to user '{user.name}'@'{client_host or user.host}' for table "
                      f"'{table}'", ER_TABLEACCESS_DENIED)


def require_global(user: User, *privileges: str) -> None:
    """Raise 1227 unless the user holds one of `privileges` on *.*."""
    if not any(has_privilege(user, p) for p in privileges):
        raise access_denied_need(*privileges)


def require_on_db(user: User, db: str, *privileges: str) -> None:
    """Raise 1044 unless the user holds one of `privileges` on the database (or globally)."""
    if not any(has_privilege(user, p, db) for p in privileges):
        raise DorisError(f"Access denied for user '{user.name}' to database '{db}'", ER_DBACCESS_DENIED)


def normalise_privileges(names: list[str], db: str, table: str) -> tuple[str, ...]:
    """Check GRANT/REVOKE privilege names against Doris's list and the scope they may apply to."""
    result: list[str] = []
    for name in names:
        upper = name.upper()
        if upper in ("ALL", "ALL_PRIV", "ALL PRIVILEGES"):
            result.extend(ALL_PRIVILEGES if db == "*" else [p for p in ALL_PRIVILEGES if p != "ADMIN_PRIV"])
            continue
        if not upper.endswith("_PRIV"):
            upper += "_PRIV"
        if upper not in PRIVILEGES:
            raise DorisError(f"Unknown privilege: {name}")
        if upper in GLOBAL_ONLY_PRIVILEGES and db != "*":
            raise DorisError(f"{upper.title()} can only be granted/revoked on *.*")
        result.append(upper)
    return tuple(p for p in PRIVILEGES if p in result)


_COMMANDS = {"SELECT_PRIV": "SELECT", "LOAD_PRIV": "LOAD", "ALTER_PRIV": "ALTER", "DROP_PRIV": "DROP",
             "CREATE_PRIV": "CREATE"}


def require_on_table(user: User, privilege: str, db: str, table: str) -> None:
    """Raise 1142 unless the user holds `privilege` on the table (or its database, or globally)."""
    if not has_privilege(user, privilege, db, table):
        command = _COMMANDS.get(privilege, privilege.removesuffix("_PRIV"))
        raise DorisError(f"{command} command denied to user '{user.name}'@'{user.host}' for table '{db}.{table}'",
                         ER_TABLEACCESS_DENIED)
