"""One client session: parse with our dialect, run mysql-mimic's middlewares, dispatch to the FE's statements.

A statement is prepared off the event loop (parsed, checked against Doris's size limits and the sandbox, its
variables and session functions replaced by their values; see `prepare`), in a pool of statement threads, so
that a big statement never delays another client; only short ones are prepared inline. mysql-mimic's
middlewares that ran SQL in sqlglot's Python executor (FROM-less SELECTs, information_schema, SET values) are
not used: all SQL runs in the sandboxed engine through the query planner.

Whatever goes wrong reaches the client as a MySQL error with Doris's code and text, never as a traceback:
parse errors as 1064 with line, column and near text (no terminal colours), statement errors as
`errCode = 2, detailMessage = ...`, anything unexpected as a fixed text (its traceback logged here).
"""

from __future__ import annotations

import asyncio
import contextlib
import decimal
import functools
import logging
import re
import time
import zoneinfo
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs
from mysql_mimic import Session
from mysql_mimic.errors import MysqlError
from mysql_mimic.intercept import expression_to_value
from mysql_mimic.results import AllowedResult
from mysql_mimic.session import Query, mysql_function_mapping
from mysql_mimic.variable_processor import VariableProcessor, _get_var_assignments
from mysql_mimic.variables import SessionVariables
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from doris_br.errors import ER_PARSE, ER_UNKNOWN_TIME_ZONE, DorisError, unexpected
from doris_br.fe import query as queries
from doris_br.fe import statements
from doris_br.fe.catalog import User, redact_quoted, redact_sql
from doris_br.fe.statements.results import text_result
from doris_br.server import compat, constant_select
from doris_br.server.column_names import name_as_written
from doris_br.server.connection import ER_TOO_MANY_USER_CONNECTIONS
from doris_br.sql import DorisBR, limits, parse, sandbox
from doris_br.sql.limits import ExpressionLimits

if TYPE_CHECKING:
    from mysql_mimic.connection import Connection

    from doris_br.fe.frontend import Frontend

log = logging.getLogger(__name__)

# Statements are prepared in these threads; shorter ones than INLINE_PREPARE_CHARS are cheaper to prepare inline.
STATEMENT_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="statement")
INLINE_PREPARE_CHARS = 200
# Parses of texts up to PARSE_CACHE_CHARS long are kept, the last PARSE_CACHE_SIZE used (a few MB at most).
PARSE_CACHE_CHARS = 1024
PARSE_CACHE_SIZE = 512
# Only single reads are kept: a statement that changes something may hold a secret (a password, a repository's
# keys), and so may any statement after the first of a multi-statement text.
_CACHED = re.compile(r"\s*(?:SELECT|SHOW|DESC|DESCRIBE|USE|WITH)\b[^;]*;?\s*", re.IGNORECASE)
VARIABLE_COLUMNS = ("Variable_name", "Value")


@attrs.frozen
class Prepared:
    """A statement ready to run: its tree with values in place, and its SET_VAR hints' variables."""

    expression: exp.Expression
    hint_variables: dict[str, Any]


def parsed(sql: str, limits: ExpressionLimits) -> list[tuple[exp.Expression, bool]]:
    """The statements of `sql`, each a copy of its own and whether it is plain (see _is_plain): the parse of a
    short read is kept (the same SHOW and SELECT texts come again and again, and sqlglot's tokenizer and parser
    are most of what they cost), and every caller gets trees it may change (variables and session functions are
    replaced in place)."""
    if len(sql) > PARSE_CACHE_CHARS or not _CACHED.fullmatch(sql):
        return [(e, False) for e in parse(sql, limits)]
    return [(e.copy(), plain) for e, plain in _parsed(sql, limits)]


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def _parsed(sql: str, limits: ExpressionLimits) -> tuple[tuple[exp.Expression, bool], ...]:
    """Never changed once cached: callers get copies. Errors are not kept (lru_cache keeps only returns)."""
    return tuple((e, _is_plain(e)) for e in parse(sql, limits))


# What the session's own preparation acts on: functions (DATABASE(), NOW(), UNIX_TIMESTAMP(), names as written),
# @@variables, @user variables, bare CURRENT_DATE-like names, SET_VAR hints, SET values.
_SESSION_DEPENDENT = (exp.Func, exp.SessionParameter, exp.Parameter, exp.Column, exp.Hint, exp.Set)
ER_UNKNOWN_SYSTEM_VARIABLE = 1193
MAX_USER_VARIABLES = 1024  # a session's @variables (MySQL has no limit but memory; ours is bounded)


def _is_plain(expression: exp.Expression) -> bool:
    """Whether the statement holds nothing the session replaces: then only the sandbox check is left to do."""
    return not any(isinstance(node, _SESSION_DEPENDENT) for node in expression.walk())


