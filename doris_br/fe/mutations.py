"""DELETE and UPDATE, as Doris runs them: each is a load (fe/load.Load), so it is atomic and one new version of
every partition it touches.

- Merge-on-write UNIQUE tables: DELETE reads the rows it deletes through the query engine and loads them again
  with the hidden delete sign set (so any predicate, and DELETE ... USING, works); the merge of reads then drops
  the key (fe/query.py merge_sql).
- DUPLICATE, AGGREGATE and merge-on-read UNIQUE tables: DELETE is a delete predicate (doris_br/deletes.py) of
  Doris's simple form (column op literal, AND-ed), stored as a version of no rows of each touched partition;
  AGGREGATE and merge-on-read UNIQUE tables allow key columns only (Doris's DeleteFromCommand.checkColumn).
- UPDATE (UNIQUE tables only) reads the rows it changes with the SET expressions applied and loads them: being
  later, they win over the old rows of their keys (unless a sequence column says otherwise, as in Doris).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pyarrow as pa
from sqlglot import exp

from doris_br.deletes import Condition, DeletePredicate
from doris_br.errors import DorisError
from doris_br.fe import load as loads
from doris_br.fe import query as queries
from doris_br.fe.olap import DELETE_SIGN, Database, Partition, Table, partitions_of, session_table
from doris_br.fe.pushdown import castable, column_first, literal_text
from doris_br.schema import base_type, duckdb_type

WHERE_FORM = ("Where clause only supports compound predicate, binary predicate, is_null predicate or in predicate. "
              "But we meet {predicate}")
VALUE_COLUMN = ("delete predicate on value column only supports Unique table with merge-on-write enabled and "
                "Duplicate table, but Table[{table}] is {kind}.")
USING_NOT_UNIQUE = "delete command on with using clause only supports unique key model"
# Doris's Config.max_allowed_in_element_num_of_delete.
MAX_IN_ELEMENTS = 1024
_NEGATED = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _sql(node: exp.Expression) -> str:
    return node.sql(dialect="doris")


# ---- the target ----------------------------------------------------------------------------------------------


def _target(session: Any, node: exp.Delete | exp.Update) -> tuple[Database, Table, exp.Table, list[str] | None]:
    """The table a statement changes (LOAD_PRIV, as Doris), its node (alias kept) and the partitions it names."""
    target = node.this
    if not isinstance(target, exp.Table) or not target.name:
        raise DorisError(f"table must be olapTable in delete command: {_sql(target)}")
    db, table = session_table(session, (target.db or None, target.name), needs="LOAD_PRIV")
    named = None
    partition = target.args.get("partition")
    if partition is not None:
        named = [e.name for e in partition.expressions]
    alias = target.args.get("alias")
    if alias is not None and alias.name.upper() == "PARTITIONS" and alias.columns:  # PARTITIONS (p1, p2)
        named = [c.name for c in alias.columns]
        alias = None
    relation = exp.Table(this=target.this.copy(), db=target.args.get("db"))
    if alias is not None:
        relation.set("alias", alias.copy())
    return db, table, relation, named


def _partitions(session: Any, table: Table, named: list[str] | None) -> list[Partition]:
    partitions = partitions_of(session.fe.catalog, table)
    if named is None:
        return partitions
    by_name = {p.name.lower(): p for p in partitions}
    chosen = []
    for name in named:
        p = by_name.get(name.lower())
        if p is None:
            raise DorisError(f"Partition: {name} does not exist in table: {table.name}")
        chosen.append(p)
    return chosen


# ---- rows read and loaded again (merge-on-write DELETE, UPDATE) -----------------------------------------------


async def _read(session: Any, table: Table, query: exp.Select, partitions: list[Partition]) -> pa.Table:
    """The query's rows, the target's scan limited to `partitions` and showing its hidden columns."""

    def planned() -> queries.Plan:
        p = queries.plan(session, query)
        for s in p.scans:
            if s.table.id == table.id:
                s.show_hidden = True
                ids = {part.id for part in partitions}
                s.partitions = [part for part in s.partitions if part.id in ids]
        return p

    return await queries.execute_planned(session, planned)


def _select(relation: exp.Table, items: list[exp.Expression], others: list[exp.Expression],
            where: exp.Expression | None) -> exp.Select:
    """SELECT items FROM the target, joined with the USING / FROM relations (and their joins), WHERE ..."""
    query = exp.select(*items).from_(relation.copy())
    joins = []
    for other in others:
        first = other.copy()
        inner = first.args.get("joins") or []
        first.set("joins", None)
        joins.append(exp.Join(this=first, kind="CROSS"))
        joins.extend(j.copy() for j in inner)
    if joins:
        query.set("joins", joins)
    if where is not None:
        query.set("where", where.copy())
    return query


def _label(kind: str) -> str:
    """Doris labels its DML loads like INSERT's: the statement's kind and a unique id."""
    return f"{kind}_{uuid.uuid4().hex}"


async def _load_rows(session: Any, db: Database, table: Table, rows: pa.Table, named: list[str] | None,
                     kind: str) -> int:
    if rows.num_rows == 0:
        return 0
    names = [f"__c{i}" for i in range(rows.num_columns)]
    outcome = await loads.load_arrow(session.fe, db, table, rows.rename_columns(names), names,
                                     [c.name for c in table.stored_columns], named, _label(kind))
    return outcome.rows


def _column_ref(relation: exp.Table, name: str) -> exp.Column:
    return exp.column(name, table=relation.alias_or_name, quoted=True)


async def _delete_rows(session: Any, db: Database, table: Table, relation: exp.Table, named: list[str] | None,
                       node: exp.Delete) -> int:
    """Merge-on-write: the matching rows loaded again with the delete sign set."""
    items: list[exp.Expression] = []
    for c in table.stored_columns:
        if c.name == DELETE_SIGN:
            items.append(exp.alias_(exp.Literal.number(1), DELETE_SIGN, quoted=True))
        else:
            items.append(_column_ref(relation, c.name))
    using = node.args.get("using") or []
    query = _select(relation, items, list(using), node.args.get("where"))
    rows = await _read(session, table, query, _partitions(session, table, named))
    return await _load_rows(session, db, table, rows, named, "delete")


async def update(session: Any, node: exp.Update) -> int:
    db, table, relation, named = _target(session, node)
    if table.keys_type != "UNIQUE_KEYS":
        raise DorisError("Only unique table could be updated.")
    assigned = _assignments(table, relation, node)
    items: list[exp.Expression] = []
    for c in table.stored_columns:
        expression = assigned.get(c.name.lower())
        if expression is None:
            items.append(_column_ref(relation, c.name))
        else:
            items.append(exp.alias_(exp.Cast(this=expression.copy(), to=exp.DataType.build(duckdb_type(c.type))),
                                    c.name, quoted=True))
    source = node.args.get("from_") or node.args.get("from")
    others = [source.this] if source is not None else []
    query = _select(relation, items, others, node.args.get("where"))
    rows = await _read(session, table, query, _partitions(session, table, named))
    return await _load_rows(session, db, table, rows, named, "update")


def _assignments(table: Table, relation: exp.Table, node: exp.Update) -> dict[str, exp.Expression]:
    """SET col = expr, by column name; keys and unknown columns refused with Doris's texts."""
    assigned: dict[str, exp.Expression] = {}
    unknown = []
    for eq in node.expressions:
        if not isinstance(eq, exp.EQ) or not isinstance(eq.this, exp.Column):
            raise DorisError(f"Set function expr only support eq binary predicate. Expr: {_sql(eq)}")
        column = eq.this
        if column.table and column.table.lower() not in (relation.alias_or_name.lower(), relation.name.lower()):
            raise DorisError(f"column in assignment list is invalid, {_sql(column)}")
        known = next((c for c in table.columns if c.name.lower() == column.name.lower()), None)
        if known is None:
            unknown.append(column.name)
            continue
        if known.is_key or known.name in table.key_columns:
            raise DorisError("Only value columns of unique table could be updated")
        assigned[known.name.lower()] = eq.expression
    if unknown:
        raise DorisError("unknown column in assignment list: " + ", ".join(unknown))
    return assigned


