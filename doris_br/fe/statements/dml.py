"""INSERT, SELECT and EXPLAIN over the tables of the catalog."""

from __future__ import annotations

from typing import Any

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
    return queries.to_result(await queries.execute_query(session, node))


@handles(exp.Describe)
async def explain(session: Any, node: exp.Describe) -> Any:
    """EXPLAIN <query>: the DuckDB query we run and, per table, the partitions and tablets it reads."""
    p = queries.plan(session, node.this)
    return text_result(["Explain String(Nereids Planner)"], [(line,) for line in p.explain()])
