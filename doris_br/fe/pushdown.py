"""Simple WHERE conjuncts a BE applies while it reads a table's files, so Parquet statistics skip what cannot match.

Only conditions that keep a query's answer the same are sent:
- `column op literal` (op one of = != < <= > >= IN NOT IN), which are false for NULL, so they may be applied
  before a join too; conjuncts of the WHERE of the SELECT that reads the table, naming it (or the only table);
- on a DUPLICATE table any column; on the others key columns only, which every version of a key shares, so the
  merge of versions sees all of a key's rows or none;
- a literal of the column's kind (numbers for integer columns; text for text and date columns), which the
  engine would cast to the column's type exactly as the pushed condition does.
They travel as delete conditions do (doris_br.deletes.Condition: typed, quoted literals, fixed operators).
"""

from __future__ import annotations

from sqlglot import exp

from doris_br import duck
from doris_br.deletes import Condition
from doris_br.fe.olap import Table
from doris_br.schema import INT_RANGES, base_type, duckdb_type

COMPARISONS: dict[type, str] = {exp.EQ: "=", exp.NEQ: "!=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_TEXT = ("char", "varchar", "string", "date", "datetime")
MAX_PUSHED_VALUES = 1024


def literal_text(node: exp.Expression) -> str | None:
    """A literal's text (a negative number too); None for anything else."""
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return "-" + str(node.this.this)
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    return None


def castable(value: str, type_text: str) -> bool:
    cur = duck.cursor()
    try:
        cur.execute(f"SELECT CAST($1 AS {duckdb_type(type_text)})", [value])
        return True
    except duck.ENGINE_ERRORS:
        return False
    finally:
        cur.close()


def filters(table: Table, node: exp.Table, select: exp.Select | None) -> list[Condition]:
    """The conditions of `select`'s WHERE on the table `node` reads that its scan may apply."""
    if select is None or select.args.get("where") is None:
        return []
    alone = not select.args.get("joins")
    alias = (node.alias or node.name).lower()
    where = select.args["where"].this
    conjuncts = list(where.flatten()) if isinstance(where, exp.And) else [where]
    out = []
    for c in conjuncts:
        condition = _condition(table, c.unnest(), alias, alone)
        if condition is not None:
            out.append(condition)
    return out


def column_first(node: exp.Expression) -> tuple[exp.Expression, exp.Expression, str] | None:
    """A comparison's (left, right, op), turned so that a column is on the left where either side is one
    (`5 < a` reads as `a > 5`); None if `node` is no comparison."""
    op = COMPARISONS.get(type(node))
    if op is None:
        return None
    left, right = node.this.unnest(), node.expression.unnest()
    if not isinstance(left, exp.Column) and isinstance(right, exp.Column):
        return right, left, FLIPPED[op]
    return left, right, op


def _condition(table: Table, node: exp.Expression, alias: str, alone: bool) -> Condition | None:
    comparison = column_first(node)
    if comparison is not None:
        left, right, op = comparison
        if not isinstance(left, exp.Column):
            return None
        return _typed(table, left, op, [right], alias, alone)
    negated = isinstance(node, exp.Not)
    inner = node.this.unnest() if negated else node
    if isinstance(inner, exp.In) and not inner.args.get("query") and isinstance(inner.this, exp.Column) \
            and 0 < len(inner.expressions) <= MAX_PUSHED_VALUES:
        return _typed(table, inner.this, "NOT IN" if negated else "IN", inner.expressions, alias, alone)
    return None


def _typed(table: Table, column: exp.Column, op: str, values: list[exp.Expression], alias: str,
           alone: bool) -> Condition | None:
    if (column.table and column.table.lower() != alias) or (not column.table and not alone):
        return None
    known = next((c for c in table.columns if c.name.lower() == column.name.lower()), None)
    if known is None or (table.keys_type != "DUP_KEYS" and known.name not in table.key_columns):
        return None
    base = base_type(known.type)
    texts = []
    for v in values:
        node = v.unnest()
        text = literal_text(node)
        is_string = isinstance(node, exp.Literal) and node.is_string
        if text is None or isinstance(node, exp.Boolean):
            return None
        if base in INT_RANGES and (is_string or not text.lstrip("-").isdigit()):
            return None
        if base in _TEXT and not is_string:
            return None
        if base not in INT_RANGES and base not in _TEXT:
            return None  # decimals, floats, booleans: the engine's comparison may not be a cast of the literal
        if not castable(text, known.type):
            return None
        texts.append(text)
    return Condition(column=known.name, op=op, values=tuple(texts), type=duckdb_type(known.type))
