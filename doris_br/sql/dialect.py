"""The DorisBR dialect: sqlglot's Doris dialect plus our statement families."""

from __future__ import annotations

import logging

from sqlglot import exp
from sqlglot.dialects.doris import Doris
from sqlglot.errors import ParseError
from sqlglot.trie import new_trie

from doris_br.sql.admin import AdminParser
from doris_br.sql.backup import BackupParser
from doris_br.sql.ddl import DdlParser
from doris_br.sql.dml import DmlParser
from doris_br.sql.dynamic_partitions import DynamicPartitionParser
from doris_br.sql.indexes import IndexParser
from doris_br.sql.limits import ExpressionLimits, check_expressions, check_text, too_deep
from doris_br.sql.values import fast_insert
from doris_br.sql.views import ViewParser

# sqlglot logs a warning for every Command fallback; our parser turns those into errors anyway.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


class DorisBRParser(DmlParser, AdminParser, DdlParser, BackupParser, DynamicPartitionParser, ViewParser,
                    IndexParser):
    # IndexParser last: its ALTER TABLE takes ADD / DROP INDEX and hands the rest to DdlParser's.
    STATEMENTS = {**AdminParser.STATEMENTS, **DdlParser.STATEMENTS, **BackupParser.STATEMENTS,
                  **DynamicPartitionParser.STATEMENTS, **ViewParser.STATEMENTS, **IndexParser.STATEMENTS}
    LONGEST_STATEMENT = max(len(k) for k in STATEMENTS)
    # SHOW [FULL] FIELDS is SHOW [FULL] COLUMNS in Doris's grammar (and MySQL's); mycli's `\dt t` sends it.
    SHOW_PARSERS = {**Doris.Parser.SHOW_PARSERS, "FIELDS": Doris.Parser.SHOW_PARSERS["COLUMNS"],
                    "FULL FIELDS": Doris.Parser.SHOW_PARSERS["FULL COLUMNS"]}
    SHOW_TRIE = new_trie(key.split(" ") for key in SHOW_PARSERS)


class DorisBR(Doris):
    Parser = DorisBRParser


_DIALECT = DorisBR()


DEFAULT_LIMITS = ExpressionLimits()


def parse(sql: str, limits: ExpressionLimits = DEFAULT_LIMITS) -> list[exp.Expression]:
    """Every statement in `sql`, within Doris's size limits (a DorisError otherwise); raises sqlglot's ParseError
    or TokenError on malformed input."""
    fast = fast_insert(sql, _parse)  # long INSERT ... VALUES of plain literals skip sqlglot's per-literal nodes
    if fast is not None:
        return [fast]
    check_text(sql, limits)
    try:
        statements = _parse(sql)
    except RecursionError:
        raise too_deep(limits) from None
    except (IndexError, KeyError, TypeError, ValueError, AttributeError):
        # sqlglot's parser trips on some malformed input (`SHOW TABLE` runs off the token list): still a
        # syntax error to the user, quoting where the statement starts.
        near = sql.strip()[:30]
        raise ParseError("malformed statement", errors=[{
            "description": "Syntax error, unsupported or malformed statement", "line": 1, "col": len(near),
            "highlight": near}]) from None
    for statement in statements:
        check_expressions(statement, limits)
    return statements


def _parse(sql: str) -> list[exp.Expression]:
    return [e for e in _DIALECT.parse(sql) if e is not None]
