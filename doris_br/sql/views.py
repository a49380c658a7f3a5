"""Views: CREATE [OR REPLACE] VIEW, ALTER VIEW, SHOW VIEW FROM t: node classes + parser mixin.

(DROP VIEW is DROP TABLE's parser with view=True; SHOW CREATE VIEW is ShowCreate's kind VIEW, in ddl.py.)
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import TokenType

from doris_br.sql.base import ParserBase, StatementNode

# ---- nodes -------------------------------------------------------------------------------------------------


class CreateView(StatementNode):
    """`columns`: the names of the column list (empty: the query's names); `column_comments`: one per name."""

    arg_types = {"this": True, "if_not_exists": False, "or_replace": False, "columns": False,
                 "column_comments": False, "comment": False, "expression": True}


class AlterView(StatementNode):
    """ALTER VIEW v [(cols)] AS query, or ALTER VIEW v MODIFY COMMENT 'c' (then `expression` is None)."""

    arg_types = {"this": True, "columns": False, "column_comments": False, "comment": False, "expression": False}


class ShowView(StatementNode):
    """SHOW VIEW FROM [db.]t [FROM db]: `this` is (db, t) with the trailing FROM db already applied."""

    arg_types = {"this": True}


# ---- parser ------------------------------------------------------------------------------------------------


class ViewParser(ParserBase):
    def _parse_view_columns(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """`(a [COMMENT 'c'], b, ...)`, if there: the names and their comments ('' where none was given)."""
        names: list[str] = []
        comments: list[str] = []
        if not self._match(TokenType.L_PAREN):
            return (), ()
        while True:
            names.append(self._parse_name("a column name"))
            comments.append(self._parse_string_value("a comment") if self._match_text_seq("COMMENT") else "")
            if not self._match(TokenType.COMMA):
                break
        self._expect_paren(TokenType.R_PAREN)
        return tuple(names), tuple(comments)

    def _parse_view_query(self) -> exp.Expression:
        self._expect_words("AS")
        query = self._parse_ddl_select()
        if query is None:
            self.raise_error("Expected a query")
        return query

    def _parse_create_view(self, or_replace: bool = False) -> CreateView:
        if_not_exists = bool(self._match_text_seq("IF", "NOT", "EXISTS"))
        name = self._parse_qualified_name("a view name")
        columns, comments = self._parse_view_columns()
        comment = self._parse_string_value("a comment") if self._match_text_seq("COMMENT") else ""
        query = self._parse_view_query()
        return CreateView(this=name, if_not_exists=if_not_exists, or_replace=or_replace, columns=columns,
                          column_comments=comments, comment=comment, expression=query)

    def _parse_alter_view(self) -> AlterView:
        name = self._parse_qualified_name("a view name")
        if self._match_text_seq("MODIFY", "COMMENT"):
            return AlterView(this=name, comment=self._parse_string_value("a comment"))
        columns, comments = self._parse_view_columns()
        return AlterView(this=name, columns=columns, column_comments=comments, expression=self._parse_view_query())

    def _parse_show_view(self) -> ShowView:
        if not (self._match(TokenType.FROM) or self._match(TokenType.IN)):
            self.raise_error("Expected FROM or IN")
        db, table = self._parse_qualified_name("a table name")
        if self._match(TokenType.FROM) or self._match(TokenType.IN):
            db = self._parse_name("a database name")  # as in Doris (and MySQL): it overrides the db in db.t
        return ShowView(this=(db, table))

    STATEMENTS = {
        **ParserBase.STATEMENTS,
        ("CREATE", "VIEW"): _parse_create_view,
        ("CREATE", "OR", "REPLACE", "VIEW"): lambda self: self._parse_create_view(or_replace=True),
        ("ALTER", "VIEW"): _parse_alter_view,
        ("SHOW", "VIEW"): _parse_show_view,
    }
