"""A MySQL client on a raw socket, for tests that send what no driver would: any bytes, in any packet."""

from __future__ import annotations

import hashlib
import socket
import struct

CLIENT_LONG_PASSWORD = 1
CLIENT_CONNECT_WITH_DB = 8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_CONNECT_ATTRS = 0x100000
CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x200000
CLIENT_DEPRECATE_EOF = 0x1000000
CAPABILITIES = (CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
                | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_DEPRECATE_EOF)

COM_QUIT, COM_INIT_DB, COM_QUERY, COM_FIELD_LIST, COM_CHANGE_USER = 0x01, 0x02, 0x03, 0x04, 0x11
COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE = 0x16, 0x17, 0x18, 0x19


def scramble(password: str, nonce: bytes) -> bytes:
    """mysql_native_password's answer to the server's nonce."""
    if not password:
        return b""
    once = hashlib.sha1(password.encode()).digest()
    twice = hashlib.sha1(once).digest()
    mixed = hashlib.sha1(nonce + twice).digest()
    return bytes(a ^ b for a, b in zip(once, mixed, strict=True))


def handshake_response(user: bytes, auth: bytes = b"", capabilities: int = CAPABILITIES, tail: bytes = b"") -> bytes:
    """A HandshakeResponse41 with `user` sent as given (a caller may leave out its NUL)."""
    head = struct.pack("<IIB23x", capabilities, 1 << 24, 45)
    return head + user + bytes([len(auth)]) + auth + tail


class RawClient:
    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.seq = 0
        greeting = self.read()
        # protocol 10, version NUL-terminated, connection id, 8 bytes of nonce, ..., 12 more bytes of nonce
        rest = greeting[greeting.index(b"\0", 1) + 1:]
        self.nonce = rest[4:12] + rest[31:43]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- packets ---------------------------------------------------------------------------------------------

    def send(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([self.seq & 0xFF]) + payload)
        self.seq += 1

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> bytes:
        header = self._exactly(4)
        self.seq = header[3] + 1
        return self._exactly(int.from_bytes(header[:3], "little"))

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("closed by the server")
            data += chunk
        return data

    def closed_by_server(self) -> bool:
        """True once the server has closed the connection (after reading what it sent)."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionError, TimeoutError, OSError):
            return True

    # ---- conversations ---------------------------------------------------------------------------------------

    def login(self, user: str = "root", password: str = "") -> bytes:
        self.send(handshake_response(user.encode() + b"\0", scramble(password, self.nonce),
                                     tail=b"mysql_native_password\0"))
        return self.read()

    def command(self, command: int, payload: bytes = b"") -> bytes:
        """Send one command and return the first packet of its answer."""
        self.seq = 0
        self.send(bytes([command]) + payload)
        return self.read()

    def query(self, sql: str) -> bytes:
        return self.command(COM_QUERY, sql.encode())

    def drain(self) -> list[bytes]:
        """The rest of an answer: packets until an OK/EOF that ends a result set, or an error."""
        packets = []
        while True:
            packet = self.read()
            packets.append(packet)
            if packet[:1] in (b"\xfe", b"\xff") and len(packet) < 0xFFFFFF:
                return packets


def error_of(packet: bytes) -> tuple[int, str] | None:
    """(code, message) of an ERR packet, else None."""
    if packet[:1] != b"\xff":
        return None
    code = int.from_bytes(packet[1:3], "little")
    message = packet[9:] if packet[3:4] == b"#" else packet[3:]
    return code, message.decode("utf-8", "replace")
