"""HELP <topic>: answered from grammar/ (doris_br.help). Anyone may ask, as in Doris: no privilege needed."""

from __future__ import annotations

from typing import Any

from doris_br.errors import DorisError
from doris_br.fe.statements import handles
from doris_br.fe.statements.results import text_result
from doris_br.help import default_index
from doris_br.sql.admin import Help


@handles(Help)
async def help_statement(session: Any, node: Help) -> Any:
    # The parser has already taken the quotes off `help 'create user'`, the form mysql clients send.
    mark = node.args["this"]
    if not mark.strip():
        raise DorisError("Help empty info.")
    answer = default_index().lookup(mark)
    return text_result(answer.columns, answer.rows)
