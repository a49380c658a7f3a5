"""What SHOW and DESC tell about databases and tables: SHOW DATABASES / TABLES / CREATE / PARTITIONS / TABLETS /
TABLET / DATA, DESC, and the information_schema picture tools read (DorisSession.schema)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from mysql_mimic import ColumnType, ResultColumn
from sqlglot import exp

from doris_br.clock import local_datetime, time_text
from doris_br.errors import ER_NO_DB, DorisError
from doris_br.fe import dynamic_partitions
from doris_br.fe import query as queries
from doris_br.fe.catalog import Backend
from doris_br.fe.indexes import index_sql
from doris_br.fe.info_schema import described as info_schema_columns
from doris_br.fe.olap import (
    Database,
    Partition,
    Table,
    View,
    describe_table_not_found,
    find_database,
    find_table,
    find_tablet,
    find_view,
    get_table,
    partitions_of,
    session_database,
    session_table,
    tables_of,
    views_of,
)
from doris_br.fe.privileges import can_see_table, has_any_on_db, has_privilege, require_see_db, table_denied
from doris_br.fe.statements import NOT_HANDLED, handles, handles_show
from doris_br.fe.statements.results import text_result
from doris_br.fe.statements.system import size_text
from doris_br.schema import Column, key_type_name, min_key
from doris_br.server.compat import like_filtered, like_regex
from doris_br.sql import parse
from doris_br.sql.ddl import Describe, ShowCreate, ShowData, ShowPartitions, ShowTablet, ShowTablets

SYSTEM_DATABASES = ("information_schema",)


def _visible_table(session: Any, db: Database, table: str) -> bool:
    return can_see_table(session.user, db.name, table)


def _denied(session: Any, command: str, table: str) -> DorisError:
    """Doris's 1142 for a SHOW or DESCRIBE of a table the user cannot see, with the client's address."""
    return table_denied(command, session.user, session.client_address.rsplit(":", 1)[0], table)


def _statement_db_name(session: Any, db_name: str | None) -> str:
    """The database a statement names, else the session's (checked for existence later)."""
    name = db_name or session.database
    if not name:
        raise DorisError("No database selected", ER_NO_DB)
    return name


# ---- databases and tables ----------------------------------------------------------------------------------


def visible_database_names(session: Any) -> list[str]:
    """The databases SHOW DATABASES and information_schema.schemata list for this user, by name."""
    user = session.user
    granted = [d.name for d in session.fe.catalog.all(Database) if has_any_on_db(user, d.name)]
    return sorted([*SYSTEM_DATABASES, *granted])


@handles_show("DATABASES")  # sqlglot reads SHOW SCHEMAS as DATABASES
async def show_databases(session: Any, node: exp.Show) -> Any:
    return text_result(["Database"], _like_filtered(node, [(n,) for n in visible_database_names(session)]))


# Doris's ShowTableStatusCommand: the rows of information_schema.tables, BIGINT and DATETIME where MySQL's are.
_TABLE_STATUS_COLUMNS: list[tuple[str, ColumnType]] = [
    ("Name", ColumnType.STRING), ("Engine", ColumnType.STRING), ("Version", ColumnType.LONGLONG),
    ("Row_format", ColumnType.STRING), ("Rows", ColumnType.LONGLONG), ("Avg_row_length", ColumnType.LONGLONG),
    ("Data_length", ColumnType.LONGLONG), ("Max_data_length", ColumnType.LONGLONG),
    ("Index_length", ColumnType.LONGLONG), ("Data_free", ColumnType.LONGLONG), ("Auto_increment", ColumnType.LONGLONG),
    ("Create_time", ColumnType.DATETIME), ("Update_time", ColumnType.DATETIME), ("Check_time", ColumnType.DATETIME),
    ("Collation", ColumnType.STRING), ("Checksum", ColumnType.LONGLONG), ("Create_options", ColumnType.STRING),
    ("Comment", ColumnType.STRING),
]


