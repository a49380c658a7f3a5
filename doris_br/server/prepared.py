"""COM_STMT_EXECUTE parameters, bound safely.

mysql-mimic pastes string parameters into the statement unescaped (so `O'Brien` breaks it and
`x' OR '1'='1` rewrites it) and rejects DATE, DATETIME, TIME and DECIMAL parameters. Here every value
becomes a properly escaped SQL literal, and all binary-protocol types are read.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
from typing import Any

from mysql_mimic.charset import CharacterSet
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.prepared import REGEX_PARAM, PreparedStatement
from mysql_mimic.types import (
    Capabilities,
    ColumnType,
    ComStmtExecuteFlags,
    read_double,
    read_float,
    read_int_1,
    read_int_2,
    read_int_4,
    read_int_8,
    read_str_len,
    read_uint_1,
    read_uint_2,
    read_uint_4,
    read_uint_8,
    read_uint_len,
)

STRING_TYPES = {
    ColumnType.VARCHAR, ColumnType.VAR_STRING, ColumnType.STRING, ColumnType.BLOB, ColumnType.TINY_BLOB,
    ColumnType.MEDIUM_BLOB, ColumnType.LONG_BLOB, ColumnType.ENUM, ColumnType.SET, ColumnType.JSON,
}


def sql_literal(value: Any) -> str:
    """A value as a SQL literal that the parser can only read back as that same value."""
    if value is None:
        return "NULL"
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, decimal.Decimal):
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


def bind(sql: str, values: list[Any]) -> str:
    literals = iter([sql_literal(v) for v in values])
    # A function replacement: a backslash in a value must not be read as a regex escape.
    return REGEX_PARAM.sub(lambda _: next(literals), sql, count=len(values))


def _read_datetime(reader: io.BytesIO, kind: ColumnType) -> Any:
    length = read_uint_1(reader)
    year = month = day = hour = minute = second = micro = 0
    if length >= 4:
        year, month, day = read_uint_2(reader), read_uint_1(reader), read_uint_1(reader)
    if length >= 7:
        hour, minute, second = read_uint_1(reader), read_uint_1(reader), read_uint_1(reader)
    if length >= 11:
        micro = read_uint_4(reader)
    if kind == ColumnType.DATE:
        return dt.date(year or 1, month or 1, day or 1)
    return dt.datetime(year or 1, month or 1, day or 1, hour, minute, second, micro)


def _read_time(reader: io.BytesIO) -> dt.timedelta:
    length = read_uint_1(reader)
    if length == 0:
        return dt.timedelta(0)
    negative = read_uint_1(reader)
    days = read_uint_4(reader)
    hour, minute, second = read_uint_1(reader), read_uint_1(reader), read_uint_1(reader)
    micro = read_uint_4(reader) if length >= 12 else 0
    value = dt.timedelta(days=days, hours=hour, minutes=minute, seconds=second, microseconds=micro)
    return -value if negative else value


def read_value(charset: CharacterSet, reader: io.BytesIO, kind: ColumnType, unsigned: bool) -> Any:
    if kind in STRING_TYPES:
        return charset.decode(read_str_len(reader))
    if kind in (ColumnType.DECIMAL, ColumnType.NEWDECIMAL):
        text = read_str_len(reader).decode("ascii")
        try:
            return decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise MysqlError(f"Invalid DECIMAL parameter: {text!r}", ErrorCode.WRONG_VALUE_FOR_VAR) from None
    if kind in (ColumnType.TINY, ColumnType.BOOL):
        return (read_uint_1 if unsigned else read_int_1)(reader)
    if kind in (ColumnType.SHORT, ColumnType.YEAR):
        return (read_uint_2 if unsigned else read_int_2)(reader)
    if kind in (ColumnType.LONG, ColumnType.INT24):
        return (read_uint_4 if unsigned else read_int_4)(reader)
    if kind == ColumnType.LONGLONG:
        return (read_uint_8 if unsigned else read_int_8)(reader)
    if kind == ColumnType.FLOAT:
        return read_float(reader)
    if kind == ColumnType.DOUBLE:
        return read_double(reader)
    if kind in (ColumnType.DATE, ColumnType.DATETIME, ColumnType.TIMESTAMP, ColumnType.DATETIME2,
                ColumnType.TIMESTAMP2, ColumnType.NEWDATE):
        return _read_datetime(reader, ColumnType.DATE if kind in (ColumnType.DATE, ColumnType.NEWDATE) else kind)
    if kind in (ColumnType.TIME, ColumnType.TIME2):
        return _read_time(reader)
    if kind == ColumnType.NULL:
        return None
    raise MysqlError(f"Unsupported parameter type: {kind.name}", ErrorCode.NOT_SUPPORTED_YET)


def parse_execute(
    capabilities: Capabilities, charset: CharacterSet, data: bytes, stmt_of: Any
) -> tuple[PreparedStatement, str, dict[str, str], bool]:
    """COM_STMT_EXECUTE -> (statement, bound SQL, query attributes, use_cursor)."""
    reader = io.BytesIO(data)
    stmt: PreparedStatement = stmt_of(read_uint_4(reader))
    flags = ComStmtExecuteFlags(read_uint_1(reader))
    use_cursor = ComStmtExecuteFlags.CURSOR_TYPE_READ_ONLY in flags
    read_uint_4(reader)  # iteration count, always 1
    count = stmt.num_params
    with_attrs = Capabilities.CLIENT_QUERY_ATTRIBUTES in capabilities
    if with_attrs and (count > 0 or ComStmtExecuteFlags.PARAMETER_COUNT_AVAILABLE in flags):
        count = read_uint_len(reader)
    names: list[str | None] = []
    values: list[Any] = []
    if count > 0:
        null_bitmap = reader.read((count + 7) // 8)
        if read_uint_1(reader):  # new-params-bound: types follow; otherwise the previous types apply
            types = []
            for _ in range(count):
                kind, flag = read_uint_1(reader), read_uint_1(reader)
                name = charset.decode(read_str_len(reader)) if with_attrs else None
                types.append((ColumnType(kind), bool(flag & 0x80), name))
            stmt.param_types = types  # type: ignore[attr-defined]
        types = getattr(stmt, "param_types", None)
        if types is None:
            raise MysqlError("Parameter types were never sent", ErrorCode.MALFORMED_PACKET)
        buffers = stmt.param_buffers or {}
        for i, (kind, unsigned, name) in enumerate(types):
            names.append(name)
            if null_bitmap[i // 8] & (1 << (i % 8)):
                values.append(None)
            elif i in buffers:
                values.append(charset.decode(bytes(buffers[i])))
            else:
                values.append(read_value(charset, reader, kind, unsigned))
    sql = bind(stmt.sql, values[: stmt.num_params])
    attrs = {n: str(v) for n, v in zip(names[stmt.num_params :], values[stmt.num_params :], strict=True) if n}
    return stmt, sql, attrs, use_cursor
