"""Databases, tables, views and partitions: CREATE / DROP / ALTER / TRUNCATE, their SHOWs, and INSERT labels.

CREATE TABLE is parsed by hand into doris_br.schema's TableSpec: Doris's clauses (KEY models, partitions,
buckets, PROPERTIES) are far from what sqlglot's generic CREATE understands.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import TokenType

from doris_br.schema import (
    AGGREGATIONS,
    Column,
    DistributionSpec,
    PartitionDesc,
    PartitionSpec,
    TableSpec,
    canonical_type,
)
from doris_br.sql.base import ParserBase, StatementNode

# ---- nodes -------------------------------------------------------------------------------------------------


class CreateDatabase(StatementNode):
    arg_types = {"this": True, "if_not_exists": False, "properties": False}


class DropDatabase(StatementNode):
    arg_types = {"this": True, "if_exists": False, "force": False}


class CreateTable(StatementNode):
    """`this` is (db, name); `spec` a TableSpec, or `like` the (db, name) of CREATE TABLE ... LIKE.

    CREATE TABLE ... AS SELECT: `query` is the SELECT, `spec` holds no columns (the query gives them), and
    `ctas_columns` the names of `CREATE TABLE t (a, b) AS ...`, which rename the query's columns."""

    arg_types = {"this": True, "if_not_exists": False, "spec": False, "like": False, "query": False,
                 "ctas_columns": False}


class DropTable(StatementNode):
    arg_types = {"this": True, "if_exists": False, "force": False, "view": False}


class CreateView(StatementNode):
    arg_types = {"this": True, "if_not_exists": False, "or_replace": False, "columns": False, "comment": False,
                 "expression": True}


class AlterTable(StatementNode):
    """action: ADD_PARTITION, DROP_PARTITION, RENAME, RENAME_PARTITION, SET_PROPERTIES, REPLACE (`name`: the
    table that takes this one's name), MODIFY_COMMENT, MODIFY_COLUMN_COMMENT (`name`: the column)."""

    arg_types = {"this": True, "action": True, "partition": False, "temporary": False, "if_exists": False,
                 "name": False, "new_name": False, "properties": False, "force": False, "comment": False}


class TruncateTable(StatementNode):
    arg_types = {"this": True, "partitions": False}


class ShowCreate(StatementNode):
    """SHOW CREATE TABLE|VIEW|DATABASE; kind says which."""

    arg_types = {"this": True, "kind": True}


class ShowPartitions(StatementNode):
    arg_types = {"this": True, "temporary": False, "where": False, "order": False, "limit": False, "offset": False}


class ShowTablets(StatementNode):
    arg_types = {"this": True, "partitions": False, "where": False, "order": False, "limit": False,
                 "offset": False}


class ShowTablet(StatementNode):
    arg_types = {"this": True}


class ShowData(StatementNode):
    arg_types = {"this": False}


class Describe(StatementNode):
    arg_types = {"this": True, "all": False}


# ---- parser ------------------------------------------------------------------------------------------------