@handles_show("TABLE STATUS")
async def show_table_status(session: Any, node: exp.Show) -> Any:
    """BI tools' and mycli's table list: one row per table or view the user may see."""
    db = session_database(session, node.text("db") or None)
    catalog = session.fe.catalog
    rows: list[tuple] = []
    for t in tables_of(catalog, db):
        parts = partitions_of(catalog, t)
        count, size = sum(p.row_count for p in parts), sum(p.data_size for p in parts)
        rows.append((t.name, "Doris", 10, "", count, size // count if count else 0, size, None, 0, None, None,
                     local_datetime(t.create_time_ms), None, None, "utf-8", None, "", t.comment))
    for v in views_of(catalog, db):
        rows.append((v.name, "View", 10, "", 0, 0, 0, None, 0, None, None, local_datetime(v.create_time_ms), None,
                     None, "utf-8", None, "", v.comment))
    rows = _like_filtered(node, sorted(r for r in rows if _visible_table(session, db, r[0])))
    return rows, [ResultColumn(name, kind) for name, kind in _TABLE_STATUS_COLUMNS]


def _like_filtered(node: exp.Show, rows: list[tuple]) -> list[tuple]:
    """The rows whose first column matches the statement's LIKE pattern (all of them without one)."""
    like = node.args.get("like")
    return like_filtered(rows, like.name if like is not None else None)


@handles_show("PLUGINS")
async def show_plugins(session: Any, node: exp.Show) -> Any:
    """Doris's builtin plugins, as SHOW PLUGINS lists them (no plugin can be installed here)."""
    return text_result(["Name", "Type", "Description", "Version", "JavaVersion", "ClassName", "SoName", "Sources",
                        "Status", "Properties"],
                       [("__builtin_AuditLoader", "AUDIT", "builtin audit loader, to load audit log to internal table",
                         "2.1.0", "1.8.31", "org.apache.doris.plugin.audit.AuditLoader", None, "Builtin", "INSTALLED",
                         "{}")])


@handles_show("TABLES")
async def show_tables(session: Any, node: exp.Show) -> Any:
    db_name = node.text("db") or session.database
    if db_name and db_name.lower() in SYSTEM_DATABASES:
        return NOT_HANDLED
    db = session_database(session, db_name)
    catalog = session.fe.catalog
    rows = [(t.name, "BASE TABLE") for t in tables_of(catalog, db)] + [(v.name, "VIEW") for v in views_of(catalog, db)]
    rows = _like_filtered(node, sorted(r for r in rows if _visible_table(session, db, r[0])))
    if node.args.get("full"):
        return text_result([f"Tables_in_{db.name}", "Table_type"], rows)
    return text_result([f"Tables_in_{db.name}"], [(r[0],) for r in rows])


@attrs.frozen
class Visible:
    """One database the user may see, with the tables and views in it the user may see, each in name order."""

    db: Database
    tables: list[Table]
    views: list[View]


def visible(session: Any) -> list[Visible]:
    """What information_schema shows this user, as Doris's schema scanners ask the FE: a database with a SHOW
    privilege on it or on one of its tables, and in it only the tables and views with PrivPredicate.SHOW (views
    too: listTableStatus, which VIEWS reads, asks SHOW of every kind of table, not SHOW_VIEW_PRIV)."""
    catalog = session.fe.catalog
    out = []
    for db in sorted(catalog.all(Database), key=lambda d: d.name):
        if has_any_on_db(session.user, db.name):
            out.append(Visible(db, [t for t in tables_of(catalog, db) if _visible_table(session, db, t.name)],
                               [v for v in views_of(catalog, db) if _visible_table(session, db, v.name)]))
    return out


