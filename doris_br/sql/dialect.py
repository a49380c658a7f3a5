"""The DorisBR dialect: sqlglot's Doris dialect plus our statement families."""

from __future__ import annotations

import logging

from sqlglot import exp
from sqlglot.dialects.doris import Doris

from doris_br.sql.admin import AdminParser
from doris_br.sql.ddl import DdlParser

# sqlglot logs a warning for every Command fallback; our parser turns those into errors anyway.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


class DorisBRParser(AdminParser, DdlParser):
    STATEMENTS = {**AdminParser.STATEMENTS, **DdlParser.STATEMENTS}


class DorisBR(Doris):
    Parser = DorisBRParser


_DIALECT = DorisBR()


def parse(sql: str) -> list[exp.Expression]:
    """Every statement in `sql`; raises sqlglot's ParseError or TokenError on malformed input."""
    return [e for e in _DIALECT.parse(sql) if e is not None]
