"""Stream Load throughput: PUT a CSV file to the FE's HTTP port and time it, as curl would.

    python bench/stream_load.py [--size-mb 1024] [--replicas 3] [--buckets 8]

Starts its own cluster (FE + 3 BEs) in a temporary folder, writes a CSV of about `size-mb` MiB (an id, a
date, a short string, a decimal and a double per row), creates a DUPLICATE table hashed on the id, loads
the file with one Stream Load and prints the rows, the file's size, the time and MB/s (MiB per second),
then checks the row count through the MySQL port.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import check_all_loaded, cpu_seconds, timed_stream_load  # noqa: E402

from tests.cluster import Cluster  # noqa: E402

ROW_BYTES = 45  # about, for the row shape written below


def write_csv(path: Path, size_mb: int) -> int:
    """A CSV of about size_mb MiB written by DuckDB; its row count."""
    rows = size_mb * (1 << 20) // ROW_BYTES
    duckdb.sql(f"""
        COPY (SELECT i AS id, DATE '2024-01-01' + CAST(i % 365 AS INTEGER) AS d, 'name_' || (i % 1000) AS name,
                     CAST((i % 100000) / 100.0 AS DECIMAL(10, 2)) AS amount, i * 0.5 AS score
              FROM range({rows}) t(i))
        TO '{path}' (HEADER false, DELIMITER ',')""")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--buckets", type=int, default=8)
    parser.add_argument("--keep", help="run in this folder and keep it (logs, data) instead of a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        csv = Path(tmp) / "data.csv"
        rows = write_csv(csv, args.size_mb)
        size = csv.stat().st_size
        cluster = Cluster(Path(tmp) / "cluster").start()
        try:
            cluster.query("CREATE DATABASE bench")
            cluster.query(
                "CREATE TABLE bench.t (id BIGINT, d DATE, name VARCHAR(32), amount DECIMAL(10, 2), score DOUBLE) "
                f"DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS {args.buckets} "
                f"PROPERTIES ('replication_num' = '{args.replicas}')")
            procs = [cluster.fe, *cluster.bes]
            cpu_before = [cpu_seconds(p.pid) for p in procs if p is not None]
            answer, elapsed = timed_stream_load(cluster, csv, {"column_separator": ","})
            cpu = [cpu_seconds(p.pid) - b for p, b in zip([p for p in procs if p is not None], cpu_before,
                                                          strict=True)]
            check_all_loaded(cluster, answer, rows)
            mb = size / (1 << 20)
            print(f"stream load: {rows} rows, {mb:.0f} MiB in {elapsed:.2f} s = {mb / elapsed:.1f} MB/s "
                  f"(replication_num {args.replicas}, {args.buckets} buckets)")
            # The FE parses, routes and sends each block while the next arrives; the commit ends the streams.
            print(f"  FE: receive + parse + route + write {answer['ReadDataTimeMs']} ms, end writes + publish "
                  f"{answer['WriteDataTimeMs']} ms; CPU seconds: FE {cpu[0]:.1f}, BEs "
                  f"{' + '.join(f'{c:.1f}' for c in cpu[1:])}; {os.cpu_count()} CPUs, load average "
                  f"{os.getloadavg()[0]:.1f}")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