def info_schema(session: Any) -> dict[str, dict[str, dict[str, str]]]:
    """{db: {table: {column: type}}} of what the user may see, for information_schema (and SHOW COLUMNS).

    Databases without a visible table are left out: they have no column to list, and mysql-mimic reads the
    mapping's depth from its first entry, so an empty one first would make every table's schema ''."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for seen in visible(session):
        if not seen.tables and not seen.views:
            continue
        tables = out.setdefault(seen.db.name, {})
        for t in seen.tables:
            tables[t.name] = {c.name: c.type.upper() for c in t.columns}
        for v in seen.views:
            tables[v.name] = {n: t.upper() for n, t in v.column_types} \
                or {c: "VARCHAR" for c in v.columns} or {"_": "VARCHAR"}
    return out


DESC_COLUMNS = ["Field", "Type", "Null", "Key", "Default", "Extra"]
FULL_FIELDS_COLUMNS = ["Field", "Type", "Collation", "Null", "Key", "Default", "Extra", "Privileges", "Comment"]


async def _field_rows(session: Any, db: Database, name: str) -> tuple[list[tuple], Table | None]:
    """DESCRIBE's rows of a table or view (whose visibility the caller checked), and the table (None: a view)."""
    catalog = session.fe.catalog
    table = find_table(catalog, db, name)
    if table is not None:
        columns = table.stored_columns if queries.shows_hidden_columns(session) else table.columns
        return [_desc_row(c) for c in columns], table
    view = find_view(catalog, db, name)
    if view is None:
        raise describe_table_not_found(name, db.name)
    if view.column_types:  # the schema CREATE VIEW worked out, in Doris's type names
        return [(n, t.upper(), "Yes", "false", None, "") for n, t in view.column_types], None
    result = await queries.execute_query(session, exp.select("*").from_(parse(view.sql)[0].subquery("v")).limit(0))
    names = list(view.columns) or result.column_names
    return [(n, str(f.type).upper(), "Yes", "false", None, "") for n, f in zip(names, result.schema, strict=False)], \
        None


@handles(Describe)
async def describe(session: Any, node: Describe) -> Any:
    db_name, name = node.this
    if (db_name or session.database or "").lower() in SYSTEM_DATABASES:  # every user may read these
        return text_result(DESC_COLUMNS, [(n, t, "Yes", "false", None, "") for n, t in info_schema_columns(name)])
    db = session_database(session, db_name)
    if not _visible_table(session, db, name):  # before the table is looked up: no hint whether it exists
        raise _denied(session, "DESCRIBE", f"{db.name}.{name}")
    rows, table = await _field_rows(session, db, name)
    if node.args.get("all") and table is not None:
        keys = {"DUP_KEYS": "DUP_KEYS", "AGG_KEYS": "AGG_KEYS", "UNIQUE_KEYS": "UNIQUE_KEYS"}[table.keys_type]
        return text_result(
            ["IndexName", "IndexKeysType", "Field", "Type", "InternalType", "Null", "Key", "Default", "Extra",
             "Visible", "DefineExpr", "WhereClause"],
            [(table.name if i == 0 else "", keys if i == 0 else "", r[0], r[1], r[1], r[2], r[3], r[4], r[5],
              "true", "", "") for i, r in enumerate(rows)])
    return text_result(DESC_COLUMNS, rows)


@handles_show("COLUMNS")  # also SHOW FIELDS (doris_br.sql.dialect)
async def show_columns(session: Any, node: exp.Show) -> Any:
    """DESCRIBE's rows; FULL adds MySQL's Collation, Privileges and Comment in MySQL's column order."""
    db_name, name = node.text("db") or None, node.text("target")
    if (db_name or session.database or "").lower() in SYSTEM_DATABASES:
        return NOT_HANDLED
    full = bool(node.args.get("full"))
    db = session_database(session, db_name)
    if not _visible_table(session, db, name):  # as information_schema.columns shows it: no rows, no hint
        return text_result(FULL_FIELDS_COLUMNS if full else DESC_COLUMNS, [])
    rows, table = await _field_rows(session, db, name)
    rows = _like_filtered(node, rows)
    if not full:
        return text_result(DESC_COLUMNS, rows)
    comments = {c.name: c.comment for c in table.columns} if table is not None else {}
    privileges = "select,insert,update,references"
    return text_result(FULL_FIELDS_COLUMNS, [(f, t, None, n, k, d, e, privileges, comments.get(f, ""))
                                             for f, t, n, k, d, e in rows])


def _desc_row(c: Column) -> tuple:
    extra = ",".join(e for e in (c.aggregation, "AUTO_INCREMENT" if c.auto_increment else None) if e)
    return (c.name, c.type.upper(), "Yes" if c.nullable else "No", "true" if c.is_key else "false", c.default,
            extra)


# ---- SHOW CREATE -------------------------------------------------------------------------------------------


def _q(name: str) -> str:
    return f"`{name}`"


