"""information_schema's tables as Arrow, for the query engine: queries over them run like any other query.

mysql-mimic answered these with sqlglot's Python executor, which compiles expressions to Python and runs them;
here the rows mysql-mimic defines (SCHEMATA, TABLES, COLUMNS, ...) become Arrow tables that the sandboxed engine
reads, built from what the user may see (tables_show.info_schema).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from mysql_mimic.constants import INFO_SCHEMA as MIMIC_INFO_SCHEMA
from mysql_mimic.schema import info_schema_tables, mapping_to_columns

from doris_br.fe.olap import table_not_found
from doris_br.server.compat import show_engines

INFO_SCHEMA = "information_schema"


def relation(session: Any, name: str) -> pa.Table:
    """information_schema.<name> for this session's user."""
    from doris_br.fe.statements.tables_show import info_schema  # the statements layer knows the privileges

    wanted = name.lower()
    if wanted == "engines":  # the rows of SHOW ENGINES, which BI tools read from here
        rows, titles = show_engines()
        return pa.table({t.upper(): pa.array([r[i] for r in rows], pa.string()) for i, t in enumerate(titles)})
    columns = MIMIC_INFO_SCHEMA[INFO_SCHEMA].get(wanted)
    if columns is None:
        raise table_not_found(name, INFO_SCHEMA)
    rows = info_schema_tables(mapping_to_columns(info_schema(session)))[INFO_SCHEMA][wanted].rows
    names = list(columns)
    if wanted == "tables":
        rows = _as_doris(session, names, rows)
    elif wanted == "columns":  # mysql-mimic counts from 0; MySQL and Doris number a table's columns from 1
        at = names.index("ordinal_position")
        rows = [(*r[:at], r[at] + 1, *r[at + 1:]) for r in rows]
    return pa.table({n: _column([r[i] for r in rows], columns[n]) for i, n in enumerate(names)})


def _column(values: list[Any], sql_type: str) -> pa.Array:
    kind = sql_type.upper()
    if kind.startswith(("INT", "BIGINT", "SMALLINT", "TINYINT")):
        return pa.array(values, pa.int64())
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _as_doris(session: Any, names: list[str], rows: list[tuple]) -> list[tuple]:
    """TABLES rows with Doris's TABLE_TYPE and ENGINE (mysql-mimic calls every relation a BASE TABLE of its own
    engine): tools such as dbt tell views from tables by TABLE_TYPE, and drop or replace them by it."""
    from doris_br.fe.olap import Database, Table, View  # the catalog's objects, by database name

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
