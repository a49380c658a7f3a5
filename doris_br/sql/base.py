"""What every statement family shares: leading-word dispatch and small parse helpers.

sqlglot's TokenType cannot be extended and words like BACKUP or HELP are plain VAR tokens, so our
statements are recognised by the text of their leading tokens, longest match first. Each family mixin adds
entries to STATEMENTS; DorisBRParser merges them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlglot import exp
from sqlglot.parsers.doris import DorisParser
from sqlglot.tokens import TokenType

from doris_br.sql.sandbox import WRITTEN_AS

StatementParser = Callable[[Any], exp.Expression]


# What sqlglot's own parser may return at the top level and still be a statement we can run.
STATEMENT_TYPES = (
    exp.Query, exp.Insert, exp.Create, exp.Drop, exp.Set, exp.Show, exp.Use, exp.Describe, exp.Kill,
    exp.Transaction, exp.Commit, exp.Rollback, exp.Alter, exp.TruncateTable, exp.Delete, exp.Update,
)


class StatementNode(exp.Expression):
    """Base of our statement nodes. Every subclass declares its arguments in arg_types, as sqlglot's do."""


class ParserBase(DorisParser):
    STATEMENTS: dict[tuple[str, ...], StatementParser] = {}
    LONGEST_STATEMENT = 0  # words in the longest key of STATEMENTS, set where they are merged

    def _leading_words(self, count: int) -> tuple[str, ...]:
        words = []
        for i in range(count):
            token = self._tokens[self._index + i] if self._index + i < len(self._tokens) else None
            if token is None or token.token_type == TokenType.SEMICOLON:
                break
            # A quoted name is never a keyword.
            words.append(token.text.upper() if token.token_type != TokenType.STRING else "\0")
        return tuple(words)

    def parse(self, raw_tokens: list, sql: str) -> list[exp.Expression | None]:  # type: ignore[override]
        # sqlglot also calls _parse_statement for nested pieces (e.g. the value of a SET); our dispatch and
        # strictness apply only to whole statements.
        return self._parse(parse_method=self.__class__._parse_top_level, raw_tokens=raw_tokens, sql=sql)

    def _parse_top_level(self) -> exp.Expression | None:
        if not self._curr:
            return None
        words = self._leading_words(self.LONGEST_STATEMENT)
        for size in range(len(words), 0, -1):
            parse_fn = self.STATEMENTS.get(words[:size])
            if parse_fn is not None:
                self._advance(size)
                return parse_fn(self)
        start = self._curr
        statement = self._parse_statement()
        if isinstance(statement, exp.Command) or not isinstance(statement, STATEMENT_TYPES):
            # sqlglot's fallback swallows anything it does not know; we would rather say where it went wrong.
            self.raise_error("Syntax error, unsupported or malformed statement", start)
        return statement

    def _parse_function_call(self, functions: Any = None, anonymous: bool = False, optional_parens: bool = True,
                             any_token: bool = False) -> exp.Expression | None:
        # The sandbox allows functions by the name the user wrote, which sqlglot's typed nodes do not keep.
        token = self._curr
        node = super()._parse_function_call(functions, anonymous, optional_parens, any_token)
        target = node.this if isinstance(node, exp.Window) else node
        if isinstance(target, exp.Func) and token is not None and WRITTEN_AS not in target.meta:
            target.meta[WRITTEN_AS] = token.text
        return node

    def _parse_joins(self, alias_tokens: Any = None) -> Iterator[exp.Join]:
        """sqlglot's joins, in linear time. After `JOIN t` without ON, sqlglot tries the joins that follow as
        nested in t (`a JOIN b JOIN c ON ... ON ...`), and when no ON comes it goes back and parses the same
        joins again as siblings: twice the work per JOIN, so 30 of them took minutes. The joins parsed from a
        position are kept, and taken when the parser comes back to that position, instead of parsed again."""
        if getattr(self, "_joins_of_tokens", None) is not self._tokens:
            self._joins_of_tokens, self._joins_at = self._tokens, {}
        key = (self._index, None if alias_tokens is None else frozenset(alias_tokens))
        parsed: list[exp.Join] = []
        while True:
            kept = self._joins_at.pop((self._index, key[1]), None)
            if kept is not None:
                joins, end = kept
                self._retreat(end)
                parsed.extend(joins)
                yield from joins
                break
            join = self._parse_join(alias_tokens=alias_tokens)
            if join is None:
                break
            parsed.append(join)
            yield join
        self._joins_at[key] = (parsed, self._index)

    # ---- helpers shared by the families ------------------------------------------------------------------

    def _expect_words(self, *words: str) -> None:
        if not self._match_text_seq(*words):
            self.raise_error(f"Expected {' '.join(words)}")

    def _parse_name(self, what: str = "name") -> str:
        """An identifier, back-quoted identifier or quoted string, as text."""
        token = self._curr
        if not token or token.token_type in (TokenType.SEMICOLON, TokenType.L_PAREN, TokenType.R_PAREN,
                                                  TokenType.COMMA):
            self.raise_error(f"Expected {what}")
            return ""
        if token.token_type in (TokenType.STRING, TokenType.IDENTIFIER, TokenType.VAR) or token.text.isidentifier():
            self._advance()
            return token.text
        self.raise_error(f"Expected {what}")
        return ""

    def _parse_qualified_name(self, what: str = "name") -> tuple[str | None, str]:
        """`a` or `db.a` as (db, a)."""
        first = self._parse_name(what)
        if self._match(TokenType.DOT):
            return first, self._parse_name(what)
        return None, first

    def _parse_string_value(self, what: str = "a quoted string") -> str:
        token = self._curr
        if not token or token.token_type != TokenType.STRING:
            self.raise_error(f"Expected {what}")
            return ""
        self._advance()
        return token.text

    def _parse_property_map(self) -> dict[str, str]:
        """`("k" = "v", ...)`, keys and values as text, keys in the case they were written."""
        self._expect_paren(TokenType.L_PAREN)
        props: dict[str, str] = {}
        if self._match(TokenType.R_PAREN):
            return props
        while True:
            key = self._parse_name("a property name")
            while self._match(TokenType.DOT):  # unquoted dotted keys, e.g. s3.endpoint
                key += "." + self._parse_name("a property name")
            if not self._match(TokenType.EQ):
                self.raise_error("Expected = after property name")
            value_token = self._curr
            if not value_token:
                self.raise_error("Expected a property value")
                break
            self._advance()
            props[key] = value_token.text
            if not self._match(TokenType.COMMA):
                break
        self._expect_paren(TokenType.R_PAREN)
        return props

    def _expect_paren(self, token_type: TokenType) -> None:
        if not self._match(token_type):
            self.raise_error("Expecting (" if token_type == TokenType.L_PAREN else "Expecting )")

    def _parse_optional_like(self) -> str | None:
        if self._match(TokenType.LIKE):
            return self._parse_string_value("a LIKE pattern")
        return None

    def _at_end(self) -> bool:
        return not self._curr or self._curr.token_type == TokenType.SEMICOLON
