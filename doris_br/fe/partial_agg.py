"""Two-phase aggregation: a grouped query over one DUPLICATE table is aggregated on the BEs first.

For `SELECT g, sum(v), count(*) FROM t WHERE w GROUP BY g` each BE runs
`SELECT g AS __g0, sum(v) AS __a0, count(*) AS __a1 FROM __data WHERE w GROUP BY g` over the tablets it
scans, and the FE finishes with `SELECT __g0 AS g, sum(__a0), coalesce(sum(__a1), 0) FROM partials GROUP BY
__g0`. Only COUNT, SUM, MIN, MAX and AVG (not DISTINCT) split this way, and only DUPLICATE tables, whose rows need
no merging by key before they are aggregated; any other query is run whole by the FE.
"""

from __future__ import annotations

import attrs
from sqlglot import exp

SPLITTABLE = (exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg)


@attrs.frozen
class Split:
    partial_sql: str  # DuckDB SQL over the relation __data, run by each BE
    final: exp.Expression  # the query the FE runs over the partial results (its FROM is the scan's relation)
    # When every partial aggregate is COUNT(*) with no WHERE and no GROUP BY, their names: the answer is the
    # row count the catalog recorded when the loads committed, and no tablet needs reading.
    counts_only: tuple[str, ...] = ()


def _strip_tables(node: exp.Expression) -> exp.Expression:
    """Columns without their table qualifier: on the BE the only relation is __data."""
    node = node.copy()
    for col in node.find_all(exp.Column):
        col.set("table", None)
    return node


def _loose_columns(selects: list[exp.Expression], group_exprs: list[exp.Expression]) -> bool:
    """Whether a selected column is neither inside an aggregate nor grouped by (`SELECT k, sum(v) FROM t`): such a
    query is an error, which the split would turn into a column the partials lack."""
    grouped = {c.name for g in group_exprs for c in g.find_all(exp.Column)}
    for select in selects:
        for column in select.find_all(exp.Column):
            if column.find_ancestor(exp.AggFunc) is None and column.name not in grouped:
                return True
    return False


def split(query: exp.Expression, relation: str, keys_type: str) -> Split | None:
    if keys_type != "DUP_KEYS" or not isinstance(query, exp.Select):
        return None
    if query.args.get("with_") or query.args.get("joins") or query.args.get("distinct") or query.args.get(
            "laterals"):
        return None
    source = query.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table) or source.this.name != relation:
        return None
    if any(query.find_all(exp.Window)) or any(isinstance(s, (exp.Subquery, exp.Select)) and s is not query
                                              for s in query.find_all(exp.Subquery, exp.Select)):
        return None
    aggregates = [a for a in query.find_all(exp.AggFunc)]
    group = query.args.get("group")
    if not aggregates and group is None:
        return None
    if any(not isinstance(a, SPLITTABLE) or isinstance(a.this, exp.Distinct) for a in aggregates):
        return None
    selects = query.expressions
    aliases = {s.alias: s.this for s in selects if isinstance(s, exp.Alias)}
    group_exprs: list[exp.Expression] = []
    for g in (group.expressions if group else []):
        if isinstance(g, exp.Literal) and not g.is_string:  # GROUP BY 1
            target = selects[int(g.this) - 1]
            group_exprs.append(target.this if isinstance(target, exp.Alias) else target)
        elif isinstance(g, exp.Column) and not g.table and g.name in aliases:  # GROUP BY an alias
            group_exprs.append(aliases[g.name])
        else:
            group_exprs.append(g)
    if any(any(g.find_all(exp.AggFunc)) for g in group_exprs):
        return None
    if _loose_columns(selects, group_exprs):  # the engine, run whole, answers Doris's "k not in aggregate's output"
        return None

    partial_selects: list[exp.Expression] = []
    for i, g in enumerate(group_exprs):
        partial_selects.append(exp.alias_(_strip_tables(g), f"__g{i}"))
    final = query.copy()
    final_aggs = list(final.find_all(exp.AggFunc))
    for j, (agg, final_agg) in enumerate(zip(aggregates, final_aggs, strict=True)):
        column = exp.column(f"__a{j}")
        if isinstance(agg, exp.Avg):  # AVG(x) = SUM(x) / COUNT(x), both summed over the partials
            arg = _strip_tables(agg.this)
            partial_selects.append(exp.alias_(exp.Sum(this=arg), f"__a{j}"))
            partial_selects.append(exp.alias_(exp.Count(this=arg.copy()), f"__c{j}"))
            replacement: exp.Expression = exp.Div(
                this=exp.cast(exp.Sum(this=column), "DOUBLE"),
                expression=exp.func("nullif", exp.Sum(this=exp.column(f"__c{j}")), exp.Literal.number(0)))
        elif isinstance(agg, exp.Count):
            partial_selects.append(exp.alias_(_strip_tables(agg), f"__a{j}"))
            replacement = exp.func("coalesce", exp.Sum(this=column), exp.Literal.number(0))
        else:
            partial_selects.append(exp.alias_(_strip_tables(agg), f"__a{j}"))
            replacement = type(agg)(this=column)
        final_agg.replace(replacement)
    # Result columns keep the names the user wrote (count(*)), not those of the rewritten aggregates.
    named = []
    for original, rewritten in zip(query.expressions, final.expressions, strict=True):
        if not isinstance(original, (exp.Alias, exp.Column, exp.Star)):
            rewritten = exp.alias_(rewritten, original.sql(dialect="doris", normalize_functions="lower"))
        named.append(rewritten)
    final.set("expressions", named)
    partial = exp.select(*partial_selects).from_("__data")
    where = query.args.get("where")
    if where is not None:
        partial.set("where", _strip_tables(where))
    if group_exprs:
        partial = partial.group_by(*[_strip_tables(g) for g in group_exprs])
        # Group expressions outside aggregates now read the partials' __g columns.
        stripped = [_strip_tables(g) for g in group_exprs]

        def to_group_column(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.AggFunc):
                return node
            probe = _strip_tables(node) if isinstance(node, exp.Expression) else node
            for i, g in enumerate(stripped):
                if probe == g:
                    return exp.column(f"__g{i}")
            return node

        for key in ("expressions", "having", "order"):
            value = final.args.get(key)
            if value is None:
                continue
            if isinstance(value, list):
                new = []
                for e in value:
                    alias = e.alias if isinstance(e, exp.Alias) else (e.output_name if isinstance(e, exp.Column)
                                                                       else None)
                    replaced = e.transform(to_group_column, copy=True)
                    if alias and not isinstance(replaced, exp.Alias) and replaced.output_name != alias:
                        replaced = exp.alias_(replaced, alias)
                    new.append(replaced)
                final.set(key, new)
            else:
                final.set(key, value.transform(to_group_column, copy=True))
        final.set("group", exp.Group(expressions=[exp.column(f"__g{i}") for i in range(len(group_exprs))]))
    final.set("where", None)
    counts_only: tuple[str, ...] = ()
    if where is None and not group_exprs and all(
            isinstance(a, exp.Count) and isinstance(a.this, exp.Star) for a in aggregates):
        counts_only = tuple(f"__a{j}" for j in range(len(aggregates)))
    return Split(partial_sql=partial.sql(dialect="duckdb"), final=final, counts_only=counts_only)