def _column_text(c: Column) -> str:
    parts = [_q(c.name), c.type]
    if c.aggregation:
        parts.append(c.aggregation)
    parts.append("NULL" if c.nullable else "NOT NULL")
    if c.auto_increment:
        parts.append(f"AUTO_INCREMENT({c.auto_increment_start})")
    if c.default is not None:
        parts.append("DEFAULT " + (c.default if c.default in ("CURRENT_TIMESTAMP", "NULL") else f'"{c.default}"'))
    if c.comment:
        parts.append("COMMENT '" + c.comment.replace("'", "\\'") + "'")
    return " ".join(parts)


def _key_values(values: Sequence[str] | None) -> str:
    if values is None:
        return "(MAXVALUE)"
    return "(" + ", ".join(f'"{v}"' for v in values) + ")"


def _partition_text(table: Table, p: Partition) -> str:
    if table.partition_kind == "RANGE":
        lower = p.lower if p.lower is not None else tuple(
            min_key(table.column(c).type) for c in table.partition_columns)
        return f"PARTITION {p.name} VALUES [{_key_values(lower)}, {_key_values(p.upper)})"
    if not p.values:
        return f"PARTITION {p.name}"
    if len(table.partition_columns) == 1:
        return f"PARTITION {p.name} VALUES IN (" + ",".join(f'"{v[0]}"' for v in p.values) + ")"
    return f"PARTITION {p.name} VALUES IN (" + ",".join(_key_values(v) for v in p.values) + ")"


# Doris prints these table properties even when CREATE TABLE did not set them.
_DEFAULT_PROPERTIES = {
    "min_load_replica_num": "-1", "is_being_synced": "false", "storage_medium": "hdd", "storage_format": "V2",
    "inverted_index_storage_format": "V1", "light_schema_change": "true", "disable_auto_compaction": "false",
    "enable_single_replica_compaction": "false", "group_commit_interval_ms": "10000",
    "group_commit_data_bytes": "134217728",
}


def create_table_text(catalog: Any, table: Table) -> str:
    lines = [f"CREATE TABLE {_q(table.name)} ("]
    lines.append(",\n".join(["  " + _column_text(c) for c in table.columns] +
                            ["  " + index_sql(i) for i in table.indexes]))
    lines.append(") ENGINE=OLAP")
    keyword = {"DUP_KEYS": "DUPLICATE", "AGG_KEYS": "AGGREGATE", "UNIQUE_KEYS": "UNIQUE"}[table.keys_type]
    lines.append(f"{keyword} KEY(" + ", ".join(_q(k) for k in table.key_columns) + ")")
    lines.append("COMMENT '" + (table.comment or "OLAP").replace("'", "\\'") + "'")
    if table.partition_kind != "UNPARTITIONED":
        cols = ", ".join(_q(c) for c in table.partition_columns)
        if table.auto_partition:
            lines.append(f"AUTO PARTITION BY RANGE (date_trunc({cols}, '{table.auto_unit or 'day'}'))")
        elif table.partition_kind == "LIST":
            lines.append(f"PARTITION BY LIST ({cols})")
        else:
            lines.append(f"PARTITION BY RANGE({cols})")
        parts = [_partition_text(table, p) for p in partitions_of(catalog, table)]
        lines.append("(" + ",\n".join(parts) + ")")
    dist = table.distribution
    buckets = "AUTO" if dist.auto else str(dist.buckets)
    if dist.kind == "HASH":
        lines.append("DISTRIBUTED BY HASH(" + ", ".join(_q(c) for c in dist.columns) + f") BUCKETS {buckets}")
    else:
        lines.append(f"DISTRIBUTED BY RANDOM BUCKETS {buckets}")
    props = {"replication_allocation": f"tag.location.default: {table.replication_num}", **_DEFAULT_PROPERTIES}
    if table.keys_type == "UNIQUE_KEYS":  # tables from before the property existed are merge-on-read
        props["enable_unique_key_merge_on_write"] = "true" if table.merge_on_write else "false"
    props.update({k: v for k, v in table.properties.items() if not k.startswith(dynamic_partitions.PREFIX)})
    items = list(props.items())
    at = next((i + 1 for i, (k, _) in enumerate(items) if k == "is_being_synced"), len(items))
    items[at:at] = dynamic_partitions.show_create_properties(table)  # Doris's place and order for them
    lines.append("PROPERTIES (\n" + ",\n".join(f'"{k}" = "{v}"' for k, v in items) + "\n);")
    return "\n".join(lines)


