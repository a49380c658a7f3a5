"""information_schema's tables as Arrow, for the query engine: queries over them run like any other query.

mysql-mimic answered these with sqlglot's Python executor, which compiles expressions to Python and runs them;
here the rows mysql-mimic defines (TABLES, COLUMNS, ...) become Arrow tables that the sandboxed engine
reads, built from what the user may see (tables_show.visible). SCHEMATA, PARTITIONS, VIEWS and STATISTICS are
Doris's own: its column names, order and types (SchemaTable.TABLE_MAP of Doris 2.1), filled as its FE and BE
fill them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pyarrow as pa
from mysql_mimic.constants import INFO_SCHEMA as MIMIC_INFO_SCHEMA
from mysql_mimic.schema import info_schema_tables, mapping_to_columns

from doris_br.clock import local_datetime
from doris_br.fe.indexes import listed_indexes
from doris_br.fe.olap import (
    Database,
    Partition,
    Table,
    describe_table_not_found,
    partitions_by_table,
    table_not_found,
)
from doris_br.schema import min_key
from doris_br.server.compat import show_engines

INFO_SCHEMA = "information_schema"
INTERNAL_CATALOG = "internal"
# Doris's FE fills the columns it has nothing for with the text "NULL" (MetadataGenerator), not with NULL: a
# client sees the four letters, and `IS NULL` finds none of them.
NULL_TEXT = "NULL"


@attrs.frozen
class SchemaColumn:
    """A column of one of Doris's system tables, its type as information_schema.columns names it."""

    name: str
    type: str  # BIGINT, INT, DATETIME, TEXT (Doris's STRING) or VARCHAR(n)

    def arrow_type(self) -> pa.DataType:
        return {"BIGINT": pa.int64(), "INT": pa.int32(), "DATETIME": pa.timestamp("s")}.get(self.type, pa.string())


@attrs.frozen
class SystemTable:
    """One of Doris's information_schema tables: its columns and the rows a session may see."""

    columns: tuple[SchemaColumn, ...]
    rows: Callable[[Any], list[tuple]]

    def arrow(self, session: Any) -> pa.Table:
        rows = self.rows(session)
        return pa.table({c.name: pa.array([r[i] for r in rows], c.arrow_type()) for i, c in enumerate(self.columns)})


def _columns(*specs: str) -> tuple[SchemaColumn, ...]:
    """Columns written as "NAME TYPE"."""
    return tuple(SchemaColumn(*spec.split(" ", 1)) for spec in specs)


def relation(session: Any, name: str) -> pa.Table:
    """information_schema.<name> for this session's user."""
    wanted = name.lower()
    if wanted == "engines":  # the rows of SHOW ENGINES, which BI tools read from here
        rows, titles = show_engines()
        return pa.table({t.upper(): pa.array([r[i] for r in rows], pa.string()) for i, t in enumerate(titles)})
    if wanted in DORIS_TABLES:
        return DORIS_TABLES[wanted].arrow(session)
    columns = MIMIC_INFO_SCHEMA[INFO_SCHEMA].get(wanted)
    if columns is None:
        raise table_not_found(name, INFO_SCHEMA)
    rows = info_schema_tables(mapping_to_columns(_schema(session)))[INFO_SCHEMA][wanted].rows
    names = list(columns)
    if wanted == "tables":
        rows = _as_doris(session, names, rows)
    elif wanted == "columns":  # mysql-mimic counts from 0; MySQL and Doris number a table's columns from 1
        rows = _doris_system_columns(names, rows)
        at = names.index("ordinal_position")
        rows = [(*r[:at], r[at] + 1, *r[at + 1:]) for r in rows]
    return pa.table({n: _column([r[i] for r in rows], columns[n]) for i, n in enumerate(names)})


def described(name: str) -> list[tuple[str, str]]:
    """(column, type) of information_schema.<name>, for DESCRIBE: Doris's own tables with Doris's types."""
    wanted = name.lower()
    if wanted == "engines":
        return [(t.upper(), "VARCHAR(64)") for t in show_engines()[1]]
    if wanted in DORIS_TABLES:
        return [(c.name, c.type) for c in DORIS_TABLES[wanted].columns]
    columns = MIMIC_INFO_SCHEMA[INFO_SCHEMA].get(wanted)
    if columns is None:
        raise describe_table_not_found(name, INFO_SCHEMA)
    return [(n, t) for n, t in columns.items()]


def _schema(session: Any) -> dict[str, dict[str, dict[str, str]]]:
    from doris_br.fe.statements.tables_show import info_schema  # the statements layer knows the privileges

    return info_schema(session)


def _visible(session: Any) -> list[Any]:
    from doris_br.fe.statements.tables_show import visible

    return visible(session)


