"""CREATE / DROP INDEX (and ALTER TABLE ADD / DROP INDEX), BUILD INDEX, SHOW INDEX.

An index is metadata of its table (Table.indexes, journaled with it): adding one is a light schema change in
Doris, done when the statement returns, and BUILD INDEX has nothing left to build here (MATCH predicates are
answered from the column itself, see fe/indexes.py).
"""

from __future__ import annotations

from typing import Any

import attrs

from doris_br.errors import DorisError
from doris_br.fe.indexes import check_bloom_conflicts, check_index, listed_indexes, stored
from doris_br.fe.load import table_lock
from doris_br.fe.olap import Table, get_table, partitions_of, session_database, session_table
from doris_br.fe.statements import handles
from doris_br.fe.statements.results import text_result
from doris_br.fe.statements.tables_show import _denied, _visible_table
from doris_br.schema import Index
from doris_br.sql.indexes import BuildIndex, CreateIndex, DropIndex, ShowIndex

SHOW_INDEX_COLUMNS = ["Table", "Non_unique", "Key_name", "Seq_in_index", "Column_name", "Collation", "Cardinality",
                      "Sub_part", "Packed", "Null", "Index_type", "Comment", "Properties"]


def _find(table: Table, name: str) -> Index | None:
    return next((i for i in table.indexes if i.name.lower() == name.lower()), None)


def _bloom_columns(table: Table) -> list[str]:
    return [c.strip() for c in table.properties.get("bloom_filter_columns", "").split(",") if c.strip()]


def _check_new(table: Table, index: Index) -> None:
    """SchemaChangeHandler.processAddIndex's refusals, then the index itself against the table."""
    wanted = {c.lower() for c in index.columns}
    for existing in table.indexes:
        if existing.type == index.type and {c.lower() for c in existing.columns} == wanted:
            raise DorisError(f"{index.type} index for columns ({','.join(index.columns)} ) already exist.")
    check_index(index, table.columns, table.keys_type)
    check_bloom_conflicts([*table.indexes, index], _bloom_columns(table))


@handles(CreateIndex)
async def create_index(session: Any, node: CreateIndex) -> None:
    db, table = session_table(session, node.this, needs="ALTER_PRIV")
    index: Index = node.args["index"]
    catalog = session.fe.catalog
    session.fe.jobs.refuse_ddl([table], "ALTER TABLE")
    async with table_lock(table.id):
        table = get_table(catalog, db, table.name)
        if _find(table, index.name) is not None:
            if node.args.get("if_not_exists"):
                return
            raise DorisError(f"index `{index.name}` already exist.")
        _check_new(table, index)
        added = stored(index, catalog.allocate_ids(), table.columns)
        catalog.commit([attrs.evolve(table, indexes=(*table.indexes, added))])


@handles(DropIndex)
async def drop_index(session: Any, node: DropIndex) -> None:
    db, table = session_table(session, node.this, needs="ALTER_PRIV")
    name, catalog = node.args["name"], session.fe.catalog
    session.fe.jobs.refuse_ddl([table], "ALTER TABLE")
    async with table_lock(table.id):
        table = get_table(catalog, db, table.name)
        victim = _find(table, name)
        if victim is None:
            if node.args.get("if_exists"):
                return
            raise DorisError(f"index {name} does not exist")
        catalog.commit([attrs.evolve(table, indexes=tuple(i for i in table.indexes if i is not victim))])


@handles(BuildIndex)
async def build_index(session: Any, node: BuildIndex) -> None:
    """Doris's checks (BuildIndexOp.analyze); the build itself is done at once (no index files to write)."""
    _, table = session_table(session, node.this, needs="ALTER_PRIV")
    name = node.args["name"]
    index = _find(table, name)
    if index is None:
        raise DorisError(f"Index[{name}] is not exist in table[{table.name}]")
    if index.type != "INVERTED":
        raise DorisError(f"BUILD INDEX operation failed: The index {index.name} of type {index.type} does not "
                         "support lightweight index changes.")
    partitions = node.args.get("partitions") or ()
    if partitions and table.partition_kind == "UNPARTITIONED":
        raise DorisError(f"table {table.name} is not partitioned, cannot build index with partitions.")
    known = {p.name for p in partitions_of(session.fe.catalog, table)}
    for partition in partitions:
        if partition not in known:
            raise DorisError(f"Partition {partition} does not exist")


@handles(ShowIndex)
async def show_index(session: Any, node: ShowIndex) -> Any:
    db_name, name = node.this
    db = session_database(session, db_name)
    if not _visible_table(session, db, name):
        raise _denied(session, "SHOW INDEX", f"{db.name}: {name}")
    table = get_table(session.fe.catalog, db, name)
    return text_result(SHOW_INDEX_COLUMNS, [listed.show_row(table.name) for listed in listed_indexes(table)])