def create_view_text(view: View) -> str:
    """Doris's DDL of a view (Env.getDdlStmt): every column it shows, comments in double quotes, the view's
    comment on a line of its own."""
    names = view.columns or tuple(n for n, _ in view.column_types)
    comments = dict(zip(view.columns, view.column_comments, strict=False))
    cols = ", ".join(_q(n) + (f' COMMENT "{_dq(comments[n])}"' if comments.get(n) else "") for n in names)
    comment = f'\nCOMMENT "{_dq(view.comment)}"' if view.comment else ""
    listed = f" ({cols})" if names else ""  # none only for views journaled before their columns were kept
    return f"CREATE VIEW {_q(view.name)}{listed}{comment} AS {view.sql};"


def _dq(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@handles(ShowCreate)
async def show_create(session: Any, node: ShowCreate) -> Any:
    db_name, name = node.this
    kind = node.args["kind"]
    catalog = session.fe.catalog
    if kind == "DATABASE":
        if name.lower() not in SYSTEM_DATABASES:
            require_see_db(session.user, name)  # before it is looked up, as Doris
        db = find_database(catalog, name)
        if db is None:
            if name.lower() in SYSTEM_DATABASES:
                return text_result(["Database", "Create Database"], [(name, f"CREATE DATABASE `{name}`")])
            raise DorisError(f"Unknown database '{name}'", 1049)
        text = f"CREATE DATABASE `{db.name}`"
        if db.properties:
            text += "\nPROPERTIES (\n" + ",\n".join(f'"{k}" = "{v}"' for k, v in db.properties.items()) + "\n)"
        return text_result(["Database", "Create Database"], [(db.name, text)])
    db = session_database(session, db_name)
    view = find_view(catalog, db, name)
    # Doris asks SHOW_VIEW_PRIV of a view and any SHOW privilege of a table; one who may see neither learns
    # nothing, not even whether the name exists.
    visible = has_privilege(session.user, "SHOW_VIEW_PRIV", db.name, name) if view is not None else \
        _visible_table(session, db, name)
    if not visible:
        raise _denied(session, "SHOW CREATE TABLE", f"{db.name}: {name}")
    if view is not None:
        return text_result(["View", "Create View", "character_set_client", "collation_connection"],
                           [(view.name, create_view_text(view), "utf8mb4", "utf8mb4_0900_bin")])
    if kind == "VIEW":
        raise DorisError(f"'{db.name}.{name}' is not VIEW")
    table = get_table(catalog, db, name)
    return text_result(["Table", "Create Table"], [(table.name, create_table_text(catalog, table))])


# ---- SHOW PARTITIONS / TABLETS / TABLET / DATA ----------------------------------------------------------


def _compare(a: Any, b: Any) -> tuple[Any, Any]:
    try:
        return float(a), float(b)
    except (TypeError, ValueError):
        return str(a), str(b)


def _matches(where: exp.Expression, row: dict[str, Any], allowed: Sequence[str] | None) -> bool:
    """Evaluate a SHOW's WHERE on one row (column titles, case-insensitive)."""
    if isinstance(where, exp.And):
        return _matches(where.this, row, allowed) and _matches(where.expression, row, allowed)
    if isinstance(where, exp.Or):
        return _matches(where.this, row, allowed) or _matches(where.expression, row, allowed)
    if isinstance(where, exp.Paren):
        return _matches(where.this, row, allowed)
    if isinstance(where, exp.Not):
        return not _matches(where.this, row, allowed)
    if isinstance(where, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like)) and isinstance(
            where.this, exp.Column):
        name = where.this.name.lower()
        if name not in row or (allowed is not None and name not in allowed):
            raise DorisError(f"Only the columns of {', '.join(allowed or row)} are supported.")
        value = row[name]
        literal = where.expression.name
        if isinstance(where, exp.Like):
            return bool(like_regex(literal).match(str(value)))
        a, b = _compare(value, literal)
        return {exp.EQ: a == b, exp.NEQ: a != b, exp.GT: a > b, exp.GTE: a >= b, exp.LT: a < b,
                exp.LTE: a <= b}[type(where)]
    raise DorisError("Where clause should looks like: column = value [AND column = value]")


