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

from doris_br.errors import DorisError

INFO_SCHEMA = "information_schema"


def relation(session: Any, name: str) -> pa.Table:
    """information_schema.<name> for this session's user."""
    from doris_br.fe.statements.tables_show import info_schema  # the statements layer knows the privileges

    wanted = name.lower()
    columns = MIMIC_INFO_SCHEMA[INFO_SCHEMA].get(wanted)
    if columns is None:
        raise DorisError(f"Table [{name}] does not exist in database [{INFO_SCHEMA}].", 1146)
    rows = info_schema_tables(mapping_to_columns(info_schema(session)))[INFO_SCHEMA][wanted].rows
    names = list(columns)
    return pa.table({n: _column([r[i] for r in rows], columns[n]) for i, n in enumerate(names)})


def _column(values: list[Any], sql_type: str) -> pa.Array:
    kind = sql_type.upper()
    if kind.startswith(("INT", "BIGINT", "SMALLINT", "TINYINT")):
        return pa.array(values, pa.int64())
    return pa.array([None if v is None else str(v) for v in values], pa.string())