def _column(values: list[Any], sql_type: str) -> pa.Array:
    kind = sql_type.upper()
    if kind.startswith(("INT", "BIGINT", "SMALLINT", "TINYINT")):
        return pa.array(values, pa.int64())
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _doris_system_columns(names: list[str], rows: list[tuple]) -> list[tuple]:
    """COLUMNS with Doris's columns for the system tables Doris defines (mysql-mimic lists MySQL's for them),
    numbered from 0 as mysql-mimic numbers the rest."""
    at = names.index("table_schema"), names.index("table_name")
    kept = [r for r in rows if not (r[at[0]] == INFO_SCHEMA and r[at[1]] in DORIS_TABLES)]
    for table, system in DORIS_TABLES.items():
        for position, column in enumerate(system.columns):
            values = {"table_catalog": "def", "table_schema": INFO_SCHEMA, "table_name": table,
                      "column_name": column.name, "ordinal_position": position, "is_nullable": "YES",
                      "data_type": column.type, "character_set_name": NULL_TEXT, "collation_name": NULL_TEXT,
                      "column_type": column.type}
            kept.append(tuple(values.get(n) for n in names))
    return kept


def _as_doris(session: Any, names: list[str], rows: list[tuple]) -> list[tuple]:
    """TABLES rows with Doris's TABLE_TYPE and ENGINE (mysql-mimic calls every relation a BASE TABLE of its own
    engine): tools such as dbt tell views from tables by TABLE_TYPE, and drop or replace them by it."""
    from doris_br.fe.olap import View  # the catalog's objects, by database name

    catalog = session.fe.catalog
    db_names = {db.id: db.name for db in catalog.all(Database)}
    views = {(db_names.get(v.db_id), v.name) for v in catalog.all(View)}
    comments = {(db_names.get(t.db_id), t.name): t.comment for t in (*catalog.all(Table), *catalog.all(View))}
    at = {n: i for i, n in enumerate(names)}
    out = []
    for row in rows:
        row = list(row)
        key = (row[at["table_schema"]], row[at["table_name"]])
        if key[0] == INFO_SCHEMA:
            kind, engine = "SYSTEM VIEW", "SYSTEM VIEW"
        else:
            kind, engine = ("VIEW", "View") if key in views else ("BASE TABLE", "Doris")
            row[at["table_comment"]] = comments.get(key, "")
        row[at["table_type"]], row[at["engine"]] = kind, engine
        out.append(tuple(row))
    return out


# ---- SCHEMATA -----------------------------------------------------------------------------------------------


def _schemata_rows(session: Any) -> list[tuple]:
    """One row per database the user may see, empty ones too (mysql-mimic lists only those with tables), as
    Doris's BE fills them (SchemaSchemataScanner): utf8, utf8_general_ci, no SQL path."""
    from doris_br.fe.statements.tables_show import visible_database_names

    return [(INTERNAL_CATALOG, name, "utf8", "utf8_general_ci", None) for name in visible_database_names(session)]


_SCHEMATA = _columns(
    "CATALOG_NAME VARCHAR(512)", "SCHEMA_NAME VARCHAR(32)", "DEFAULT_CHARACTER_SET_NAME VARCHAR(32)",
    "DEFAULT_COLLATION_NAME VARCHAR(32)", "SQL_PATH VARCHAR(512)",
)


# ---- PARTITIONS ----------------------------------------------------------------------------------------------


def _partition_rows(session: Any) -> list[tuple]:
    """One row per partition of every table the user may see (an unpartitioned table has one, named as the
    table), as MetadataGenerator.partitionsForInternalCatalog fills them; temporary partitions are not listed."""
    seen = _visible(session)
    parts = partitions_by_table(session.fe.catalog, (t for s in seen for t in s.tables))
    return [_partition_row(s.db, t, p) for s in seen for t in s.tables for p in parts[t.id]]


def _partition_row(db: Database, table: Table, p: Partition) -> tuple:
    partitioned = table.partition_kind != "UNPARTITIONED"
    rows, size = p.row_count, p.data_size
    return (
        INTERNAL_CATALOG, db.name, table.name, p.name, NULL_TEXT, 0, 0, table.partition_kind, NULL_TEXT,
        ", ".join(table.partition_columns) if partitioned else NULL_TEXT, NULL_TEXT,
        partition_values_sql(table, p) if partitioned else NULL_TEXT,
        rows, size // rows if rows else 0, size, 0, 0, 0,
        0,  # CREATE_TIME: Doris sends the text "NULL" for this BIGINT, which its BE reads as 0
        local_datetime(p.visible_version_time_ms), None, 0, "", "", "",
    )


def partition_values_sql(table: Table, p: Partition) -> str:
    """Doris's PartitionItem.getItemsSql: a range as `[('1'), ('10'))`, bounds filled out to every partition
    column with the type's minimum (MAXVALUE unquoted); a list as `(("a", "b"),("c", "d"))`; a default
    (catch-all) list partition as nothing."""
    types = [table.column(c).type for c in table.partition_columns]
    if table.partition_kind == "LIST":
        if not p.values:
            return ""
        return "(" + ",".join("(" + ", ".join(f'"{v}"' for v in key) + ")" for key in p.values) + ")"
    lower = _range_key(types, p.lower or ())
    upper = _range_key(types, p.upper) if p.upper is not None else "(" + ", ".join("MAXVALUE" for _ in types) + ")"
    return f"[{lower}, {upper})"