class DdlParser(ParserBase):
    def _parse_if_not_exists(self) -> bool:
        return self._match_text_seq("IF", "NOT", "EXISTS")

    def _parse_if_exists(self) -> bool:
        return self._match_text_seq("IF", "EXISTS")

    def _parse_name_list(self) -> list[str]:
        """(a, b, c) — back-quoted or not."""
        self._expect_paren(TokenType.L_PAREN)
        names = [] if self._match(TokenType.R_PAREN) else None
        if names is not None:
            return names
        names = [self._parse_name("a column name")]
        while self._match(TokenType.COMMA):
            names.append(self._parse_name("a column name"))
        self._expect_paren(TokenType.R_PAREN)
        return names

    # ---- databases ---------------------------------------------------------------------------------------

    def _parse_create_database(self) -> CreateDatabase:
        if_not_exists = self._parse_if_not_exists()
        name = self._parse_name("a database name")
        props = self._parse_property_map() if self._match_text_seq("PROPERTIES") else {}
        return CreateDatabase(this=name, if_not_exists=if_not_exists, properties=props)

    def _parse_drop_database(self) -> DropDatabase:
        if_exists = self._parse_if_exists()
        name = self._parse_name("a database name")
        return DropDatabase(this=name, if_exists=if_exists, force=self._match_text_seq("FORCE"))

    # ---- tables ------------------------------------------------------------------------------------------

    def _parse_type_text(self) -> str:
        token = self._curr
        if not token:
            self.raise_error("Expected a data type")
        self._advance()
        params: list[int] = []
        if self._match(TokenType.L_PAREN):
            while not self._match(TokenType.R_PAREN):
                if self._curr.token_type == TokenType.NUMBER:
                    params.append(int(self._curr.text))
                elif self._curr.token_type != TokenType.COMMA:
                    self.raise_error("Expected a type parameter")
                self._advance()
        try:
            return canonical_type(token.text, params)
        except ValueError as e:
            self.raise_error(str(e), token)
            return ""

    def _parse_literal_text(self) -> str | None:
        """A default or key value: 'x', 1, -1.5, NULL (None), CURRENT_TIMESTAMP."""
        negative = self._match(TokenType.DASH)
        token = self._curr
        if not token:
            self.raise_error("Expected a value")
        self._advance()
        if token.token_type == TokenType.NULL:
            return None
        if token.token_type == TokenType.CURRENT_TIMESTAMP or token.text.upper() == "CURRENT_TIMESTAMP":
            if self._match(TokenType.L_PAREN):
                self._expect_paren(TokenType.R_PAREN)
            return "CURRENT_TIMESTAMP"
        return ("-" if negative else "") + token.text

    def _parse_doris_column(self) -> Column:
        name = self._parse_name("a column name")
        type_text = self._parse_type_text()
        aggregation = None
        nullable = True
        default = None
        comment = ""
        auto_increment, auto_increment_start = False, 1
        while not self._at_end() and self._curr.token_type not in (TokenType.COMMA, TokenType.R_PAREN):
            word = self._curr.text.upper()
            if word in AGGREGATIONS:
                self._advance()
                aggregation = word
            elif self._match_text_seq("NOT", "NULL"):
                nullable = False
            elif self._match(TokenType.NULL):
                nullable = True
            elif self._match_text_seq("DEFAULT"):
                default = self._parse_literal_text()
                if default is None:
                    default = "NULL"
            elif self._match_text_seq("COMMENT"):
                comment = self._parse_string_value("a comment")
            elif self._match_text_seq("AUTO_INCREMENT"):
                auto_increment = True
                if self._match(TokenType.L_PAREN):
                    auto_increment_start = self._parse_auto_increment_start()
            else:
                self.raise_error(f"Unexpected '{self._curr.text}' in column definition")
        return Column(name=name, type=type_text, nullable=nullable, default=default, comment=comment,
                      aggregation=aggregation, auto_increment=auto_increment,
                      auto_increment_start=auto_increment_start)

    def _parse_auto_increment_start(self) -> int:
        """The n) of AUTO_INCREMENT(n): a number, 0 or more (Doris's grammar takes no sign)."""
        token = self._curr
        if not token or token.token_type != TokenType.NUMBER or not token.text.isdigit():
            self.raise_error("Expected the start value of AUTO_INCREMENT")
        self._advance()
        self._expect_paren(TokenType.R_PAREN)
        return int(token.text)

    def _parse_key_tuple(self) -> tuple[str, ...] | None:
        """("a", 1) -> ('a', '1'); MAXVALUE -> None."""
        if self._match_text_seq("MAXVALUE"):
            return None
        self._expect_paren(TokenType.L_PAREN)
        values: list[str] = []
        while True:
            if self._match_text_seq("MAXVALUE"):
                break
            value = self._parse_literal_text()
            values.append("NULL" if value is None else value)
            if not self._match(TokenType.COMMA):
                break
        self._expect_paren(TokenType.R_PAREN)
        return tuple(values) or None  # (MAXVALUE)

    def _parse_partition_desc(self, kind: str) -> PartitionDesc:
        """One item of a PARTITION BY clause (the word PARTITION already read, or FROM .. TO ..)."""
        self._parse_if_not_exists()
        name = self._parse_name("a partition name")
        if not self._match_text_seq("VALUES"):
            if kind == "LIST":
                return PartitionDesc(name=name)  # Doris's default partition: takes what no other does
            self.raise_error("Expected VALUES")
        if self._match_text_seq("LESS", "THAN"):
            return PartitionDesc(name=name, upper=self._parse_key_tuple(), upper_only=True)
        if self._match(TokenType.L_BRACKET):
            lower = self._parse_key_tuple()
            self._match(TokenType.COMMA)
            upper = self._parse_key_tuple()
            self._expect_paren(TokenType.R_PAREN)
            return PartitionDesc(name=name, lower=lower, upper=upper)
        if self._match(TokenType.IN):
            self._expect_paren(TokenType.L_PAREN)
            values: list[tuple[str, ...]] = []
            while True:
                if self._curr.token_type == TokenType.L_PAREN:
                    values.append(self._parse_key_tuple() or ())
                else:
                    value = self._parse_literal_text()
                    values.append(("NULL" if value is None else value,))
                if not self._match(TokenType.COMMA):
                    break
            self._expect_paren(TokenType.R_PAREN)
            return PartitionDesc(name=name, values=tuple(values))
        self.raise_error("Expected LESS THAN, [ or IN")
        return PartitionDesc(name=name)

    def _parse_partition_items(self, kind: str) -> list[PartitionDesc]:
        self._expect_paren(TokenType.L_PAREN)
        items: list[PartitionDesc] = []
        if self._match(TokenType.R_PAREN):
            return items
        while True:
            if self._match_text_seq("PARTITION"):
                items.append(self._parse_partition_desc(kind))
            elif self._match(TokenType.FROM):
                lower = self._parse_key_tuple()
                self._expect_words("TO")
                upper = self._parse_key_tuple()
                self._expect_words("INTERVAL")
                step = int(self._curr.text)
                self._advance()
                unit = ""
                if not self._at_end() and self._curr.token_type not in (TokenType.COMMA, TokenType.R_PAREN):
                    unit = self._curr.text.upper()
                    self._advance()
                items.append(PartitionDesc(name="", lower=lower, upper=upper, interval=(step, unit)))
            else:
                self.raise_error("Expected PARTITION or FROM")
            if not self._match(TokenType.COMMA):
                break
        self._expect_paren(TokenType.R_PAREN)
        return items

    def _parse_partition_clause(self, auto: bool) -> PartitionSpec:
        if not self._match_texts(("RANGE", "LIST")):
            self.raise_error("Expected RANGE or LIST")
        kind = self._prev.text.upper()
        self._expect_paren(TokenType.L_PAREN)
        columns: list[str] = []
        auto_unit = ""
        while True:
            if self._curr.text.upper() == "DATE_TRUNC" and self._next and self._next.token_type == TokenType.L_PAREN:
                # AUTO PARTITION BY RANGE (date_trunc(col, 'unit')): the column is what partitions.
                self._advance(2)
                columns.append(self._parse_name("a column name"))
                self._match(TokenType.COMMA)
                unit = self._parse_string_value("a time unit")
                self._expect_paren(TokenType.R_PAREN)
                auto_unit = unit.lower()
            else:
                columns.append(self._parse_name("a column name"))
            if not self._match(TokenType.COMMA):
                break
        self._expect_paren(TokenType.R_PAREN)
        items = self._parse_partition_items(kind)
        return PartitionSpec(kind=kind, columns=tuple(columns), partitions=tuple(items), auto=auto,
                             auto_unit=auto_unit)

    def _parse_distribution(self) -> DistributionSpec:
        if self._match_text_seq("HASH"):
            kind, columns = "HASH", tuple(self._parse_name_list())
        elif self._match_text_seq("RANDOM"):
            kind, columns = "RANDOM", ()
        else:
            self.raise_error("Expected HASH or RANDOM")
            return DistributionSpec()
        buckets, auto = 0, False
        if self._match_text_seq("BUCKETS"):
            if self._match_text_seq("AUTO"):
                auto = True
            else:
                buckets = int(self._curr.text)
                self._advance()
        else:
            auto = True
        return DistributionSpec(kind=kind, columns=columns, buckets=buckets, auto=auto)

    def _parse_create_table(self) -> CreateTable:
        if_not_exists = self._parse_if_not_exists()
        name = self._parse_qualified_name("a table name")
        if self._match(TokenType.LIKE):
            return CreateTable(this=name, if_not_exists=if_not_exists,
                               like=self._parse_qualified_name("a table name"))
        columns: list[Column] = []
        ctas_columns: list[str] = []
        if self._curr and self._curr.token_type == TokenType.L_PAREN:
            if self._at_name_list():
                ctas_columns = self._parse_name_list()
            else:
                columns = self._parse_column_defs()
        keys_type, key_columns = "", ()
        partition, distribution, props, comment, engine = PartitionSpec(), None, {}, "", "olap"
        query: exp.Expression | None = None
        while not self._at_end():
            if self._match_text_seq("ENGINE"):
                self._match(TokenType.EQ)
                engine = self._parse_name("an engine").lower()
            elif self._match_texts(("DUPLICATE", "UNIQUE", "AGGREGATE")):
                keys_type = {"DUPLICATE": "DUP_KEYS", "UNIQUE": "UNIQUE_KEYS", "AGGREGATE": "AGG_KEYS"}[
                    self._prev.text.upper()]
                self._expect_words("KEY")
                key_columns = tuple(self._parse_name_list())
            elif self._match_text_seq("COMMENT"):
                comment = self._parse_string_value("a comment")
            elif self._match_text_seq("AUTO") and self._match(TokenType.PARTITION_BY):
                partition = self._parse_partition_clause(auto=True)
            elif self._match(TokenType.PARTITION_BY):
                partition = self._parse_partition_clause(auto=False)
            elif self._match_text_seq("DISTRIBUTED", "BY"):
                distribution = self._parse_distribution()
            elif self._match_text_seq("PROPERTIES"):
                props = self._parse_property_map()
            elif self._match(TokenType.ALIAS):
                query = self._parse_ddl_select()
                if query is None or not self._at_end():
                    self.raise_error("Expected a query after AS")
            else:
                self.raise_error(f"Unexpected '{self._curr.text}' in CREATE TABLE")
        if query is None and not columns:
            self.raise_error("Expected column definitions, or AS and a query")
        spec = TableSpec(columns=tuple(columns), keys_type=keys_type, key_columns=key_columns, partition=partition,
                         distribution=distribution, properties=props, comment=comment, engine=engine)
        return CreateTable(this=name, if_not_exists=if_not_exists, spec=spec, query=query,
                           ctas_columns=tuple(ctas_columns))

    def _at_name_list(self) -> bool:
        """`(a, b)` after CREATE TABLE t: the column names of a CTAS, not column definitions (`(a INT, ...)`)."""
        after_name = self._tokens[self._index + 2] if self._index + 2 < len(self._tokens) else None
        return after_name is not None and after_name.token_type in (TokenType.COMMA, TokenType.R_PAREN)

    def _parse_column_defs(self) -> list[Column]:
        """`(col type ..., INDEX ..., ...)`; indexes are accepted and ignored: they do not change what is stored."""
        self._expect_paren(TokenType.L_PAREN)
        columns: list[Column] = []
        while True:
            if self._curr.text.upper() == "INDEX":
                depth = 0
                while not (depth == 0 and self._curr.token_type in (TokenType.COMMA, TokenType.R_PAREN)):
                    depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(self._curr.token_type, 0)
                    self._advance()
            else:
                columns.append(self._parse_doris_column())
            if not self._match(TokenType.COMMA):
                break
        self._expect_paren(TokenType.R_PAREN)
        return columns

    def _parse_drop_table(self, view: bool = False) -> DropTable:
        if_exists = self._parse_if_exists()
        name = self._parse_qualified_name("a table name")
        return DropTable(this=name, if_exists=if_exists, force=self._match_text_seq("FORCE"), view=view)

    def _parse_create_view(self, or_replace: bool = False) -> CreateView:
        if_not_exists = self._parse_if_not_exists()
        name = self._parse_qualified_name("a view name")
        columns: list[str] = []
        if self._match(TokenType.L_PAREN):
            while True:
                columns.append(self._parse_name("a column name"))
                if self._match_text_seq("COMMENT"):
                    self._parse_string_value("a comment")
                if not self._match(TokenType.COMMA):
                    break
            self._expect_paren(TokenType.R_PAREN)
        comment = self._parse_string_value("a comment") if self._match_text_seq("COMMENT") else ""
        self._expect_words("AS")
        query = self._parse_ddl_select()
        if query is None:
            self.raise_error("Expected a query")
        return CreateView(this=name, if_not_exists=if_not_exists, or_replace=or_replace, columns=columns,
                          comment=comment, expression=query)

    def _parse_alter_table(self) -> AlterTable:
        name = self._parse_qualified_name("a table name")
        if self._match_text_seq("ADD"):
            temporary = self._match_text_seq("TEMPORARY")
            self._expect_words("PARTITION")
            kind = "LIST" if self._lookahead_list() else "RANGE"
            desc = self._parse_partition_desc(kind)
            if self._match_text_seq("DISTRIBUTED", "BY"):
                self._parse_distribution()
            return AlterTable(this=name, action="ADD_PARTITION", partition=desc, temporary=temporary)
        if self._match_text_seq("DROP"):
            temporary = self._match_text_seq("TEMPORARY")
            self._expect_words("PARTITION")
            if_exists = self._parse_if_exists()
            pname = self._parse_name("a partition name")
            return AlterTable(this=name, action="DROP_PARTITION", name=pname, temporary=temporary,
                              if_exists=if_exists, force=self._match_text_seq("FORCE"))
        if self._match_text_seq("RENAME", "PARTITION"):
            old = self._parse_name("a partition name")
            return AlterTable(this=name, action="RENAME_PARTITION", name=old,
                              new_name=self._parse_name("a partition name"))
        if self._match_text_seq("RENAME"):
            return AlterTable(this=name, action="RENAME", new_name=self._parse_name("a table name"))
        if self._match_text_seq("SET"):
            return AlterTable(this=name, action="SET_PROPERTIES", properties=self._parse_property_map())
        if self._match_text_seq("MODIFY", "COMMENT"):
            return AlterTable(this=name, action="MODIFY_COMMENT", comment=self._parse_string_value("a comment"))
        if self._match_text_seq("MODIFY", "COLUMN"):
            column = self._parse_name("a column name")
            self._expect_words("COMMENT")  # a column's type or position: schema change, not supported
            return AlterTable(this=name, action="MODIFY_COLUMN_COMMENT", name=column,
                              comment=self._parse_string_value("a comment"))
        if self._match_text_seq("REPLACE", "WITH", "TABLE"):
            other = self._parse_name("a table name")
            props = self._parse_property_map() if self._match_text_seq("PROPERTIES") else {}
            return AlterTable(this=name, action="REPLACE", name=other, properties=props,
                              force=self._match_text_seq("FORCE"))
        self.raise_error("Expected ADD, DROP, MODIFY, RENAME, REPLACE or SET")
        return AlterTable(this=name, action="")

    def _lookahead_list(self) -> bool:
        """ADD PARTITION p VALUES IN (...) is a list partition."""
        i = self._index
        while i < len(self._tokens) and self._tokens[i].token_type != TokenType.SEMICOLON:
            if self._tokens[i].text.upper() == "VALUES":
                nxt = self._tokens[i + 1] if i + 1 < len(self._tokens) else None
                return bool(nxt and nxt.token_type == TokenType.IN)
            i += 1
        return False

    def _parse_truncate(self) -> TruncateTable:
        name = self._parse_qualified_name("a table name")
        partitions = None
        if self._match_texts(("PARTITION", "PARTITIONS")):
            partitions = self._parse_name_list()
        return TruncateTable(this=name, partitions=partitions)

    def _parse_show_filters(self, node: StatementNode) -> StatementNode:
        """[WHERE ...] [ORDER BY ...] [LIMIT n [OFFSET m] | LIMIT m, n], kept as sqlglot expressions."""
        if self._match(TokenType.WHERE):
            node.set("where", self._parse_disjunction())
        if self._match(TokenType.ORDER_BY):
            node.set("order", self._parse_csv(self._parse_ordered))
        if self._match(TokenType.LIMIT):
            first = int(self._curr.text)
            self._advance()
            if self._match(TokenType.COMMA):
                node.set("offset", first)
                first = int(self._curr.text)
                self._advance()
            node.set("limit", first)
        if self._match(TokenType.OFFSET):
            node.set("offset", int(self._curr.text))
            self._advance()
        return node

    def _parse_show_partitions(self, temporary: bool = False) -> StatementNode:
        self._expect_words("FROM")
        node = ShowPartitions(this=self._parse_qualified_name("a table name"), temporary=temporary)
        return self._parse_show_filters(node)

    def _parse_show_tablets(self) -> StatementNode:
        if self._curr and self._curr.token_type == TokenType.NUMBER:
            tablet_id = int(self._curr.text)
            self._advance()
            return ShowTablet(this=tablet_id)
        self._expect_words("FROM")
        node = ShowTablets(this=self._parse_qualified_name("a table name"))
        if self._match_texts(("PARTITION", "PARTITIONS")):
            node.set("partitions", self._parse_name_list())
        return self._parse_show_filters(node)

    def _parse_show_data(self) -> ShowData:
        return ShowData(this=self._parse_qualified_name("a table name") if self._match(TokenType.FROM) else None)

    def _parse_doris_describe(self) -> StatementNode | exp.Expression:
        if self._curr and self._curr.token_type in (TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN):
            # DESC SELECT ... is EXPLAIN: sqlglot's Describe.
            self._retreat(self._index - 1)
            return self._parse_statement()  # sqlglot's own, not our word dispatch
        name = self._parse_qualified_name("a table name")
        return Describe(this=name, all=self._match_text_seq("ALL"))

    def _parse_insert_with_label(self, overwrite: bool = False) -> exp.Expression:
        """INSERT INTO t [PARTITION (p, ...)] [WITH LABEL l] [(cols)] VALUES ... | query, as sqlglot's Insert;
        INSERT OVERWRITE TABLE t [PARTITION (p, ...) | PARTITION (*)] ... the same with `overwrite` set.

        Doris's label and PARTITION (*) have no place in sqlglot's INSERT grammar; they are kept in the node's
        meta ("label", "partition_star").
        """
        db, name = self._parse_qualified_name("a table name")
        table = exp.table_(name, db=db)
        star = False
        if self._match_texts(("PARTITION", "PARTITIONS")):
            if overwrite and self._next and self._next.token_type == TokenType.STAR:
                self._advance(2)
                self._expect_paren(TokenType.R_PAREN)
                star = True
            else:
                partitions = self._parse_name_list()
                table.set("partition", exp.Partition(expressions=[exp.column(p) for p in partitions]))
        label = self._parse_name("a label") if self._match_text_seq("WITH", "LABEL") else None
        target: exp.Expression = table
        if self._curr and self._curr.token_type == TokenType.L_PAREN and not (
                self._next and self._next.token_type in (TokenType.SELECT, TokenType.WITH)):
            target = exp.Schema(this=table, expressions=[exp.to_identifier(c) for c in self._parse_name_list()])
        query = self._parse_derived_table_values() or self._parse_ddl_select()
        if query is None:
            self.raise_error("Expected VALUES or a query")
        node = exp.Insert(this=target, expression=query, overwrite=overwrite or None)
        if label is not None:
            node.meta["label"] = label
        if star:
            node.meta["partition_star"] = True
        return node

    def _parse_insert_overwrite(self) -> exp.Expression:
        self._expect_words("TABLE")
        return self._parse_insert_with_label(overwrite=True)

    STATEMENTS = {
        **ParserBase.STATEMENTS,
        ("CREATE", "DATABASE"): _parse_create_database,
        ("CREATE", "SCHEMA"): _parse_create_database,
        ("DROP", "DATABASE"): _parse_drop_database,
        ("DROP", "SCHEMA"): _parse_drop_database,
        ("CREATE", "TABLE"): _parse_create_table,
        ("DROP", "TABLE"): _parse_drop_table,
        ("CREATE", "VIEW"): _parse_create_view,
        ("CREATE", "OR", "REPLACE", "VIEW"): lambda self: self._parse_create_view(or_replace=True),
        ("DROP", "VIEW"): lambda self: self._parse_drop_table(view=True),
        ("ALTER", "TABLE"): _parse_alter_table,
        ("TRUNCATE", "TABLE"): _parse_truncate,
        ("SHOW", "CREATE", "TABLE"): lambda self: ShowCreate(this=self._parse_qualified_name("a table name"),
                                                             kind="TABLE"),
        ("SHOW", "CREATE", "VIEW"): lambda self: ShowCreate(this=self._parse_qualified_name("a view name"),
                                                            kind="VIEW"),
        ("SHOW", "CREATE", "DATABASE"): lambda self: ShowCreate(this=(None, self._parse_name("a database name")),
                                                                kind="DATABASE"),
        ("SHOW", "PARTITIONS"): _parse_show_partitions,
        ("SHOW", "TEMPORARY", "PARTITIONS"): lambda self: self._parse_show_partitions(temporary=True),
        ("SHOW", "TABLETS"): _parse_show_tablets,
        ("SHOW", "TABLET"): _parse_show_tablets,
        ("SHOW", "DATA"): _parse_show_data,
        ("DESC",): _parse_doris_describe,
        ("DESCRIBE",): _parse_doris_describe,
        ("INSERT", "INTO"): _parse_insert_with_label,
        ("INSERT", "OVERWRITE"): _parse_insert_overwrite,
    }
