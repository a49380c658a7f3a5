"""CREATE [OR REPLACE] VIEW, ALTER VIEW, SHOW VIEW FROM t, as Doris's CreateViewCommand, AlterViewCommand and
ShowViewCommand do them. (DROP VIEW is in ddl.py, SHOW CREATE VIEW in tables_show.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
from sqlglot import exp

from doris_br.clock import now_ms
from doris_br.errors import ER_BAD_DB, ER_TABLE_EXISTS, DorisError
from doris_br.fe import query as queries
from doris_br.fe.olap import (
    Database,
    Table,
    View,
    find_database,
    find_table,
    find_view,
    session_database,
    views_of,
)
from doris_br.fe.privileges import can_see_table, require_on_table
from doris_br.fe.statements import handles
from doris_br.fe.statements.ddl import name_taken
from doris_br.fe.statements.results import text_result
from doris_br.fe.statements.tables_show import create_view_text
from doris_br.fe.view_schema import view_columns
from doris_br.names import check_column_name, check_table_name
from doris_br.sql import DorisBR
from doris_br.sql.views import AlterView, CreateView, ShowView

ER_DUP_FIELDNAME = 1060
# sqlglot's names (across its versions) for what may follow a `*`: EXCEPT (...), REPLACE (...), RENAME (...)
_STAR_MODIFIERS = ("except", "except_", "replace", "replace_", "rename", "rename_")


@attrs.frozen
class Definition:
    """What CREATE VIEW and ALTER VIEW work out from a query and a column list: the view's stored fields."""

    sql: str
    columns: tuple[str, ...]
    column_comments: tuple[str, ...]
    column_types: tuple[tuple[str, str], ...]

    def fields(self) -> dict[str, Any]:
        """As View's keyword arguments."""
        return attrs.asdict(self, recurse=False)


async def _definition(session: Any, db: Database, node: CreateView | AlterView) -> Definition:
    columns = tuple(node.args.get("columns") or ())
    for column in columns:
        check_column_name(column)
    query = _star_expanded(session, db, node.expression)
    # The query is planned over no rows: every table it names must exist, `*` is counted as what it expands to,
    # and a column list of another length is Doris's 1353.
    column_types = await view_columns(session, query, db.name, columns)
    _check_unique(columns or _output_names(query, tuple(n for n, _ in column_types)))
    comments = tuple(node.args.get("column_comments") or ("",) * len(columns))
    return Definition(sql=query.sql(dialect=DorisBR), columns=columns, column_comments=comments,
                      column_types=column_types)


def _star_expanded(session: Any, db: Database, query: exp.Expression) -> exp.Expression:
    """The query with `*` (and `t.*`) of its select list written out as the columns they stand for now, as Doris
    stores a view, so that the view keeps its columns when its table's change. Only over one table or view of
    the catalog (no join, no CTE, no subquery): elsewhere the query is kept as written."""
    stars = [s for s in query.selects if _is_star(s)] if isinstance(query, exp.Select) else []
    if not stars or any(query.args.get(k) for k in ("joins", "with_", "with", "exclude")) or \
            any(star.find(exp.Star).args.get(k) for star in stars for k in _STAR_MODIFIERS):
        return query  # `* EXCEPT (...)` and the like: kept as written
    source = query.args.get("from_") or query.args.get("from")
    ref = source.this if source is not None else None
    if not isinstance(ref, exp.Table) or not ref.name:
        return query
    names = _relation_columns(session, ref.db or db.name, ref.name)
    if not names:
        return query
    qualifier = ref.alias_or_name
    expanded = query.copy()
    projections: list[exp.Expression] = []
    for projection in expanded.selects:
        if _is_star(projection):
            projections += [exp.column(n, table=qualifier, quoted=True) for n in names]
        else:
            projections.append(projection)
    return expanded.select(*projections, append=False)


def _is_star(projection: exp.Expression) -> bool:
    return isinstance(projection, exp.Star) or (isinstance(projection, exp.Column)
                                                and isinstance(projection.this, exp.Star))


def _relation_columns(session: Any, db_name: str, name: str) -> tuple[str, ...]:
    """The column names of a table, or of a view whose columns were kept; empty when neither is known."""
    catalog = session.fe.catalog
    db = find_database(catalog, db_name)
    if db is None:
        return ()
    table = find_table(catalog, db, name)
    if table is not None:
        return tuple(c.name for c in table.columns)
    view = find_view(catalog, db, name)
    if view is not None:
        return view.columns or tuple(n for n, _ in view.column_types)
    return ()


