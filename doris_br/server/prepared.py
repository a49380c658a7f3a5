"""COM_STMT_PREPARE and COM_STMT_EXECUTE: placeholders found as the SQL lexer sees them, parameters read with
bounds and bound as escaped literals.

mysql-mimic finds `?` with a regular expression that also counts one inside a string literal or a comment, pastes
string parameters into the statement unescaped (so `O'Brien` breaks it and `x' OR '1'='1` rewrites it), and
rejects DATE, DATETIME, TIME and DECIMAL parameters. Here placeholders are the `?` outside quotes and comments,
every value becomes a SQL literal that can only be read back as that value (NaN and infinities, which no literal
spells, are refused), and all binary-protocol types are read through the bounded PacketReader.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from typing import Any

from mysql_mimic.charset import CharacterSet
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.prepared import PreparedStatement
from mysql_mimic.types import Capabilities, ColumnType, ComStmtExecuteFlags

from doris_br.server.wire import MalformedPacket, PacketReader, decode

STRING_TYPES = {
    ColumnType.VARCHAR, ColumnType.VAR_STRING, ColumnType.STRING, ColumnType.BLOB, ColumnType.TINY_BLOB,
    ColumnType.MEDIUM_BLOB, ColumnType.LONG_BLOB, ColumnType.ENUM, ColumnType.SET, ColumnType.JSON,
}


# What the lexer skips over: quoted strings and names (with their escapes) and comments; a `?` elsewhere is a
# placeholder. Possessive repeats keep the scan linear whatever the text.
_LEXEMES = re.compile(
    r"""'(?:[^'\\]|\\.|'')*+'|"(?:[^"\\]|\\.|"")*+"|`(?:[^`]|``)*+`|--[^\n]*+|\#[^\n]*+|/\*.*?\*/|(\?)""",
    re.DOTALL,
)


class Prepared(PreparedStatement):
    """A prepared statement with where its placeholders are and the parameter types last sent."""

    def __init__(self, stmt_id: int, sql: str) -> None:
        self.positions = [m.start(1) for m in _LEXEMES.finditer(sql) if m.group(1)]
        super().__init__(stmt_id=stmt_id, sql=sql, num_params=len(self.positions))
        self.param_types: list[tuple[ColumnType, bool, str | None]] | None = None