# ---- DELETE ---------------------------------------------------------------------------------------------------


async def delete(session: Any, node: exp.Delete) -> int:
    """DELETE FROM: the rows deleted on merge-on-write tables; 0 where it is a delete predicate, as Doris."""
    db, table, relation, named = _target(session, node)
    where = node.args.get("where")
    if table.merge_on_write:
        return await _delete_rows(session, db, table, relation, named, node)
    if node.args.get("using"):
        raise DorisError(USING_NOT_UNIQUE)
    if where is None:
        if table.has_delete_sign:  # Doris's reads of UNIQUE tables filter on the sign: that is no predicate
            raise DorisError("delete all rows is forbidden temporary.")
        raise DorisError("delete command must contain filter")
    predicate = await asyncio.to_thread(delete_predicate, table, relation, where.this)
    partitions = _partitions(session, table, named)
    if named is None:
        partitions = queries.prune(table, partitions, where, relation.alias_or_name)
    if not partitions:
        return 0
    async with loads.Load(session.fe, db, table, label=_label("delete")) as load:
        load.delete_where(partitions, predicate)
        await load.commit()
    return 0


def delete_predicate(table: Table, relation: exp.Table, where: exp.Expression) -> DeletePredicate:
    """Doris's simple delete condition (DeleteFromCommand.checkColumn, checkPredicate), per conjunct."""
    conditions: list[Condition] = []
    for conjunct in _conjuncts(where):
        for column in conjunct.find_all(exp.Column):
            _check_column(table, relation, column)
        conditions.extend(_conditions(table, conjunct))
    return DeletePredicate(version=0, conditions=tuple(conditions))


