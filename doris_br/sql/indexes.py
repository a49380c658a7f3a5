"""Indexes: INDEX definitions in CREATE TABLE, CREATE / DROP / BUILD INDEX, ALTER TABLE ADD / DROP INDEX,
SHOW INDEX. (sqlglot's Doris parser reads `col MATCH_ANY 'q'` into exp.Match; fe/indexes.py answers it.)

Grammar as Doris's (DorisParser `indexDef`, `createIndex`, `dropIndex`, `buildIndex`, `showIndex`, `predicate`).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import TokenType

from doris_br.schema import Index
from doris_br.sql.base import ParserBase, StatementNode

INDEX_TYPES = ("INVERTED", "NGRAM_BF", "BITMAP")

# ---- nodes -------------------------------------------------------------------------------------------------


class CreateIndex(StatementNode):
    """CREATE INDEX and ALTER TABLE ... ADD INDEX: `this` is (db, table), `index` a schema.Index."""

    arg_types = {"this": True, "index": True, "if_not_exists": False}


class DropIndex(StatementNode):
    """DROP INDEX ... ON t and ALTER TABLE t DROP INDEX ..."""

    arg_types = {"this": True, "name": True, "if_exists": False}


class BuildIndex(StatementNode):
    arg_types = {"this": True, "name": True, "partitions": False}


class ShowIndex(StatementNode):
    arg_types = {"this": True}


# ---- parser ------------------------------------------------------------------------------------------------


class IndexParser(ParserBase):
    def _parse_index_columns(self) -> tuple[str, ...]:
        self._expect_paren(TokenType.L_PAREN)
        columns = [self._parse_name("a column name")]
        while self._match(TokenType.COMMA):
            columns.append(self._parse_name("a column name"))
        self._expect_paren(TokenType.R_PAREN)
        return tuple(columns)

    def _parse_index_tail(self, name: str, columns: tuple[str, ...]) -> Index:
        """[USING type] [PROPERTIES (...)] [COMMENT '...']; without USING an index is INVERTED (Nereids)."""
        kind = "INVERTED"
        if self._match(TokenType.USING):
            token = self._curr
            if token is None or token.text.upper() not in INDEX_TYPES:
                self.raise_error("Expected BITMAP, INVERTED or NGRAM_BF")
                return Index(name=name, columns=columns)
            # Doris (enable_create_bitmap_index_as_inverted_index, true by default since 2.1.5) makes a new
            # BITMAP index an INVERTED one.
            kind = "INVERTED" if token.text.upper() == "BITMAP" else token.text.upper()
            self._advance()
        properties = self._parse_property_map() if self._match_text_seq("PROPERTIES") else {}
        if kind == "NGRAM_BF":  # Doris's defaults, filled in as the statement is read (IndexDefinition)
            properties = {"gram_size": "2", "bf_size": "256", **properties}
        comment = self._parse_string_value("a comment") if self._match_text_seq("COMMENT") else ""
        return Index(name=name, columns=columns, type=kind, properties=properties, comment=comment)

    def _parse_index_def(self) -> tuple[Index, bool]:
        """`INDEX [IF NOT EXISTS] name (cols) ...` inside CREATE TABLE or after ALTER TABLE t ADD."""
        self._expect_words("INDEX")
        if_not_exists = self._match_text_seq("IF", "NOT", "EXISTS")
        name = self._parse_name("an index name")
        return self._parse_index_tail(name, self._parse_index_columns()), if_not_exists

    def _parse_create_index(self) -> CreateIndex:
        if_not_exists = self._match_text_seq("IF", "NOT", "EXISTS")
        name = self._parse_name("an index name")
        self._expect_words("ON")
        table = self._parse_qualified_name("a table name")
        index = self._parse_index_tail(name, self._parse_index_columns())
        return CreateIndex(this=table, index=index, if_not_exists=if_not_exists)

    def _parse_drop_index(self) -> DropIndex:
        if_exists = self._match_text_seq("IF", "EXISTS")
        name = self._parse_name("an index name")
        self._expect_words("ON")
        return DropIndex(this=self._parse_qualified_name("a table name"), name=name, if_exists=if_exists)

    def _parse_build_index(self) -> BuildIndex:
        name = self._parse_name("an index name")
        self._expect_words("ON")
        table = self._parse_qualified_name("a table name")
        partitions = None
        if self._match_texts(("PARTITION", "PARTITIONS")):
            partitions = self._parse_index_columns()
        return BuildIndex(this=table, name=name, partitions=partitions)

    def _parse_show_index(self) -> ShowIndex:
        if not self._match_texts(("FROM", "IN")):
            self.raise_error("Expected FROM or IN")
        db, table = self._parse_qualified_name("a table name")
        if self._match_texts(("FROM", "IN")):
            db = self._parse_name("a database name")
        return ShowIndex(this=(db, table))

    def _parse_alter_table_indexes(self) -> exp.Expression:
        """ALTER TABLE t ADD INDEX ... | DROP INDEX ...; every other ALTER TABLE is DdlParser's."""
        start = self._index
        table = self._parse_qualified_name("a table name")
        if self._match_text_seq("ADD") and self._curr and self._curr.text.upper() == "INDEX":
            index, if_not_exists = self._parse_index_def()
            return CreateIndex(this=table, index=index, if_not_exists=if_not_exists)
        self._retreat(start)
        self._parse_qualified_name("a table name")
        if self._match_text_seq("DROP", "INDEX"):
            if_exists = self._match_text_seq("IF", "EXISTS")
            return DropIndex(this=table, name=self._parse_name("an index name"), if_exists=if_exists)
        self._retreat(start)
        return self._parse_alter_table()  # type: ignore[attr-defined]  # DdlParser's, merged in DorisBRParser

    STATEMENTS = {
        **ParserBase.STATEMENTS,
        ("CREATE", "INDEX"): _parse_create_index,
        ("DROP", "INDEX"): _parse_drop_index,
        ("BUILD", "INDEX"): _parse_build_index,
        ("SHOW", "INDEX"): _parse_show_index,
        ("SHOW", "INDEXES"): _parse_show_index,
        ("SHOW", "KEY"): _parse_show_index,
        ("SHOW", "KEYS"): _parse_show_index,
        ("ALTER", "TABLE"): _parse_alter_table_indexes,
    }
