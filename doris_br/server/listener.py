"""The MySQL port: accepting connections within limits.

mysql-mimic's server accepts without bound, and a connection that never logs in stays open for ever: enough of
them exhaust the FE's file descriptors. Here at most `max_handshakes` connections may be logging in at once (the
rest are answered "Too many connections" and closed), each must log in within connect_timeout (see
DorisConnection), and once logged in the session counts against qe_max_connection and max_user_connections
(DorisSession.check_connection_limits).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable

from mysql_mimic import MysqlServer
from mysql_mimic.constants import DEFAULT_SERVER_CAPABILITIES
from mysql_mimic.stream import MysqlStream
from mysql_mimic.types import Capabilities

from doris_br.server.connection import ER_CON_COUNT, DorisConnection
from doris_br.server.wire import BoundedStream

log = logging.getLogger(__name__)

# Doris's FE offers multi-statements and multiple results (MysqlCapability.DEFAULT_CAPABILITY), so clients that
# negotiate them (mysqlclient, mysql2, the mariadb client) get every result of `SELECT 1; SELECT 2`.
SERVER_CAPABILITIES = DEFAULT_SERVER_CAPABILITIES | Capabilities.CLIENT_MULTI_STATEMENTS \
    | Capabilities.CLIENT_MULTI_RESULTS

# A login packet holds a user name, a password hash, a database, a plugin name and connection attributes.
PRE_AUTH_PACKET_LIMIT = 64 << 10


def raise_file_limit(wanted: int) -> int:
    """Lift the soft limit on open files towards the hard one, so `wanted` sockets fit; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else min(hard, max(soft, wanted))
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class DorisServer(MysqlServer):
    def __init__(self, *, max_handshakes: int, packet_limit: Callable[[], int], **kwargs: object) -> None:
        super().__init__(capabilities=SERVER_CAPABILITIES, **kwargs)  # type: ignore[arg-type]
        self.max_handshakes = max_handshakes
        self.packet_limit = packet_limit
        self.handshakes = 0

    async def _client_connected_cb(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = BoundedStream(MysqlStream(reader, writer), self.packet_limit(), PRE_AUTH_PACKET_LIMIT)
        connection = DorisConnection(stream=stream, session=self.session_factory(),  # type: ignore[arg-type]
                                     control=self.control, server_capabilities=self.capabilities,
                                     identity_provider=self.identity_provider, ssl=self.ssl)
        if self.handshakes >= self.max_handshakes:
            await self._refuse(connection, writer)
            return
        connection_id = await self.control.add(connection)
        connection.connection_id = connection_id
        self.handshakes += 1
        logging_in = True

        def logged_in() -> None:
            nonlocal logging_in
            if logging_in:
                logging_in = False
                self.handshakes -= 1

        connection.on_login = logged_in
        try:
            await connection.start()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # the FE stopping (or KILL CONNECTION): this connection's end, not an error
            pass
        finally:
            logged_in()
            writer.close()
            await self.control.remove(connection_id)

    async def _refuse(self, connection: DorisConnection, writer: asyncio.StreamWriter) -> None:
        try:
            await connection.stream.write(connection.error(msg="Too many connections", code=ER_CON_COUNT))
        except (ConnectionError, RuntimeError):
            pass
        finally:
            writer.close()
