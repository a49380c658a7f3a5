"""The process's two in-memory DuckDB engines.

- `cursor()`: the sandbox. Every piece of SQL that carries anything a user wrote runs here: queries, INSERT ...
  SELECT, Stream Load's column mappings, views, the partial aggregates a BE runs for a query. It cannot touch
  a file or the network, load an extension, scan a Python variable by name, or change its own settings
  (`lock_configuration`), and its memory is capped. The FE uses nothing else.
- `files_cursor()`: a BE's reads of its own tablet files, with SQL built only from our own names. It is made
  on first use, so a process that never reads tablet files (the FE) has no engine that can open one.

Registrations and temporary views belong to a connection, so each piece of work takes a cursor of its own.
"""

from __future__ import annotations

import re
import threading

import duckdb
import pyarrow as pa

# The sandbox's memory cap (hash tables, sorts, aggregate states), as Doris's exec_mem_limit: 2 GiB.
SANDBOX_MEMORY_LIMIT = "2GiB"

_SANDBOX_CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "python_enable_replacements": False,
    "memory_limit": SANDBOX_MEMORY_LIMIT,
    # Doris's expr_depth_limit (3000) is checked on the parsed tree; the engine must not refuse less.
    "max_expression_depth": 4000,
    # Last: nothing, SQL included, can change the settings above afterwards.
    "lock_configuration": True,
}

_LOCK = threading.Lock()
_SANDBOX = duckdb.connect(config=_SANDBOX_CONFIG)
_FILES: duckdb.DuckDBPyConnection | None = None


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def cursor() -> duckdb.DuckDBPyConnection:
    """A cursor of the sandbox."""
    with _LOCK:
        return _SANDBOX.cursor()


def files_cursor() -> duckdb.DuckDBPyConnection:
    """A cursor of the engine that reads tablet files (BEs only; never given SQL a user wrote)."""
    global _FILES
    with _LOCK:
        if _FILES is None:
            _FILES = duckdb.connect()
            # Tablet files never change once renamed into place, so their Parquet footers can be kept.
            _FILES.execute("SET parquet_metadata_cache = true")
        return _FILES.cursor()


def run_over(data: pa.Table | pa.RecordBatchReader, sql: str, name: str = "__data") -> pa.Table:
    """Run `sql` in the sandbox with `data` registered as `name`."""
    cur = cursor()
    try:
        cur.register(name, data)
        return cur.sql(sql).to_arrow_table()
    finally:
        cur.close()


# ---- the engine's errors, in Doris's words --------------------------------------------------------------------

# DuckDB's message shapes that users meet, and how Doris says the same. Names a query used internally (our scan
# relations) never appear: they only name what the user wrote.
_TRANSLATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r'Referenced column "(?P<name>[^"]*)" not found'), "Unknown column '{name}' in 'table list'"),
    (re.compile(r'Referenced table "(?P<name>[^"]*)" not found'), "Unknown table '{name}'"),
    (re.compile(r'Referenced column "(?P<name>[^"]*)" was not found because the FROM clause is missing'),
     "Unknown column '{name}' in 'table list'"),
    (re.compile(r'Could not choose a best candidate function for the function call "(?P<sig>[^"]*)"'),
     "Can not find the compatibility function signature: {sig}"),
    (re.compile(r"Unimplemented type for cast \((?P<source>\w+) -> (?P<target>\w+)\)"),
     "can not cast from origin type {source} to target type={target}"),
    (re.compile(r"Scalar Function with name (?P<name>\S+) does not exist"), "Can not found function '{name}'"),
    (re.compile(r"(?:Aggregate|Table) Function with name (?P<name>\S+) does not exist"),
     "Can not found function '{name}'"),
    (re.compile(r"No function matches the given name and argument types '(?P<sig>[^']*)'"),
     "Can not find the compatibility function signature: {sig}"),
    (re.compile(r'column "(?P<name>[^"]*)" must appear in the GROUP BY clause'),
     "{name} not in aggregate's output"),
    (re.compile(r"Could not convert string '(?P<value>.*)' to (?P<type>\w+)"),
     "can not cast from origin type VARCHAR to target type={type} for value '{value}'"),
    (re.compile(r"Out of Memory Error: (?P<detail>.*)"),
     "[MEM_LIMIT_EXCEEDED]the query needs more memory than exec_mem_limit allows: {detail}"),
]
# "Binder Error: ", "Invalid Input Error: ", ...: the engine's error class, which no Doris message carries.
_KIND_PREFIX = re.compile(r"^(?:[A-Z][A-Za-z]*(?: [A-Za-z]+)*) Error: ")


# What running SQL in the engine can raise. The engine cuts some messages mid-character (a strftime format with
# `%é` in it), and its Python side then raises UnicodeDecodeError instead of the error it had.
ENGINE_ERRORS = (duckdb.Error, UnicodeDecodeError)


def error_text(error: duckdb.Error | UnicodeDecodeError) -> str:
    """One line a client may read: Doris's wording where we know it, else the engine's sentence without its
    error class, source excerpt or suggestions."""
    if isinstance(error, UnicodeDecodeError):  # the message up to the cut character
        text = bytes(error.object[:error.start]).decode(errors="replace")
    else:
        text = str(error)
    first = text.split("\n", 1)[0]
    for pattern, doris in _TRANSLATIONS:
        found = pattern.search(first)
        if found:
            return doris.format(**found.groupdict())
    first = _KIND_PREFIX.sub("", first)
    return first.split(" Did you mean", 1)[0].rstrip(" !") or "the query failed in the engine"
