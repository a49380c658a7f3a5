"""SHOW DYNAMIC PARTITION TABLES: each dynamic partition table the user may see, with the scheduler's news."""

from __future__ import annotations

from typing import Any

from doris_br.fe.dynamic_partitions import SHOW_COLUMNS, show_rows
from doris_br.fe.olap import session_database, tables_of
from doris_br.fe.privileges import can_see_table
from doris_br.fe.statements import handles
from doris_br.fe.statements.results import text_result
from doris_br.sql.dynamic_partitions import ShowDynamicPartitionTables


@handles(ShowDynamicPartitionTables)
async def show_dynamic_partition_tables(session: Any, node: ShowDynamicPartitionTables) -> Any:
    # As Doris: no privilege on the database is asked, only SHOW on each table listed.
    db = session_database(session, node.args.get("this"))
    tables = [t for t in tables_of(session.fe.catalog, db) if can_see_table(session.user, db.name, t.name)]
    return text_result(SHOW_COLUMNS, show_rows(session.fe, tables))