def filter_rows(names: list[str], rows: list[tuple], node: exp.Expression,
                allowed: Sequence[str] | None = None) -> list[tuple]:
    """WHERE, ORDER BY, LIMIT / OFFSET of a SHOW over its own rows."""
    lower = [n.lower() for n in names]
    where = node.args.get("where")
    if where is not None:
        rows = [r for r in rows if _matches(where, dict(zip(lower, r, strict=True)), allowed)]
    for ordered in reversed(node.args.get("order") or []):
        col = ordered.this.name.lower()
        if col not in lower:
            raise DorisError(f"Title name[{ordered.this.name}] does not exist")
        i = lower.index(col)
        rows.sort(key=lambda r: _compare(r[i], r[i])[0] if r[i] is not None else "",
                  reverse=bool(ordered.args.get("desc")))
    offset = node.args.get("offset") or 0
    limit = node.args.get("limit")
    return rows[offset:offset + limit] if limit is not None else rows[offset:]


PARTITION_COLUMNS = [
    "PartitionId", "PartitionName", "VisibleVersion", "VisibleVersionTime", "State", "PartitionKey", "Range",
    "DistributionKey", "Buckets", "ReplicationNum", "StorageMedium", "CooldownTime", "RemoteStoragePolicy",
    "LastConsistencyCheckTime", "DataSize", "IsInMemory", "ReplicaAllocation", "IsMutable", "SyncWithBaseTables",
    "UnsyncTables",
]


def _key_text(types: list[str], values: Sequence[str]) -> str:
    return f"types: [{', '.join(types)}]; keys: [{', '.join(values)}]; "


def range_text(table: Table, p: Partition) -> str:
    """Doris's internal text for a partition's range (Guava Range of PartitionKey) or list."""
    if table.partition_kind == "UNPARTITIONED":
        return ""
    type_texts = [table.column(c).type for c in table.partition_columns]
    types = [key_type_name(t) for t in type_texts]
    if table.partition_kind == "LIST":
        return "[" + ", ".join(_key_text(types[:len(v)], v) for v in p.values) + "]"
    lower = p.lower if p.lower is not None else tuple(min_key(t) for t in type_texts)
    upper = p.upper if p.upper is not None else tuple("MAXVALUE" for _ in type_texts)
    return f"[{_key_text(types[:len(lower)], lower)}..{_key_text(types[:len(upper)], upper)})"


@handles(ShowPartitions)
async def show_partitions(session: Any, node: ShowPartitions) -> Any:
    db_name, name = node.this
    named_db = _statement_db_name(session, db_name)
    if not can_see_table(session.user, named_db, name):  # Doris checks before it looks anything up
        raise _denied(session, "SHOW PARTITIONS", f"{named_db}: {name}")
    db = session_database(session, named_db)
    table = get_table(session.fe.catalog, db, name)
    dist = table.distribution
    rows = []
    for p in partitions_of(session.fe.catalog, table, temporary=bool(node.args.get("temporary"))):
        rows.append((
            p.id, p.name, p.visible_version, time_text(p.visible_version_time_ms), "NORMAL",
            ", ".join(table.partition_columns), range_text(table, p),
            ", ".join(dist.columns) if dist.kind == "HASH" else "RANDOM", len(p.tablets), p.replication_num,
            p.storage_medium,
            "9999-12-31 23:59:59", "", None, size_text(p.data_size), "false",
            f"tag.location.default: {p.replication_num}", "true", "true", None,
        ))
    rows = filter_rows(PARTITION_COLUMNS, rows, node, allowed=[
        "partitionid", "partitionname", "state", "buckets", "replicationnum", "lastconsistencychecktime",
        "visibleversion"])
    return text_result(PARTITION_COLUMNS, rows)


TABLET_COLUMNS = [
    "TabletId", "ReplicaId", "BackendId", "SchemaHash", "Version", "LstSuccessVersion", "LstFailedVersion",
    "LstFailedTime", "LocalDataSize", "RemoteDataSize", "RowCount", "State", "LstConsistencyCheckTime",
    "CheckVersion", "VersionCount", "QueryHits", "PathHash", "MetaUrl", "CompactionStatus", "CooldownReplicaId",
    "CooldownMetaId",
]


