"""INSERT, SELECT and EXPLAIN over the tables of the catalog."""

from __future__ import annotations

import re
from typing import Any

from mysql_mimic import ColumnType, ResultColumn
from sqlglot import exp

from doris_br.fe import load
from doris_br.fe import query as queries
from doris_br.fe.statements import handles
from doris_br.fe.statements.results import Affected, text_result


@handles(exp.Insert)
async def insert(session: Any, node: exp.Insert) -> Affected:
    return Affected(await load.insert(session, node))


@handles(exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)
async def select(session: Any, node: exp.Expression) -> Any:
    constant = _constant_row(node)
    if constant is not None:
        return constant
    return queries.to_result(await queries.execute_query(session, node))


# What the engine types a constant column as; the FE answers such a SELECT itself (see _constant_row).
_INT32 = range(-(2 ** 31), 2 ** 31)
_INT64 = range(-(2 ** 63), 2 ** 63)


def _constant_row(node: exp.Expression) -> tuple[list[tuple], list[ResultColumn]] | None:
    """`SELECT 1`, `SELECT 'x' AS a`, and what the session's values became (`SELECT DATABASE()`, `@@version`):
    one row of integer, string or NULL literals with no FROM, answered without the engine in microseconds, with
    the names and types the engine would give. None for anything else."""
    if not isinstance(node, exp.Select) or any(node.args.get(k) for k in node.args if k != "expressions"):
        return None
    row, columns = [], []
    for projection in node.expressions:
        value = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(value, exp.Null):
            typed: tuple[object, ColumnType] = (None, ColumnType.STRING)
        elif isinstance(value, exp.Literal) and value.is_string:
            typed = (value.this, ColumnType.STRING)
        elif isinstance(value, exp.Literal) and re.fullmatch(r"-?[0-9]{1,19}", value.this) \
                and int(value.this) in _INT64:
            number = int(value.this)
            typed = (number, ColumnType.LONG if number in _INT32 else ColumnType.LONGLONG)
        else:
            return None
        name = projection.alias if isinstance(projection, exp.Alias) else value.sql(dialect="duckdb")
        row.append(typed[0])
        columns.append(ResultColumn(name, typed[1]))
    return [tuple(row)], columns


@handles(exp.Describe)
async def explain(session: Any, node: exp.Describe) -> Any:
    """EXPLAIN <query>: the DuckDB query we run and, per table, the partitions and tablets it reads."""
    p = queries.plan(session, node.this)
    return text_result(["Explain String(Nereids Planner)"], [(line,) for line in p.explain()])
