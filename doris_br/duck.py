"""The process's in-memory DuckDB, shared by the FE (queries, loads) and the BE (first aggregation phase).

Registrations and temporary views belong to a connection, so each piece of work takes a cursor of its own.
"""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa

_DUCKDB = duckdb.connect()
# Tablet files never change once renamed into place (an orphan of a failed load is never read before the
# next load replaces it), so their Parquet footers can be kept between scans.
_DUCKDB.execute("SET parquet_metadata_cache = true")
_LOCK = threading.Lock()
# For SQL a user wrote (Stream Load's column mappings): no files, no network, no extensions.
_SANDBOX = duckdb.connect(config={"enable_external_access": False})


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sandbox_cursor() -> duckdb.DuckDBPyConnection:
    with _LOCK:
        return _SANDBOX.cursor()


def cursor() -> duckdb.DuckDBPyConnection:
    with _LOCK:
        return _DUCKDB.cursor()


def run_over(data: pa.Table, sql: str, name: str = "__data") -> pa.Table:
    """Run `sql` with `data` registered as `name`."""
    cur = cursor()
    try:
        cur.register(name, data)
        return cur.sql(sql).to_arrow_table()
    finally:
        cur.close()
