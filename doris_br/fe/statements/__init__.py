"""Statements: each family module maps parsed nodes to actions on the catalog, the BEs and the jobs.

A handler is `async def handler(session, node) -> result` registered with @handles(NodeClass). The session
gives the user (for privilege checks), the current database and the FE (catalog, backends, jobs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlglot import exp

from doris_br.errors import DorisError

Handler = Callable[[Any, Any], Awaitable[Any]]
HANDLERS: dict[type, Handler] = {}
SHOW_HANDLERS: dict[str, Handler] = {}
NOT_HANDLED = object()


def handles(*node_types: type) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for node_type in node_types:
            HANDLERS[node_type] = fn
        return fn

    return register


def handles_show(*kinds: str) -> Callable[[Handler], Handler]:
    """For sqlglot's own exp.Show nodes (SHOW DATABASES, SHOW CREATE TABLE ...), by their kind."""

    def register(fn: Handler) -> Handler:
        for kind in kinds:
            SHOW_HANDLERS[kind] = fn
        return fn

    return register


async def execute(session: Any, node: exp.Expression, sql: str) -> Any:
    handler = HANDLERS.get(type(node))
    if handler is None:
        raise DorisError(f"Unsupported statement: {sql.strip()[:100]}")
    return await handler(session, node)


async def show(session: Any, node: exp.Show) -> Any:
    handler = SHOW_HANDLERS.get(node.name.upper())
    if handler is None:
        return NOT_HANDLED
    return await handler(session, node)


# Importing the families registers their handlers.
from doris_br.fe.statements import (  # noqa: E402,F401
    backup,
    ddl,
    dml,
    dynamic_partitions,
    help,
    indexes,
    mutations,
    repositories,
    restore,
    roles,
    system,
    tables_show,
    users,
    verify,
    views,
)
