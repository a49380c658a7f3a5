"""The client's packets, read with bounds: a field that runs past its packet is a protocol error, never a loop.

mysql-mimic's readers trust the client: a NUL-terminated string without its NUL loops for ever (and a long one
takes quadratic time), a short packet raises struct's or Python's own errors, and an unknown collation or type
number raises an enum's ValueError whose text reached the client. Here every packet is read by PacketReader,
which finds terminators with bytes.find (linear), checks every length against what is left, and raises
MalformedPacket (MySQL's ER_MALFORMED_PACKET) for anything that does not fit.
"""

from __future__ import annotations

import asyncio
import struct

from mysql_mimic.charset import CharacterSet, Collation
from mysql_mimic.errors import MysqlError
from mysql_mimic.packets import ComChangeUser, ComFieldList, HandshakeResponse41, SSLRequest
from mysql_mimic.stream import ConnectionClosed, MysqlStream
from mysql_mimic.types import Capabilities

ER_HANDSHAKE_ERROR = 1043
ER_NET_PACKET_TOO_LARGE = 1153
ER_NET_PACKETS_OUT_OF_ORDER = 1156
ER_INVALID_CHARACTER_STRING = 1300
ER_MALFORMED_PACKET = 1835
_MAX_PAYLOAD = 0xFFFFFF  # a payload this long continues in the next packet


class MalformedPacket(MysqlError):
    def __init__(self, message: str = "Malformed communication packet.") -> None:
        super().__init__(message, ER_MALFORMED_PACKET)  # type: ignore[arg-type]


class PacketTooLarge(MysqlError):
    """The connection closes after this error: the rest of the oversized packet is never read."""

    def __init__(self) -> None:
        super().__init__("Got a packet bigger than 'max_allowed_packet' bytes", ER_NET_PACKET_TOO_LARGE)  # type: ignore[arg-type]


class PacketsOutOfOrder(MysqlError):
    def __init__(self) -> None:
        super().__init__("Got packets out of order", ER_NET_PACKETS_OUT_OF_ORDER)  # type: ignore[arg-type]


class PacketReader:
    """Fields of one packet, front to back."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def fixed(self, size: int) -> bytes:
        if size < 0 or size > self.remaining():
            raise MalformedPacket()
        value = self.data[self.pos:self.pos + size]
        self.pos += size
        return value

    def uint(self, size: int) -> int:
        return int.from_bytes(self.fixed(size), "little")

    def int(self, size: int) -> int:
        return int.from_bytes(self.fixed(size), "little", signed=True)

    def float(self) -> float:
        return struct.unpack("<f", self.fixed(4))[0]

    def double(self) -> float:
        return struct.unpack("<d", self.fixed(8))[0]

    def lenenc_int(self) -> int:
        first = self.uint(1)
        if first < 0xFB:
            return first
        size = {0xFC: 2, 0xFD: 3, 0xFE: 8}.get(first)
        if size is None:  # 0xFB is NULL and 0xFF an error marker: neither is a length
            raise MalformedPacket()
        return self.uint(size)

    def lenenc_bytes(self) -> bytes:
        return self.fixed(self.lenenc_int())

    def null_terminated(self) -> bytes:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise MalformedPacket()
        value = self.data[self.pos:end]
        self.pos = end + 1
        return value

    def rest(self) -> bytes:
        value = self.data[self.pos:]
        self.pos = len(self.data)
        return value


def decode(charset: CharacterSet, raw: bytes) -> str:
    """Client text in its character set; bytes that are not text are MySQL's invalid string error."""
    try:
        return charset.decode(raw)
    except (UnicodeDecodeError, LookupError):
        shown = raw[:16].hex().upper()
        raise MysqlError(f"Invalid {charset.name} character string: '{shown}'",
                         ER_INVALID_CHARACTER_STRING) from None  # type: ignore[arg-type]


def charset_of(collation_id: int) -> CharacterSet:
    """The character set of a collation number; an unknown number means the server's default, as MySQL does."""
    try:
        return Collation(collation_id).charset
    except ValueError:
        return CharacterSet.utf8mb4


# ---- connection phase ---------------------------------------------------------------------------------------


