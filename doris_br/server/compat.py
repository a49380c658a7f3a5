"""What MySQL tools read at connect time: system variables, SHOW COLLATION / CHARSET / ENGINES."""

from __future__ import annotations

import re
from typing import Any

from mysql_mimic.charset import CharacterSet, Collation
from mysql_mimic.variables import SYSTEM_VARIABLES, GlobalVariables

from doris_br import SERVER_VERSION, VERSION_COMMENT

# Doris answers as MySQL 5.7 does; these are the variables JDBC, BI tools and Doris scripts read.
DORIS_VARIABLES: dict[str, Any] = {
    **SYSTEM_VARIABLES,
    "version": (str, SERVER_VERSION, False),
    "version_comment": (str, VERSION_COMMENT, False),
    "sql_mode": (str, "ONLY_FULL_GROUP_BY", True),
    "time_zone": (str, "UTC", True),
    "system_time_zone": (str, "UTC", False),
    "default_storage_engine": (str, "olap", True),
    "default_tmp_storage_engine": (str, "olap", True),
    "query_timeout": (int, 900, True),
    "insert_timeout": (int, 14400, True),
    "exec_mem_limit": (int, 2147483648, True),
    "tx_isolation": (str, "REPEATABLE-READ", True),
    "transaction_isolation": (str, "REPEATABLE-READ", True),
    "tx_read_only": (bool, False, True),
    "language": (str, "/palo/share/english/", False),
    "have_query_cache": (str, "YES", False),
    "query_cache_size": (int, 1048576, True),
    "query_cache_type": (int, 0, True),
    "license": (str, "Apache License, Version 2.0", False),
    "character_set_system": (str, "utf8", False),
    "parallel_pipeline_task_num": (int, 0, True),
    "enable_profile": (bool, False, True),
    "enable_match_without_inverted_index": (bool, True, True),  # false: MATCH needs an inverted index
    # SELECT * and DESC show a UNIQUE table's hidden columns (__DORIS_DELETE_SIGN__ ...) when true.
    "show_hidden_columns": (bool, False, True),
    # Doris's value; a packet (a statement) bigger than this is refused with ER_NET_PACKET_TOO_LARGE.
    "max_allowed_packet": (int, 16777216, False),
    "connect_timeout": (int, 10, False),
    "protocol_version": (int, 10, False),  # mycli's `status` prints it
}

_MAXLEN = {"utf8mb4": 4, "utf8": 3, "ucs2": 2, "utf16": 4, "utf16le": 4, "utf32": 4, "big5": 2, "gbk": 2,
           "gb2312": 2, "gb18030": 4, "sjis": 2, "cp932": 2, "ujis": 3, "eucjpms": 3, "euckr": 2}


def global_variables() -> GlobalVariables:
    return GlobalVariables(DORIS_VARIABLES)


def like_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def like_filtered(rows: list[tuple], like: str | None) -> list[tuple]:
    """The rows whose first column matches a SHOW's LIKE pattern (all of them for None)."""
    if like is None:
        return rows
    regex = like_regex(like)
    return [r for r in rows if regex.match(str(r[0]))]


def _charset_of(collation: Collation) -> str:
    return next(cs.name for cs in CharacterSet if collation.name.startswith(cs.name + "_") or collation.name == cs.name)


# Built once: Connector/J asks for collations on every connection.
_DEFAULT_COLLATIONS = {cs.default_collation for cs in CharacterSet}
_COLLATION_ROWS = tuple(
    (c.name, _charset_of(c), int(c.value), "Yes" if c in _DEFAULT_COLLATIONS else "", "Yes", 1)
    for c in sorted(Collation, key=lambda c: c.name)
)
_CHARSET_ROWS = tuple(
    (cs.name, f"{cs.name} character set", cs.default_collation.name, _MAXLEN.get(cs.name, 1))
    for cs in sorted(CharacterSet, key=lambda c: c.name)
)


def show_collation(like: str | None) -> tuple[list[tuple], list[str]]:
    return like_filtered(list(_COLLATION_ROWS), like), ["Collation", "Charset", "Id", "Default", "Compiled", "Sortlen"]


def show_charset(like: str | None) -> tuple[list[tuple], list[str]]:
    return like_filtered(list(_CHARSET_ROWS), like), ["Charset", "Description", "Default collation", "Maxlen"]


def show_engines() -> tuple[list[tuple], list[str]]:
    rows = [
        ("Olap engine", "DEFAULT", "Default storage engine of Doris", "YES", "NO", "NO"),
        ("MySQL", "YES", "MySQL server which data is in it", "NO", "NO", "NO"),
    ]
    return rows, ["Engine", "Support", "Comment", "Transactions", "XA", "Savepoints"]
