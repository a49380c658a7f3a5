"""Doris column types and table layout descriptions, shared by the parser, the FE and the BEs.

A type is kept as Doris prints it in SHOW CREATE TABLE (`int`, `decimal(10,2)`, `datetime(3)`, `varchar(20)`),
and mapped here to Arrow (how BEs store it), DuckDB (how queries and loads cast it) and the name Doris uses
inside partition keys (`DATEV2`, `LARGEINT` ...).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import attrs
import pyarrow as pa

# Doris's spellings folded to the canonical name; V2/V3 variants are what Doris 2.x creates anyway.
_ALIASES = {
    "INTEGER": "INT", "BOOL": "BOOLEAN", "TEXT": "STRING", "DATEV2": "DATE", "DATETIMEV2": "DATETIME",
    "DECIMALV2": "DECIMAL", "DECIMALV3": "DECIMAL", "DECIMAL32": "DECIMAL", "DECIMAL64": "DECIMAL",
    "DECIMAL128": "DECIMAL", "NUMERIC": "DECIMAL",
}
TYPE_NAMES = frozenset({"TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT", "FLOAT", "DOUBLE", "DECIMAL", "DATE",
                        "DATETIME", "CHAR", "VARCHAR", "STRING", "BOOLEAN"}) | frozenset(_ALIASES)
AGGREGATIONS = ("SUM", "MAX", "MIN", "REPLACE", "REPLACE_IF_NOT_NULL")
INT_RANGES = {"tinyint": 8, "smallint": 16, "int": 32, "bigint": 64, "largeint": 128}


def canonical_type(name: str, params: list[int]) -> str:
    """Doris's own text for a type as written, e.g. ('DECIMALV3', [10, 2]) -> 'decimal(10,2)'."""
    upper = _ALIASES.get(name.upper(), name.upper())
    if upper not in TYPE_NAMES:
        raise ValueError(f"Unknown data type: {name}")
    if upper == "DECIMAL":
        precision = params[0] if params else 9
        scale = params[1] if len(params) > 1 else 0
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise ValueError(f"Invalid decimal type: decimal({precision},{scale})")
        return f"decimal({precision},{scale})"
    if upper == "DATETIME":
        return f"datetime({params[0]})" if params and params[0] else "datetime"
    if upper == "VARCHAR":
        return f"varchar({params[0] if params else 65533})"
    if upper == "CHAR":
        return f"char({params[0] if params else 1})"
    return upper.lower()


def base_type(type_text: str) -> str:
    return type_text.split("(", 1)[0]


def type_params(type_text: str) -> list[int]:
    found = re.search(r"\(([\d,\s]+)\)", type_text)
    return [int(p) for p in found.group(1).split(",")] if found else []


def arrow_type(type_text: str) -> pa.DataType:
    base, params = base_type(type_text), type_params(type_text)
    simple = {
        "tinyint": pa.int8(), "smallint": pa.int16(), "int": pa.int32(), "bigint": pa.int64(),
        # Arrow has no 128-bit integer; 38 decimal digits cover all but the extreme LARGEINTs.
        "largeint": pa.decimal128(38, 0), "float": pa.float32(), "double": pa.float64(), "date": pa.date32(),
        "datetime": pa.timestamp("us"), "char": pa.string(), "varchar": pa.string(), "string": pa.string(),
        "boolean": pa.bool_(),
    }
    if base == "decimal":
        return pa.decimal128(params[0], params[1])
    return simple[base]


def duckdb_type(type_text: str) -> str:
    base, params = base_type(type_text), type_params(type_text)
    if base == "decimal":
        return f"DECIMAL({params[0]},{params[1]})"
    return {
        "tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER", "bigint": "BIGINT",
        "largeint": "DECIMAL(38,0)", "float": "FLOAT", "double": "DOUBLE", "date": "DATE",
        "datetime": "TIMESTAMP", "char": "VARCHAR", "varchar": "VARCHAR", "string": "VARCHAR",
        "boolean": "BOOLEAN",
    }[base]


def duckdb_cast(type_text: str, value_sql: str) -> str:
    """SQL converting `value_sql` to the column type. DATETIME(p) keeps p fractional digits (none for DATETIME),
    rounded half up as Doris and MySQL round; the engine's TIMESTAMP alone would keep microseconds."""
    cast = f"CAST({value_sql} AS {duckdb_type(type_text)})"
    if base_type(type_text) != "datetime":
        return cast
    params = type_params(type_text)
    digits = params[0] if params else 0
    if digits >= 6:
        return cast
    unit = 10 ** (6 - digits)  # microseconds; it divides a second, so buckets start on whole seconds
    return f"time_bucket(INTERVAL '{unit} microseconds', {cast} + INTERVAL '{unit // 2} microseconds')"


