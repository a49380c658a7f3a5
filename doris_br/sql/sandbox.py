"""What SQL a user writes may call and read: Doris's functions, the catalog's tables, nothing of the engine's.

Queries run in DuckDB, which has its own table functions (read_csv, glob, query ...), catalog functions
(duckdb_settings, current_setting ...) and syntax. Before a query reaches it, `check` walks its tree and allows
only:
- functions that Doris has (functions.txt, from Doris's own function registries), by the name the user wrote
  (recorded by our parser in each node's meta, see doris_br.sql.base), and the syntax forms our parser reads as
  function calls (CAST, EXTRACT, CASE, ...);
- relations that are names (catalog tables and views, CTEs), subqueries, VALUES, and the table function
  numbers(), which the planner implements itself; a string or any other table function is refused;
- query nodes: no statement (DDL, DML, SET, PRAGMA, COPY, ...) hidden inside a query.
The sandbox engine (doris_br.duck) enforces the same from below: no file, network, extension or setting.

`bound_values` then caps what one value can grow to (repeat, lpad, rpad, space): a single call could otherwise
ask for gigabytes, which no memory limit of the engine sees coming.
"""

from __future__ import annotations

from importlib import resources

from sqlglot import exp

from doris_br.errors import DorisError

# The name a function was written with, set by our parser on every function node it builds.
WRITTEN_AS = "written_as"


def _load_functions() -> dict[str, frozenset[str]]:
    sections: dict[str, set[str]] = {}
    current: set[str] = set()
    for line in resources.files("doris_br.sql").joinpath("functions.txt").read_text().splitlines():
        line = line.strip()
        if line.startswith("# ") and " " not in line[2:]:
            current = sections.setdefault(line[2:], set())
        elif line and not line.startswith("#"):
            current.add(line)
    return {k: frozenset(v) for k, v in sections.items()}


_SECTIONS = _load_functions()
# Syntax that sqlglot parses into function nodes, and what MySQL clients call that mysql-mimic answers itself.
SYNTAX_FUNCTIONS = frozenset({
    "cast", "try_cast", "convert", "extract", "case", "interval", "trim", "position", "substring", "if", "coalesce",
    "database", "schema", "current_schema", "connection_id", "session_user", "system_user", "current_version",
    "current_timestamp", "current_time", "curdate", "curtime", "values", "exists", "any", "all", "some",
    "char", "last_insert_id", "found_rows", "row_count", "timestampdiff", "timestampadd", "adddate", "subdate",
    "match_any", "match_all", "match_phrase",
})
SCALAR_FUNCTIONS = (_SECTIONS.get("scalar", frozenset()) | _SECTIONS.get("aggregate", frozenset())
                    | _SECTIONS.get("window", frozenset()) | SYNTAX_FUNCTIONS)
TABLE_FUNCTIONS_WE_RUN = frozenset({"numbers"})
# Statements that may not sit inside a query.
_STATEMENTS = (exp.DDL, exp.DML, exp.Command, exp.Set, exp.Use, exp.Describe, exp.Pragma, exp.Copy,
               exp.Transaction, exp.Commit, exp.Rollback, exp.Show, exp.Kill)
ER_NO_FUNCTION = "Can not found function '{name}'"


def unknown_function(name: str) -> DorisError:
    return DorisError(ER_NO_FUNCTION.format(name=name))


def function_name(node: exp.Func) -> str:
    """The name a function node was written with, lower case; "" for a node no call was written for."""
    written = node.meta.get(WRITTEN_AS) if node.meta else None
    if written:
        return str(written).lower()
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    return ""


def check(tree: exp.Expression) -> None:
    """Refuse anything in `tree` (a query, or a statement holding queries) that is not Doris's to run."""
    for node in tree.walk():
        if isinstance(node, exp.Table):
            _check_relation(node)
        elif isinstance(node, exp.Func):
            _check_function(node)
        elif isinstance(node, _STATEMENTS) and node is not tree:
            raise DorisError("Syntax error, unsupported or malformed statement inside a query")


def _check_relation(table: exp.Table) -> None:
    target = table.this
    if isinstance(target, exp.Func):
        name = function_name(target) or target.sql_name().lower()
        if name not in TABLE_FUNCTIONS_WE_RUN:
            if name in _SECTIONS.get("table_valued", frozenset()):
                raise DorisError(f"Table function {name}() is not supported")
            raise unknown_function(name)
        return
    if target is not None and not isinstance(target, (exp.Identifier, exp.Star)):
        raise DorisError("Syntax error, a table name was expected in FROM")
    catalog = table.text("catalog")
    if catalog and catalog.lower() != "internal":
        raise DorisError(f"Unknown catalog '{catalog}'")


def _check_function(node: exp.Func) -> None:
    if isinstance(node.parent, exp.Table) and node.arg_key == "this":
        return  # a table function: _check_relation decides
    # A node with no recorded name was built by sqlglot itself (from syntax such as `x::int`, or inside what a
    # Doris function call becomes), never from a name the user chose; an anonymous one is its own name.
    name = function_name(node)
    if name and name not in SCALAR_FUNCTIONS:
        raise unknown_function(name)


# ---- values that grow --------------------------------------------------------------------------------------

# The most bytes one string value may grow to, as Doris's BE string limit (string_type_length_soft_limit_bytes
# is 1 MiB; values up to 2 GiB exist): we allow 64 MiB per value built by a function.
MAX_BUILT_STRING = 64 << 20
_GROWING = (exp.Repeat, exp.Pad, exp.Space)


def bound_values(tree: exp.Expression) -> None:
    """Wrap every call that builds a value of a size its arguments ask for in a check of that size (in place)."""
    for node in reversed(list(tree.find_all(*_GROWING))):  # innermost first: each copy holds its guarded parts
        size = _built_size(node)
        limit = exp.Literal.number(MAX_BUILT_STRING)
        message = exp.Literal.string(f"[INVALID_ARGUMENT]{function_name(node) or node.sql_name().lower()}: the "
                                     f"result would be longer than {MAX_BUILT_STRING} bytes")
        guarded = exp.Case(ifs=[exp.If(this=exp.GT(this=size, expression=limit),
                                       true=exp.Anonymous(this="error", expressions=[message]))],
                           default=node.copy())
        node.replace(guarded)


def _built_size(node: exp.Expression) -> exp.Expression:
    def number(e: exp.Expression | None) -> exp.Expression:
        return exp.Cast(this=e.copy() if e is not None else exp.Literal.number(0), to=exp.DataType.build("DOUBLE"))

    if isinstance(node, exp.Repeat):
        text = exp.Anonymous(this="strlen", expressions=[exp.Cast(this=node.this.copy(),
                                                                  to=exp.DataType.build("VARCHAR"))])
        return exp.Mul(this=number(text), expression=number(node.args.get("times")))
    if isinstance(node, exp.Pad):  # lpad / rpad: the length asked for, in characters (4 bytes at most each)
        return exp.Mul(this=number(node.expression), expression=exp.Literal.number(4))
    return number(node.this)  # space(n)
