"""Large Stream Load bodies written by DuckDB, shared by the tests and bench/."""

from __future__ import annotations

from pathlib import Path

import duckdb

# The rows' table: an id, a date, a short string, a decimal and a double.
BENCH_COLUMNS = "id BIGINT, d DATE, name VARCHAR(32), amount DECIMAL(10, 2), score DOUBLE"
JSON_ROW_BYTES = 83  # about, for one element of write_json_array's array


def write_json_array(path: Path, size_bytes: int) -> int:
    """One JSON array of objects, of about `size_bytes` (at most that); its element count."""
    rows = size_bytes // JSON_ROW_BYTES
    while True:
        duckdb.sql(f"""
            COPY (SELECT i AS id, DATE '2024-01-01' + CAST(i % 365 AS INTEGER) AS d, 'name_' || (i % 1000) AS name,
                         CAST((i % 100000) / 100.0 AS DECIMAL(10, 2)) AS amount, i * 0.5 AS score
                  FROM range({rows}) t(i))
            TO '{path}' (FORMAT JSON, ARRAY true)""")
        size = path.stat().st_size
        if size <= size_bytes:
            return rows
        rows = rows * size_bytes // size - 1
