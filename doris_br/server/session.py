"""One client session: parse with our dialect, run mysql-mimic's middlewares, dispatch to the FE's statements.

Whatever goes wrong reaches the client as a MySQL error with Doris's code and text, never as a traceback:
parse errors as 1064 with line, column and near text (no terminal colours), statement errors as
`errCode = 2, detailMessage = ...`, anything unexpected as 1105 with its message (and logged here).
"""

from __future__ import annotations

import asyncio
import logging
import time
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from mysql_mimic import Session
from mysql_mimic.errors import MysqlError
from mysql_mimic.intercept import expression_to_value
from mysql_mimic.results import AllowedResult
from mysql_mimic.session import Query
from mysql_mimic.variables import SessionVariables
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.executor import execute as sqlglot_execute

from doris_br.errors import ER_PARSE, ER_UNKNOWN_TIME_ZONE, DorisError
from doris_br.fe import statements
from doris_br.fe.catalog import User, redact_quoted, redact_sql
from doris_br.sql import DorisBR, parse

if TYPE_CHECKING:
    from mysql_mimic.connection import Connection

    from doris_br.fe.frontend import Frontend

log = logging.getLogger(__name__)


def parse_error(error: ParseError | TokenError, sql: str) -> DorisError:
    """Doris's 1064 for a statement that cannot be parsed; what it quotes of `sql` shows no secret."""
    if isinstance(error, ParseError) and error.errors:
        first = error.errors[0]
        near = first.get("highlight") or ""
        col = max(1, (first.get("col") or 1) - len(near) + 1)
        return DorisError(
            f"Syntax error in line {first.get('line')}, column {col} near '{redact_quoted(near, sql)}': "
            f"{redact_quoted(str(first.get('description')), sql)}",
            ER_PARSE,
        )
    text = redact_quoted(str(error), sql).split("\n")[0]
    return DorisError(f"Syntax error: {text}", ER_PARSE)


def parse_time_zone(name: str) -> timezone | zoneinfo.ZoneInfo:
    text = str(name).strip()
    if text.upper() in ("UTC", "SYSTEM", "GMT", "Z"):
        return UTC
    if text[:1] in "+-" and ":" in text:
        sign = -1 if text[0] == "-" else 1
        hours, minutes = text[1:].split(":", 1)
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DorisError(f"Unknown or incorrect time zone: '{text}'", ER_UNKNOWN_TIME_ZONE) from None


class DorisSession(Session):
    dialect = DorisBR

    def __init__(self, fe: Frontend) -> None:
        super().__init__(variables=SessionVariables(fe.global_variables))
        self.fe = fe
        # mysql-mimic's KILL knows no privileges; ours (doris_br.fe.statements.system) does.
        self.middlewares = [m for m in self.middlewares if m != self._kill_middleware]
        self.login_time = time.time()
        self.command = "Sleep"
        self.current_sql = ""
        self.query_started = time.time()
        self.running: asyncio.Task[Any] | None = None

    # ---- identity ----------------------------------------------------------------------------------------

    @property
    def user(self) -> User:
        """The logged-in user as the catalog has it now, so GRANT and REVOKE apply at once."""
        user = self.fe.find_user(self.username or "")
        if user is None:  # dropped while connected: no privileges left
            return User(name=self.username or "", grants=())
        return user

    @property
    def connection_id(self) -> int:
        return self.connection.connection_id

    @property
    def client_address(self) -> str:
        peer = self.connection.stream.writer.get_extra_info("peername")
        return f"{peer[0]}:{peer[1]}" if peer else ""

    async def init(self, connection: Connection) -> None:
        await super().init(connection)
        self.fe.sessions[connection.connection_id] = self

    async def close(self) -> None:
        if self._connection is not None:
            self.fe.sessions.pop(self._connection.connection_id, None)
        await super().close()

    # ---- queries -----------------------------------------------------------------------------------------

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> AllowedResult:
        self.timestamp = datetime.now(tz=self.timezone())
        try:
            expressions = parse(sql)
        except (ParseError, TokenError) as e:
            raise parse_error(e, sql) from None
        if not expressions:
            raise MysqlError("Query was empty", 1065)  # type: ignore[arg-type]
        self.command, self.current_sql, self.query_started = "Query", redact_sql(sql), time.time()
        self.running = asyncio.current_task()
        try:
            result: AllowedResult = None
            for expression in expressions:
                q = Query(expression=expression, sql=sql, attrs=attrs, _middlewares=self.middlewares,
                          _query=self.query)
                result = await q.start()
            return result
        except (MysqlError, asyncio.CancelledError):
            raise
        except Exception as e:
            log.exception("statement failed: %s", self.current_sql)
            raise DorisError(str(e) or type(e).__name__) from None
        finally:
            self.command, self.running = "Sleep", None

    async def query(self, expression: exp.Expression, sql: str, attrs: dict[str, str]) -> AllowedResult:
        return await statements.execute(self, expression, sql)

    async def schema(self) -> dict:
        """What information_schema shows: the databases, tables and columns this user may see."""
        from doris_br.fe.statements.tables_show import info_schema

        return info_schema(self)

    async def use(self, database: str) -> None:
        self.database = self.fe.resolve_database_for_use(self.user, database)

    async def _show(self, expression: exp.Show) -> AllowedResult:
        handled = await statements.show(self, expression)
        if handled is not statements.NOT_HANDLED:
            return handled
        return await super()._show(expression)

    # ---- variables and time zones ------------------------------------------------------------------------

    def _set_variable(self, setitem: exp.SetItem) -> None:
        assignment = setitem.this
        right = assignment.right
        if not isinstance(right, (exp.Literal, exp.Boolean, exp.Null, exp.Var, exp.Column, exp.Identifier)):
            # e.g. Connector/J's sql_mode = concat(@@sql_mode, ',STRICT_TRANS_TABLES'): fold it to a value
            # (the @@ reference was already replaced with a literal by mysql-mimic's variable middleware).
            value = sqlglot_execute(exp.select(right.copy())).rows[0][0]
            assignment.set("expression", exp.convert(value))
        name = assignment.left.name.lower()
        if name == "time_zone":
            parse_time_zone(str(expression_to_value(assignment.right)))
        super()._set_variable(setitem)

    def timezone(self) -> Any:  # type: ignore[override]
        return parse_time_zone(str(self.variables.get("time_zone")))