def _output_names(query: exp.Expression, result_names: tuple[str, ...]) -> tuple[str, ...]:
    """The names of the query's columns as its select list writes them: the engine renames a repeated one (`k`,
    `k_1`), where Doris refuses it. `result_names` (the engine's) stand in for computed columns and for `*`."""
    select = query
    while isinstance(select, (exp.Subquery, exp.SetOperation)):
        select = select.this
    if not isinstance(select, exp.Select) or len(select.selects) != len(result_names):
        return result_names  # a `*` among them: the engine's names are all there is
    return tuple(s.alias_or_name or r for s, r in zip(select.selects, result_names, strict=True))


def _check_unique(names: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for name in names:  # Doris compares a view's column names ignoring case
        if name.lower() in seen:
            raise DorisError(f"Duplicate column name '{name}'", ER_DUP_FIELDNAME)
        seen.add(name.lower())


@handles(CreateView)
async def create_view(session: Any, node: CreateView) -> None:
    db_name, name = node.this
    db = session_database(session, db_name)
    require_on_table(session.user, "CREATE_PRIV", db.name, name)
    catalog = session.fe.catalog
    existing = find_view(catalog, db, name)
    if name_taken(session, db, name, existing if node.args.get("or_replace") else None):
        if node.args.get("if_not_exists"):
            return
        raise DorisError(f"Table '{name}' already exists", ER_TABLE_EXISTS)
    if existing is None:
        check_table_name(name)
    definition = await _definition(session, db, node)
    existing = find_view(catalog, db, name)  # again: the planning above ran in threads
    if name_taken(session, db, name, existing if node.args.get("or_replace") else None):
        raise DorisError(f"Table '{name}' already exists", ER_TABLE_EXISTS)
    view = View(id=existing.id if existing else catalog.allocate_ids(), db_id=db.id, name=name,
                comment=node.args.get("comment") or "", create_time_ms=now_ms(), **definition.fields())
    catalog.commit([view])


@handles(AlterView)
async def alter_view(session: Any, node: AlterView) -> None:
    db_name, name = node.this
    db = session_database(session, db_name)
    require_on_table(session.user, "ALTER_PRIV", db.name, name)
    view = _the_view(session, db, name)
    if node.expression is None:  # MODIFY COMMENT
        session.fe.catalog.commit([attrs.evolve(view, comment=node.args.get("comment") or "")])
        return
    definition = await _definition(session, db, node)
    view = _the_view(session, db, name)  # again: it may have been dropped or replaced while the query planned
    session.fe.catalog.commit([attrs.evolve(view, **definition.fields())])


def _the_view(session: Any, db: Database, name: str) -> View:
    """ALTER VIEW's target, with Doris's errors (AlterViewInfo.init) for a missing name and for a table."""
    catalog = session.fe.catalog
    view = find_view(catalog, db, name)
    if view is not None:
        return view
    if find_table(catalog, db, name) is not None:
        raise DorisError(f"ALTER VIEW not allowed on a table:{db.name}.{name}")
    raise DorisError(f"Unknown table '{name}' in {db.name}")


# ---- SHOW VIEW -----------------------------------------------------------------------------------------------


@handles(ShowView)
async def show_view(session: Any, node: ShowView) -> Any:
    db_name, name = node.this
    db_name = db_name or session.database
    if not db_name:
        raise DorisError("No database selected", 1046)
    if not can_see_table(session.user, db_name, name):  # before any lookup, as Doris
        client = session.client_address.rsplit(":", 1)[0]
        raise DorisError(f"SHOW VIEW command denied to user '{session.user.name}'@'{client or session.user.host}' "
                         f"for table '{db_name}: {name}'", 1142)
    catalog = session.fe.catalog
    db = find_database(catalog, db_name)
    if db is None:
        raise DorisError(f"Unknown database '{db_name}'", ER_BAD_DB)
    table = find_table(catalog, db, name)
    if table is None:
        if find_view(catalog, db, name) is not None:
            raise DorisError(f"Table '{name}' is not a OLAP table")
        raise DorisError(f"Unknown table '{name}' in {db.name}")
    views = sorted(views_of(catalog, db), key=lambda v: v.id)  # Doris lists them in id order
    counts = await asyncio.to_thread(lambda: [_scans_of(session, db, v, table) for v in views])
    # As Doris, a view is listed once for every scan of the table in its plan (a self-join: twice).
    return text_result(["View", "Create View"],
                       [(v.name, create_view_text(v)) for v, count in zip(views, counts, strict=True)
                        for _ in range(count)])


def _scans_of(session: Any, db: Database, view: View, table: Table) -> int:
    """How many times the view reads `table`, views it reads inlined; 0 for a view that no longer plans (a table
    it reads was dropped): Doris would fail the whole statement on it, which helps no one find their views."""
    try:
        planned = queries.plan(session, queries.view_query(view), db.name, depth=1, check_privileges=False)
    except DorisError:
        return 0
    return sum(1 for s in planned.scans if s.table.id == table.id)
