"""DELETE and UPDATE (the logic is in doris_br.fe.mutations)."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from doris_br.fe import mutations
from doris_br.fe.statements import handles
from doris_br.fe.statements.results import Affected


@handles(exp.Delete)
async def delete(session: Any, node: exp.Delete) -> Affected:
    return Affected(await mutations.delete(session, node))


@handles(exp.Update)
async def update(session: Any, node: exp.Update) -> Affected:
    return Affected(await mutations.update(session, node))