def _range_key(types: list[str], key: tuple[str, ...]) -> str:
    values = list(key) + [min_key(t) for t in types[len(key):]]
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


_PARTITIONS = _columns(
    "TABLE_CATALOG VARCHAR(64)", "TABLE_SCHEMA VARCHAR(64)", "TABLE_NAME VARCHAR(64)", "PARTITION_NAME VARCHAR(64)",
    "SUBPARTITION_NAME VARCHAR(64)", "PARTITION_ORDINAL_POSITION INT", "SUBPARTITION_ORDINAL_POSITION INT",
    "PARTITION_METHOD VARCHAR(13)", "SUBPARTITION_METHOD VARCHAR(13)", "PARTITION_EXPRESSION VARCHAR(2048)",
    "SUBPARTITION_EXPRESSION VARCHAR(2048)", "PARTITION_DESCRIPTION TEXT", "TABLE_ROWS BIGINT",
    "AVG_ROW_LENGTH BIGINT", "DATA_LENGTH BIGINT", "MAX_DATA_LENGTH BIGINT", "INDEX_LENGTH BIGINT",
    "DATA_FREE BIGINT", "CREATE_TIME BIGINT", "UPDATE_TIME DATETIME", "CHECK_TIME DATETIME", "CHECKSUM BIGINT",
    "PARTITION_COMMENT TEXT", "NODEGROUP VARCHAR(256)", "TABLESPACE_NAME VARCHAR(268)",
)


# ---- VIEWS ---------------------------------------------------------------------------------------------------


def _view_rows(session: Any) -> list[tuple]:
    """One row per view the user may see, as Doris's BE fills them (SchemaViewsScanner): no catalog, the view's
    query as kept (what SHOW CREATE VIEW prints after AS), and MySQL's fixed values for the rest."""
    return [(None, seen.db.name, v.name, v.sql, "NONE", "NO", "root@%", "DEFINER", "utf8", None)
            for seen in _visible(session) for v in seen.views]


_VIEWS = _columns(
    "TABLE_CATALOG VARCHAR(512)", "TABLE_SCHEMA VARCHAR(64)", "TABLE_NAME VARCHAR(64)",
    "VIEW_DEFINITION VARCHAR(8096)", "CHECK_OPTION VARCHAR(8)", "IS_UPDATABLE VARCHAR(3)", "DEFINER VARCHAR(77)",
    "SECURITY_TYPE VARCHAR(7)", "CHARACTER_SET_CLIENT VARCHAR(32)", "COLLATION_CONNECTION VARCHAR(32)",
)


# ---- STATISTICS ----------------------------------------------------------------------------------------------


def _statistics_rows(session: Any) -> list[tuple]:
    """One row per column of every index SHOW INDEX lists (fe/indexes.listed_indexes), MySQL's way: none is
    unique, columns numbered from 1 within their index, NULLABLE 'YES' or ''."""
    out = []
    for seen in _visible(session):
        for table in seen.tables:
            for listed in listed_indexes(table):
                for seq, name in enumerate(listed.columns, start=1):
                    nullable = "YES" if table.column(name).nullable else ""
                    out.append((INTERNAL_CATALOG, seen.db.name, table.name, 1, seen.db.name, listed.name, seq, name,
                                None, None, None, None, nullable, listed.type, "", listed.comment))
    return out


_STATISTICS = _columns(
    "TABLE_CATALOG VARCHAR(512)", "TABLE_SCHEMA VARCHAR(64)", "TABLE_NAME VARCHAR(64)", "NON_UNIQUE BIGINT",
    "INDEX_SCHEMA VARCHAR(64)", "INDEX_NAME VARCHAR(64)", "SEQ_IN_INDEX BIGINT", "COLUMN_NAME VARCHAR(64)",
    "COLLATION VARCHAR(1)", "CARDINALITY BIGINT", "SUB_PART BIGINT", "PACKED VARCHAR(10)", "NULLABLE VARCHAR(3)",
    "INDEX_TYPE VARCHAR(16)", "COMMENT VARCHAR(16)", "INDEX_COMMENT VARCHAR(1024)",
)

# Doris's own tables, by lower-case name: these replace mysql-mimic's MySQL-shaped ones of the same names.
DORIS_TABLES: dict[str, SystemTable] = {
    "schemata": SystemTable(_SCHEMATA, _schemata_rows),
    "partitions": SystemTable(_PARTITIONS, _partition_rows),
    "views": SystemTable(_VIEWS, _view_rows),
    "statistics": SystemTable(_STATISTICS, _statistics_rows),
}