def _conjuncts(where: exp.Expression) -> list[exp.Expression]:
    node = where.unnest()
    if isinstance(node, exp.And):
        return [c for part in node.flatten() for c in _conjuncts(part)]
    return [node]


def _check_column(table: Table, relation: exp.Table, column: exp.Column) -> None:
    if column.table and column.table.lower() not in (relation.alias_or_name.lower(), relation.name.lower()):
        raise DorisError(f"Unknown column '{column.name}' in '{column.table}' in FILTER clause", 1054)
    known = next((c for c in table.columns if c.name.lower() == column.name.lower()), None)
    if known is None:
        raise DorisError(f"Unknown column '{column.name}' in 'table list' in FILTER clause", 1054)
    if base_type(known.type) in ("float", "double"):
        raise DorisError(f"Column[{known.name}] type is float or double.")
    if known.name not in table.key_columns:
        if table.keys_type == "AGG_KEYS":
            raise DorisError(VALUE_COLUMN.format(table=table.name, kind="an Aggregate table"))
        if table.keys_type == "UNIQUE_KEYS":
            raise DorisError(VALUE_COLUMN.format(table=table.name, kind="an unique table without merge-on-write"))


def _conditions(table: Table, node: exp.Expression) -> list[Condition]:
    negated = isinstance(node, exp.Not)
    inner = node.this.unnest() if negated else node
    comparison = column_first(inner)
    if comparison is not None:
        left, right, op = comparison
        if not isinstance(left, exp.Column):
            raise DorisError(f"Left expr of binary predicate should be column name, predicate: {_sql(inner)}")
        value = literal_text(right)
        if value is None:
            raise DorisError(f"Right expr of binary predicate should be value, predicate: {_sql(inner)}")
        return [_condition(table, left, _NEGATED[op] if negated else op, (value,))]
    if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
        if not isinstance(inner.this.unnest(), exp.Column):
            raise DorisError(f"Child expr of is_null predicate should be column name, predicate: {_sql(inner)}")
        return [_condition(table, inner.this.unnest(), "IS NOT NULL" if negated else "IS NULL", ())]
    if isinstance(inner, exp.In) and not inner.args.get("query") and inner.expressions:
        if not isinstance(inner.this.unnest(), exp.Column):
            raise DorisError(f"Left expr of in predicate should be column name, predicate: {_sql(inner)}")
        if len(inner.expressions) > MAX_IN_ELEMENTS:
            raise DorisError(f"Element num of in predicate should not be more than {MAX_IN_ELEMENTS}")
        values = []
        for option in inner.expressions:
            value = literal_text(option.unnest())
            if value is None:
                raise DorisError(f"Child of in predicate should be value, but get {_sql(option)}")
            values.append(value)
        return [_condition(table, inner.this.unnest(), "NOT IN" if negated else "IN", tuple(values))]
    raise DorisError(WHERE_FORM.format(predicate=_sql(inner if negated else node)))


def _condition(table: Table, column: exp.Column, op: str, values: tuple[str, ...]) -> Condition:
    known = table.column(column.name)
    type_text = duckdb_type(known.type)
    for value in values:  # a value the column cannot hold is refused now, not at every later scan
        if not castable(value, known.type):
            raise DorisError(f"Invalid column value [{value}] for column [{known.name}]")
    return Condition(column=known.name, op=op, values=values, type=type_text)
