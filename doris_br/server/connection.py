"""mysql-mimic's Connection with its holes closed (see shared/reference/mysql-mimic-and-sqlglot.md):

- every packet is read through doris_br.server.wire (bounded fields, linear time, a size limit), so no byte
  sequence can loop, blow up or make Python's own error text reach the client;
- a client must log in within connect_timeout seconds, and the FE serves at most qe_max_connection sessions
  (and max_user_connections per user), as Doris does;
- a failed login (or COM_CHANGE_USER) closes the connection instead of entering the command phase;
- prepared statements: placeholders as the lexer sees them, parameters bound as escaped literals;
- COM_STMT_PREPARE ends its parameter definitions with an EOF only when the client expects one;
- the OK packet that ends a result set carries no row count; a statement's OK can carry affected rows;
- an unexpected failure is logged here and answered with a fixed text, never the exception's.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from mysql_mimic import packets, types
from mysql_mimic.charset import CharacterSet
from mysql_mimic.connection import Connection
from mysql_mimic.constants import KillKind
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.packets import SSLRequest
from mysql_mimic.prepared import PreparedStatement
from mysql_mimic.results import ResultSet, ensure_result_set
from mysql_mimic.schema import com_field_list_to_show_statement
from mysql_mimic.stream import ConnectionClosed
from mysql_mimic.types import Commands
from mysql_mimic.utils import aiterate, cooperative_iterate

from doris_br.errors import unexpected
from doris_br.fe.statements.results import Affected
from doris_br.server import wire
from doris_br.server.prepared import Prepared, parse_execute, parse_query

if TYPE_CHECKING:
    from doris_br.server.session import DorisSession

log = logging.getLogger(__name__)

# The client's address, for "Access denied for user 'u'@'host'" and SHOW PROCESSLIST.
client_host: contextvars.ContextVar[str] = contextvars.ContextVar("client_host", default="")

ER_CON_COUNT = 1040
ER_TOO_MANY_USER_CONNECTIONS = 1203
ER_QUERY_INTERRUPTED = 1317
ER_MAX_PREPARED_STMT_COUNT_REACHED = 1461
# MySQL's max_prepared_stmt_count, per connection here: each holds its SQL and parameter buffers.
MAX_PREPARED_STATEMENTS = 16382


ROWS_PER_WRITE = 10_000


@functools.lru_cache(maxsize=4096)
def column_definition(server_charset: CharacterSet, name: str, kind: types.ColumnType,
                      charset: CharacterSet) -> bytes:
    """A result column's definition packet; the same SHOW and SELECT columns come back again and again."""
    return packets.make_column_definition_41(server_charset=server_charset, name=name, column_type=kind,
                                             character_set=charset)


class LoginRejected(BaseException):
    """Authentication failed: the ERR packet has been sent and the connection must close.

    A BaseException so that the command loop's catch-all cannot swallow it.
    """