# The statements mysql-mimic's middlewares (those we keep) act on; any other goes straight to DorisSession.query.
_INTERCEPTED = (exp.Set, exp.Use, exp.Show, exp.Describe, exp.Transaction, exp.Commit, exp.Rollback)


def parse_error(error: ParseError | TokenError, sql: str) -> DorisError:
    """Doris's 1064 for a statement that cannot be parsed; what it quotes of `sql` shows no secret, and no text
    of sqlglot's own (its class names) reaches the client."""
    if isinstance(error, ParseError) and error.errors:
        first = error.errors[0]
        near = first.get("highlight") or ""
        col = max(1, (first.get("col") or 1) - len(near) + 1)
        return DorisError(
            f"Syntax error in line {first.get('line')}, column {col} near '{redact_quoted(near, sql)}': "
            f"{redact_quoted(_description(str(first.get('description'))), sql)}",
            ER_PARSE,
        )
    return DorisError("Syntax error: a quoted string, name or comment is not closed", ER_PARSE)


def _description(text: str) -> str:
    """sqlglot's own explanation where it names its classes ("Required keyword: 'this' missing for <class ...>")
    becomes the words a user needs."""
    if "<class" in text or "sqlglot" in text:
        return "Syntax error, unsupported or malformed statement"
    return text


def parse_time_zone(name: str) -> timezone | zoneinfo.ZoneInfo:
    text = str(name).strip()
    if text.upper() in ("UTC", "SYSTEM", "GMT", "Z"):
        return UTC
    if text[:1] in "+-" and ":" in text:
        sign = -1 if text[0] == "-" else 1
        hours, minutes = text[1:].split(":", 1)
        if re.fullmatch(r"[0-9]{1,2}", hours) and re.fullmatch(r"[0-9]{2}", minutes):
            offset = timedelta(hours=int(hours), minutes=int(minutes))
            if offset <= timedelta(hours=14) and int(minutes) < 60:
                return timezone(sign * offset)
        raise DorisError(f"Unknown or incorrect time zone: '{text}'", ER_UNKNOWN_TIME_ZONE)
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DorisError(f"Unknown or incorrect time zone: '{text}'", ER_UNKNOWN_TIME_ZONE) from None


def _hint_assignments(statement: exp.Expression) -> dict[str, Any]:
    """The session variables of the statement's SET_VAR hints; every hint is then taken out of the tree (Doris's
    other hints steer its own optimizer: the engine has no use for them, and the sandbox would refuse SET_VAR
    as an unknown function)."""
    for hint in statement.find_all(exp.Hint):
        for item in hint.expressions:
            if isinstance(item, exp.Func) and item.name.upper() == "SET_VAR":
                for setting in item.expressions:
                    _plain_setting(setting)
    assignments = _get_var_assignments(statement)
    for hint in list(statement.find_all(exp.Hint)):
        hint.pop()
    return assignments


def _plain_setting(setting: exp.Expression) -> None:
    """A SET_VAR item is `name = value` with a plain value (an expression would need running first), the value
    made a literal: `sql_mode = STRICT_TRANS_TABLES` a string, `-1` a number."""
    if not isinstance(setting, exp.EQ) or not isinstance(setting.left, (exp.Column, exp.Identifier)):
        raise DorisError("Syntax error in SET_VAR hint: each item is `variable = value`", ER_PARSE)
    value = setting.right
    if isinstance(value, (exp.Column, exp.Identifier)):
        setting.set("expression", exp.Literal.string(value.name))
    elif isinstance(value, exp.Neg) and isinstance(value.this, exp.Literal) and not value.this.is_string:
        setting.set("expression", exp.Literal(this=f"-{value.this.this}", is_string=False))
    elif not isinstance(value, (exp.Literal, exp.Boolean, exp.Null)):
        raise DorisError("Syntax error in SET_VAR hint: a variable's value is a literal", ER_PARSE)


def _value_literal(value: Any) -> exp.Expression:
    """A computed value as the one literal node mysql-mimic reads back (sqlglot's convert makes -1 a negation)."""
    if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        return exp.Literal(this=str(value), is_string=False)
    if isinstance(value, (datetime, date)):  # a user variable keeps a time as MySQL does: as its text
        return exp.Literal.string(str(value))
    return exp.convert(value)


def _unix_timestamp_now(statement: exp.Expression, now: datetime) -> None:
    """UNIX_TIMESTAMP() is the statement's start in whole seconds, like NOW() one value for the whole statement
    (the engine has no such function; with an argument it is left to the engine's translation)."""
    for node in list(statement.find_all(exp.Anonymous)):
        if node.name.upper() == "UNIX_TIMESTAMP" and not node.expressions:
            node.replace(exp.Literal.number(int(now.timestamp())))


_NOW_NODES = (exp.CurrentTimestamp, exp.Localtime, exp.Localtimestamp)


