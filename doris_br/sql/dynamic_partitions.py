"""SHOW DYNAMIC PARTITION TABLES [FROM db]: node class + parser mixin."""

from __future__ import annotations

from sqlglot.tokens import TokenType

from doris_br.sql.base import ParserBase, StatementNode


class ShowDynamicPartitionTables(StatementNode):
    """`this`: the database named after FROM / IN, else None (the session's)."""

    arg_types = {"this": False}


class DynamicPartitionParser(ParserBase):
    def _parse_show_dynamic_partition_tables(self) -> ShowDynamicPartitionTables:
        db = self._parse_name("a database name") if self._match_set((TokenType.FROM, TokenType.IN)) else None
        return ShowDynamicPartitionTables(this=db)

    STATEMENTS = {
        **ParserBase.STATEMENTS,
        ("SHOW", "DYNAMIC", "PARTITION", "TABLES"): _parse_show_dynamic_partition_tables,
    }