class DorisConnection(Connection):
    session: DorisSession
    stream: wire.BoundedStream  # type: ignore[assignment]
    # Called once the login is over, however it ended (the listener counts connections still logging in).
    on_login: Callable[[], None] | None = None
    # The database a login (or COM_CHANGE_USER) names, checked once the user is known (see ok()).
    login_database: str | None = None

    async def _start(self) -> None:
        peer = self.stream.writer.get_extra_info("peername")
        client_host.set(peer[0] if peer else "")
        try:
            await asyncio.wait_for(self.connection_phase(), self.session.fe.config.connect_timeout_s)
            if self.session.username is None:
                raise LoginRejected
            await self.session.init(self)
        except (LoginRejected, ConnectionClosed, TimeoutError):
            return
        except MysqlError as e:  # a malformed handshake or a connection limit: say so, then close
            await self._write_error(e)
            return
        finally:
            if self.on_login is not None:
                self.on_login()
        self.stream.logged_in()
        try:
            await self.command_phase()
        except asyncio.CancelledError:
            if self._kill != KillKind.CONNECTION:
                raise
            await self.stream.write(self.error(msg="Session was killed", code=1317))  # type: ignore[arg-type]
            self._kill = None
        except LoginRejected:
            return
        finally:
            await self.session.close()

    async def _write_error(self, e: MysqlError) -> None:
        try:
            await self.stream.write(self.error(msg=e.msg, code=e.code))
        except (ConnectionError, ConnectionClosed):
            pass

    # ---- connection phase --------------------------------------------------------------------------------

    async def connection_phase(self) -> None:
        default_plugin = self.identity_provider.get_default_plugin()
        auth_data, auth_state = await default_plugin.start()
        assert isinstance(auth_data, bytes)
        self.handshake_auth_data = auth_data
        self.handshake_auth_plugin = default_plugin.name
        await self.stream.write(packets.make_handshake_v10(
            capabilities=self.server_capabilities, server_charset=self.server_charset,
            server_version=str(self.session.variables.get("version")), connection_id=self.connection_id,
            auth_data=auth_data, status_flags=self.status_flags, auth_plugin_name=default_plugin.name,
        ))
        response = await self._handshake_response()
        if isinstance(response, SSLRequest):
            if self.ssl is None:
                raise wire.MalformedPacket("Bad handshake")
            await self.stream.start_tls(self.ssl)
            response = await self._handshake_response()
            if isinstance(response, SSLRequest):
                raise wire.MalformedPacket("Bad handshake")
        self.session.check_connection_limits(response.username)
        self.capabilities = response.capabilities
        self.max_packet_size = response.max_packet_size
        self.session.variables.set("character_set_client", response.client_charset.name)
        self.login_database = response.database
        self.client_plugin_name = response.client_plugin
        self.client_connect_attrs = response.connect_attrs
        self.zstd_compression_level = response.zstd_compression_level
        self.session.variables.set("external_user", response.username, force=True)
        await self.authenticate(
            auth_state=auth_state, server_plugin=default_plugin, username=response.username,
            client_plugin_name=response.client_plugin, auth_response=response.auth_response,
            connect_attrs=response.connect_attrs,
        )
        self.stream.reset_seq()

    def ok(self, *args: Any, **kwargs: Any) -> bytes:
        """The OK packet; the first one after a login checks the database the login named, as USE does (an
        unknown one is 1049, one the user holds no privilege on 1044), so a client is told before it is in."""
        if self.login_database is not None:
            name, self.login_database = self.login_database, None
            try:
                self.session.database = self.session.fe.resolve_database_for_use(self.session.user, name)
            except MysqlError:
                self.session.username = None
                raise
        return super().ok(*args, **kwargs)

    async def _handshake_response(self) -> packets.HandshakeResponse41 | SSLRequest:
        data = await self.stream.read()
        try:
            return wire.parse_handshake_response(self.server_capabilities, data)
        except wire.MalformedPacket:
            raise MysqlError("Bad handshake", wire.ER_HANDSHAKE_ERROR) from None  # type: ignore[arg-type]

    async def handle_change_user(self, data: bytes) -> None:
        change = wire.parse_change_user(self.capabilities, self.client_charset, data)
        # Drop the old identity first: a failed COM_CHANGE_USER must not keep running as the previous user.
        self.session.username = None
        self.session.database = None
        self.login_database = change.database or None
        self.session.variables.set("external_user", change.username, force=True)
        if change.client_charset:
            self.session.variables.set("character_set_client", change.client_charset.name)
        if change.connect_attrs:
            self.client_connect_attrs = change.connect_attrs
        try:
            await self.authenticate(username=change.username, auth_response=change.auth_response,
                                    client_plugin_name=change.client_plugin, connect_attrs=change.connect_attrs)
        except MysqlError as e:  # the database named: unknown, or not the user's
            await self._write_error(e)
            raise LoginRejected from None
        if self.session.username is None:
            raise LoginRejected
        await self.session.reset()

    # ---- command phase -----------------------------------------------------------------------------------

    def _commands(self) -> dict[int, Callable[[bytes], Awaitable[None]]]:
        return {
            Commands.COM_QUERY: self.handle_query,
            Commands.COM_STMT_PREPARE: self.handle_stmt_prepare,
            Commands.COM_STMT_SEND_LONG_DATA: self.handle_stmt_send_long_data,
            Commands.COM_STMT_EXECUTE: self.handle_stmt_execute,
            Commands.COM_STMT_FETCH: self.handle_stmt_fetch,
            Commands.COM_STMT_RESET: self.handle_stmt_reset,
            Commands.COM_STMT_CLOSE: self.handle_stmt_close,
            Commands.COM_PING: self.handle_ping,
            Commands.COM_CHANGE_USER: self.handle_change_user,
            Commands.COM_RESET_CONNECTION: self.handle_reset_connection,
            Commands.COM_DEBUG: self.handle_debug,
            Commands.COM_INIT_DB: self.handle_init_db,
            Commands.COM_FIELD_LIST: self.handle_field_list,
        }

    async def command_phase(self) -> None:
        commands = self._commands()
        while True:
            try:
                data = await self.stream.read()
            except ConnectionClosed:
                return
            except asyncio.CancelledError:  # a KILL QUERY that came just after its query ended: nothing to stop
                if self._kill != KillKind.QUERY:
                    raise
                self._end_kill()
                continue
            except wire.PacketTooLarge as e:  # the rest of the packet is still unread: the connection is done
                await self._write_error(e)
                return
            except wire.PacketsOutOfOrder as e:
                await self._write_error(e)
                return
            try:
                if not data:
                    raise wire.MalformedPacket()
                if data[0] == Commands.COM_QUIT:
                    return
                handler = commands.get(data[0])
                if handler is None:
                    raise MysqlError(f"Unsupported Command: {hex(data[0])}", ErrorCode.UNKNOWN_COM_ERROR)
                await handler(data[1:])
            except MysqlError as e:
                await self.stream.write(self.error(msg=e.msg, code=e.code))
            except asyncio.CancelledError:
                if self._kill != KillKind.QUERY:
                    raise
                self._end_kill()
                await self.stream.write(self.error(msg="Query execution was interrupted",
                                                   code=ER_QUERY_INTERRUPTED))  # type: ignore[arg-type]
            except (LoginRejected, ConnectionError):
                raise
            except Exception:  # noqa: BLE001 - logged with its traceback; the client gets a fixed text
                log.exception("command %#x failed on connection %s", data[0], self.connection_id)
                error = unexpected()
                await self.stream.write(self.error(msg=error.msg, code=error.code))
            finally:
                self.stream.reset_seq()

    def _end_kill(self) -> None:
        """KILL QUERY cancelled this connection's task; the connection goes on."""
        if self._task is not None:
            self._task.uncancel()
        self._kill = None

    async def handle_init_db(self, data: bytes) -> None:
        await self.session.use(wire.decode(self.client_charset, data))
        await self.stream.write(self.ok())

    async def handle_field_list(self, data: bytes) -> None:
        field_list = wire.parse_field_list(self.client_charset, data)
        result = await self.query(sql=com_field_list_to_show_statement(field_list), query_attrs={})
        columns = [
            packets.make_column_definition_41(server_charset=self.server_charset, table=field_list.table,
                                              name=row[0], is_com_field_list=True, default=row[4],
                                              column_type=types.ColumnType.STRING)
            async for row in aiterate(result.rows)
        ]
        await self.stream.write(b"".join(columns))
        await self.stream.write(self.ok_or_eof())

    async def handle_query(self, data: bytes) -> None:
        sql, attrs = parse_query(self.capabilities, self.client_charset, data)
        multi = bool(self.capabilities & types.Capabilities.CLIENT_MULTI_STATEMENTS)
        await self._respond(await self.session.handle_query(sql, attrs, self._respond_more if multi else None))

    async def _respond_more(self, result: Any) -> None:
        """A result of a multi-statement query before its last: SERVER_MORE_RESULTS_EXISTS tells the client
        another follows (without multi-statements, Doris answers with the last result only)."""
        self.status_flags |= types.ServerStatus.SERVER_MORE_RESULTS_EXISTS
        try:
            await self._respond(result)
        finally:
            self.status_flags &= ~types.ServerStatus.SERVER_MORE_RESULTS_EXISTS

    # ---- prepared statements -----------------------------------------------------------------------------

    async def handle_stmt_prepare(self, data: bytes) -> None:
        if len(self.prepared_stmts) >= MAX_PREPARED_STATEMENTS:
            raise MysqlError(f"Can't create more than max_prepared_stmt_count statements (current value: "
                             f"{MAX_PREPARED_STATEMENTS})", ER_MAX_PREPARED_STMT_COUNT_REACHED)  # type: ignore[arg-type]
        stmt = Prepared(next(self.prepared_stmt_seq), wire.decode(self.client_charset, data))
        self.prepared_stmts[stmt.stmt_id] = stmt
        for packet in self.com_stmt_prepare_response(stmt):
            await self.stream.write(packet, drain=False)
        await self.stream.drain()

    async def handle_stmt_send_long_data(self, data: bytes) -> None:
        r = wire.PacketReader(data)
        stmt = self.get_stmt(r.uint(4))
        param = r.uint(2)
        if stmt.param_buffers is None:
            stmt.param_buffers = {}
        buffer = stmt.param_buffers.setdefault(param, bytearray())
        chunk = r.rest()
        if sum(len(b) for b in stmt.param_buffers.values()) + len(chunk) > self.stream.limit:
            stmt.param_buffers = None
            raise wire.PacketTooLarge()
        buffer.extend(chunk)  # no answer: COM_STMT_SEND_LONG_DATA has none

    async def handle_stmt_execute(self, data: bytes) -> None:
        stmt, sql, attrs, use_cursor = parse_execute(self.capabilities, self.client_charset, data, self.get_stmt)
        stmt.param_buffers = None
        result = await self.session.handle_query(sql, attrs)
        result_set = None if isinstance(result, Affected) else await ensure_result_set(result)
        if not result_set:
            await self._respond(result)
            return
        await self.stream.write(types.uint_len(len(result_set.columns)))
        for column in result_set.columns:
            await self.stream.write(
                packets.make_column_definition_41(
                    server_charset=self.server_charset, name=column.name, column_type=column.type,
                    character_set=column.character_set,
                )
            )

        async def rows() -> AsyncIterator[bytes]:
            async for r in cooperative_iterate(aiterate(result_set.rows)):
                yield packets.make_binary_resultrow(r, result_set.columns)

        if use_cursor:
            stmt.cursor = rows()
            await self.stream.write(self.ok_or_eof(flags=types.ServerStatus.SERVER_STATUS_CURSOR_EXISTS))
            return
        if not self.deprecate_eof():
            await self.stream.write(self.eof())
        async for row in rows():
            await self.stream.write(row)
        await self.stream.write(self.ok_or_eof())

    async def handle_stmt_fetch(self, data: bytes) -> None:
        r = wire.PacketReader(data)
        stmt, wanted = self.get_stmt(r.uint(4)), r.uint(4)
        if stmt.cursor is None:
            raise MysqlError("The statement has no open cursor", ErrorCode.UNKNOWN_PROCEDURE)
        sent = 0
        async for packet in cooperative_iterate(stmt.cursor):
            if sent >= wanted:
                break
            await self.stream.write(packet, drain=False)
            sent += 1
        await self.stream.drain()
        flags = types.ServerStatus.SERVER_STATUS_LAST_ROW_SENT if sent < wanted else \
            types.ServerStatus.SERVER_STATUS_CURSOR_EXISTS
        await self.stream.write(self.ok_or_eof(flags=flags))

    async def handle_stmt_reset(self, data: bytes) -> None:
        stmt = self.get_stmt(wire.PacketReader(data).uint(4))
        stmt.param_buffers = None
        stmt.cursor = None
        await self.session.reset()
        await self.stream.write(self.ok())

    async def handle_stmt_close(self, data: bytes) -> None:
        self.prepared_stmts.pop(wire.PacketReader(data).uint(4), None)  # no answer: COM_STMT_CLOSE has none

    def get_stmt(self, stmt_id: int) -> Prepared:
        stmt = self.prepared_stmts.get(stmt_id)
        if not isinstance(stmt, Prepared):
            raise MysqlError(f"Unknown prepared statement handler ({stmt_id}) given to mysqld_stmt_execute",
                             1243)  # type: ignore[arg-type]
        return stmt

    # ---- answers -----------------------------------------------------------------------------------------

    async def _respond(self, result: Any) -> None:
        if isinstance(result, Affected):
            await self.stream.write(self.ok(affected_rows=result.rows))
            return
        result_set = await ensure_result_set(result)
        if not result_set:  # no columns: an OK packet
            await self.stream.write(self.ok())
            return
        await self.write_text_resultset(result_set)

    async def write_text_resultset(self, result_set: ResultSet) -> None:
        """mysql-mimic's, with the server's character set read once per result and each column's definition
        packet built once (column_definition): for a small SHOW result they were a third of the answer's time."""
        charset, columns = self.server_charset, result_set.columns
        header = [packets.make_column_count(capabilities=self.capabilities, column_count=len(columns))]
        header += [column_definition(charset, c.name, c.type, c.character_set) for c in columns]
        if not self.deprecate_eof():
            header.append(self.eof())
        self.stream.write_many(header)
        rows = result_set.rows
        if isinstance(rows, (list, tuple)):
            for i in range(0, len(rows), ROWS_PER_WRITE):
                if i:
                    await asyncio.sleep(0)  # a big result lets other connections in between its slices
                self.stream.write_text_rows(rows[i:i + ROWS_PER_WRITE], columns)
        else:
            batch = []
            async for row in cooperative_iterate(aiterate(rows)):
                batch.append(packets.make_text_resultset_row(row, columns))
                if len(batch) >= 1000:
                    self.stream.write_many(batch)
                    batch = []
            self.stream.write_many(batch)
        await self.stream.write(self.ok_or_eof(), drain=False)
        await self.stream.drain()

    def ok_or_eof(self, affected_rows: int = 0, last_insert_id: int = 0, warnings: int = 0, flags: int = 0) -> bytes:
        # Real servers end a result set with affected_rows = 0; MariaDB Connector/J fails otherwise.
        return super().ok_or_eof(0, last_insert_id, warnings, flags)

    def com_stmt_prepare_response(self, statement: PreparedStatement) -> Iterator[bytes]:
        yield packets.make_com_stmt_prepare_ok(statement)
        if statement.num_params:
            for _ in range(statement.num_params):
                yield packets.make_column_definition_41(server_charset=self.server_charset, name="?",
                                                        column_type=types.ColumnType.VAR_STRING)  # as MySQL
            if not self.deprecate_eof():
                yield self.eof()