def key_type_name(type_text: str) -> str:
    """The type's name in Doris's PartitionKey text (SHOW PARTITIONS Range)."""
    base = base_type(type_text)
    return {"date": "DATEV2", "datetime": "DATETIMEV2", "decimal": "DECIMALV3"}.get(base, base.upper())


def normalise_key(type_text: str, value: str) -> str:
    """A partition key value as Doris prints it, e.g. '2020-1-1' on a DATE column -> '2020-01-01'."""
    base = base_type(type_text)
    text = value.strip()
    if text == min_key(type_text):
        return text  # e.g. 0000-01-01, which Python's dates cannot hold
    try:
        if base in INT_RANGES:
            return str(int(text))
        if base == "date":
            return dt.date.fromisoformat(text[:10]).isoformat()
        if base == "datetime":
            return dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ValueError(f"Invalid partition value '{value}' for type {type_text}") from None
    return text


def min_key(type_text: str) -> str:
    """The lower bound of a first range partition: the type's minimum, as Doris prints it."""
    base = base_type(type_text)
    if base in INT_RANGES:
        return str(-(2 ** (INT_RANGES[base] - 1)))
    if base == "date":
        return "0000-01-01"
    if base == "datetime":
        return "0000-01-01 00:00:00"
    return ""


@attrs.frozen
class Column:
    name: str
    type: str
    nullable: bool = True
    default: str | None = None
    comment: str = ""
    aggregation: str | None = None  # SUM, MAX, MIN, REPLACE, REPLACE_IF_NOT_NULL on value columns of AGG tables
    is_key: bool = False
    # AUTO_INCREMENT[(start)]: the FE fills in ids from `auto_increment_start` on, where a load gives none.
    auto_increment: bool = False
    auto_increment_start: int = 1

    @property
    def arrow(self) -> pa.DataType:
        return arrow_type(self.type)


@attrs.frozen
class PartitionDesc:
    """One partition as written: a range [lower, upper) (None = MIN / MAXVALUE) or a list of value tuples.

    `upper_only` marks `VALUES LESS THAN`, whose lower bound is filled in from the previous partition.
    """

    name: str
    lower: tuple[str, ...] | None = None
    upper: tuple[str, ...] | None = None
    values: tuple[tuple[str, ...], ...] = ()
    upper_only: bool = False
    # FROM .. TO .. INTERVAL n unit: expanded into one partition per step when the table is created.
    interval: tuple[int, str] | None = None
    # The partition's own properties (`PARTITION p VALUES ... ("storage_medium" = "SSD")`), as written.
    properties: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class PartitionSpec:
    kind: str = "UNPARTITIONED"  # RANGE, LIST or UNPARTITIONED
    columns: tuple[str, ...] = ()
    partitions: tuple[PartitionDesc, ...] = ()
    auto: bool = False
    auto_unit: str = ""  # AUTO PARTITION BY RANGE (date_trunc(col, 'day')): one partition per day seen


@attrs.frozen
class DistributionSpec:
    kind: str = "HASH"  # HASH or RANDOM
    columns: tuple[str, ...] = ()
    buckets: int = 0  # 0 with auto = BUCKETS AUTO
    auto: bool = False


@attrs.frozen
class Index:
    """An index of a table (INVERTED, NGRAM_BF or BITMAP), kept as metadata: reads stay right without one.

    `properties` are (key, value) pairs in the order Doris prints them (fe/indexes.java_hash_order), which a
    JSON object would not keep; `props` is the same as a dict."""

    name: str
    columns: tuple[str, ...]
    type: str = "INVERTED"
    properties: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=lambda p: _pairs(p))
    comment: str = ""
    id: int = 0

    @property
    def props(self) -> dict[str, str]:
        return dict(self.properties)


def _pairs(value: dict[str, str] | Iterable[Iterable[str]]) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, dict) else value
    return tuple((str(k), str(v)) for k, v in items)


@attrs.frozen
class TableSpec:
    """CREATE TABLE as parsed: what the FE turns into a Table and its Partitions."""

    columns: tuple[Column, ...]
    keys_type: str = "DUP_KEYS"  # DUP_KEYS, UNIQUE_KEYS or AGG_KEYS
    key_columns: tuple[str, ...] = ()
    partition: PartitionSpec = PartitionSpec()
    distribution: DistributionSpec | None = None
    properties: dict[str, str] = attrs.field(factory=dict)
    comment: str = ""
    engine: str = "olap"
    indexes: tuple[Index, ...] = ()
