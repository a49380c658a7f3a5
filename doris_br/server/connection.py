"""mysql-mimic's Connection with its holes closed (see shared/reference/mysql-mimic-and-sqlglot.md):

- a failed login (or COM_CHANGE_USER) closes the connection instead of entering the command phase;
- prepared-statement parameters are bound as escaped literals, DATE/DATETIME/TIME/DECIMAL included;
- COM_STMT_PREPARE ends its parameter definitions with an EOF only when the client expects one;
- the OK packet that ends a result set carries no row count; a statement's OK can carry affected rows.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from mysql_mimic import packets, types
from mysql_mimic.connection import Connection
from mysql_mimic.constants import KillKind
from mysql_mimic.errors import ErrorCode
from mysql_mimic.prepared import PreparedStatement
from mysql_mimic.results import ensure_result_set
from mysql_mimic.utils import aiterate, cooperative_iterate

from doris_br.fe.statements.results import Affected
from doris_br.server.prepared import parse_execute

log = logging.getLogger(__name__)

# The client's address, for "Access denied for user 'u'@'host'" and SHOW PROCESSLIST.
client_host: contextvars.ContextVar[str] = contextvars.ContextVar("client_host", default="")


class LoginRejected(BaseException):
    """Authentication failed: the ERR packet has been sent and the connection must close.

    A BaseException so that the command loop's catch-all cannot swallow it.
    """


class DorisConnection(Connection):
    async def _start(self) -> None:
        peer = self.stream.writer.get_extra_info("peername")
        client_host.set(peer[0] if peer else "")
        try:
            await self.connection_phase()
            if self.session.username is None:
                raise LoginRejected
            await self.session.init(self)
        except LoginRejected:
            log.info("connection %s closed after a failed login", self.connection_id)
            return
        except Exception as e:  # noqa: BLE001 - the handshake's failure goes to the client, then we close
            await self.stream.write(self.error(msg=str(e), code=ErrorCode.HANDSHAKE_ERROR))
            return
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

    async def handle_change_user(self, data: bytes) -> None:
        # Drop the old identity first: a failed COM_CHANGE_USER must not keep running as the previous user.
        self.session.username = None
        await super().handle_change_user(data)
        if self.session.username is None:
            raise LoginRejected

    async def handle_query(self, data: bytes) -> None:
        com_query = packets.parse_com_query(
            capabilities=self.capabilities, client_charset=self.client_charset, data=data
        )
        await self._respond(await self.session.handle_query(com_query.sql, com_query.query_attrs))

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

        async def rows() -> Any:
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

    async def _respond(self, result: Any) -> None:
        if isinstance(result, Affected):
            await self.stream.write(self.ok(affected_rows=result.rows))
            return
        result_set = await ensure_result_set(result)
        if not result_set:  # no columns: an OK packet
            await self.stream.write(self.ok())
            return
        await self.write_text_resultset(result_set)

    def ok_or_eof(self, affected_rows: int = 0, last_insert_id: int = 0, warnings: int = 0, flags: int = 0) -> bytes:
        # Real servers end a result set with affected_rows = 0; MariaDB Connector/J fails otherwise.
        return super().ok_or_eof(0, last_insert_id, warnings, flags)

    def com_stmt_prepare_response(self, statement: PreparedStatement) -> Any:
        yield packets.make_com_stmt_prepare_ok(statement)
        if statement.num_params:
            for _ in range(statement.num_params):
                yield packets.make_column_definition_41(server_charset=self.server_charset, name="?")
            if not self.deprecate_eof():
                yield self.eof()