def _typed_now(statement: exp.Expression, now: datetime) -> None:
    """NOW() / CURRENT_TIMESTAMP / LOCALTIME[STAMP] and CURDATE() / CURRENT_DATE as the statement's start, typed
    DATETIME and DATE as Doris types them (mysql-mimic would put a string literal in, and a client would read a
    VARCHAR column); the forms with a precision are left to mysql-mimic."""
    stamp, day = now.strftime("%Y-%m-%d %H:%M:%S"), now.strftime("%Y-%m-%d")
    for node in list(statement.find_all(exp.Func)):
        if isinstance(node, exp.Anonymous) and node.name.upper() in ("NOW", "CURDATE") and not node.expressions:
            is_date = node.name.upper() == "CURDATE"
        elif isinstance(node, _NOW_NODES) and node.this is None:
            is_date = False
        elif isinstance(node, exp.CurrentDate) and node.this is None:
            is_date = True
        else:
            continue
        node.replace(exp.cast(exp.Literal.string(day if is_date else stamp), "DATE" if is_date else "DATETIME"))


class DorisSession(Session):
    dialect = DorisBR

    def __init__(self, fe: Frontend) -> None:
        super().__init__(variables=SessionVariables(fe.global_variables))
        self.fe = fe
        # mysql-mimic's KILL knows no privileges; ours (doris_br.fe.statements.system) does. Its SET_VAR and
        # function replacement runs in `prepare`; its FROM-less SELECT and information_schema middlewares ran
        # SQL in sqlglot's Python executor: those queries go to the planner like any other.
        replaced = (self._kill_middleware, self._set_var_middleware, self._static_query_middleware,
                    self._info_schema_middleware)
        self.middlewares = [m for m in self.middlewares if m not in replaced]
        self.login_time = time.time()
        self.command = "Sleep"
        self.current_sql = ""
        self.query_started = time.time()
        self.running: asyncio.Task[Any] | None = None
        self.user_variables: dict[str, Any] = {}  # SET @x = ...: by lower-case name, as MySQL's are

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

    def check_connection_limits(self, username: str) -> None:
        """Doris's qe_max_connection and max_user_connections, checked before a login is accepted."""
        config = self.fe.config
        sessions = list(self.fe.sessions.values())
        mine = sum(1 for other in sessions if other.username == username)
        if len(sessions) >= config.qe_max_connection or mine >= config.max_user_connections:
            raise MysqlError(f"Reach limit of connections. Total: {config.qe_max_connection}, User: "
                             f"{config.max_user_connections}, Current: {len(sessions)}",
                             ER_TOO_MANY_USER_CONNECTIONS)  # type: ignore[arg-type]

    async def handle_query(self, sql: str, attrs: dict[str, str],
                           each: Callable[[AllowedResult], Awaitable[None]] | None = None) -> AllowedResult:
        """Run every statement in `sql` in order and return the last one's result. `each` gets the results
        before the last, as they come (a client that negotiated multi-statements gets them all); the first
        error ends the run, as Doris's ConnectProcessor does."""
        self.timestamp = datetime.now(tz=self.timezone())
        self.command, self.current_sql, self.query_started = "Query", redact_sql(sql[:4096]), time.time()
        self.running = asyncio.current_task()
        try:
            constant = constant_select.answer(self, sql)  # SELECT 1, SELECT DATABASE(): no parse, no engine
            if constant is not None:
                return constant
            if len(sql) <= INLINE_PREPARE_CHARS:
                prepared = self.prepare(sql)
            else:
                prepared = await asyncio.get_running_loop().run_in_executor(STATEMENT_THREADS, self.prepare, sql)
            result: AllowedResult = None
            for i, statement in enumerate(prepared):
                if i and each is not None:
                    await each(result)
                with self._hint_variables(statement.hint_variables):
                    if isinstance(statement.expression, _INTERCEPTED):
                        q = Query(expression=statement.expression, sql=sql, attrs=attrs,
                                  _middlewares=self.middlewares, _query=self.query)
                        result = await q.start()
                    else:  # no middleware would act on it: eight Query objects fewer
                        result = await self.query(statement.expression, sql, attrs)
            return result
        except (MysqlError, asyncio.CancelledError):
            raise
        except RecursionError:
            raise limits.too_deep(self.fe.expression_limits()) from None
        except Exception:
            log.exception("statement failed: %s", self.current_sql)
            raise unexpected() from None
        finally:
            self.command, self.running = "Sleep", None

    def prepare(self, sql: str) -> list[Prepared]:
        """Parse `sql` within Doris's limits, check it against the sandbox, and put the session's values in
        (SET_VAR hints, @@variables, DATABASE(), NOW(), ...). Runs in a statement thread for all but short SQL."""
        try:
            expressions = parsed(sql, self.fe.expression_limits())
        except (ParseError, TokenError) as e:  # parse() itself turns a RecursionError into Doris's depth error
            raise parse_error(e, sql) from None
        # No statement (only comments or semicolons) runs nothing and answers OK, as Doris's parser takes an empty
        # statement list (MySQL would answer 1065 'Query was empty'): dbt-doris sends such a query after each
        # column comment it persists.
        return [self._prepare_one(e, sql, plain) for e, plain in expressions]

    def _prepare_one(self, expression: exp.Expression, sql: str, plain: bool = False) -> Prepared:
        hints = {} if plain else _hint_assignments(expression)
        sandbox.check(expression)
        if plain:
            return Prepared(expression, {})
        name_as_written(expression, sql)
        _unix_timestamp_now(expression, self.timestamp)
        _typed_now(expression, self.timestamp)
        self._put_user_variables(expression)
        with self._hint_variables(hints):
            VariableProcessor(mysql_function_mapping(self), self.variables, expression)._replace_variables()
            if isinstance(expression, exp.Set):
                self._fold_set_values(expression)
        return Prepared(expression, hints)

    @contextlib.contextmanager
    def _hint_variables(self, hints: dict[str, Any]) -> Iterator[None]:
        """The variables of SET_VAR hints, for the statement's time."""
        saved = {k: self.variables.get(k) for k in hints}
        for k, v in hints.items():
            self.variables.set(k, v)
        try:
            yield
        finally:
            for k, v in saved.items():
                self.variables.set(k, v)

    def _put_user_variables(self, statement: exp.Expression) -> None:
        """Each @x read by the statement replaced by its value (NULL if never set), as MySQL and Doris read user
        variables; the @x a SET assigns is left for _set_variable."""
        for node in list(statement.find_all(exp.Parameter)):
            parent = node.parent
            if isinstance(parent, exp.EQ) and node.arg_key == "this" and isinstance(parent.parent, exp.SetItem):
                continue
            name = node.name.lower()
            node.replace(_value_literal(self.user_variables[name]) if name in self.user_variables else exp.null())

    def _fold_set_values(self, statement: exp.Set) -> None:
        """`SET x = <expression>` (Connector/J: sql_mode = concat(@@sql_mode, ',STRICT_TRANS_TABLES')): the
        value computed by the engine (its @@ references already replaced), as a literal."""
        for item in statement.expressions:
            assignment = item.this
            if not isinstance(assignment, exp.Binary):
                continue
            right = assignment.right
            if isinstance(right, (exp.Literal, exp.Boolean, exp.Null, exp.Var, exp.Column, exp.Identifier)):
                continue
            assignment.set("expression", _value_literal(queries.constant_value(right)))

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
        """SET @x = value keeps a user variable; a time zone is checked first; the rest is mysql-mimic's."""
        assignment = setitem.this
        if isinstance(assignment.left, exp.Parameter):
            name = assignment.left.name.lower()
            if name not in self.user_variables and len(self.user_variables) >= MAX_USER_VARIABLES:
                raise DorisError(f"Too many user variables in this session: at most {MAX_USER_VARIABLES}")
            self.user_variables[name] = expression_to_value(assignment.right)
            return
        if assignment.left.name.lower() == "time_zone":
            parse_time_zone(str(expression_to_value(assignment.right)))
        try:
            super()._set_variable(setitem)
        except MysqlError as e:
            if e.code != ER_UNKNOWN_SYSTEM_VARIABLE:
                raise
            raise DorisError(f"Unknown system variable '{assignment.left.name}'", ER_UNKNOWN_SYSTEM_VARIABLE) from None

    def _show_variables(self, show: exp.Show) -> AllowedResult:
        """SHOW VARIABLES [LIKE]: mysql-mimic's matches the pattern as a regular expression (a `(` fails, `max`
        matches every name that starts so); ours is SQL's LIKE over the whole name."""
        rows = [(k, None if v is None else str(v)) for k, v in self.variables.list()]
        # Typed even when nothing matches (not MYSQL_TYPE_NULL).
        return text_result(VARIABLE_COLUMNS, compat.like_filtered(rows, show.text("like") or None))

    def _show_status(self, show: exp.Show) -> AllowedResult:
        """SHOW [GLOBAL | SESSION] STATUS: no rows, as Doris answers, in typed columns (mycli's `status` reads
        them)."""
        return text_result(VARIABLE_COLUMNS, [])

    async def _query_info_schema(self, expression: exp.Expression) -> AllowedResult:
        """mysql-mimic's SHOW statements as queries of information_schema, run by the planner."""
        return queries.to_result(await queries.execute_query(self, expression))

    def timezone(self) -> Any:  # type: ignore[override]
        return parse_time_zone(str(self.variables.get("time_zone")))