def parse_handshake_response(server: Capabilities, data: bytes) -> HandshakeResponse41 | SSLRequest:
    r = PacketReader(data)
    capabilities = server & Capabilities(r.uint(4))
    max_packet_size = r.uint(4)
    charset = charset_of(r.uint(1))
    r.fixed(23)  # reserved
    if not r.remaining():
        return SSLRequest(max_packet_size=max_packet_size, capabilities=capabilities, client_charset=charset)
    username = decode(charset, r.null_terminated())
    if Capabilities.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA in capabilities:
        auth_response = r.lenenc_bytes()
    else:
        auth_response = r.fixed(r.uint(1))
    response = HandshakeResponse41(max_packet_size=max_packet_size, capabilities=capabilities,
                                   client_charset=charset, username=username, auth_response=auth_response)
    if Capabilities.CLIENT_CONNECT_WITH_DB in capabilities and r.remaining():
        response.database = decode(charset, r.null_terminated()) or None
    if Capabilities.CLIENT_PLUGIN_AUTH in capabilities and r.remaining():
        response.client_plugin = decode(charset, r.null_terminated())
    if Capabilities.CLIENT_CONNECT_ATTRS in capabilities and r.remaining():
        response.connect_attrs = connect_attrs(r, charset)
    if Capabilities.CLIENT_ZSTD_COMPRESSION_ALGORITHM in capabilities and r.remaining():
        response.zstd_compression_level = r.uint(1)
    return response


def connect_attrs(r: PacketReader, charset: CharacterSet) -> dict[str, str]:
    block = PacketReader(r.fixed(r.lenenc_int()))
    attrs = {}
    while block.remaining():
        key = decode(charset, block.lenenc_bytes())
        attrs[key] = decode(charset, block.lenenc_bytes())
    return attrs


def parse_change_user(capabilities: Capabilities, charset: CharacterSet, data: bytes) -> ComChangeUser:
    r = PacketReader(data)
    username = decode(charset, r.null_terminated())
    if Capabilities.CLIENT_SECURE_CONNECTION in capabilities:
        auth_response = r.fixed(r.uint(1))
    else:
        auth_response = r.null_terminated()
    database = decode(charset, r.null_terminated()) if r.remaining() else ""
    change = ComChangeUser(username=username, auth_response=auth_response, database=database)
    if r.remaining() >= 2 and Capabilities.CLIENT_PROTOCOL_41 in capabilities:
        charset = charset_of(r.uint(2))
        change.client_charset = charset
    if Capabilities.CLIENT_PLUGIN_AUTH in capabilities and r.remaining():
        change.client_plugin = decode(charset, r.null_terminated())
    if Capabilities.CLIENT_CONNECT_ATTRS in capabilities and r.remaining():
        change.connect_attrs = connect_attrs(r, charset)
    return change


# ---- command phase ------------------------------------------------------------------------------------------


def parse_field_list(charset: CharacterSet, data: bytes) -> ComFieldList:
    r = PacketReader(data)
    table = decode(charset, r.null_terminated())
    return ComFieldList(table=table, wildcard=decode(charset, r.rest()))


class BoundedStream:
    """mysql-mimic's packet stream (kept for its fast writers) with a read that bounds what a client may send.

    Before login a packet may hold at most `pre_auth_limit` bytes; after it, `limit` bytes
    (max_allowed_packet). A bigger packet is answered with PacketTooLarge, and the connection closes.
    """

    def __init__(self, inner: MysqlStream, limit: int, pre_auth_limit: int) -> None:
        self.inner = inner
        self.limit = pre_auth_limit
        self._limit_after_login = limit

    def logged_in(self) -> None:
        self.limit = self._limit_after_login

    @property
    def reader(self) -> asyncio.StreamReader:
        return self.inner.reader

    @property
    def writer(self) -> asyncio.StreamWriter:
        return self.inner.writer

    async def read(self) -> bytes:
        data = bytearray()
        while True:
            try:
                header = await self.inner.reader.readexactly(4)
            except (asyncio.IncompleteReadError, ConnectionError):
                raise ConnectionClosed() from None
            length = int.from_bytes(header[:3], "little")
            if header[3] != next(self.inner.seq):
                raise PacketsOutOfOrder()
            if len(data) + length > self.limit:
                raise PacketTooLarge()
            if length:
                try:
                    data += await self.inner.reader.readexactly(length)
                except (asyncio.IncompleteReadError, ConnectionError):
                    raise ConnectionClosed() from None
            if length < _MAX_PAYLOAD:
                return bytes(data)

    # What mysql-mimic's Connection calls, handed to its compiled stream.
    async def write(self, data: bytes, drain: bool = True) -> None:
        await self.inner.write(data, drain)

    def write_many(self, packets: list[bytes]) -> None:
        self.inner.write_many(packets)

    def write_text_rows(self, rows: list, columns: list) -> int:
        return self.inner.write_text_rows(rows, columns)

    async def drain(self) -> None:
        await self.inner.drain()

    def reset_seq(self) -> None:
        self.inner.reset_seq()

    async def start_tls(self, ssl: object) -> None:
        await self.inner.start_tls(ssl)  # type: ignore[arg-type]