@handles(ShowTablets)
async def show_tablets(session: Any, node: ShowTablets) -> Any:
    db, table = session_table(session, node.this)
    catalog = session.fe.catalog
    if not has_privilege(session.user, "ADMIN_PRIV"):
        raise DorisError("Access denied; you need (at least one of) the (ADMIN) privilege(s) for this operation",
                         1227)
    partitions = partitions_of(catalog, table) + partitions_of(catalog, table, temporary=True)
    wanted = node.args.get("partitions")
    if wanted:
        partitions = [p for p in partitions if p.name in wanted]
    backends: dict[int, Backend] = {b.id: b for b in session.fe.backends.all()}
    fe_http = f"http://{session.fe.config.host}:{session.fe.http_port}"  # serves the compaction status
    rows = []
    for p in partitions:
        for t in p.tablets:
            for r in t.replicas:
                b = backends.get(r.backend_id)
                base = f"http://{b.host}:{b.port}" if b else ""
                rows.append((
                    t.id, r.id, r.backend_id, table.schema_hash, p.visible_version, p.visible_version, -1, None,
                    t.data_size, 0, t.row_count, "NORMAL", None, -1, p.visible_version, 0, 0,
                    f"{base}/api/meta/header/{t.id}",
                    f"{fe_http}/api/compaction/show?tablet_id={t.id}&backend_id={r.backend_id}", -1, "",
                ))
    rows = filter_rows(TABLET_COLUMNS, rows, node, allowed=["version", "backendid", "state"])
    return text_result(TABLET_COLUMNS, rows)


@handles(ShowTablet)
async def show_tablet(session: Any, node: ShowTablet) -> Any:
    if not has_privilege(session.user, "ADMIN_PRIV"):
        raise DorisError("Access denied; you need (at least one of) the (ADMIN) privilege(s) for this operation",
                         1227)
    tablet_id = int(node.this)
    catalog = session.fe.catalog
    found = find_tablet(catalog, tablet_id)
    table = catalog.get(Table, str(found[0].table_id)) if found else None
    db = catalog.get(Database, str(table.db_id)) if table else None
    if found is None or table is None or db is None:
        raise DorisError(f"Tablet {tablet_id} does not exist")
    p, order, _ = found
    rows = [(db.name, table.name, p.name, table.name, db.id, table.id, p.id, table.index_id, "true", order, 0,
             f"SHOW PROC '/dbs/{db.id}/{table.id}/partitions/{p.id}/{table.index_id}/{tablet_id}';")]
    return text_result(["DbName", "TableName", "PartitionName", "IndexName", "DbId", "TableId", "PartitionId",
                        "IndexId", "IsSync", "Order", "QueryHits", "DetailCmd"], rows)


@handles(ShowData)
async def show_data(session: Any, node: ShowData) -> Any:
    catalog = session.fe.catalog
    target = node.this
    if target is not None:
        db = session_database(session, target[0])
        if not _visible_table(session, db, target[1]):
            raise _denied(session, "SHOW DATA", f"{db.name}: {db.name}.{target[1]}")  # sic, as Doris
        table = get_table(catalog, db, target[1])
        parts = partitions_of(catalog, table)
        size = sum(p.data_size for p in parts)
        replicas = sum(len(t.replicas) for p in parts for t in p.tablets)
        rows = sum(p.row_count for p in parts)
        return text_result(["TableName", "IndexName", "Size", "ReplicaCount", "RowCount", "RemoteSize"], [
            (table.name, table.name, size_text(size), replicas, rows, size_text(0)),
            ("", "Total", size_text(size), replicas, "", size_text(0)),
        ])
    db = session_database(session, None)
    out = []
    total = total_replicas = 0
    for table in (t for t in tables_of(catalog, db) if _visible_table(session, db, t.name)):
        parts = partitions_of(catalog, table)
        size = sum(p.data_size for p in parts)
        replicas = sum(len(t.replicas) for p in parts for t in p.tablets)
        total += size
        total_replicas += replicas
        out.append((table.name, size_text(size), replicas, size_text(0)))
    out += [("Total", size_text(total), total_replicas, size_text(0)), ("Quota", "1024.000 TB", 1073741824, ""),
            ("Left", "1024.000 TB", 1073741824 - total_replicas, "")]
    return text_result(["TableName", "Size", "ReplicaCount", "RemoteSize"], out)