def sql_literal(value: Any) -> str:
    """A value as a SQL literal that the parser can only read back as that same value."""
    if value is None:
        return "NULL"
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MysqlError(f"Invalid DOUBLE parameter: {value}", ErrorCode.WRONG_VALUE_FOR_VAR)
        return repr(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise MysqlError(f"Invalid DECIMAL parameter: {value}", ErrorCode.WRONG_VALUE_FOR_VAR)
        return str(value)
    if isinstance(value, dt.datetime):
        return "'" + value.isoformat(sep=" ") + "'"
    if isinstance(value, (dt.date, dt.time)):
        return "'" + value.isoformat() + "'"
    if isinstance(value, dt.timedelta):
        total = int(value.total_seconds())
        sign, total = ("-", -total) if total < 0 else ("", total)
        return f"'{sign}{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}'"
    text = str(value).replace("\\", "\\\\").replace("'", "''").replace("\0", "\\0")
    return "'" + text + "'"


def bind(stmt: Prepared, values: list[Any]) -> str:
    """The statement with each placeholder replaced by its value's literal."""
    pieces, last = [], 0
    for position, value in zip(stmt.positions, values, strict=True):
        pieces += [stmt.sql[last:position], sql_literal(value)]
        last = position + 1
    pieces.append(stmt.sql[last:])
    return "".join(pieces)


def _read_datetime(reader: PacketReader, kind: ColumnType) -> Any:
    length = reader.uint(1)
    year = month = day = hour = minute = second = micro = 0
    if length >= 4:
        year, month, day = reader.uint(2), reader.uint(1), reader.uint(1)
    if length >= 7:
        hour, minute, second = reader.uint(1), reader.uint(1), reader.uint(1)
    if length >= 11:
        micro = reader.uint(4)
    try:
        if kind == ColumnType.DATE:
            return dt.date(year or 1, month or 1, day or 1)
        return dt.datetime(year or 1, month or 1, day or 1, hour, minute, second, micro)
    except ValueError:
        raise MysqlError(f"Invalid {kind.name} parameter", ErrorCode.WRONG_VALUE_FOR_VAR) from None


def _read_time(reader: PacketReader) -> dt.timedelta:
    length = reader.uint(1)
    if length == 0:
        return dt.timedelta(0)
    negative = reader.uint(1)
    days = reader.uint(4)
    hour, minute, second = reader.uint(1), reader.uint(1), reader.uint(1)
    micro = reader.uint(4) if length >= 12 else 0
    try:
        value = dt.timedelta(days=days, hours=hour, minutes=minute, seconds=second, microseconds=micro)
    except OverflowError:
        raise MysqlError("Invalid TIME parameter", ErrorCode.WRONG_VALUE_FOR_VAR) from None
    return -value if negative else value


def _read_decimal(reader: PacketReader) -> decimal.Decimal:
    raw = reader.lenenc_bytes()
    try:
        return decimal.Decimal(raw.decode("ascii"))
    except (UnicodeDecodeError, decimal.InvalidOperation):
        raise MysqlError(f"Invalid DECIMAL parameter: {raw[:40]!r}", ErrorCode.WRONG_VALUE_FOR_VAR) from None


def read_value(charset: CharacterSet, reader: PacketReader, kind: ColumnType, unsigned: bool) -> Any:
    if kind in STRING_TYPES:
        return decode(charset, reader.lenenc_bytes())
    if kind in (ColumnType.DECIMAL, ColumnType.NEWDECIMAL):
        return _read_decimal(reader)
    sizes = {ColumnType.TINY: 1, ColumnType.BOOL: 1, ColumnType.SHORT: 2, ColumnType.YEAR: 2, ColumnType.LONG: 4,
             ColumnType.INT24: 4, ColumnType.LONGLONG: 8}
    if kind in sizes:
        return reader.uint(sizes[kind]) if unsigned else reader.int(sizes[kind])
    if kind == ColumnType.FLOAT:
        return reader.float()
    if kind == ColumnType.DOUBLE:
        return reader.double()
    if kind in (ColumnType.DATE, ColumnType.DATETIME, ColumnType.TIMESTAMP, ColumnType.DATETIME2,
                ColumnType.TIMESTAMP2, ColumnType.NEWDATE):
        return _read_datetime(reader, ColumnType.DATE if kind in (ColumnType.DATE, ColumnType.NEWDATE) else kind)
    if kind in (ColumnType.TIME, ColumnType.TIME2):
        return _read_time(reader)
    if kind == ColumnType.NULL:
        return None
    raise MysqlError(f"Unsupported parameter type: {kind.name}", ErrorCode.NOT_SUPPORTED_YET)


def _column_type(number: int) -> ColumnType:
    try:
        return ColumnType(number)
    except ValueError:
        raise MysqlError(f"Unsupported parameter type: {number}", ErrorCode.NOT_SUPPORTED_YET) from None


ParamTypes = list[tuple[ColumnType, bool, str | None]]


def read_parameters(charset: CharacterSet, reader: PacketReader, count: int, with_names: bool,
                    previous: ParamTypes | None = None,
                    buffers: dict[int, bytearray] | None = None) -> tuple[ParamTypes, list[Any]]:
    """`count` parameters (of COM_STMT_EXECUTE, or a COM_QUERY's query attributes): their types (sent now, or
    `previous` when the client says they are unchanged) and values (long data from `buffers` first)."""
    if count > reader.remaining() * 8:  # each parameter has a bit in the null bitmap
        raise MalformedPacket()
    null_bitmap = reader.fixed((count + 7) // 8)
    types = previous
    if reader.uint(1):  # new-params-bound: types follow; otherwise the previous types apply
        types = []
        for _ in range(count):
            kind, flag = _column_type(reader.uint(1)), reader.uint(1)
            name = decode(charset, reader.lenenc_bytes()) if with_names else None
            types.append((kind, bool(flag & 0x80), name))
    if types is None or len(types) != count:
        raise MysqlError("Parameter types were never sent", ErrorCode.MALFORMED_PACKET)
    values: list[Any] = []
    for i, (kind, unsigned, _) in enumerate(types):
        if null_bitmap[i // 8] & (1 << (i % 8)):
            values.append(None)
        elif buffers and i in buffers:
            values.append(decode(charset, bytes(buffers[i])))
        else:
            values.append(read_value(charset, reader, kind, unsigned))
    return types, values


def parse_execute(
    capabilities: Capabilities, charset: CharacterSet, data: bytes, stmt_of: Any
) -> tuple[Prepared, str, dict[str, str], bool]:
    """COM_STMT_EXECUTE -> (statement, bound SQL, query attributes, use_cursor)."""
    reader = PacketReader(data)
    stmt: Prepared = stmt_of(reader.uint(4))
    flags = reader.uint(1)
    use_cursor = bool(flags & ComStmtExecuteFlags.CURSOR_TYPE_READ_ONLY)
    reader.uint(4)  # iteration count, always 1
    count = stmt.num_params
    with_attrs = Capabilities.CLIENT_QUERY_ATTRIBUTES in capabilities
    if with_attrs and (count > 0 or flags & ComStmtExecuteFlags.PARAMETER_COUNT_AVAILABLE):
        count = reader.lenenc_int()
    if count < stmt.num_params:
        raise MalformedPacket()
    values: list[Any] = []
    names: list[str | None] = []
    if count > 0:
        stmt.param_types, values = read_parameters(charset, reader, count, with_attrs, stmt.param_types,
                                                   stmt.param_buffers)
        names = [name for _, _, name in stmt.param_types]
    sql = bind(stmt, values[: stmt.num_params])
    attrs = {n: str(v) for n, v in zip(names[stmt.num_params :], values[stmt.num_params :], strict=True) if n}
    return stmt, sql, attrs, use_cursor


def parse_query(capabilities: Capabilities, charset: CharacterSet, data: bytes) -> tuple[str, dict[str, str]]:
    """COM_QUERY -> (SQL, query attributes)."""
    reader = PacketReader(data)
    attrs: dict[str, str] = {}
    if Capabilities.CLIENT_QUERY_ATTRIBUTES in capabilities:
        count = reader.lenenc_int()
        reader.lenenc_int()  # parameter sets, always 1
        if count:
            types, values = read_parameters(charset, reader, count, True)
            attrs = {name: str(v) for (_, _, name), v in zip(types, values, strict=True) if name}
    return decode(charset, reader.rest()), attrs
