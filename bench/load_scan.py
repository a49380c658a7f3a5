"""Load and scan throughput of a real cluster, against DuckDB reading the same Parquet files directly.

    python bench/load_scan.py [--rows 1000000] [--replicas 3] [--runs 7]

Starts its own cluster (FE + 3 BEs) in a temporary folder, loads `rows` rows into a DUPLICATE table of 10
partitions and 8 buckets with INSERT ... SELECT FROM numbers(), then times a count, a filtered count and a
grouped sum through the MySQL wire, and the same queries run by DuckDB over the tablets' Parquet files
(one replica each).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import timed  # noqa: E402

from tests.cluster import Cluster  # noqa: E402

QUERIES = {
    # A bare count(*) is answered from the row counts the catalog recorded at load time (no tablet is read),
    # as DuckDB answers it from the Parquet footers; the filtered count makes both read the column.
    "count": ("SELECT count(*) FROM t", "SELECT count(*) FROM {files}"),
    "filtered count": ("SELECT count(*) FROM t WHERE v % 2 = 0", "SELECT count(*) FROM {files} WHERE v % 2 = 0"),
    "grouped sum": ("SELECT p, sum(v) FROM t GROUP BY p ORDER BY p",
                    "SELECT p, sum(v) FROM {files} GROUP BY p ORDER BY p"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--values-rows", type=int, default=20_000, help="rows of the multi-row VALUES load")
    args = parser.parse_args()
    rows, partitions = args.rows, 10
    step = rows // partitions
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(Path(tmp) / "cluster").start()
        try:
            bounds = ", ".join(f"PARTITION p{i} VALUES LESS THAN ('{(i + 1) * step}')" for i in range(partitions - 1))
            conn = cluster.connect()
            cur = conn.cursor()
            cur.execute("CREATE DATABASE bench")
            cur.execute("USE bench")
            cur.execute(
                "CREATE TABLE t (id BIGINT, p INT, v BIGINT, s VARCHAR(16)) DUPLICATE KEY(id) "
                f"PARTITION BY RANGE(id) ({bounds}, PARTITION p{partitions - 1} VALUES LESS THAN MAXVALUE) "
                f"DISTRIBUTED BY HASH(id) BUCKETS 8 PROPERTIES ('replication_num' = '{args.replicas}')")
            start = time.perf_counter()
            cur.execute(f"INSERT INTO t SELECT number, number % 100, number * 3, 'row' "
                        f"FROM numbers('number' = '{rows}')")
            load_s = time.perf_counter() - start
            print(f"load: {rows} rows in {load_s:.2f} s = {rows / load_s:,.0f} rows/s "
                  f"(10 partitions x 8 buckets, {args.replicas} replicas)")

            values = ", ".join(f"({i}, {i % 100}, {i}, 'v')" for i in range(rows, rows + args.values_rows))
            start = time.perf_counter()
            cur.execute(f"INSERT INTO t VALUES {values}")
            values_s = time.perf_counter() - start
            print(f"multi-row VALUES: {args.values_rows} rows in {values_s:.2f} s = "
                  f"{args.values_rows / values_s:,.0f} rows/s")
            cur.execute("TRUNCATE TABLE t")
            cur.execute(f"INSERT INTO t SELECT number, number % 100, number * 3, 'row' "
                        f"FROM numbers('number' = '{rows}')")

            # The Parquet files of one replica per tablet, as the BEs store them.
            cur.execute("SHOW BACKENDS")
            be_index = {str(r[0]): cluster.be_addresses.index(f"{r[1]}:{r[2]}") for r in cur.fetchall()}
            cur.execute("SHOW TABLETS FROM t")
            seen: set[str] = set()
            files: list[str] = []
            for r in cur.fetchall():
                if r[0] in seen:
                    continue
                seen.add(r[0])
                folder = cluster.root / f"be{be_index[r[2]]}" / "data" / r[0]
                files += sorted(str(f) for f in folder.glob("v*.parquet"))
            file_list = "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "])"
            duck = duckdb.connect()
            for name, (ours, theirs) in QUERIES.items():
                def run_ours(sql: str = ours) -> object:
                    cur.execute(sql)
                    return cur.fetchall()

                def run_duck(sql: str = theirs.format(files=file_list)) -> object:
                    return duck.execute(sql).fetchall()

                our_s, our_rows = timed(run_ours, args.runs)
                duck_s, duck_rows = timed(run_duck, args.runs)
                same = [tuple(int(v) for v in r) for r in our_rows] == [tuple(int(v) for v in r) for r in duck_rows]
                print(f"{name}: ours {our_s * 1000:.1f} ms, DuckDB on the Parquet files {duck_s * 1000:.1f} ms, "
                      f"ratio {our_s / duck_s:.2f} (same result: {same}; {len(files)} files)")
            conn.close()
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
